// SPDX-License-Identifier: Apache-2.0
// Admission (agent/admission.h): every rule a policy passes before the kernel sees it, with real
// keys, real signed bundles and the state directory on disk. The daemon adds only the install.
#include "agent/admission.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "policy_test_util.h"

namespace modgate {
namespace {

namespace fs = std::filesystem;
using policy::testing::hash_hex;
using policy::testing::TempDir;
using policy::testing::write_file;
using ::testing::HasSubstr;

constexpr std::int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z
const std::string kRelease = "6.1.0-56-amd64";

std::string policy_text(int version, const std::string& extra = "") {
  return "version: " + std::to_string(version) + "\nmode: enforce\n" + extra +
         "modules:\n  - name: ext4\n    sha256: " + hash_hex(version) + "\n";
}

class AdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directory(t_.path() / "trust");
    fs::create_directory(t_.path() / "state");
    auto k = policy::generate_key();
    ASSERT_TRUE(k.ok());
    ASSERT_TRUE(policy::write_key_pair(*k, t_ / "signer.key", t_ / "trust/signer.pem").ok());
    signer_ = std::move(*k);
    auto o = policy::generate_key();
    ASSERT_TRUE(o.ok());
    stranger_ = std::move(*o);
    write_file(t_ / "machine-id", "0123456789abcdef0123456789abcdef\n");
  }

  Admission open(bool trusted) {
    Admission::Options o;
    if (trusted) o.trust_dir = t_ / "trust";
    o.state_dir = t_ / "state";
    o.machine_id_file = t_ / "machine-id";
    auto a = Admission::open(o);
    EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.error().message);
    return std::move(*a);
  }

  std::string sign(const std::string& text, const policy::Key* key = nullptr,
                   std::int64_t created = kNow - 60) {
    auto b = policy::sign_bundle(text, "p.yaml", key ? *key : signer_, created);
    EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().message);
    return *b;
  }

  // decode + admit as the daemon does; the refusal reason, or "" when admitted.
  std::string verdict(Admission& a, std::string bytes, const std::optional<InForce>& in_force = {},
                      bool force = false, Admitted* out = nullptr, Candidate* cand = nullptr,
                      KernelRule rule = KernelRule::kMustMatch) {
    auto d = a.decode(std::move(bytes), "src", kNow);
    if (auto* r = std::get_if<Refusal>(&d)) return r->reason;
    auto ad = a.admit(std::get<Candidate>(d), in_force, force, kRelease, rule);
    if (auto* r = std::get_if<Refusal>(&ad)) return r->reason;
    if (out) *out = std::get<Admitted>(ad);
    if (cand) *cand = std::get<Candidate>(d);
    return "";
  }

  // Admits and commits, as a successful apply does.
  void apply(Admission& a, const std::string& bytes) {
    Candidate c;
    ASSERT_EQ(verdict(a, bytes, {}, false, nullptr, &c), "");
    ASSERT_TRUE(a.commit(c).ok());
  }

  TempDir t_;
  policy::Key signer_, stranger_;
};

TEST_F(AdmissionTest, WithoutTrustPlainPoliciesPassAndBundlesAreRefused) {
  Admission a = open(false);
  EXPECT_FALSE(a.signed_only());
  EXPECT_EQ(verdict(a, policy_text(1)), "");
  EXPECT_EQ(verdict(a, sign(policy_text(1))), "signed_without_trust");
  EXPECT_EQ(verdict(a, "version: [\n"), "invalid");
}

TEST_F(AdmissionTest, WithTrustOnlyValidSignaturesOfTrustedKeysPass) {
  Admission a = open(true);
  EXPECT_TRUE(a.signed_only());
  EXPECT_EQ(verdict(a, policy_text(1)), "unsigned");
  EXPECT_EQ(verdict(a, sign(policy_text(1))), "");
  EXPECT_EQ(verdict(a, sign(policy_text(1), &stranger_)), "unknown_key");
  std::string tampered = sign(policy_text(1));
  tampered[tampered.size() - 3] ^= 1;  // a byte of the policy's last hash
  EXPECT_EQ(verdict(a, tampered), "bad_signature");
  EXPECT_EQ(verdict(a, sign(policy_text(1)).substr(0, 100)), "malformed");
  EXPECT_EQ(verdict(a, sign(policy_text(1), nullptr, kNow + 3600)), "from_future");
  EXPECT_EQ(verdict(a, sign(policy_text(1), nullptr, kNow + 60)), "");  // within the skew
}

TEST_F(AdmissionTest, HighWaterMarkRefusesOlderBundlesAcrossRestarts) {
  {
    Admission a = open(true);
    apply(a, sign(policy_text(5)));
    EXPECT_EQ(a.high_water(), 5u);
  }
  Admission a = open(true);  // a restart (or a reboot: nothing is in force)
  EXPECT_EQ(a.high_water(), 5u);
  EXPECT_EQ(verdict(a, sign(policy_text(4))), "rollback");
  // Same version, other content: a forged "re-release" is a rollback too.
  EXPECT_EQ(verdict(a, sign(policy_text(5, "log_allowed: true\n"))), "rollback");
  // The bundle at the mark itself comes back after a reboot.
  EXPECT_EQ(verdict(a, sign(policy_text(5))), "");
  EXPECT_EQ(verdict(a, sign(policy_text(6))), "");
  // --force cannot get around it for signed policies.
  EXPECT_EQ(verdict(a, sign(policy_text(4)), {}, true), "forced_signed");
}

TEST_F(AdmissionTest, CorruptMarkIsAnErrorNotAZero) {
  write_file(t_ / "state/high-water", "12 not-a-digest\n");
  Admission::Options o;
  o.trust_dir = t_ / "trust";
  o.state_dir = t_ / "state";
  auto a = Admission::open(o);
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.error().message, HasSubstr("high-water"));
  EXPECT_THAT(a.error().message, HasSubstr("corrupt"));
}

TEST_F(AdmissionTest, VersionMustRiseAboveThePolicyInForceUnlessForced) {
  Admission a = open(false);
  Candidate c;
  ASSERT_EQ(verdict(a, policy_text(3), {}, false, nullptr, &c), "");
  InForce f{3, c.policy.digest, policy::Mode::kEnforce};
  Admitted ad;
  EXPECT_EQ(verdict(a, policy_text(3), f, false, &ad), "");
  EXPECT_TRUE(ad.unchanged);
  EXPECT_EQ(verdict(a, policy_text(2), f), "not_newer");
  EXPECT_EQ(verdict(a, policy_text(2), f, true), "");
  EXPECT_EQ(verdict(a, policy_text(4), f, false, &ad), "");
  EXPECT_FALSE(ad.unchanged);
  EXPECT_FALSE(ad.compiled.allow.empty());
}

TEST_F(AdmissionTest, KernelsListMustMatchThisKernel) {
  Admission a = open(false);
  EXPECT_EQ(verdict(a, policy_text(1, "kernels: ['5.10.*']\n")), "other_kernel");
  EXPECT_EQ(verdict(a, policy_text(1, "kernels: ['6.1.*']\n")), "");
}

// A start on a kernel the policy does not name runs the policy as its other_kernels: says, never
// not at all; a running host still refuses such a policy.
TEST_F(AdmissionTest, AStartOnAnotherKernelRunsThePolicyAsOtherKernelsSays) {
  Admission a = open(false);
  Admitted ad;
  const std::string other = "kernels: ['5.10.*']\n";
  EXPECT_EQ(verdict(a, policy_text(1, other), {}, false, &ad, nullptr, KernelRule::kFallback), "");
  EXPECT_EQ(ad.mode.mode, policy::Mode::kDryRun);  // report, the default
  EXPECT_FALSE(ad.compiled.allow.empty());
  EXPECT_EQ(ad.compiled.config.mode, MG_MODE_DRY_RUN);
  EXPECT_EQ(verdict(a, policy_text(1, other + "other_kernels: enforce\n"), {}, false, &ad, nullptr,
                    KernelRule::kFallback),
            "");
  EXPECT_EQ(ad.mode.mode, policy::Mode::kEnforce);
  EXPECT_EQ(ad.compiled.config.mode, MG_MODE_ENFORCE);
  // On the kernel it names, other_kernels changes nothing.
  EXPECT_EQ(verdict(a, policy_text(1, "kernels: ['6.1.*']\n"), {}, false, &ad, nullptr,
                    KernelRule::kFallback),
            "");
  EXPECT_EQ(ad.mode.mode, policy::Mode::kEnforce);
  EXPECT_EQ(verdict(a, policy_text(1, other + "other_kernels: enforce\n")), "other_kernel");
}

// A fallback left the policy in force dry-run: the same policy, in its own mode, is installed
// again though its version did not rise; in the mode in force it is unchanged.
TEST_F(AdmissionTest, ThePolicyInForceInAnotherModeIsInstalledAgain) {
  Admission a = open(false);
  Candidate c;
  ASSERT_EQ(verdict(a, policy_text(3), {}, false, nullptr, &c), "");
  Admitted ad;
  EXPECT_EQ(
      verdict(a, policy_text(3), InForce{3, c.policy.digest, policy::Mode::kDryRun}, false, &ad),
      "");
  EXPECT_FALSE(ad.unchanged);
  EXPECT_EQ(ad.compiled.config.mode, MG_MODE_ENFORCE);
  EXPECT_EQ(
      verdict(a, policy_text(3), InForce{3, c.policy.digest, policy::Mode::kEnforce}, false, &ad),
      "");
  EXPECT_TRUE(ad.unchanged);
  // Another policy at the same version is still not newer.
  EXPECT_EQ(verdict(a, policy_text(3, "log_allowed: true\n"),
                    InForce{3, c.policy.digest, policy::Mode::kDryRun}),
            "not_newer");
}

// A trust store or mark that cannot be read leaves an admission that refuses everything, signed
// or not, and says why; it never falls back to accepting plain files.
TEST_F(AdmissionTest, AnUnavailableAdmissionRefusesEverythingAndSaysWhy) {
  Admission::Options o;
  o.trust_dir = t_ / "trust";
  o.state_dir = t_ / "state";
  Admission a = Admission::unavailable(o, "the trust store is broken");
  EXPECT_TRUE(a.signed_only());
  EXPECT_EQ(verdict(a, policy_text(1)), "trust_unavailable");
  EXPECT_EQ(verdict(a, sign(policy_text(1))), "trust_unavailable");
  auto d = a.decode(policy_text(1), "src", kNow);
  ASSERT_TRUE(std::holds_alternative<Refusal>(d));
  EXPECT_THAT(std::get<Refusal>(d).message, HasSubstr("the trust store is broken"));
  EXPECT_EQ(a.status()["error"], "the trust store is broken");
}

TEST_F(AdmissionTest, RolloutResolvesToThisHostsCohort) {
  Admission a = open(false);
  Admitted ad;
  ASSERT_EQ(
      verdict(a, policy_text(1, "rollout: {enforce_percent: 100, salt: s}\n"), {}, false, &ad), "");
  EXPECT_TRUE(ad.mode.staged);
  EXPECT_EQ(ad.mode.mode, policy::Mode::kEnforce);
  EXPECT_EQ(ad.compiled.config.mode, static_cast<__u32>(MG_MODE_ENFORCE));
  ASSERT_EQ(verdict(a, policy_text(1, "rollout: {enforce_percent: 0, salt: s}\n"), {}, false, &ad),
            "");
  EXPECT_EQ(ad.mode.mode, policy::Mode::kDryRun);
  EXPECT_EQ(ad.compiled.config.mode, static_cast<__u32>(MG_MODE_DRY_RUN));
  EXPECT_EQ(ad.mode.bucket, policy::cohort_bucket("0123456789abcdef0123456789abcdef", "s"));
}

TEST_F(AdmissionTest, StagedPolicyWithoutMachineIdIsRefused) {
  fs::remove(t_ / "machine-id");
  Admission a = open(false);
  EXPECT_EQ(verdict(a, policy_text(1, "rollout: {enforce_percent: 50, salt: s}\n")), "machine_id");
  EXPECT_EQ(verdict(a, policy_text(1)), "");  // unstaged policies do not need it
}

TEST_F(AdmissionTest, CommitSavesWhatARestartReverifies) {
  Admission a = open(true);
  const std::string b = sign(policy_text(2));
  apply(a, b);
  ASSERT_TRUE(a.saved().has_value());
  EXPECT_EQ(*a.saved(), b);
  std::ifstream yaml(t_ / "state/applied.yaml");
  std::string text((std::istreambuf_iterator<char>(yaml)), {});
  EXPECT_EQ(text, policy_text(2));  // the policy itself, for naming modules after adoption
}

}  // namespace
}  // namespace modgate
