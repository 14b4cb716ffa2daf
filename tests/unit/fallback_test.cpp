// SPDX-License-Identifier: Apache-2.0
// The fallback a start installs when its policy cannot be put in force (agent/fallback.h): an
// empty allowlist in the chosen mode, and recognisable from its digest alone by the next agent.
#include "agent/fallback.h"

#include <gtest/gtest.h>

#include <cstring>

#include "modgate_abi.h"
#include "policy/policy.h"

namespace modgate {
namespace {

TEST(Fallback, ReportIsAnEmptyDryRunAndDenyAnEmptyEnforce) {
  for (auto [action, mode] : {std::pair{FallbackAction::kReport, MG_MODE_DRY_RUN},
                              std::pair{FallbackAction::kDeny, MG_MODE_ENFORCE}}) {
    const policy::Policy p = fallback_policy(action);
    EXPECT_EQ(p.version, 0u);
    EXPECT_TRUE(p.modules.empty());
    EXPECT_FALSE(p.firmware || p.kexec);  // firmware and kexec stay the kernel's business
    EXPECT_FALSE(p.protect);
    auto c = policy::compile(p);
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_TRUE(c->allow.empty());
    EXPECT_EQ(c->config.mode, static_cast<std::uint32_t>(mode));
    EXPECT_EQ(std::memcmp(c->config.policy_digest, p.digest.data(), 32), 0);
  }
}

TEST(Fallback, ItsDigestNamesItAndNoOtherPolicy) {
  const policy::Policy report = fallback_policy(FallbackAction::kReport);
  const policy::Policy deny = fallback_policy(FallbackAction::kDeny);
  EXPECT_NE(report.digest, deny.digest);
  std::uint8_t d[32];
  std::memcpy(d, report.digest.data(), 32);
  EXPECT_EQ(fallback_of_digest(d), FallbackAction::kReport);
  std::memcpy(d, deny.digest.data(), 32);
  EXPECT_EQ(fallback_of_digest(d), FallbackAction::kDeny);
  // An operator's empty dry-run policy at version 1 is a policy, not the fallback.
  auto own = policy::parse_policy("version: 1\nmode: dry-run\nmodules: []\n", "own.yaml");
  ASSERT_TRUE(own.ok()) << own.error().message;
  std::memcpy(d, own->digest.data(), 32);
  EXPECT_FALSE(fallback_of_digest(d));
}

TEST(Fallback, ActionsParseByName) {
  EXPECT_EQ(parse_fallback_action("report"), FallbackAction::kReport);
  EXPECT_EQ(parse_fallback_action("deny"), FallbackAction::kDeny);
  EXPECT_FALSE(parse_fallback_action("open"));
  EXPECT_EQ(fallback_action_name(FallbackAction::kDeny), "deny");
}

}  // namespace
}  // namespace modgate
