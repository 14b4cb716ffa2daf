// SPDX-License-Identifier: Apache-2.0
// Staged rollout (policy/rollout.h, docs/fleet.md "Rollout cohorts"): the cohort function, its
// monotonicity and spread over a synthetic fleet, the `rollout` key of the policy, machine ids.
#include "policy/rollout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "policy/diff.h"
#include "policy/init.h"
#include "policy/report.h"
#include "policy_test_util.h"

namespace modgate::policy {
namespace {

using ::modgate::policy::testing::hash_hex;
using ::modgate::policy::testing::TempDir;
using ::modgate::policy::testing::write_file;
using ::testing::HasSubstr;

// 10,000 distinct machine ids shaped like /etc/machine-id (32 lowercase hex digits), spread as
// real ones are (systemd draws them at random; a hash stands in for the randomness).
const std::vector<std::string>& fleet() {
  static const std::vector<std::string> ids = [] {
    std::vector<std::string> v;
    for (int i = 0; i < 10000; i++) {
      std::string s = "synthetic-host-" + std::to_string(i);
      v.push_back(to_hex(sha256({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}))
                      .substr(0, 32));
    }
    return v;
  }();
  return ids;
}

std::string staged(const std::string& percent, const std::string& salt = "wave-1") {
  return "version: 3\nmode: enforce\nrollout:\n  enforce_percent: " + percent +
         "\n  salt: " + salt + "\nmodules:\n  - name: ext4\n    sha256: " + hash_hex(1) + "\n";
}

Policy parsed(const std::string& text) {
  auto p = parse_policy(text, "p.yaml");
  EXPECT_TRUE(p.ok()) << p.error().message;
  return p.ok() ? *p : Policy{};
}

std::string errors(const std::string& text) {
  auto p = parse_policy(text, "p.yaml");
  return p.ok() ? "(valid)" : p.error().message;
}

// Vectors computed independently with the recipe in docs/fleet.md:
//   h=$(printf 'modgate-rollout 1\n%s\n%s\n' "$salt" "$id" | sha256sum | cut -c1-8)
//   echo $(( 0x$h % 10000 ))
TEST(Cohort, MatchesTheDocumentedRecipe) {
  EXPECT_EQ(cohort_bucket("0123456789abcdef0123456789abcdef", "wave-1"), 9171u);
  EXPECT_EQ(cohort_bucket("5f1d2a9c0b7e4d3a8c6b1e0f2d4a6c8e", "2026-q1"), 4277u);
  EXPECT_EQ(cohort_bucket("fedcba9876543210fedcba9876543210", "a"), 1066u);
}

TEST(Cohort, IsDeterministicAndInRange) {
  for (const auto& id : fleet()) {
    std::uint32_t b = cohort_bucket(id, "s");
    ASSERT_LT(b, kCohortBuckets);
    ASSERT_EQ(b, cohort_bucket(id, "s"));
  }
}

// Through the whole path (policy text -> basis points -> effective mode), every host enforcing at
// one percentage still enforces at every higher one.
TEST(Cohort, RaisingThePercentageOnlyAddsHosts) {
  const std::vector<std::string> steps = {"0",    "0.01", "0.5", "1",  "5",     "10",
                                          "12.5", "25",   "50",  "75", "99.99", "100"};
  std::vector<Policy> policies;
  policies.reserve(steps.size());
  for (const auto& s : steps) policies.push_back(parsed(staged(s)));
  std::vector<std::size_t> enforcing(steps.size());
  for (const auto& id : fleet()) {
    bool before = false;
    for (std::size_t i = 0; i < steps.size(); i++) {
      auto e = effective_mode(policies[i], id);
      ASSERT_TRUE(e.staged);
      bool now = e.mode == Mode::kEnforce;
      ASSERT_EQ(now, e.in_cohort());
      ASSERT_TRUE(now || !before) << id << " stops enforcing at " << steps[i] << "%";
      before = now;
      enforcing[i] += now;
    }
  }
  EXPECT_EQ(enforcing.front(), 0u);
  EXPECT_EQ(enforcing.back(), fleet().size());
  for (std::size_t i = 1; i < steps.size(); i++) EXPECT_LE(enforcing[i - 1], enforcing[i]);
}

// Binomial spread: with 10,000 hosts the standard deviation is at most 50 hosts (0.5 points), so a
// correct function stays within 1.5 points of N; a biased one (a wrong modulus, a byte ignored)
// misses by far more.
TEST(Cohort, SpreadIsWithinAFewTenthsOfAPercentOfN) {
  for (const std::string salt : {"wave-1", "2026-q1", "x", "a much longer salt with spaces"}) {
    for (double n : {1.0, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0}) {
      auto bp = static_cast<std::uint32_t>(n * 100);
      std::size_t in = 0;
      for (const auto& id : fleet()) in += in_enforce_cohort(cohort_bucket(id, salt), bp);
      double pct = 100.0 * static_cast<double>(in) / static_cast<double>(fleet().size());
      EXPECT_NEAR(pct, n, 1.5) << "salt '" << salt << "', N = " << n;
    }
  }
}

TEST(Cohort, BucketsAreUniformOverTenths) {
  std::vector<int> tenths(10);
  for (const auto& id : fleet()) tenths[cohort_bucket(id, "wave-1") / 1000]++;
  for (int c : tenths) EXPECT_NEAR(c, 1000, 120);  // sd 30
}

// Another salt draws another cohort: at 50 % each, the overlap is about a quarter of the fleet
// (independent), not half (the same cohort) and not none (complementary).
TEST(Cohort, DifferentSaltsGiveIndependentCohorts) {
  std::size_t both = 0, a_only = 0;
  for (const auto& id : fleet()) {
    bool a = in_enforce_cohort(cohort_bucket(id, "wave-1"), 5000);
    bool b = in_enforce_cohort(cohort_bucket(id, "wave-2"), 5000);
    both += a && b;
    a_only += a && !b;
  }
  EXPECT_NEAR(static_cast<double>(both), 2500, 150);
  EXPECT_NEAR(static_cast<double>(a_only), 2500, 150);
  std::size_t small = 0;
  for (const auto& id : fleet())
    small += in_enforce_cohort(cohort_bucket(id, "a"), 1000) &&
             in_enforce_cohort(cohort_bucket(id, "b"), 1000);
  EXPECT_NEAR(static_cast<double>(small), 100, 40);  // 10 % of 10 %
}

TEST(Cohort, EveryInputByteCounts) {
  std::string id = "0123456789abcdef0123456789abcdef";
  // The domain string separates the fields: moving a character across the boundary moves the host.
  EXPECT_NE(cohort_bucket(id, "wave-1"), cohort_bucket(id, "wave-1 "));
  EXPECT_NE(cohort_bucket(id, "ab"), cohort_bucket("b" + id.substr(1), "a"));
}

TEST(EnforcePercent, ParsesExactlyToBasisPoints) {
  for (auto [text, bp] : std::vector<std::pair<std::string, std::uint32_t>>{{"0", 0},
                                                                            {"0.01", 1},
                                                                            {"0.1", 10},
                                                                            {"1", 100},
                                                                            {"12.5", 1250},
                                                                            {"12.50", 1250},
                                                                            {"33.33", 3333},
                                                                            {"99.99", 9999},
                                                                            {"100", 10000},
                                                                            {"100.0", 10000},
                                                                            {"100.00", 10000}}) {
    auto r = parse_enforce_percent(text);
    ASSERT_TRUE(r.ok()) << text;
    EXPECT_EQ(*r, bp) << text;
  }
  for (const std::string bad : {"", "101", "100.01", "200", "-1", "+5", "05", "00", "5.", ".5",
                                "5.123", "1e1", "0x10", " 5", "5 ", "5%", "nan", "1000"})
    EXPECT_FALSE(parse_enforce_percent(bad).ok()) << "'" << bad << "'";
}

TEST(EnforcePercent, PrintsCanonicallyAndReadsBack) {
  EXPECT_EQ(percent_string(0), "0");
  EXPECT_EQ(percent_string(1), "0.01");
  EXPECT_EQ(percent_string(1250), "12.5");
  EXPECT_EQ(percent_string(10000), "100");
  for (std::uint32_t bp = 0; bp <= kCohortBuckets; bp++) {
    auto r = parse_enforce_percent(percent_string(bp));
    ASSERT_TRUE(r.ok()) << bp;
    ASSERT_EQ(*r, bp);
  }
}

TEST(RolloutKey, ParsesIntoThePolicy) {
  Policy p = parsed(staged("12.5", "\"2026 wave 1\""));
  ASSERT_TRUE(p.rollout.has_value());
  EXPECT_EQ(p.rollout->enforce_basis_points, 1250u);
  EXPECT_EQ(p.rollout->salt, "2026 wave 1");
  EXPECT_EQ(p.mode, Mode::kEnforce);
  EXPECT_FALSE(parsed("version: 1\nmode: enforce\nallow_empty: true\n").rollout.has_value());
}

TEST(RolloutKey, ProblemsAreReportedWithTheirPositions) {
  EXPECT_EQ(errors("version: 1\nmode: dry-run\nrollout: {enforce_percent: 5, salt: s}\n"),
            "p.yaml:3:1: 'rollout' stages enforcement and needs 'mode: enforce'; with mode "
            "dry-run every host runs dry-run already");
  EXPECT_EQ(errors(staged("101")),
            "p.yaml:4:20: 'rollout.enforce_percent' must be a number from 0 to 100 with at most "
            "two decimals, unquoted (e.g. 5 or 12.5), got '101'");
  EXPECT_EQ(errors(staged("\"10\"")),
            "p.yaml:4:20: 'rollout.enforce_percent' must be a number from 0 to 100 with at most "
            "two decimals, unquoted (e.g. 5 or 12.5), got the quoted string '10'");
  EXPECT_EQ(errors(staged("[1]")),
            "p.yaml:4:20: 'rollout.enforce_percent' must be a number from 0 to 100 with at most "
            "two decimals, unquoted (e.g. 5 or 12.5), got a list");
  EXPECT_EQ(errors(staged("5", "\"\"")),
            "p.yaml:5:9: 'rollout.salt' '' is empty; any non-empty string works, and a new one "
            "draws new cohorts");
  EXPECT_EQ(errors(staged("5", "\"a\\nb\"")),
            "p.yaml:5:9: 'rollout.salt' 'a\\x0ab' contains a control character");
  EXPECT_EQ(errors(staged("5", std::string(129, 's'))),
            "p.yaml:5:9: 'rollout.salt' '" + std::string(129, 's') + "' is 129 bytes; at most 128");
  EXPECT_EQ(errors("version: 1\nmode: enforce\nallow_empty: true\nrollout: {salt: s}\n"),
            "p.yaml:4:10: 'rollout' without 'enforce_percent' (the share of hosts that enforce, "
            "0 to 100)");
  EXPECT_EQ(errors("version: 1\nmode: enforce\nallow_empty: true\nrollout: {enforce_percent: 5}\n"),
            "p.yaml:4:10: 'rollout' without 'salt' (any string; a new salt draws new cohorts)");
  EXPECT_EQ(errors("version: 1\nmode: enforce\nallow_empty: true\n"
                   "rollout: {enforce_percent: 5, salt: s, percent: 5}\n"),
            "p.yaml:4:40: unknown key 'percent' in 'rollout' (expected enforce_percent, salt)");
  EXPECT_EQ(errors("version: 1\nmode: enforce\nallow_empty: true\nrollout: 5\n"),
            "p.yaml:4:10: 'rollout' must be a mapping with enforce_percent and salt, got a scalar");
  EXPECT_EQ(errors("version: 1\nmode: enforce\nallow_empty: true\nrollout:\n"),
            "p.yaml:4:1: 'rollout' must be a mapping with enforce_percent and salt, got nothing "
            "(null)");
  EXPECT_EQ(errors("version: 1\nmode: enforce\nallow_empty: true\n"
                   "rollout: {enforce_percent: 5, salt: s, salt: t}\n"),
            "p.yaml:4:40: duplicate key 'salt' in 'rollout' (first at line 4)");
  // An invalid mode is one error, not two.
  EXPECT_EQ(errors("version: 1\nmode: staged\nrollout: {enforce_percent: 5, salt: s}\n"),
            "p.yaml:2:7: 'mode' must be 'enforce' or 'dry-run', got 'staged'");
}

TEST(RolloutKey, CanonicalFormAndDigest) {
  Policy p = parsed(staged("12.5"));
  EXPECT_THAT(canonical_form(p), HasSubstr("\nmode enforce\nrollout 1250 6:wave-1\nlog_allowed"));
  // Spelling does not matter, the value does; a policy without rollout has no rollout line, so
  // its digest is the one it had before rollouts existed.
  EXPECT_EQ(p.digest, parsed(staged("12.50")).digest);
  EXPECT_NE(p.digest, parsed(staged("12.51")).digest);
  EXPECT_NE(p.digest, parsed(staged("12.5", "wave-2")).digest);
  Policy plain = parsed(
      "version: 3\nmode: enforce\nmodules:\n  - name: ext4\n    sha256: " + hash_hex(1) + "\n");
  EXPECT_EQ(canonical_form(plain).find("rollout"), std::string::npos);
  EXPECT_NE(plain.digest, p.digest);
}

TEST(RolloutKey, SurvivesYamlRoundTripShowAndDiff) {
  Policy p = parsed(staged("0.05", "\"it's \\\"quoted\\\"\""));
  std::string yaml = policy_to_yaml(p, {"test"});
  auto back = parse_policy(yaml, "back.yaml");
  ASSERT_TRUE(back.ok()) << back.error().message << "\n" << yaml;
  EXPECT_EQ(back->digest, p.digest);

  EXPECT_THAT(show_text(p, "p.yaml", false),
              HasSubstr("rollout:      enforce on 0.05% of hosts (salt 'it's \"quoted\"'), "
                        "dry-run on the others\n"));
  auto j = show_json(p, "p.yaml");
  EXPECT_THAT(j, HasSubstr("\"enforce_percent\": \"0.05\""));
  EXPECT_THAT(j, HasSubstr("\"enforce_basis_points\": 5"));

  auto d = diff_policies(parsed(staged("1")), parsed(staged("10")));
  ASSERT_EQ(d.settings.size(), 1u);
  EXPECT_EQ(d.settings[0].key, "rollout.enforce_percent");
  EXPECT_EQ(d.settings[0].from, "1");
  EXPECT_EQ(d.settings[0].to, "10");
  auto d2 = diff_policies(
      parsed("version: 3\nmode: enforce\nmodules:\n  - name: ext4\n    sha256: " + hash_hex(1) +
             "\n"),
      parsed(staged("1")));
  ASSERT_EQ(d2.settings.size(), 2u);
  EXPECT_EQ(d2.settings[0].from, "none");
  EXPECT_EQ(d2.settings[1].key, "rollout.salt");
  EXPECT_EQ(d2.settings[1].to, "wave-1");
}

TEST(EffectiveMode, FollowsModeAndCohort) {
  const std::string id = "0123456789abcdef0123456789abcdef";  // bucket 9171 under "wave-1"
  auto dry = parsed("version: 1\nmode: dry-run\n");
  EXPECT_EQ(effective_mode(dry, id).mode, Mode::kDryRun);
  EXPECT_FALSE(effective_mode(dry, id).staged);
  auto enforce = parsed("version: 1\nmode: enforce\nallow_empty: true\n");
  EXPECT_EQ(effective_mode(enforce, "").mode, Mode::kEnforce);
  EXPECT_FALSE(effective_mode(enforce, "").staged);

  auto in = effective_mode(parsed(staged("91.72")), id);
  EXPECT_TRUE(in.staged);
  EXPECT_EQ(in.bucket, 9171u);
  EXPECT_EQ(in.enforce_basis_points, 9172u);
  EXPECT_EQ(in.mode, Mode::kEnforce);
  EXPECT_EQ(effective_mode(parsed(staged("91.71")), id).mode, Mode::kDryRun);
}

// The kernel gets the host's mode; the digest stays the policy's, the same on every host.
TEST(EffectiveMode, CompileForHostKeepsTheDigest) {
  Policy p = parsed(staged("50"));
  for (Mode m : {Mode::kDryRun, Mode::kEnforce}) {
    EffectiveMode e;
    e.mode = m;
    auto c = compile_for_host(p, e);
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->config.mode, m == Mode::kEnforce ? MG_MODE_ENFORCE : MG_MODE_DRY_RUN);
    EXPECT_EQ(0, std::memcmp(c->config.policy_digest, p.digest.data(), p.digest.size()));
  }
}

TEST(MachineId, ReadsSystemdsFormat) {
  TempDir t;
  write_file(t.path() / "id", "0123456789ABCDEF0123456789abcdef\n");
  auto r = read_machine_id(t / "id");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, "0123456789abcdef0123456789abcdef");
  write_file(t.path() / "id2", "0123456789abcdef0123456789abcdef");  // no newline
  EXPECT_TRUE(read_machine_id(t / "id2").ok());
}

TEST(MachineId, RefusesWhatIsNotOneWithTheFix) {
  TempDir t;
  const std::string fix =
      "; staged rollout needs a machine id (systemd-machine-id-setup writes one; in a container, "
      "mount the host's /etc/machine-id)";
  EXPECT_EQ(read_machine_id(t / "missing").error().message,
            t / "missing" + ": No such file or directory" + fix);
  write_file(t.path() / "empty", "");
  EXPECT_EQ(read_machine_id(t / "empty").error().message, t / "empty" + ": is empty" + fix);
  write_file(t.path() / "nl", "\n");
  EXPECT_EQ(read_machine_id(t / "nl").error().message, t / "nl" + ": is empty" + fix);
  write_file(t.path() / "uninit", "uninitialized\n");
  EXPECT_EQ(read_machine_id(t / "uninit").error().message,
            t / "uninit" + ": is 'uninitialized' (first boot in progress)" + fix);
  const std::string malformed =
      ": is not a machine id (32 hex digits and a newline, machine-id(5))" + fix;
  for (const std::string& bad : std::vector<std::string>{
           std::string(31, 'a') + "\n", std::string(33, 'a') + "\n", std::string(31, 'a') + "g\n",
           std::string("01234567-89ab-cdef-0123-456789abcdef\n"), std::string(32, 'a') + "\n\n",
           std::string(200, 'a')}) {
    write_file(t.path() / "bad", bad);
    EXPECT_EQ(read_machine_id(t / "bad").error().message, t / "bad" + malformed) << bad;
  }
  EXPECT_EQ(read_machine_id(t.path().string()).error().message,
            t.path().string() + ": not a regular file" + fix);
}

// docs/fleet.md's worked example is what operators check their own computation against.
TEST(Cohort, DocumentationExampleHolds) {
  std::ifstream in(std::string(MODGATE_SOURCE_DIR) + "/docs/fleet.md");
  ASSERT_TRUE(in) << "docs/fleet.md not found";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string doc = ss.str();
  EXPECT_THAT(doc, HasSubstr("printf 'modgate-rollout 1\\n%s\\n%s\\n' \"$salt\" \"$id\""));
  EXPECT_THAT(doc, HasSubstr("salt=wave-1 id=0123456789abcdef0123456789abcdef"));
  EXPECT_THAT(doc, HasSubstr("# 9171: enforces from enforce_percent 91.72 up"));
  int blocks = 0;
  for (std::size_t pos = 0; (pos = doc.find("```yaml\n", pos)) != std::string::npos; blocks++) {
    pos += 8;
    auto p = parse_policy(doc.substr(pos, doc.find("```", pos) - pos), "docs/fleet.md");
    EXPECT_TRUE(p.ok()) << p.error().message;
    EXPECT_TRUE(p.ok() && p->rollout.has_value());
  }
  EXPECT_GE(blocks, 1);
}

}  // namespace
}  // namespace modgate::policy
