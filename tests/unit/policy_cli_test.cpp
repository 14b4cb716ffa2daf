// SPDX-License-Identifier: Apache-2.0
// The `modgate policy` commands as an operator runs them: exit codes, output streams, files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "policy/policy.h"
#include "policy_test_util.h"

namespace modgate::policy {
namespace {

namespace fs = std::filesystem;
using ::modgate::policy::testing::CommandResult;
using ::modgate::policy::testing::data_path;
using ::modgate::policy::testing::hash_hex;
using ::modgate::policy::testing::run_shell;
using ::modgate::policy::testing::TempDir;
using ::modgate::policy::testing::write_file;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class PolicyCli : public ::testing::Test {
 protected:
  CommandResult run_modgate(const std::string& args) {
    return run_shell(std::string(MODGATE_BIN) + " " + args, t_);
  }
  std::string policy(const std::string& name, const std::string& text) {
    write_file(t_.path() / name, text);
    return t_ / name;
  }
  TempDir t_;
};

const std::string kPolicy =
    "version: 2\nmode: enforce\nmodules:\n  - name: a\n    sha256: " + hash_hex(1) +
    "\n  - name: b\n    sha256: " + hash_hex(2) + "\n";

TEST_F(PolicyCli, CheckValidFileExitsZero) {
  std::string f = policy("p.yaml", kPolicy);
  auto r = run_modgate("policy check " + f);
  EXPECT_EQ(r.rc, 0) << r.err;
  auto p = load_policy_file(f);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(r.out, f + ": ok, enforce, 2 module entries, digest " + to_hex(p->digest) + "\n");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(run_modgate("policy check -q " + f).out, "");
}

TEST_F(PolicyCli, CheckCountsFirmwareAndKexecEntriesWhenTheSectionsArePresent) {
  std::string f = policy(
      "p.yaml", kPolicy + "firmware:\n  - {name: x.bin, sha256: " + hash_hex(5) + "}\nkexec: []\n");
  auto p = load_policy_file(f);
  ASSERT_TRUE(p.ok());
  auto r = run_modgate("policy check " + f);
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, f +
                       ": ok, enforce, 2 module entries, 1 firmware entries, 0 kexec entries, "
                       "digest " +
                       to_hex(p->digest) + "\n");
  auto j = nlohmann::json::parse(run_modgate("policy check --json " + f).out);
  EXPECT_EQ(j["files"][0]["firmware"], 1);
  EXPECT_EQ(j["files"][0]["kexec"], 0);
  auto without =
      nlohmann::json::parse(run_modgate("policy check --json " + policy("q.yaml", kPolicy)).out);
  EXPECT_TRUE(without["files"][0]["firmware"].is_null());
  EXPECT_TRUE(without["files"][0]["kexec"].is_null());
}

TEST_F(PolicyCli, CheckInvalidFilePrintsOneLinePerProblemAndExitsOne) {
  std::string f = policy("bad.yaml", "version: -1\nmode: strict\nmodules: []\ncolour: red\n");
  auto r = run_modgate("policy check " + f);
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, f + ":1:10: 'version' must be a non-negative decimal integer, got '-1'\n" + f +
                       ":2:7: 'mode' must be 'enforce' or 'dry-run', got 'strict'\n" + f +
                       ":4:1: unknown key 'colour' (expected version, mode, kernels, "
                       "other_kernels, modules, firmware, kexec, autoload, log_allowed, "
                       "allow_forced, allow_empty, rollout, protect)\n");
}

TEST_F(PolicyCli, CheckSeveralFilesFailsIfAnyIsInvalid) {
  std::string good = policy("good.yaml", kPolicy);
  std::string bad = policy("bad.yaml", "version: 1\n");
  auto r = run_modgate("policy check " + good + " " + bad);
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.out, StartsWith(good + ": ok"));
  EXPECT_EQ(r.err, bad + ":1:1: missing required key 'mode' (enforce or dry-run)\n");
}

TEST_F(PolicyCli, CheckMissingFile) {
  auto r = run_modgate("policy check " + (t_ / "none.yaml"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, t_ / "none.yaml" + ": No such file or directory\n");
}

TEST_F(PolicyCli, ShowPrintsDigestAndSummary) {
  std::string f = policy("p.yaml", kPolicy);
  auto p = load_policy_file(f);
  ASSERT_TRUE(p.ok());
  auto r = run_modgate("policy show " + f);
  EXPECT_EQ(r.rc, 0);
  EXPECT_THAT(r.out, HasSubstr("digest:       " + to_hex(p->digest) + "\n"));
  EXPECT_THAT(r.out, HasSubstr("modules:      2 entries, 2 names\n"));
  auto j = run_modgate("policy show --json " + f);
  EXPECT_EQ(j.rc, 0);
  auto json = nlohmann::json::parse(j.out);
  EXPECT_EQ(json["digest"], to_hex(p->digest));
  EXPECT_EQ(json["modules"][1]["name"], "b");
}

TEST_F(PolicyCli, ShowInvalidFileFails) {
  auto r = run_modgate("policy show " + policy("bad.yaml", "- x\n"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("bad.yaml:1:1: a policy is a mapping"));
}

TEST_F(PolicyCli, DiffNamesAddedAndRemovedModules) {
  std::string a = policy("a.yaml", kPolicy);
  std::string b =
      policy("b.yaml", "version: 3\nmode: enforce\nmodules:\n  - {name: a, sha256: " + hash_hex(1) +
                           "}\n  - {name: c, sha256: " + hash_hex(3) + "}\n");
  auto r = run_modgate("policy diff " + a + " " + b);
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("version: 2 -> 3\n"));
  EXPECT_THAT(r.out, HasSubstr("- b  " + hash_hex(2) + "\n"));
  EXPECT_THAT(r.out, HasSubstr("+ c  " + hash_hex(3) + "\n"));
  auto j = nlohmann::json::parse(run_modgate("policy diff --json " + a + " " + b).out);
  EXPECT_EQ(j["modules"]["added"][0]["name"], "c");
  EXPECT_EQ(j["modules"]["removed"][0]["sha256"], hash_hex(2));
  EXPECT_EQ(
      run_modgate("policy diff " + a + " " + a).out.find("no differences") != std::string::npos,
      true);
}

TEST_F(PolicyCli, DiffExitCodeSaysWhetherThePoliciesDiffer) {
  std::string a = policy("a.yaml", kPolicy);
  std::string b =
      policy("b.yaml",
             "version: 3\nmode: enforce\nmodules:\n  - {name: a, sha256: " + hash_hex(1) + "}\n");
  EXPECT_EQ(run_modgate("policy diff --exit-code " + a + " " + a).rc, 0);
  EXPECT_EQ(run_modgate("policy diff --exit-code " + a + " " + b).rc, 1);
  EXPECT_EQ(run_modgate("policy diff --exit-code --json " + a + " " + b).rc, 1);
  auto bad = run_modgate("policy diff --exit-code " + a + " " +
                         policy("c.yaml", "version: x\nmode: enforce\n"));
  EXPECT_EQ(bad.rc, 2);
  EXPECT_THAT(bad.err, HasSubstr("c.yaml:1:10: 'version'"));
  // Without it, differences are no failure.
  EXPECT_EQ(run_modgate("policy diff " + a + " " + b).rc, 0);
}

TEST_F(PolicyCli, MergeWritesOnePolicyThatChecks) {
  std::string a = policy("a.yaml",
                         "version: 2\nmode: dry-run\nkernels: [\"6.1.0-57-amd64\"]\n"
                         "modules:\n  - {name: a, sha256: " +
                             hash_hex(1) + "}\n");
  std::string b = policy("b.yaml",
                         "version: 5\nmode: dry-run\nkernels: [\"7.3.4+deb13-amd64\"]\n"
                         "modules:\n  - {name: a, sha256: " +
                             hash_hex(1) + "}\n  - {name: c, sha256: " + hash_hex(3) + "}\n");
  std::string out = (t_.path() / "merged.yaml").string();
  auto r = run_modgate("policy merge " + a + " " + b + " -o " + out);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.err,
              HasSubstr("2 policies, 3 module entries, 2 after dropping repeats; version 6"));
  auto check = run_modgate("policy show --json " + out);
  ASSERT_EQ(check.rc, 0) << check.err;
  auto j = nlohmann::json::parse(check.out);
  EXPECT_EQ(j["version"], 6);
  EXPECT_EQ(j["kernels"], nlohmann::json::array({"6.1.0-57-amd64", "7.3.4+deb13-amd64"}));
}

TEST_F(PolicyCli, MergeOfDisagreeingPoliciesWritesNothing) {
  std::string a = policy("a.yaml", kPolicy);
  std::string b = policy("b.yaml", "version: 1\nmode: dry-run\nmodules: []\nallow_empty: true\n");
  std::string out = (t_.path() / "merged.yaml").string();
  auto r = run_modgate("policy merge " + a + " " + b + " -o " + out);
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err,
              HasSubstr("cannot merge policies whose settings differ: mode enforce in " + a));
  EXPECT_FALSE(fs::exists(out));
  auto one = run_modgate("policy merge " + a);
  EXPECT_EQ(one.rc, 2) << "one policy is no merge";
}

TEST_F(PolicyCli, CheckWarnsOfARepeatedEntryAndPasses) {
  std::string f = policy("twice.yaml", kPolicy + "  - name: a\n    sha256: " + hash_hex(1) + "\n");
  auto r = run_modgate("policy check " + f);
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.err,
              HasSubstr(f + ":9:13: warning: sha256 " + hash_hex(1) +
                        " of 'a' is listed twice (first at line 4); the repeat is left out"));
  EXPECT_THAT(r.out, HasSubstr("2 module entries"));
  auto j = nlohmann::json::parse(run_modgate("policy check --json " + f).out);
  EXPECT_EQ(j["files"][0]["warnings"].size(), 1u);
}

TEST_F(PolicyCli, DiffWithAnInvalidSideFails) {
  auto r = run_modgate("policy diff " + policy("a.yaml", kPolicy) + " " +
                       policy("b.yaml", "version: x\nmode: enforce\n"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("b.yaml:1:10: 'version'"));
}

TEST_F(PolicyCli, InitWritesAPolicyThatChecks) {
  fs::create_directories(t_.path() / "tree/kernel");
  fs::copy_file(data_path("modules/fake_plain.ko"), t_.path() / "tree/kernel/fake_plain.ko");
  fs::copy_file(data_path("modules/fake_signed.ko.zst"),
                t_.path() / "tree/kernel/fake_signed.ko.zst");
  std::string out = t_ / "gen.yaml";
  auto r = run_modgate("policy init --from " + (t_ / "tree") + " -o " + out);
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("2 module files, 3 entries, 0 problems"));
  auto p = load_policy_file(out);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->mode, Mode::kDryRun);  // the default
  EXPECT_EQ(p->modules.size(), 3u);
  EXPECT_EQ(p->kernels, std::vector<std::string>{"6.1.0-test"});
  EXPECT_FALSE(fs::exists(out + ".tmp"));

  auto enforce =
      run_modgate("policy init --from " + (t_ / "tree") + " --mode enforce --kernel 6.1.0-9");
  EXPECT_EQ(enforce.rc, 0);
  auto q = parse_policy(enforce.out, "stdout");
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(q->mode, Mode::kEnforce);
  EXPECT_EQ(q->kernels, std::vector<std::string>{"6.1.0-9"});
}

TEST_F(PolicyCli, InitWithAnUnreadableFileFailsUnlessKeepGoing) {
  fs::create_directories(t_.path() / "tree/kernel");
  fs::copy_file(data_path("modules/fake_plain.ko"), t_.path() / "tree/kernel/fake_plain.ko");
  fs::copy_file(data_path("modules/corrupt.ko.xz"), t_.path() / "tree/kernel/corrupt.ko.xz");
  std::string out = t_ / "gen.yaml";
  auto r = run_modgate("policy init --from " + (t_ / "tree") + " -o " + out);
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr((t_ / "tree/kernel/corrupt.ko.xz") + ": xz data is corrupt\n"));
  EXPECT_THAT(r.err, HasSubstr("2 module files, 1 entries, 1 problems"));
  EXPECT_FALSE(fs::exists(out));

  auto k = run_modgate("policy init --keep-going --from " + (t_ / "tree") + " -o " + out);
  EXPECT_EQ(k.rc, 0);
  EXPECT_THAT(k.err, HasSubstr("corrupt.ko.xz: xz data is corrupt"));
  auto p = load_policy_file(out);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->modules.size(), 1u);
}

TEST_F(PolicyCli, InitRejectsABadMode) {
  auto r = run_modgate("policy init --from " + (t_ / "tree") + " --mode permissive");
  EXPECT_EQ(r.rc, 2);
}

// Everything after the header comment: what --from and --from-package must agree on.
std::string without_comments(const std::string& yaml) {
  std::size_t at = 0;
  while (at < yaml.size() && yaml[at] == '#') at = yaml.find('\n', at) + 1;
  return yaml.substr(at);
}

TEST_F(PolicyCli, InitFromPackageMatchesTheUnpackedTree) {
  fs::path root = t_.path() / "linux-image-6.1.0-test";
  fs::create_directories(root / "DEBIAN");
  write_file(root / "DEBIAN/control",
             "Package: linux-image-6.1.0-test\nVersion: 1\nArchitecture: amd64\n"
             "Maintainer: t <t@example.org>\nDescription: test\n");
  fs::path tree = root / "lib/modules/6.1.0-test/kernel";
  fs::create_directories(tree);
  fs::copy_file(data_path("modules/fake_plain.ko"), tree / "fake_plain.ko");
  fs::copy_file(data_path("modules/corrupt.ko.xz"), tree / "corrupt.ko.xz");
  std::string deb = root.string() + ".deb";
  ASSERT_EQ(run_shell("dpkg-deb --root-owner-group --build " + root.string() + " " + deb, t_).rc,
            0);

  auto strict = run_modgate("policy init --from-package " + deb);
  EXPECT_EQ(strict.rc, 1);
  EXPECT_THAT(strict.err,
              HasSubstr(deb + ": lib/modules/6.1.0-test/kernel/corrupt.ko.xz: xz data is corrupt"));
  EXPECT_EQ(strict.out, "");

  auto pkg = run_modgate("policy init --keep-going --from-package " + deb);
  EXPECT_EQ(pkg.rc, 0) << pkg.err;
  EXPECT_THAT(pkg.out,
              HasSubstr("# modgate policy generated by 'modgate policy init' from " + deb));
  auto dir =
      run_modgate("policy init --keep-going --from " + (root / "lib/modules/6.1.0-test").string());
  EXPECT_EQ(dir.rc, 0) << dir.err;
  EXPECT_EQ(without_comments(pkg.out), without_comments(dir.out));

  EXPECT_EQ(run_modgate("policy init --from " + (t_ / "tree") + " --from-package " + deb).rc, 2);
  auto junk = run_modgate("policy init --from-package " + policy("x.yaml", kPolicy));
  EXPECT_EQ(junk.rc, 1);
  EXPECT_THAT(junk.err, HasSubstr((t_ / "x.yaml") + ": not a Debian package"));
}

TEST_F(PolicyCli, OutputToADeviceWritesIntoItInsteadOfReplacingIt) {
  // -o /dev/null once renamed a regular file over the host's /dev/null. A device node of our own
  // (the same one: 1,3) stands in for it.
  const fs::path dev = t_.path() / "null";
  if (::mknod(dev.c_str(), S_IFCHR | 0666, ::makedev(1, 3)) != 0)
    GTEST_SKIP() << "mknod needs root and a dev-capable TMPDIR";
  std::string a = policy("a.yaml", kPolicy);
  auto r = run_modgate("policy merge " + a + " " + a + " -o " + dev.string());
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(fs::is_character_file(fs::symlink_status(dev))) << "the device was replaced";
  EXPECT_FALSE(fs::exists(dev.string() + ".tmp"));
  // A regular file is still replaced in one rename.
  std::string out = (t_.path() / "out.yaml").string();
  EXPECT_EQ(run_modgate("policy merge " + a + " " + a + " -o " + out).rc, 0);
  EXPECT_TRUE(fs::is_regular_file(out));
}

TEST_F(PolicyCli, PolicyWithoutSubcommandIsAUsageError) { EXPECT_EQ(run_modgate("policy").rc, 2); }

}  // namespace
}  // namespace modgate::policy
