#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "policy/policy.h"
#include "policy_test_util.h"

namespace modgate::policy {
namespace {

using ::modgate::policy::testing::hash_hex;
using ::testing::HasSubstr;

Policy parsed(const std::string& text) {
  auto r = parse_policy(text, "p.yaml");
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : Policy{};
}

TEST(PolicyCompile, ConfigCarriesVersionDigestModeAndFlags) {
  Policy p = parsed(
      "version: 42\nmode: enforce\nlog_allowed: true\nallow_forced: true\n"
      "modules:\n- name: a\n  sha256: " +
      hash_hex(1) + "\n");
  auto c = compile(p);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->config.present, 1u);
  EXPECT_EQ(c->config.policy_version, 42u);
  EXPECT_EQ(c->config.mode, static_cast<__u32>(MG_MODE_ENFORCE));
  EXPECT_EQ(c->config.flags,
            MG_CFG_LOG_ALLOWED | MG_CFG_ALLOW_FORCED | MG_CFG_AUTOLOAD_DEFAULT_ALLOW);
  EXPECT_EQ(0, std::memcmp(c->config.policy_digest, p.digest.data(), MG_SHA256_LEN));
  EXPECT_EQ(c->config._pad, 0u);
}

TEST(PolicyCompile, DryRunWithDefaultDenyHasNoFlags) {
  Policy p = parsed("version: 1\nmode: dry-run\nautoload: {default: deny}\n");
  auto c = compile(p);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->config.mode, static_cast<__u32>(MG_MODE_DRY_RUN));
  EXPECT_EQ(c->config.flags, 0u);
  EXPECT_TRUE(c->allow.empty());
}

TEST(PolicyCompile, AllowEntriesIndexPolicyModules) {
  Policy p = parsed("version: 1\nmode: enforce\nmodules:\n- {name: a, sha256: " + hash_hex(10) +
                    "}\n- {name: b, sha256: " + hash_hex(20) +
                    "}\n- {name: a, sha256: " + hash_hex(30) + "}\n");
  auto c = compile(p);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->allow.size(), 3u);
  for (std::size_t i = 0; i < 3; i++) {
    EXPECT_EQ(c->allow[i].value.entry, i);
    EXPECT_EQ(c->allow[i].value.flags, 0u);
    EXPECT_EQ(0, std::memcmp(c->allow[i].key.sha256, p.modules[i].sha256.data(), MG_SHA256_LEN));
  }
}

TEST(PolicyCompile, GlobsAreNulTerminatedAndZeroPadded) {
  Policy p = parsed("version: 1\nmode: dry-run\nautoload:\n  allow: [fs-*, \"" +
                    std::string(63, 'x') + "\"]\n  deny: [\"char-major-?\"]\n");
  auto c = compile(p);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->autoload_allow.size(), 2u);
  ASSERT_EQ(c->autoload_deny.size(), 1u);
  EXPECT_STREQ(c->autoload_allow[0].pattern, "fs-*");
  for (std::size_t i = 4; i < MG_NAME_LEN; i++) EXPECT_EQ(c->autoload_allow[0].pattern[i], 0);
  EXPECT_EQ(std::string(c->autoload_allow[1].pattern), std::string(63, 'x'));
  EXPECT_STREQ(c->autoload_deny[0].pattern, "char-major-?");
  EXPECT_EQ(c->config.n_autoload_allow, 2u);
  EXPECT_EQ(c->config.n_autoload_deny, 1u);
}

TEST(PolicyCompile, RejectsTooManyPatterns) {
  Policy p;
  for (int i = 0; i <= MG_GLOB_MAX; i++) p.autoload.deny.push_back("p" + std::to_string(i));
  auto c = compile(p);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message, HasSubstr("autoload.deny has 33 patterns"));
  p.autoload.deny.pop_back();
  EXPECT_TRUE(compile(p).ok());
}

TEST(PolicyCompile, RejectsPatternThatDoesNotFit) {
  Policy p;
  p.autoload.allow.emplace_back(MG_NAME_LEN, 'a');
  auto c = compile(p);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message, HasSubstr("autoload.allow pattern"));
  EXPECT_THAT(c.error().message, HasSubstr("is 64 bytes"));
  p.autoload.allow = {""};
  EXPECT_FALSE(compile(p).ok());
}

TEST(PolicyCompile, DigestDescribesTheEntriesEvenForHandBuiltPolicies) {
  Policy p;
  p.modules.push_back({"a", {}, {}, {}, {}, {}, {}, 0});
  auto c = compile(p);
  ASSERT_TRUE(c.ok());
  Sha256 d = policy_digest(p);
  EXPECT_EQ(0, std::memcmp(c->config.policy_digest, d.data(), MG_SHA256_LEN));
}

TEST(PolicyCompile, RejectsDuplicateHashesInHandBuiltPolicies) {
  Policy p;
  p.modules.push_back({"a", {}, {}, {}, {}, {}, {}, 0});
  p.modules.push_back({"b", {}, {}, {}, {}, {}, {}, 0});
  auto c = compile(p);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message, HasSubstr("module entries 0 ('a') and 1 ('b') have the same"));
}

TEST(PolicyCompile, KernelMatches) {
  Policy any;
  EXPECT_TRUE(kernel_matches(any, "6.1.0-18-amd64"));
  Policy p =
      parsed("version: 1\nmode: dry-run\nkernels: [\"6.1.0-*-amd64\", 6.12.1+deb13-amd64]\n");
  EXPECT_TRUE(kernel_matches(p, "6.1.0-18-amd64"));
  EXPECT_TRUE(kernel_matches(p, "6.12.1+deb13-amd64"));
  EXPECT_FALSE(kernel_matches(p, "6.1.0-18-arm64"));
  EXPECT_FALSE(kernel_matches(p, "6.12.1+deb13-amd64-rt"));
}

TEST(PolicyCompile, ModeName) {
  EXPECT_EQ(mode_name(Mode::kEnforce), "enforce");
  EXPECT_EQ(mode_name(Mode::kDryRun), "dry-run");
  EXPECT_EQ(autoload_default_name(AutoloadDefault::kAllow), "allow");
  EXPECT_EQ(autoload_default_name(AutoloadDefault::kDeny), "deny");
}

}  // namespace
}  // namespace modgate::policy
