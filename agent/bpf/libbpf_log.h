// SPDX-License-Identifier: Apache-2.0
// libbpf prints through one process-wide callback. Users must never see that stream raw; a
// LibbpfLogCapture collects it while a load runs so the caller can keep the part worth showing
// (the verifier's tail) and report it in one sentence.
#pragma once

#include <string>

namespace modgate {

class LibbpfLogCapture {
 public:
  LibbpfLogCapture();
  ~LibbpfLogCapture();
  LibbpfLogCapture(const LibbpfLogCapture&) = delete;
  LibbpfLogCapture& operator=(const LibbpfLogCapture&) = delete;

  const std::string& text() const;
  // The last max_lines lines: where the verifier says why it gave up.
  std::string tail(int max_lines = 12) const;
};

// Route libbpf output to stderr (debug) or nowhere (default) outside a capture.
void libbpf_set_verbose(bool verbose);

}  // namespace modgate
