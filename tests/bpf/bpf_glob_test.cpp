// SPDX-License-Identifier: Apache-2.0
// The BPF autoload matcher (bpf/lib/glob.h) against the userspace reference policy::glob_match,
// on the host's verifier and JIT: what `policy check` promises is what the kernel enforces.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

#include "glob_test.h"
#include "glob_test.skel.h"
#include "policy/glob.h"

namespace modgate {
namespace {

class BpfGlob : public ::testing::Test {
 protected:
  void SetUp() override {
    skel_ = glob_test__open_and_load();
    ASSERT_NE(skel_, nullptr) << "glob_test failed to load: " << std::strerror(errno);
  }
  void TearDown() override { glob_test__destroy(skel_); }

  int bpf_match(const std::string& pattern, const std::string& name) {
    mg_glob_test_args args{};
    std::strncpy(args.name, name.c_str(), sizeof(args.name) - 1);
    std::strncpy(args.pattern, pattern.c_str(), sizeof(args.pattern) - 1);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof(args));
    int err = bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.glob_test), &opts);
    EXPECT_EQ(err, 0);
    EXPECT_EQ(opts.retval, 0u);
    return args.result;
  }

  glob_test* skel_ = nullptr;
};

TEST_F(BpfGlob, TableAgreesWithReference) {
  const std::pair<const char*, const char*> cases[] = {
      {"rtnl-link-*", "rtnl-link-nlmon"},
      {"rtnl-link-*", "rtnl-link-"},
      {"rtnl-link-*", "rtnl-lin"},
      {"fs-*", "fs-cramfs"},
      {"*", ""},
      {"*", "anything"},
      {"", ""},
      {"", "x"},
      {"?", "a"},
      {"?", ""},
      {"??", "a"},
      {"net-pf-?", "net-pf-3"},
      {"net-pf-?", "net-pf-38"},
      {"net-pf-*8", "net-pf-38"},
      {"*-*-*", "a-b-c"},
      {"*-*-*", "a-b"},
      {"a*b*c", "aXbYc"},
      {"a*b*c", "aXbYcZ"},
      {"*nlmon", "rtnl-link-nlmon"},
      {"**", "x"},
      {"*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
      {"crypto-*", "CRYPTO-aes"},
      {"char-major-10-*", "char-major-10-229"},
  };
  for (const auto& [pattern, name] : cases) {
    int want = policy::glob_match(pattern, name) ? 1 : 0;
    EXPECT_EQ(bpf_match(pattern, name), want)
        << "pattern '" << pattern << "' name '" << name << "'";
  }
}

// Random patterns over a tiny alphabet hit every backtracking path; names and patterns up to the
// kernel's 63 usable bytes.
TEST_F(BpfGlob, RandomAgreesWithReference) {
  std::mt19937 rng(42);
  const std::string pat_chars = "ab*?-", name_chars = "ab-";
  for (int i = 0; i < 3000; i++) {
    std::string pattern, name;
    size_t plen = rng() % (i < 2500 ? 10 : 63), nlen = rng() % (i < 2500 ? 14 : 63);
    for (size_t k = 0; k < plen; k++) pattern += pat_chars[rng() % pat_chars.size()];
    for (size_t k = 0; k < nlen; k++) name += name_chars[rng() % name_chars.size()];
    int want = policy::glob_match(pattern, name) ? 1 : 0;
    ASSERT_EQ(bpf_match(pattern, name), want)
        << "pattern '" << pattern << "' name '" << name << "'";
  }
}

}  // namespace
}  // namespace modgate
