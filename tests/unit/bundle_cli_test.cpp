// SPDX-License-Identifier: Apache-2.0
// `modgate keygen`, `modgate policy sign` and `modgate policy verify` run as the built binary:
// exit codes (docs/cli.md), messages, files and their modes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "policy/bundle.h"
#include "policy_test_util.h"

namespace modgate::policy {
namespace {

namespace fs = std::filesystem;
using ::modgate::policy::testing::CommandResult;
using ::modgate::policy::testing::hash_hex;
using ::modgate::policy::testing::run_shell;
using ::modgate::policy::testing::slurp;
using ::modgate::policy::testing::TempDir;
using ::modgate::policy::testing::write_file;
using ::testing::HasSubstr;
using ::testing::StartsWith;

mode_t file_mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

const std::string kPolicy =
    "version: 4\nmode: enforce\nmodules:\n  - name: ext4\n    sha256: " + hash_hex(1) + "\n";

class BundleCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("SOURCE_DATE_EPOCH");
    write_file(t_.path() / "p.yaml", kPolicy);
    fs::create_directory(t_.path() / "trust");
  }
  // `prefix` runs first in the same shell (umask, environment).
  CommandResult run(const std::string& args, const std::string& prefix = "") {
    return run_shell("cd " + t_.path().string() + " && " + prefix + " " + MODGATE_BIN + " " + args,
                     t_);
  }
  // keygen -o NAME, public key copied into trust/; returns the key id.
  std::string keygen(const std::string& name) {
    auto r = run("keygen -o " + name);
    EXPECT_EQ(r.rc, 0) << r.err;
    fs::copy_file(t_.path() / (name + ".public.pem"), t_.path() / "trust" / (name + ".pem"));
    std::smatch m;
    std::regex re("^key id ([0-9a-f]{16})\n");
    EXPECT_TRUE(std::regex_search(r.out, m, re)) << r.out;
    return m.size() > 1 ? m[1].str() : "";
  }
  TempDir t_;
};

TEST_F(BundleCli, KeygenWritesAPairWithExactModesEvenUnderUmaskZero) {
  auto r = run("keygen -o fleet", "umask 000;");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.err, "");
  auto pub = load_public_key(t_ / "fleet.public.pem");
  ASSERT_TRUE(pub.ok()) << pub.error().message;
  EXPECT_EQ(r.out, "key id " + pub->id() +
                       "\nprivate key: fleet.private.pem (mode 0600; keep it with the signer, off "
                       "the hosts)\npublic key:  fleet.public.pem (copy it into each host's trust "
                       "directory)\n");
  EXPECT_EQ(file_mode(t_ / "fleet.private.pem"), 0600u);
  EXPECT_EQ(file_mode(t_ / "fleet.public.pem"), 0644u);
  auto priv = load_private_key(t_ / "fleet.private.pem");
  ASSERT_TRUE(priv.ok()) << priv.error().message;
  EXPECT_EQ(priv->id(), pub->id());
}

TEST_F(BundleCli, KeygenNeverOverwrites) {
  ASSERT_EQ(run("keygen -o fleet").rc, 0);
  std::string before = slurp(t_ / "fleet.private.pem");
  auto r = run("keygen -o fleet");
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "modgate keygen: fleet.private.pem: File exists (keygen never overwrites a key; "
            "remove it or pick another name)\n");
  EXPECT_EQ(slurp(t_ / "fleet.private.pem"), before);
}

TEST_F(BundleCli, KeygenWithExplicitPathsAndBadCombinations) {
  auto r = run("keygen --private s.pem --public trust/s.pem");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(file_mode(t_ / "s.pem"), 0600u);
  EXPECT_TRUE(load_public_key(t_ / "trust/s.pem").ok());
  const std::string usage =
      "modgate keygen: give either -o PREFIX or both --private FILE and --public FILE\n";
  for (const std::string args :
       {"keygen", "keygen --private a.pem", "keygen -o x --public b.pem"}) {
    auto u = run(args);
    EXPECT_EQ(u.rc, 2) << args;
    EXPECT_EQ(u.err, usage) << args;
  }
  EXPECT_EQ(run("keygen --bogus").rc, 2);
}

TEST_F(BundleCli, SignThenVerify) {
  std::string id = keygen("fleet");
  auto s = run("policy sign --key fleet.private.pem p.yaml -o p.bundle --created 1767225600");
  ASSERT_EQ(s.rc, 0) << s.err;
  auto p = parse_policy(kPolicy, "p.yaml");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(s.out, "p.bundle: policy version 4, digest " + to_hex(p->digest) + ", key id " + id +
                       ", created 1767225600 (2026-01-01T00:00:00Z)\n");
  EXPECT_EQ(file_mode(t_ / "p.bundle"), 0644u);

  for (const std::string how : {"--pubkey fleet.public.pem", "--trust trust"}) {
    auto v = run("policy verify " + how + " p.bundle");
    ASSERT_EQ(v.rc, 0) << v.err;
    EXPECT_EQ(v.err, "");
    std::string key_file = how == "--trust trust" ? "trust/fleet.pem" : "fleet.public.pem";
    EXPECT_EQ(v.out, "p.bundle: verified\nkey id:   " + id + " (" + key_file +
                         ")\nversion:  4\ndigest:   " + to_hex(p->digest) +
                         "\ncreated:  1767225600 (2026-01-01T00:00:00Z)\nmode:     enforce\n");
  }
  auto j = run("policy verify --trust trust --json p.bundle");
  ASSERT_EQ(j.rc, 0) << j.err;
  auto o = nlohmann::json::parse(j.out);
  EXPECT_EQ(o["ok"], true);
  EXPECT_EQ(o["key_id"], id);
  EXPECT_EQ(o["version"], 4);
  EXPECT_EQ(o["digest"], to_hex(p->digest));
  EXPECT_EQ(o["created"], 1767225600);
  EXPECT_EQ(o["created_utc"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(o["policy_bytes"], kPolicy.size());
  EXPECT_TRUE(o["rollout"].is_null());
}

TEST_F(BundleCli, SignIsReproducibleAndHonoursSourceDateEpoch) {
  keygen("fleet");
  ASSERT_EQ(run("policy sign --key fleet.private.pem p.yaml -o a --created 1700000000").rc, 0);
  ASSERT_EQ(
      run("policy sign --key fleet.private.pem p.yaml -o b", "SOURCE_DATE_EPOCH=1700000000").rc, 0);
  auto c = run("policy sign --key fleet.private.pem p.yaml");  // to stdout, summary to stderr
  ASSERT_EQ(c.rc, 0) << c.err;
  EXPECT_EQ(slurp(t_ / "a"), slurp(t_ / "b"));
  EXPECT_THAT(slurp(t_ / "a"), HasSubstr("\ncreated 1700000000\n"));
  EXPECT_THAT(c.out, StartsWith("modgate-bundle 1\n"));
  EXPECT_THAT(c.err, StartsWith("<stdout>: policy version 4"));
  auto bad = run("policy sign --key fleet.private.pem p.yaml", "SOURCE_DATE_EPOCH=yesterday");
  EXPECT_EQ(bad.rc, 2);
  EXPECT_EQ(bad.err,
            "modgate policy sign: SOURCE_DATE_EPOCH='yesterday' is not UTC seconds; unset it or "
            "give --created\n");
}

TEST_F(BundleCli, SignRefusesInvalidPoliciesAndUnsafeKeys) {
  keygen("fleet");
  write_file(t_.path() / "bad.yaml", "version: 1\nmode: strict\n");
  auto r = run("policy sign --key fleet.private.pem bad.yaml -o bad.bundle");
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err,
            "bad.yaml:2:7: 'mode' must be 'enforce' or 'dry-run', got 'strict'\n"
            "modgate policy sign: not signed\n");
  EXPECT_FALSE(fs::exists(t_.path() / "bad.bundle"));

  ASSERT_EQ(::chmod((t_ / "fleet.private.pem").c_str(), 0644), 0);
  r = run("policy sign --key fleet.private.pem p.yaml -o p.bundle");
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, StartsWith("modgate policy sign: fleet.private.pem: private key with mode "
                                "0644 is open to group or others; run chmod 600"));
  EXPECT_FALSE(fs::exists(t_.path() / "p.bundle"));

  r = run("policy sign --key fleet.public.pem p.yaml -o p.bundle");
  EXPECT_EQ(r.rc, 1);
  EXPECT_FALSE(fs::exists(t_.path() / "p.bundle"));
  EXPECT_EQ(run("policy sign p.yaml").rc, 2);  // --key is required
}

TEST_F(BundleCli, VerifyRefusalsExitOneAndNameTheReason) {
  keygen("fleet");
  auto other = run("keygen -o other");  // not trusted
  ASSERT_EQ(other.rc, 0);
  ASSERT_EQ(run("policy sign --key fleet.private.pem p.yaml -o good").rc, 0);
  ASSERT_EQ(run("policy sign --key other.private.pem p.yaml -o stranger").rc, 0);
  std::string b = slurp(t_ / "good");
  std::string tampered = b;
  tampered[tampered.find("name: ext4") + 6] = 'x';
  write_file(t_.path() / "tampered", tampered);
  write_file(t_.path() / "truncated", b.substr(0, b.size() - 3));
  auto future = std::to_string(std::time(nullptr) + 3600);
  ASSERT_EQ(run("policy sign --key fleet.private.pem p.yaml -o future --created " + future).rc, 0);

  for (auto [file, reason] :
       std::vector<std::pair<std::string, std::string>>{{"tampered", "bad_signature"},
                                                        {"stranger", "unknown_key"},
                                                        {"truncated", "malformed"},
                                                        {"p.yaml", "malformed"},
                                                        {"future", "from_future"}}) {
    auto v = run("policy verify --trust trust " + file);
    EXPECT_EQ(v.rc, 1) << file;
    EXPECT_EQ(v.out, "") << file;
    EXPECT_THAT(v.err,
                StartsWith("modgate policy verify: refused (" + reason + "): " + file + ": "))
        << v.err;
    auto j = run("policy verify --trust trust --json " + file);
    EXPECT_EQ(j.rc, 1);
    auto o = nlohmann::json::parse(j.out);
    EXPECT_EQ(o["ok"], false);
    EXPECT_EQ(o["refusal"], reason);
    EXPECT_THAT(o["message"].get<std::string>(), StartsWith(file + ": "));
  }
  EXPECT_EQ(run("policy verify --trust trust --max-future-skew 7200 future").rc, 0);
}

TEST_F(BundleCli, VerifyExtractsTheExactPolicy) {
  keygen("fleet");
  write_file(t_.path() / "p.yaml", "# a comment kept byte for byte\n" + kPolicy);
  ASSERT_EQ(run("policy sign --key fleet.private.pem p.yaml -o p.bundle").rc, 0);
  auto v = run("policy verify --trust trust p.bundle -o out.yaml");
  ASSERT_EQ(v.rc, 0) << v.err;
  EXPECT_EQ(slurp(t_ / "out.yaml"), slurp(t_ / "p.yaml"));
  auto d = run("policy verify --trust trust p.bundle -o -");
  ASSERT_EQ(d.rc, 0);
  EXPECT_EQ(d.out, slurp(t_ / "p.yaml"));
}

TEST_F(BundleCli, VerifyShowsThisHostsCohort) {
  keygen("fleet");
  write_file(t_.path() / "mid", "0123456789abcdef0123456789abcdef\n");  // bucket 9171, wave-1
  for (auto [pct, mode] : std::vector<std::pair<std::string, std::string>>{{"91.72", "enforce"},
                                                                           {"91.71", "dry-run"}}) {
    write_file(t_.path() / "s.yaml",
               "version: 5\nmode: enforce\nallow_empty: true\n"
               "rollout: {enforce_percent: " +
                   pct + ", salt: wave-1}\n");
    ASSERT_EQ(run("policy sign --key fleet.private.pem s.yaml -o s.bundle").rc, 0);
    auto v = run("policy verify --trust trust s.bundle --machine-id mid");
    ASSERT_EQ(v.rc, 0) << v.err;
    EXPECT_THAT(v.out, HasSubstr("mode:     enforce, staged: enforce on " + pct +
                                 "% of hosts (salt 'wave-1')\nthis host: bucket 9171 of 10000 "
                                 "(mid): runs it in " +
                                 mode + "\n"));
    auto j = nlohmann::json::parse(
        run("policy verify --trust trust s.bundle --machine-id mid --json").out);
    EXPECT_EQ(j["rollout"]["enforce_percent"], pct);
    EXPECT_EQ(j["this_host"]["bucket"], 9171);
    EXPECT_EQ(j["this_host"]["mode"], mode);
  }
  auto v = run("policy verify --trust trust s.bundle --machine-id nope");
  EXPECT_EQ(v.rc, 0);
  EXPECT_THAT(v.out, HasSubstr("this host: cohort unknown: nope: No such file or directory"));
}

TEST_F(BundleCli, VerifyCommandLineAndTrustProblems) {
  keygen("fleet");
  ASSERT_EQ(run("policy sign --key fleet.private.pem p.yaml -o p.bundle").rc, 0);
  const std::string one =
      "modgate policy verify: give exactly one of --pubkey FILE and --trust DIR\n";
  auto both = run("policy verify --pubkey fleet.public.pem --trust trust p.bundle");
  EXPECT_EQ(both.rc, 2);
  EXPECT_EQ(both.err, one);
  auto none = run("policy verify p.bundle");
  EXPECT_EQ(none.rc, 2);
  EXPECT_EQ(none.err, one);
  EXPECT_EQ(run("policy verify --trust trust").rc, 2);

  write_file(t_.path() / "trust/junk.pem", "junk\n");
  auto bad = run("policy verify --trust trust p.bundle");
  EXPECT_EQ(bad.rc, 1);
  EXPECT_EQ(bad.err,
            "trust/junk.pem: is not PEM (no '-----BEGIN' line); expected an Ed25519 '-----BEGIN "
            "PUBLIC KEY-----'\nmodgate policy verify: no trust store, nothing verified\n");
  auto missing = run("policy verify --pubkey fleet.public.pem nope.bundle");
  EXPECT_EQ(missing.rc, 1);
  EXPECT_EQ(missing.err, "modgate policy verify: nope.bundle: No such file or directory\n");
}

TEST_F(BundleCli, PolicyCheckPointsAtVerifyForABundle) {
  keygen("fleet");
  ASSERT_EQ(run("policy sign --key fleet.private.pem p.yaml -o p.bundle").rc, 0);
  auto r = run("policy check p.bundle");
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err,
            "p.bundle: is a signed policy bundle, not a policy file; check it with 'modgate policy "
            "verify --trust DIR p.bundle' (-o FILE extracts the policy)\n");
  auto s = run("policy sign --key fleet.private.pem p.bundle");
  EXPECT_EQ(s.rc, 1);
  EXPECT_EQ(s.err,
            "modgate policy sign: p.bundle: is already a signed bundle; sign the policy file\n");
}

TEST_F(BundleCli, ShowAndDiffReadABundlesPolicySayingTheSignatureIsNotChecked) {
  std::string id = keygen("fleet");
  ASSERT_EQ(run("policy sign --key fleet.private.pem p.yaml -o p.bundle").rc, 0);
  const std::string note = "p.bundle: a signed bundle (key " + id + ", version 4, created ";
  auto file = run("policy show --json p.yaml");
  auto shown = run("policy show --json p.bundle");
  EXPECT_EQ(shown.rc, 0) << shown.err;
  auto without_file = [](const std::string& s) { return s.substr(s.find("\"digest\"")); };
  EXPECT_EQ(without_file(shown.out), without_file(file.out))
      << "the bundle's policy is the signed file's";
  EXPECT_THAT(shown.err, HasSubstr(note));
  EXPECT_THAT(shown.err, HasSubstr("its signature is not checked here"));
  write_file(
      t_.path() / "q.yaml",
      "version: 5\nmode: dry-run\nmodules:\n  - name: ext4\n    sha256: " + hash_hex(1) + "\n");
  auto d = run("policy diff --exit-code p.bundle q.yaml");
  EXPECT_EQ(d.rc, 1) << d.err;
  EXPECT_THAT(d.out, HasSubstr("mode: enforce -> dry-run"));
  // A policy changed under its header is not shown as if the header described it.
  std::string bundle;
  {
    std::ifstream in(t_.path() / "p.bundle");
    bundle.assign(std::istreambuf_iterator<char>(in), {});
  }
  bundle.replace(bundle.find("mode: enforce"), 13, "mode: dry-ru\n");
  write_file(t_.path() / "edited.bundle", bundle);
  auto e = run("policy show edited.bundle");
  EXPECT_EQ(e.rc, 1);
  EXPECT_THAT(e.err, HasSubstr("edited.bundle"));
}

}  // namespace
}  // namespace modgate::policy
