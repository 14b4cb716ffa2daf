// SPDX-License-Identifier: Apache-2.0
// policy/merge.h: several kernels' allowlists as one policy, and every way merging refuses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "policy/init.h"
#include "policy/merge.h"
#include "policy_test_util.h"

namespace modgate::policy {
namespace {

using ::modgate::policy::testing::hash_hex;
using ::modgate::policy::testing::parsed;
using ::testing::HasSubstr;

std::string entry(const std::string& name, int h, const std::string& extra = "") {
  return "  - {name: " + name + ", sha256: " + hash_hex(h) + extra + "}\n";
}

std::string policy(int version, const std::string& kernels, const std::string& modules,
                   const std::string& settings = "mode: dry-run\n") {
  return "version: " + std::to_string(version) + "\n" + settings +
         (kernels.empty() ? "" : "kernels: [" + kernels + "]\n") + "modules:\n" + modules;
}

TEST(PolicyMerge, UnitesEntriesAndKernelsAndBumpsTheVersion) {
  auto a = parsed(policy(3, "\"6.1.0-57-amd64\"",
                         entry("dummy", 1, ", path: /lib/6.1/dummy.ko") + entry("minix", 2)));
  auto b = parsed(policy(
      7, "\"6.12.118+deb13-amd64\"",
      entry("dummy", 1, ", path: /lib/6.12/other.ko") + entry("dummy", 3) + entry("nlmon", 4)));
  auto m = merge_policies({{"a.yaml", a}, {"b.yaml", b}});
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->version, 8u);
  EXPECT_EQ(m->kernels, (std::vector<std::string>{"6.1.0-57-amd64", "6.12.118+deb13-amd64"}));
  ASSERT_EQ(m->modules.size(), 4u);
  EXPECT_EQ(m->modules[0].name, "dummy");
  EXPECT_EQ(m->modules[0].path, "/lib/6.1/dummy.ko") << "the first input's fields are kept";
  EXPECT_EQ(m->modules[2].sha256, parsed(policy(1, "", entry("x", 3))).modules[0].sha256);
  // The result is a policy like any other: it writes and reads back to the same digest.
  auto back = parse_policy(policy_to_yaml(*m, {}), "merged.yaml");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->digest, m->digest);
}

TEST(PolicyMerge, AnInputForEveryKernelMakesTheResultForEveryKernel) {
  auto a = parsed(policy(1, "\"6.1.*\"", entry("a", 1)));
  auto b = parsed(policy(1, "", entry("b", 2)));
  auto m = merge_policies({{"a.yaml", a}, {"b.yaml", b}});
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(m->kernels.empty());
}

TEST(PolicyMerge, DifferentSettingsAreRefusedNamingBothFiles) {
  auto a = parsed(policy(1, "", entry("a", 1)));
  auto b = parsed(policy(1, "", entry("b", 2), "mode: enforce\n"));
  auto m = merge_policies({{"a.yaml", a}, {"b.yaml", b}});
  ASSERT_FALSE(m);
  EXPECT_THAT(m.error().message, HasSubstr("mode dry-run in a.yaml but enforce in b.yaml"));
  auto c = parsed(policy(1, "", entry("c", 3), "mode: dry-run\nfirmware: []\n"));
  auto n = merge_policies({{"a.yaml", a}, {"c.yaml", c}});
  ASSERT_FALSE(n);
  EXPECT_THAT(n.error().message, HasSubstr("firmware absent in a.yaml but present in c.yaml"));
}

TEST(PolicyMerge, OneHashUnderTwoNamesIsRefused) {
  auto a = parsed(policy(1, "", entry("a", 1)));
  auto b = parsed(policy(1, "", entry("b", 1)));
  auto m = merge_policies({{"a.yaml", a}, {"b.yaml", b}});
  ASSERT_FALSE(m);
  EXPECT_THAT(m.error().message, HasSubstr("b.yaml: module entry b has sha256 " + hash_hex(1)));
  EXPECT_THAT(m.error().message, HasSubstr("lists under a"));
}

TEST(PolicyMerge, SectionsAreMergedEachOnItsOwn) {
  const std::string fw = "mode: dry-run\nfirmware:\n" + entry("fw.bin", 9);
  auto a = parsed(policy(1, "", entry("a", 1), fw));
  auto b = parsed(policy(2, "", entry("b", 2), "mode: dry-run\nfirmware:\n" + entry("fw2.bin", 8)));
  auto m = merge_policies({{"a.yaml", a}, {"b.yaml", b}});
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_TRUE(m->firmware);
  EXPECT_EQ(m->firmware->size(), 2u);
  EXPECT_EQ(m->modules.size(), 2u);
  EXPECT_EQ(m->version, 3u);
}

TEST(PolicyMerge, NoVersionAboveTheHighestPossibleOne) {
  auto a = parsed(policy(1, "", entry("a", 1)));
  Policy b = a;
  b.version = std::numeric_limits<std::uint64_t>::max();
  auto m = merge_policies({{"a.yaml", a}, {"b.yaml", b}});
  ASSERT_FALSE(m);
  EXPECT_THAT(m.error().message, HasSubstr("highest possible version"));
}

TEST(PolicyMerge, KeepSettingsTakesTheFirstInputsSettingsAndTheOthersEntries) {
  // What the postinst.d hook does: the operator's enforce policy plus a new tree's init output,
  // whose dry-run mode and default flags must not replace the operator's.
  auto ours = parsed(policy(5, "\"6.1.0-57-amd64\"", entry("a", 1),
                            "mode: enforce\nallow_forced: true\nautoload: {default: deny}\n"));
  auto init = parsed(policy(1, "\"6.12.95+deb12-amd64\"", entry("b", 2)));
  EXPECT_FALSE(merge_policies({{"ours.yaml", ours}, {"init.yaml", init}}))
      << "without the option, differing settings are refused";
  auto m =
      merge_policies({{"ours.yaml", ours}, {"init.yaml", init}}, {.settings_from_first = true});
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->mode, Mode::kEnforce);
  EXPECT_TRUE(m->allow_forced);
  EXPECT_EQ(m->autoload.default_action, AutoloadDefault::kDeny);
  EXPECT_EQ(m->kernels, (std::vector<std::string>{"6.1.0-57-amd64", "6.12.95+deb12-amd64"}));
  EXPECT_EQ(m->modules.size(), 2u);
  EXPECT_EQ(m->version, 6u);
}

TEST(PolicyMerge, KeepSettingsRefusesEntriesForASectionTheFirstDoesNotHave) {
  auto ours = parsed(policy(1, "", entry("a", 1)));
  auto other = parsed(policy(1, "", entry("b", 2), "mode: dry-run\nfirmware:\n" + entry("f", 3)));
  auto m = merge_policies({{"ours.yaml", ours}, {"o.yaml", other}}, {.settings_from_first = true});
  ASSERT_FALSE(m) << "firmware entries would vanish";
  EXPECT_THAT(m.error().message, HasSubstr("o.yaml has a firmware: section"));
}

std::string built_for(const std::string& release) {
  return ", vermagic: \"" + release + " SMP preempt mod_unload modversions \"";
}

TEST(PolicyPrune, RemovesTheEntriesAndKernelsOfTheNamedRelease) {
  auto p =
      parsed(policy(4, "\"6.1.0-57-amd64\", \"6.12.95+deb12-amd64\"",
                    entry("ext4", 1, built_for("6.1.0-57-amd64")) +
                        entry("ext4", 2, built_for("6.12.95+deb12-amd64")) + entry("handmade", 3)));
  auto r = prune_kernels(p, {"6.1.0-57-amd64"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->entries_removed, 1u);
  EXPECT_EQ(r->kernels_removed, std::vector<std::string>{"6.1.0-57-amd64"});
  EXPECT_EQ(r->policy.kernels, std::vector<std::string>{"6.12.95+deb12-amd64"});
  ASSERT_EQ(r->policy.modules.size(), 2u);
  EXPECT_EQ(r->policy.modules[0].sha256, p.modules[1].sha256);
  EXPECT_EQ(r->policy.modules[1].name, "handmade") << "no vermagic: says nothing of a kernel";
  EXPECT_EQ(r->policy.version, 5u);
  auto back = parse_policy(policy_to_yaml(r->policy, {}), "pruned.yaml");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->digest, r->policy.digest);
}

TEST(PolicyPrune, AGlobRemovesEveryReleaseItMatchesButAGlobItemStays) {
  auto p = parsed(policy(1, "\"6.1.0-*-amd64\", \"6.1.0-57-amd64\", \"7.3.4+deb13-amd64\"",
                         entry("a", 1, built_for("6.1.0-56-amd64")) +
                             entry("a", 2, built_for("6.1.0-57-amd64")) +
                             entry("a", 3, built_for("7.3.4+deb13-amd64"))));
  auto r = prune_kernels(p, {"6.1.0-*"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->entries_removed, 2u);
  EXPECT_EQ(r->policy.kernels, (std::vector<std::string>{"6.1.0-*-amd64", "7.3.4+deb13-amd64"}))
      << "a glob item is removed only when named exactly";
  auto exact = prune_kernels(p, {"6.1.0-*-amd64"});
  ASSERT_TRUE(exact) << exact.error().message;
  EXPECT_EQ(exact->policy.kernels, std::vector<std::string>{"7.3.4+deb13-amd64"});
}

TEST(PolicyPrune, RefusesWhenNothingMatches) {
  auto p = parsed(policy(1, "\"6.1.0-57-amd64\"", entry("a", 1, built_for("6.1.0-57-amd64"))));
  auto r = prune_kernels(p, {"6.12.95+deb12-amd64"});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("nothing to prune"));
  EXPECT_THAT(r.error().message, HasSubstr("6.12.95+deb12-amd64"));
}

TEST(PolicyPrune, RefusesToTurnAPolicyForNamedKernelsIntoOneForEveryKernel) {
  auto p = parsed(policy(1, "\"6.1.0-57-amd64\"", entry("a", 1, built_for("6.1.0-57-amd64"))));
  auto r = prune_kernels(p, {"6.1.0-57-amd64"});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("every kernel"));
  // A policy for every kernel stays one: its entries for the release go, nothing else changes.
  auto any = parsed(policy(1, "", entry("a", 1, built_for("6.1.0-57-amd64")) + entry("b", 2)));
  auto ok = prune_kernels(any, {"6.1.0-57-amd64"});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_TRUE(ok->policy.kernels.empty());
  EXPECT_EQ(ok->policy.modules.size(), 1u);
}

TEST(PolicyPrune, NoVersionAboveTheHighestPossibleOne) {
  Policy p = parsed(policy(1, "", entry("a", 1, built_for("6.1.0-57-amd64"))));
  p.version = std::numeric_limits<std::uint64_t>::max();
  auto r = prune_kernels(p, {"6.1.0-57-amd64"});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("highest possible version"));
}

}  // namespace
}  // namespace modgate::policy
