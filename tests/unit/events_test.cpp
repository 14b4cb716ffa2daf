// SPDX-License-Identifier: Apache-2.0
// The event writer names listed entries from the packed table the agent keeps of the policy in
// force (agent/events.h, PolicyNames), never from another policy's entry and never past a
// section's end.
#include "agent/events.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "modgate_abi.h"
#include "policy/policy.h"

namespace modgate {
namespace {

policy::ModuleEntry entry(std::string name, std::uint8_t fill) {
  policy::ModuleEntry e;
  e.name = std::move(name);
  e.sha256.fill(fill);
  e.signer = "a signer the table must not keep";
  return e;
}

policy::Policy sample_policy() {
  policy::Policy p;
  p.version = 7;
  p.modules = {entry("ext4", 1), entry("", 2), entry("a_module_name_longer_than_sso", 3),
               entry("dummy", 4)};
  p.firmware = std::vector<policy::ModuleEntry>{entry("iwlwifi-9000.ucode", 5)};
  return p;
}

mg_event listed_event(std::uint32_t kind, std::uint32_t index, std::uint64_t version) {
  mg_event e{};
  e.event = MG_EVENT_MODULE_LOAD;
  e.kind = kind;
  e.verdict = MG_VERDICT_ALLOW;
  e.flags = MG_EVF_LISTED;
  e.entry = index;
  e.policy_version = version;
  std::strcpy(e.name, "file-name.ko");
  return e;
}

nlohmann::json written(const PolicyNames* names, const mg_event& e) {
  std::ostringstream out;
  EventWriter w(out);
  w.set_policy(names);
  return nlohmann::json::parse(w.write(e));
}

TEST(PolicyNames, NamesEveryEntryOfEachSectionByIndex) {
  const PolicyNames n(sample_policy());
  EXPECT_EQ(n.version(), 7u);
  EXPECT_EQ(n.name(MG_KIND_MODULE, 0), "ext4");
  EXPECT_EQ(n.name(MG_KIND_MODULE, 1), "");
  EXPECT_EQ(n.name(MG_KIND_MODULE, 2), "a_module_name_longer_than_sso");
  EXPECT_EQ(n.name(MG_KIND_MODULE, 3), "dummy");
  EXPECT_EQ(n.name(MG_KIND_FIRMWARE, 0), "iwlwifi-9000.ucode");
}

TEST(PolicyNames, NothingPastASectionOrForAnAbsentSection) {
  const PolicyNames n(sample_policy());
  EXPECT_FALSE(n.name(MG_KIND_MODULE, 4));
  EXPECT_FALSE(n.name(MG_KIND_MODULE, 0xffffffffu));
  EXPECT_FALSE(n.name(MG_KIND_FIRMWARE, 1));
  EXPECT_FALSE(n.name(MG_KIND_KEXEC_IMAGE, 0));  // the policy has no kexec section
  EXPECT_FALSE(n.name(0xdead, 0));
  const PolicyNames empty;
  EXPECT_FALSE(empty.name(MG_KIND_MODULE, 0));
}

TEST(PolicyNames, KeepsTheNamesNotTheEntries) {
  policy::Policy p;
  for (int i = 0; i < 10000; ++i) p.modules.push_back(entry("module_" + std::to_string(i), 9));
  const PolicyNames n(p);
  std::size_t name_bytes = 0;
  for (const auto& e : p.modules) name_bytes += e.name.size();
  // Names plus one 4-byte end per entry, and a little slack: not sizeof(ModuleEntry) per entry.
  EXPECT_LE(n.bytes(), name_bytes + 4 * p.modules.size() + 1024);
  EXPECT_EQ(n.name(MG_KIND_MODULE, 9999), "module_9999");
}

TEST(EventWriterNames, AListedLoadIsNamedFromItsPolicySection) {
  const PolicyNames n(sample_policy());
  EXPECT_EQ(written(&n, listed_event(MG_KIND_MODULE, 2, 7))["name"],
            "a_module_name_longer_than_sso");
  EXPECT_EQ(written(&n, listed_event(MG_KIND_FIRMWARE, 0, 7))["name"], "iwlwifi-9000.ucode");
}

TEST(EventWriterNames, ARecordOfAnotherPolicyVersionDoesNotBorrowANameFromThisOne) {
  const PolicyNames n(sample_policy());
  // Version 6 decided this load; its entry 0 need not be this policy's ext4.
  EXPECT_EQ(written(&n, listed_event(MG_KIND_MODULE, 0, 6))["name"], "file-name");
}

TEST(EventWriterNames, AnIndexPastTheSectionFallsBackToTheFileName) {
  const PolicyNames n(sample_policy());
  EXPECT_EQ(written(&n, listed_event(MG_KIND_MODULE, 4, 7))["name"], "file-name");
  EXPECT_EQ(written(&n, listed_event(MG_KIND_FIRMWARE, 3, 7))["name"], "file-name.ko");
}

TEST(EventWriterNames, WithoutKnownNamesTheFileNameIsUsed) {
  EXPECT_EQ(written(nullptr, listed_event(MG_KIND_MODULE, 0, 7))["name"], "file-name");
}

}  // namespace
}  // namespace modgate
