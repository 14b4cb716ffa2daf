// SPDX-License-Identifier: Apache-2.0

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "policy/policy.h"
#include "policy_test_util.h"

namespace modgate::policy {
namespace {

using ::modgate::policy::testing::hash_hex;
using ::modgate::policy::testing::parsed;
using ::testing::HasSubstr;

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
    EXPECT_EQ(c->allow[i].value.sections, MG_ALLOW_MODULE);
    EXPECT_EQ(c->allow[i].value.firmware_entry, 0u);
    EXPECT_EQ(c->allow[i].value.kexec_entry, 0u);
    EXPECT_EQ(0, std::memcmp(c->allow[i].key.sha256, p.modules[i].sha256.data(), MG_SHA256_LEN));
  }
}

TEST(PolicyCompile, WithoutFirmwareOrKexecSectionsThoseKindsAreNotEnforced) {
  Policy p =
      parsed("version: 1\nmode: enforce\nmodules:\n- {name: a, sha256: " + hash_hex(1) + "}\n");
  auto c = compile(p);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->config.flags & (MG_CFG_FIRMWARE | MG_CFG_KEXEC), 0u);
}

TEST(PolicyCompile, EmptySectionsEnforceTheirKind) {
  Policy p = parsed("version: 1\nmode: enforce\nallow_empty: true\nfirmware: []\nkexec: []\n");
  auto c = compile(p);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->config.flags & (MG_CFG_FIRMWARE | MG_CFG_KEXEC), MG_CFG_FIRMWARE | MG_CFG_KEXEC);
  EXPECT_TRUE(c->allow.empty());
  Policy only_kexec = parsed("version: 1\nmode: dry-run\nkexec: []\n");
  auto k = compile(only_kexec);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->config.flags & (MG_CFG_FIRMWARE | MG_CFG_KEXEC), MG_CFG_KEXEC);
}

TEST(PolicyCompile, EachSectionAdmitsOnlyItsKindAndSharedHashesCarryBoth) {
  // 10: module only; 20: firmware only; 30: module and kexec; 40: firmware and kexec.
  Policy p = parsed("version: 1\nmode: enforce\nmodules:\n- {name: a, sha256: " + hash_hex(10) +
                    "}\n- {name: b, sha256: " + hash_hex(30) +
                    "}\nfirmware:\n- {name: fw/x.bin, sha256: " + hash_hex(20) +
                    "}\n- {name: y.bin, sha256: " + hash_hex(40) +
                    "}\nkexec:\n- {name: vmlinuz, sha256: " + hash_hex(40) +
                    "}\n- {name: initrd.img, sha256: " + hash_hex(30) + "}\n");
  auto c = compile(p);
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->allow.size(), 4u) << "one record per hash";
  auto find = [&](int seed) -> const mg_allow_value* {
    Sha256 h = *sha256_from_hex(hash_hex(seed));
    for (const auto& e : c->allow)
      if (std::memcmp(e.key.sha256, h.data(), MG_SHA256_LEN) == 0) return &e.value;
    return nullptr;
  };
  const mg_allow_value* m = find(10);
  const mg_allow_value* f = find(20);
  const mg_allow_value* mk = find(30);
  const mg_allow_value* fk = find(40);
  ASSERT_TRUE(m && f && mk && fk);
  EXPECT_EQ(m->sections, MG_ALLOW_MODULE);
  EXPECT_EQ(m->entry, 0u);
  EXPECT_EQ(f->sections, MG_ALLOW_FIRMWARE) << "a firmware hash must not admit a module";
  EXPECT_EQ(f->firmware_entry, 0u);
  EXPECT_EQ(mk->sections, MG_ALLOW_MODULE | MG_ALLOW_KEXEC);
  EXPECT_EQ(mk->entry, 1u);
  EXPECT_EQ(mk->kexec_entry, 1u);
  EXPECT_EQ(fk->sections, MG_ALLOW_FIRMWARE | MG_ALLOW_KEXEC);
  EXPECT_EQ(fk->firmware_entry, 1u);
  EXPECT_EQ(fk->kexec_entry, 0u);
  // Modules keep their order at the front, as before the other sections existed.
  EXPECT_EQ(c->allow[0].value.entry, 0u);
  EXPECT_EQ(c->allow[1].value.entry, 1u);
}

TEST(PolicyCompile, RejectsDuplicateHashesWithinAHandBuiltFirmwareSection) {
  Policy p;
  p.firmware.emplace();
  p.firmware->push_back({"a.bin", {}, {}, {}, {}, {}, {}, 0});
  p.firmware->push_back({"b.bin", {}, {}, {}, {}, {}, {}, 0});
  auto c = compile(p);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message,
              HasSubstr("firmware entries 0 ('a.bin') and 1 ('b.bin') have the same"));
  // The same hash in two different sections is fine.
  p.firmware->pop_back();
  p.kexec.emplace();
  p.kexec->push_back({"b", {}, {}, {}, {}, {}, {}, 0});
  EXPECT_TRUE(compile(p).ok());
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
