// SPDX-License-Identifier: Apache-2.0

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "policy/diff.h"
#include "policy/report.h"
#include "policy_test_util.h"

namespace modgate::policy {
namespace {

using ::modgate::policy::testing::hash_hex;
using ::modgate::policy::testing::parsed;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::string entry(const std::string& name, int h, const std::string& extra = "") {
  return "- {name: " + name + ", sha256: " + hash_hex(h) + extra + "}\n";
}

const std::string kOld =
    "version: 1\nmode: dry-run\nautoload: {allow: [fs-*], deny: [x]}\n"
    "modules:\n" +
    entry("a", 1) + entry("b", 2) + entry("c", 3, ", note: n");

TEST(PolicyDiff, IdenticalPoliciesHaveNoDifferences) {
  auto d = diff_policies(parsed(kOld), parsed(kOld));
  EXPECT_TRUE(d.empty());
  EXPECT_THAT(diff_text(d, parsed(kOld), parsed(kOld)), HasSubstr("no differences"));
}

TEST(PolicyDiff, ModulesAddedRemovedAndChangedByNameAndHash) {
  std::string next =
      "version: 2\nmode: enforce\nautoload: {default: deny, allow: [fs-*, net-*]}\n"
      "modules:\n" +
      entry("a", 1) + entry("b", 4) + entry("c", 3, ", note: m") + entry("d", 2);
  Policy a = parsed(kOld), b = parsed(next);
  auto d = diff_policies(a, b);
  ASSERT_EQ(d.removed.size(), 1u);
  EXPECT_EQ(d.removed[0].name, "b");
  EXPECT_EQ(to_hex(d.removed[0].sha256), hash_hex(2));
  ASSERT_EQ(d.added.size(), 2u);  // sorted by name: b's new hash, then d taking b's old hash
  EXPECT_EQ(d.added[0].name, "b");
  EXPECT_EQ(to_hex(d.added[0].sha256), hash_hex(4));
  EXPECT_EQ(d.added[1].name, "d");
  ASSERT_EQ(d.changed.size(), 1u);
  EXPECT_EQ(d.changed[0].to.name, "c");
  EXPECT_THAT(d.changed[0].fields, ElementsAre("note"));
  ASSERT_EQ(d.settings.size(), 3u);
  EXPECT_EQ(d.settings[0].key, "version");
  EXPECT_EQ(d.settings[1].key, "mode");
  EXPECT_EQ(d.settings[1].from, "dry-run");
  EXPECT_EQ(d.settings[1].to, "enforce");
  EXPECT_EQ(d.settings[2].key, "autoload.default");
  EXPECT_THAT(d.autoload_allow_added, ElementsAre("net-*"));
  EXPECT_THAT(d.autoload_deny_removed, ElementsAre("x"));

  std::string text = diff_text(d, a, b);
  EXPECT_THAT(text, HasSubstr("mode: dry-run -> enforce\n"));
  EXPECT_THAT(text, HasSubstr("- b  " + hash_hex(2)));
  EXPECT_THAT(text, HasSubstr("+ d  " + hash_hex(2)));
  EXPECT_THAT(text, HasSubstr("autoload.allow: + net-*\n"));
  EXPECT_THAT(text, HasSubstr("2 added, 1 removed, 1 changed\n"));

  auto j = nlohmann::json::parse(diff_json(d, a, b));
  EXPECT_EQ(j["identical"], false);
  EXPECT_EQ(j["from_digest"], to_hex(a.digest));
  EXPECT_EQ(j["modules"]["added"].size(), 2u);
  EXPECT_EQ(j["modules"]["removed"][0]["sha256"], hash_hex(2));
  EXPECT_EQ(j["modules"]["changed"][0]["fields"][0], "note");
  EXPECT_EQ(j["settings"][1]["to"], "enforce");
  EXPECT_EQ(j["autoload"]["deny"]["removed"][0], "x");
}

TEST(PolicyDiff, FirmwareAndKexecSections) {
  Policy a = parsed(kOld);
  Policy b = parsed(kOld + "firmware:\n" + entry("fw.bin", 7) + entry("x.bin", 1) + "kexec: []\n");
  auto d = diff_policies(a, b);
  EXPECT_FALSE(d.empty());
  EXPECT_TRUE(d.added.empty()) << "modules: did not change";
  ASSERT_EQ(d.firmware.added.size(), 2u);
  EXPECT_EQ(d.firmware.added[0].name, "fw.bin");
  EXPECT_TRUE(d.kexec.empty());
  ASSERT_EQ(d.settings.size(), 2u);
  EXPECT_EQ(d.settings[0].key, "firmware");
  EXPECT_EQ(d.settings[0].from, "absent");
  EXPECT_EQ(d.settings[0].to, "present");
  EXPECT_EQ(d.settings[1].key, "kexec");

  std::string text = diff_text(d, a, b);
  EXPECT_THAT(text, HasSubstr("firmware: absent -> present\n"));
  EXPECT_THAT(text, HasSubstr("kexec: absent -> present\n"));
  EXPECT_THAT(text, HasSubstr("firmware: + fw.bin  " + hash_hex(7) + "\n"));
  EXPECT_THAT(text, HasSubstr("2 added, 0 removed, 0 changed\n"));

  Policy c = parsed(kOld + "firmware:\n" + entry("fw.bin", 7, ", note: v2") + "kexec:\n" +
                    entry("vmlinuz", 8));
  auto d2 = diff_policies(b, c);
  EXPECT_EQ(d2.settings.size(), 0u);
  ASSERT_EQ(d2.firmware.removed.size(), 1u);
  EXPECT_EQ(d2.firmware.removed[0].name, "x.bin");
  ASSERT_EQ(d2.firmware.changed.size(), 1u);
  EXPECT_THAT(d2.firmware.changed[0].fields, ElementsAre("note"));
  ASSERT_EQ(d2.kexec.added.size(), 1u);
  auto j = nlohmann::json::parse(diff_json(d2, b, c));
  EXPECT_EQ(j["firmware"]["removed"][0]["name"], "x.bin");
  EXPECT_EQ(j["firmware"]["changed"][0]["fields"][0], "note");
  EXPECT_EQ(j["kexec"]["added"][0]["sha256"], hash_hex(8));
  EXPECT_TRUE(j["modules"]["added"].empty());
}

TEST(PolicyShow, FirmwareAndKexecSections) {
  Policy none = parsed(kOld);
  EXPECT_THAT(show_text(none, "p.yaml", false),
              HasSubstr("firmware:     not judged (no section)\n"));
  auto jn = nlohmann::json::parse(show_json(none, "p.yaml"));
  EXPECT_TRUE(jn["firmware"].is_null());
  EXPECT_TRUE(jn["kexec"].is_null());

  Policy p = parsed(kOld + "firmware:\n" + entry("fw.bin", 7) + "kexec: []\n");
  std::string text = show_text(p, "p.yaml", true);
  EXPECT_THAT(text, HasSubstr("firmware:     1 entries\n"));
  EXPECT_THAT(text, HasSubstr("kexec:        0 entries\n"));
  EXPECT_THAT(text, HasSubstr("  firmware: fw.bin  " + hash_hex(7) + "\n"));
  auto j = nlohmann::json::parse(show_json(p, "p.yaml"));
  EXPECT_EQ(j["firmware"][0]["name"], "fw.bin");
  EXPECT_TRUE(j["kexec"].is_array());
  EXPECT_TRUE(j["kexec"].empty());
}

TEST(PolicyShow, TextSummaryAndJsonCarryDigestAndEntries) {
  Policy p = parsed(kOld);
  std::string text = show_text(p, "p.yaml", false);
  EXPECT_THAT(text, HasSubstr("digest:       " + to_hex(p.digest) + "\n"));
  EXPECT_THAT(text, HasSubstr("modules:      3 entries, 3 names\n"));
  EXPECT_THAT(text, HasSubstr("autoload:     default allow; allow fs-*; deny x\n"));
  EXPECT_THAT(text, Not(HasSubstr(hash_hex(1))));
  EXPECT_THAT(show_text(p, "p.yaml", true), HasSubstr("  a  " + hash_hex(1) + "\n"));

  auto j = nlohmann::json::parse(show_json(p, "p.yaml"));
  EXPECT_EQ(j["digest"], to_hex(p.digest));
  EXPECT_EQ(j["mode"], "dry-run");
  EXPECT_EQ(j["modules"].size(), 3u);
  EXPECT_EQ(j["modules"][2]["note"], "n");
  EXPECT_FALSE(j["modules"][0].contains("note"));
  EXPECT_EQ(j["autoload"]["allow"][0], "fs-*");
}

}  // namespace
}  // namespace modgate::policy
