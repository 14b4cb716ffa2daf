// SPDX-License-Identifier: Apache-2.0

#include "agent/bpf/libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <vector>

namespace modgate {
namespace {

std::mutex g_mu;
std::string* g_sink = nullptr;  // guarded by g_mu
bool g_verbose = false;

int print_fn(enum libbpf_print_level level, const char* fmt, va_list args) {
  std::lock_guard lock(g_mu);
  if (g_sink) {
    va_list copy;
    va_copy(copy, args);
    int n = std::vsnprintf(nullptr, 0, fmt, copy);
    va_end(copy);
    if (n > 0) {
      std::vector<char> buf(static_cast<size_t>(n) + 1);
      std::vsnprintf(buf.data(), buf.size(), fmt, args);
      g_sink->append(buf.data(), static_cast<size_t>(n));
    }
    return n;
  }
  (void)level;
  return g_verbose ? std::vfprintf(stderr, fmt, args) : 0;
}

std::string& storage() {
  static std::string s;
  return s;
}

}  // namespace

LibbpfLogCapture::LibbpfLogCapture() {
  std::lock_guard lock(g_mu);
  storage().clear();
  g_sink = &storage();
  libbpf_set_print(print_fn);
}

LibbpfLogCapture::~LibbpfLogCapture() {
  std::lock_guard lock(g_mu);
  g_sink = nullptr;
}

const std::string& LibbpfLogCapture::text() const { return storage(); }

std::string LibbpfLogCapture::tail(int max_lines) const {
  const std::string& s = storage();
  size_t end = s.find_last_not_of('\n');
  if (end == std::string::npos) return {};
  size_t start = end + 1;
  for (int i = 0; i < max_lines && start > 0; i++) {
    size_t nl = s.rfind('\n', start - 1);
    start = nl == std::string::npos ? 0 : nl;
  }
  if (start > 0) start++;  // skip the newline that ends the line before the tail
  return s.substr(start, end + 1 - start);
}

void libbpf_set_verbose(bool verbose) {
  std::lock_guard lock(g_mu);
  g_verbose = verbose;
  libbpf_set_print(print_fn);
}

}  // namespace modgate
