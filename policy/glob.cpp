// SPDX-License-Identifier: Apache-2.0

#include "policy/glob.h"

#include <cstddef>

namespace modgate::policy {

bool glob_match(std::string_view pattern, std::string_view name) {
  // Greedy scan remembering only the most recent '*': on a mismatch, that star absorbs one more
  // byte and matching resumes after it. Earlier stars never need revisiting because a later star
  // can absorb anything they could, so this is exact and runs in O(|pattern| * |name|).
  std::size_t p = 0, n = 0;
  std::size_t star_p = std::string_view::npos, star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star_p = p++;
      star_n = n;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      p++;
      n++;
    } else if (star_p != std::string_view::npos) {
      p = star_p + 1;
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') p++;
  return p == pattern.size();
}

bool is_autoload_pattern_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == ':' || c == '.' || c == '-';
}

bool is_kernel_pattern_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-' || c == '+' || c == '~';
}

}  // namespace modgate::policy
