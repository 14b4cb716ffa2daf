// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the policy tests.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "policy/policy.h"

namespace modgate::policy::testing {

// A distinct valid hash per index, so tests can write many entries without spelling digests.
// A policy the test knows to be valid: a parse error fails the test and yields an empty policy.
inline Policy parsed(const std::string& text) {
  auto r = parse_policy(text, "p.yaml");
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : Policy{};
}

inline std::string hash_hex(int i) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(64, '0');
  for (int k = 0; k < 8; k++) s[63 - k] = kHex[(i >> (4 * k)) & 0xf];
  s[0] = 'a';
  return s;
}

#ifdef MODGATE_POLICY_TEST_DATA
inline std::string data_path(const std::string& rel) {
  return std::string(MODGATE_POLICY_TEST_DATA) + "/" + rel;
}
#endif

inline std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

// A fresh directory under TMPDIR, removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "modgate-policy-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return (path_ / rel).string(); }

 private:
  std::filesystem::path path_;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct CommandResult {
  int rc;  // the exit status, -1 when killed by a signal
  std::string out, err;
};

// Runs COMMAND with sh, stdin from /dev/null and its last command's stdout and stderr captured
// through files in SCRATCH (which it overwrites: SCRATCH/stdout, SCRATCH/stderr).
inline CommandResult run_shell(const std::string& command, const TempDir& scratch) {
  const std::string cmd =
      command + " >" + (scratch / "stdout") + " 2>" + (scratch / "stderr") + " </dev/null";
  int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(scratch / "stdout"),
          slurp(scratch / "stderr")};
}

}  // namespace modgate::policy::testing
