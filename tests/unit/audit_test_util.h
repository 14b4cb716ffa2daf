// SPDX-License-Identifier: Apache-2.0
// Module signing for the audit tests: a throwaway key made with the openssl CLI, and sign-file's
// trailer layout, so the tests need no kernel build tree.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "policy_test_util.h"

namespace modgate::policy::testing {

namespace fs = std::filesystem;

inline int sh(const std::string& cmd) { return std::system(("set -e; " + cmd).c_str()); }

// A key and self-signed certificate, and sign-file's trailer: PKCS#7 DER, struct
// module_signature (id_type 2, big-endian length), magic.
class Signer {
 public:
  explicit Signer(const fs::path& dir) : dir_(dir) {
    EXPECT_EQ(
        sh("openssl req -new -x509 -newkey rsa:2048 -nodes -days 3650 -subj "
           "'/O=modgate audit tests/CN=modgate audit key' -addext "
           "subjectKeyIdentifier=hash -keyout " +
           (dir / "key.pem").string() + " -out " + (dir / "cert.pem").string() + " 2>/dev/null"),
        0);
  }
  // by_keyid: the signer named by subject key identifier instead of issuer and serial.
  void sign(const fs::path& in, const fs::path& out, const std::string& md,
            bool by_keyid = false) const {
    std::string sig = (dir_ / "sig").string();
    ASSERT_EQ(sh("openssl cms -sign -binary -noattr -nocerts -outform DER " +
                 std::string(by_keyid ? "-keyid " : "") + "-md " + md + " -signer " +
                 (dir_ / "cert.pem").string() + " -inkey " + (dir_ / "key.pem").string() + " -in " +
                 in.string() + " -out " + sig + " 2>/dev/null"),
              0);
    auto body = read_bytes(in.string());
    auto s = read_bytes(sig);
    std::string out_bytes(body.begin(), body.end());
    out_bytes.append(s.begin(), s.end());
    std::uint32_t n = static_cast<std::uint32_t>(s.size());
    out_bytes += std::string("\0\0\x02\0\0\0\0\0", 8);
    out_bytes += static_cast<char>(n >> 24);
    out_bytes += static_cast<char>(n >> 16 & 0xff);
    out_bytes += static_cast<char>(n >> 8 & 0xff);
    out_bytes += static_cast<char>(n & 0xff);
    out_bytes += "~Module signature appended~\n";
    write_file(out, out_bytes);
  }

 private:
  fs::path dir_;
};

// The module file without its signature: what sign-file's input was.
inline std::vector<std::uint8_t> strip(std::vector<std::uint8_t> b) {
  std::size_t n = b.size();
  std::size_t len =
      static_cast<std::size_t>(b[n - 32]) << 24 | b[n - 31] << 16 | b[n - 30] << 8 | b[n - 29];
  b.resize(n - 28 - 12 - len);
  return b;
}

}  // namespace modgate::policy::testing
