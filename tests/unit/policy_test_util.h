// Helpers shared by the policy tests.
#pragma once

#include <string>

namespace modgate::policy::testing {

// A distinct valid hash per index, so tests can write many entries without spelling digests.
inline std::string hash_hex(int i) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(64, '0');
  for (int k = 0; k < 8; k++) s[63 - k] = kHex[(i >> (4 * k)) & 0xf];
  s[0] = 'a';
  return s;
}

}  // namespace modgate::policy::testing
