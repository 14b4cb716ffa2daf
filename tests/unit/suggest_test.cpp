// SPDX-License-Identifier: Apache-2.0
// policy suggest: deny/would-deny events from several hosts grouped into entries to add.
#include "policy/suggest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "policy/diff.h"
#include "policy/init.h"
#include "policy/policy.h"

namespace modgate::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string hx(char c) { return std::string(64, c); }

std::string ev(const std::string& verdict, const std::string& hash, const std::string& name,
               const std::string& host_field = "") {
  return R"({"event":"module_load","verdict":")" + verdict +
         R"(","reason":"not-listed","sha256":")" + hash + R"(","name":")" + name +
         R"(","path":"/lib/modules/x/)" + name + R"(.ko","listed":false)" + host_field + "}\n";
}

TEST(Suggest, GroupsBySha256WithHostsAndCounts) {
  std::string in = ev("would-deny", hx('a'), "minix", R"(,"host":"web1")") +
                   ev("deny", hx('a'), "minix", R"(,"host":"web2")") +
                   ev("would-deny", hx('a'), "minix", R"(,"host":"web1")") +
                   ev("would-deny", hx('b'), "vfat");
  auto r = suggest_from_events(in, nullptr);
  ASSERT_EQ(r.suggestions.size(), 2u);
  EXPECT_EQ(r.suggestions[0].name, "minix");
  EXPECT_EQ(r.suggestions[0].count, 3u);
  EXPECT_EQ(r.suggestions[0].hosts.at("web1"), 2u);
  EXPECT_EQ(r.suggestions[0].hosts.at("web2"), 1u);
  EXPECT_EQ(r.suggestions[1].name, "vfat");
  EXPECT_EQ(r.suggestions[1].hosts.at("unknown"), 1u);
  EXPECT_EQ(r.denials, 4u);
  EXPECT_TRUE(r.malformed.empty());
}

TEST(Suggest, NewPolicyIsVersionOneDryRunAndReadsBack) {
  auto r = suggest_from_events(ev("would-deny", hx('a'), "minix"), nullptr);
  EXPECT_EQ(r.proposed.version, 1u);
  EXPECT_EQ(r.proposed.mode, Mode::kDryRun);
  ASSERT_EQ(r.proposed.modules.size(), 1u);
  EXPECT_EQ(r.proposed.modules[0].path, "/lib/modules/x/minix.ko");
  EXPECT_THAT(r.proposed.modules[0].note.value_or(""), HasSubstr("1 denied load on unknown (1)"));
  auto back = parse_policy(policy_to_yaml(r.proposed, {}), "<test>");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->digest, r.proposed.digest);
}

TEST(Suggest, AddsToOldPolicyBumpsVersionSkipsListedHashes) {
  auto old = parse_policy(
      "version: 7\nmode: enforce\nmodules:\n  - name: minix\n    sha256: " + hx('a') + "\n",
      "old.yaml");
  ASSERT_TRUE(old.ok()) << old.error().message;
  std::string in = ev("deny", hx('a'), "minix") + ev("deny", hx('c'), "udf");
  auto r = suggest_from_events(in, &*old);
  EXPECT_EQ(r.already_listed, 1u);
  ASSERT_EQ(r.suggestions.size(), 1u);
  EXPECT_EQ(r.proposed.version, 8u);
  EXPECT_EQ(r.proposed.mode, Mode::kEnforce);
  auto d = diff_policies(*old, r.proposed);
  ASSERT_EQ(d.added.size(), 1u);
  EXPECT_EQ(d.added[0].name, "udf");
  EXPECT_TRUE(d.removed.empty());
}

TEST(Suggest, MalformedLinesAreCountedWithLineNumbers) {
  std::string in = "not json\n" + ev("deny", hx('a'), "minix") +
                   "\n[1,2]\n{\"verdict\":\"deny\"}\n" +
                   R"({"event":"module_load","verdict":"deny","sha256":"xyz"})" + "\n" +
                   R"({"event":"module_load","verdict":"deny","sha256":5})" + "\n";
  auto r = suggest_from_events(in, nullptr);
  EXPECT_THAT(r.malformed,
              ElementsAre("1: not JSON", "4: not a JSON object", "5: no \"event\" string",
                          "6: \"sha256\" is not 64 hex digits", "7: \"sha256\" is not a string"));
  EXPECT_EQ(r.suggestions.size(), 1u);
}

TEST(Suggest, IgnoresAllowsRequestsNullHashesAndForcedListed) {
  std::string in =
      ev("allow", hx('a'), "minix") +
      R"({"event":"module_request","verdict":"deny","name":"rtnl-link-nlmon"})" + "\n" +
      R"({"event":"module_load","verdict":"deny","reason":"hash-failed","sha256":null})" + "\n" +
      R"({"event":"module_load","verdict":"deny","reason":"forced","sha256":")" + hx('d') +
      R"(","listed":true})" + "\n" + R"({"event":"events_lost","count":3})" + "\n";
  auto r = suggest_from_events(in, nullptr);
  EXPECT_TRUE(r.suggestions.empty());
  EXPECT_TRUE(r.malformed.empty());
  EXPECT_EQ(r.already_listed, 1u);
}

TEST(Suggest, NamelessOrOddNamesBecomeValidPolicyNames) {
  std::string in = R"({"event":"module_load","verdict":"deny","sha256":")" + hx('e') +
                   R"(","name":null})" + "\n" + ev("deny", hx('f'), "we ird.name");
  auto r = suggest_from_events(in, nullptr);
  ASSERT_EQ(r.suggestions.size(), 2u);
  EXPECT_EQ(r.suggestions[0].name, "unnamed-eeeeeeeeeeee");
  EXPECT_EQ(r.suggestions[1].name, "we_ird_name");
  auto back = parse_policy(policy_to_yaml(r.proposed, {}), "<test>");
  EXPECT_TRUE(back.ok()) << back.error().message;
}

}  // namespace
}  // namespace modgate::policy
