// SPDX-License-Identifier: Apache-2.0

#include <bpf/libbpf.h>
#include <openssl/crypto.h>

#include <iostream>

#include "agent/cli/commands.h"

namespace modgate::cli {

Runner register_version(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("version", "Print modgate's version and the libraries it runs with");
  cmd->footer("Example:\n  modgate version");
  return [] {
    std::cout << "modgate " << MODGATE_VERSION << "\n"
              << "libbpf " << libbpf_major_version() << "." << libbpf_minor_version() << "\n"
              << OpenSSL_version(OPENSSL_VERSION) << "\n";
    return kExitOk;
  };
}

}  // namespace modgate::cli
