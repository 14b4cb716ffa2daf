// SPDX-License-Identifier: Apache-2.0

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "policy/init.h"
#include "policy/policy.h"
#include "policy_test_util.h"

namespace modgate::policy {
namespace {

using ::modgate::policy::testing::hash_hex;
using ::testing::HasSubstr;

Result<Policy> parse(const std::string& text) { return parse_policy(text, "p.yaml"); }

// The error text for `text`, failing the test if it parses.
std::string errors(const std::string& text) {
  auto r = parse(text);
  EXPECT_FALSE(r.ok()) << "parsed but should not have:\n" << text;
  return r.ok() ? std::string() : r.error().message;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto end = s.find('\n', start);
    if (end == std::string::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

const std::string kH1 = hash_hex(1), kH2 = hash_hex(2), kH3 = hash_hex(3);

TEST(PolicyParse, OtherKernelsIsReportOrEnforceAndDefaultsToReport) {
  const std::string base =
      "version: 1\nmode: enforce\nmodules:\n  - name: a\n    sha256: " + kH1 + "\n";
  auto d = parse(base);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->other_kernels, OtherKernels::kReport);
  auto e = parse(base + "other_kernels: enforce\n");
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->other_kernels, OtherKernels::kEnforce);
  auto r = parse(base + "other_kernels: report\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->other_kernels, OtherKernels::kReport);
  EXPECT_EQ(errors(base + "other_kernels: open\n"),
            "p.yaml:6:16: 'other_kernels' must be 'report' or 'enforce', got 'open'");
  // What the writer puts out parses back to the same policy.
  auto again = parse(policy_to_yaml(*e, {}));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->digest, e->digest);
}

TEST(PolicyParse, FullPolicyParsesEveryField) {
  auto r = parse(R"(# comment
version: 7
mode: enforce
kernels: ["6.1.0-*-amd64", "6.12.*"]
log_allowed: true
allow_forced: false
allow_empty: false
autoload:
  default: deny
  allow: [fs-*, "net-pf-10"]
  deny: ["char-major-?-*"]
modules:
  - name: ext4
    sha256: )" + kH1 +
                 R"(
    version: "1.0"
    vermagic: 6.1.0-18-amd64 SMP preempt mod_unload modversions
    signer: Debian Secure Boot CA
    path: kernel/fs/ext4/ext4.ko
    note: hand-added
  - name: ext4
    sha256: )" + kH2 +
                 R"(
  - {name: vfat, sha256: )" +
                 kH3 + R"(}
)");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Policy& p = *r;
  EXPECT_EQ(p.version, 7u);
  EXPECT_EQ(p.mode, Mode::kEnforce);
  EXPECT_EQ(p.kernels, (std::vector<std::string>{"6.1.0-*-amd64", "6.12.*"}));
  EXPECT_TRUE(p.log_allowed);
  EXPECT_FALSE(p.allow_forced);
  EXPECT_FALSE(p.allow_empty);
  EXPECT_EQ(p.autoload.default_action, AutoloadDefault::kDeny);
  EXPECT_EQ(p.autoload.allow, (std::vector<std::string>{"fs-*", "net-pf-10"}));
  EXPECT_EQ(p.autoload.deny, (std::vector<std::string>{"char-major-?-*"}));
  ASSERT_EQ(p.modules.size(), 3u);
  EXPECT_EQ(p.modules[0].name, "ext4");
  EXPECT_EQ(to_hex(p.modules[0].sha256), kH1);
  EXPECT_EQ(p.modules[0].version, "1.0");
  EXPECT_EQ(p.modules[0].vermagic, "6.1.0-18-amd64 SMP preempt mod_unload modversions");
  EXPECT_EQ(p.modules[0].signer, "Debian Secure Boot CA");
  EXPECT_EQ(p.modules[0].path, "kernel/fs/ext4/ext4.ko");
  EXPECT_EQ(p.modules[0].note, "hand-added");
  EXPECT_EQ(p.modules[0].line, 13);
  EXPECT_EQ(p.modules[1].name, "ext4");  // one name, several hashes
  EXPECT_FALSE(p.modules[1].note.has_value());
  EXPECT_EQ(p.modules[2].name, "vfat");
  EXPECT_EQ(p.modules[2].line, 22);
  EXPECT_EQ(p.digest, policy_digest(p));
}

TEST(PolicyParse, DefaultsWhenOptionalKeysAreAbsent) {
  auto r = parse("version: 1\nmode: dry-run\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->mode, Mode::kDryRun);
  EXPECT_TRUE(r->modules.empty());
  EXPECT_TRUE(r->kernels.empty());
  EXPECT_EQ(r->autoload.default_action, AutoloadDefault::kAllow);
  EXPECT_FALSE(r->log_allowed);
  EXPECT_FALSE(r->allow_forced);
  EXPECT_FALSE(r->allow_empty);
  EXPECT_FALSE(r->firmware.has_value()) << "absent: firmware is left to the kernel";
  EXPECT_FALSE(r->kexec.has_value());
}

TEST(PolicyParse, EscapesThatYamlCppDecodesToNonUtf8AreRefused) {
  // YAML's \_ (no-break space) and \N (next line) come out of yaml-cpp as the bare bytes 0xa0 and
  // 0x85; such a string could not be written back (tests/fuzz/regressions/policy).
  for (std::string esc : {"\\_", "\\N"})
    EXPECT_THAT(errors("version: 1\nmode: dry-run\nmodules:\n- {name: a, sha256: " + kH1 +
                       ", note: \"x" + esc + "y\"}\n"),
                HasSubstr("p.yaml:4:93: 'note' is not UTF-8 once unescaped"));
  // The character itself, and the escapes yaml-cpp encodes properly, are fine.
  auto r = parse("version: 1\nmode: dry-run\nmodules:\n- {name: a, sha256: " + kH1 +
                 ", note: \"x\u00a0y \\L \\x07\"}\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->modules[0].note, "x\u00a0y \u2028 \x07");
}

TEST(PolicyParse, FirmwareAndKexecSections) {
  auto r = parse("version: 1\nmode: enforce\nmodules:\n- {name: a, sha256: " + kH1 +
                 "}\nfirmware:\n- name: intel/ibt-12-16.sfi\n  sha256: " + kH2 +
                 "\n  note: bluetooth\n- {name: \"brcmfmac43455-sdio.raspberrypi,3-model-b.txt\", "
                 "sha256: " +
                 kH1 + "}\nkexec:\n- {name: vmlinuz-6.1.0-56-amd64, sha256: " + kH3 + "}\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->firmware.has_value());
  ASSERT_EQ(r->firmware->size(), 2u);
  EXPECT_EQ((*r->firmware)[0].name, "intel/ibt-12-16.sfi");
  EXPECT_EQ(to_hex((*r->firmware)[0].sha256), kH2);
  EXPECT_EQ((*r->firmware)[0].note, "bluetooth");
  EXPECT_EQ((*r->firmware)[0].line, 6);
  // The same hash as module 'a': allowed across sections, each admits its own kind.
  EXPECT_EQ(to_hex((*r->firmware)[1].sha256), kH1);
  ASSERT_TRUE(r->kexec.has_value());
  ASSERT_EQ(r->kexec->size(), 1u);
  EXPECT_EQ((*r->kexec)[0].name, "vmlinuz-6.1.0-56-amd64");
}

TEST(PolicyParse, EmptyFirmwareAndKexecSectionsArePresent) {
  // Empty means "deny them all" and needs no allow_empty: only modules lock a host out of its
  // own drivers.
  auto r = parse("version: 1\nmode: enforce\nmodules:\n- {name: a, sha256: " + kH1 +
                 "}\nfirmware: []\nkexec: []\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->firmware && r->firmware->empty());
  EXPECT_TRUE(r->kexec && r->kexec->empty());
  // They do not stand in for modules.
  EXPECT_THAT(errors("version: 1\nmode: enforce\nfirmware:\n- {name: x, sha256: " + kH1 + "}\n"),
              HasSubstr("mode is enforce but no modules are listed"));
}

TEST(PolicyParse, FirmwareAndKexecEntriesAreValidatedLikeModules) {
  std::string e = errors("version: 1\nmode: dry-run\nfirmware:\n- name: \"a b\"\n  sha256: " + kH1 +
                         "\n- {name: c, sha256: " + kH1 + "}\n- {name: x, sha256: 12}\n" +
                         "- {name: y}\n- {name: z, sha256: " + kH2 + ", hash: 1}\n- just-text\n" +
                         "kexec: {a: 1}\n");
  EXPECT_THAT(e, HasSubstr("p.yaml:4:9: firmware name 'a b' contains ' '"));
  EXPECT_THAT(e, HasSubstr("p.yaml:7:21: 'sha256' '12'"));
  EXPECT_THAT(e, HasSubstr("p.yaml:8:3: firmware entry without 'sha256'"));
  EXPECT_THAT(e, HasSubstr("p.yaml:9:87: unknown key 'hash' in a firmware entry"));
  EXPECT_THAT(e, HasSubstr("p.yaml:10:3: a 'firmware' entry must be a mapping"));
  EXPECT_THAT(e, HasSubstr("p.yaml:11:8: 'kexec' must be a list of entries, got a mapping"));
  EXPECT_THAT(errors("version: 1\nmode: dry-run\nkexec:\n"),
              HasSubstr("p.yaml:3:1: 'kexec' must be a list of entries, got nothing (null)"));
  EXPECT_THAT(errors("version: 1\nmode: dry-run\nkexec:\n- {name: \"\", sha256: " + kH1 + "}\n"),
              HasSubstr("p.yaml:4:10: kexec name '' is empty"));
  EXPECT_THAT(errors("version: 1\nmode: dry-run\nfirmware:\n- {name: " + std::string(256, 'f') +
                     ", sha256: " + kH1 + "}\n"),
              HasSubstr("is 256 bytes; at most 255 are kept"));
}

TEST(PolicyParse, DuplicateHashWithinFirmwareOrKexecSection) {
  EXPECT_THAT(errors("version: 1\nmode: dry-run\nfirmware:\n- {name: a.bin, sha256: " + kH1 +
                     "}\n- {name: b.bin, sha256: " + kH1 + "}\n"),
              HasSubstr("p.yaml:5:25: sha256 " + kH1 +
                        " is listed under 'b.bin' and under 'a.bin' at line 4; one file "
                        "cannot be two firmware files"));
  auto k = parse_policy("version: 1\nmode: dry-run\nkexec:\n- {name: k, sha256: " + kH1 +
                            "}\n- {name: k, sha256: " + kH1 + "}\n",
                        "p.yaml");
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k->kexec->size(), 1u);
  ASSERT_EQ(k->warnings.size(), 1u);
  EXPECT_EQ(k->warnings[0],
            "p.yaml:5:21: warning: sha256 " + kH1 +
                " of 'k' is listed twice (first at line 4); the repeat is left out");
}

TEST(PolicyParse, UppercaseHashIsAcceptedAndNormalised) {
  std::string upper = kH1;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto r = parse("version: 1\nmode: enforce\nmodules:\n- name: a\n  sha256: " + upper + "\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(to_hex(r->modules[0].sha256), kH1);
}

TEST(PolicyParse, MissingRequiredKeys) {
  std::string e = errors("log_allowed: true\n");
  EXPECT_THAT(e, HasSubstr("p.yaml:1:1: missing required key 'version'"));
  EXPECT_THAT(e, HasSubstr("p.yaml:1:1: missing required key 'mode'"));
}

TEST(PolicyParse, UnknownKeyIsAnErrorWithPosition) {
  EXPECT_THAT(errors("version: 1\nmode: dry-run\nlog_alowed: true\n"),
              HasSubstr("p.yaml:3:1: unknown key 'log_alowed'"));
}

TEST(PolicyParse, UnknownKeyInModuleEntryAndAutoload) {
  std::string e = errors("version: 1\nmode: dry-run\nmodules:\n  - name: a\n    sha256: " + kH1 +
                         "\n    hash: x\nautoload:\n  defualt: deny\n");
  EXPECT_THAT(e, HasSubstr("p.yaml:6:5: unknown key 'hash' in a module entry"));
  EXPECT_THAT(e, HasSubstr("p.yaml:8:3: unknown key 'defualt' in 'autoload'"));
}

TEST(PolicyParse, DuplicateKeyIsAnError) {
  EXPECT_THAT(errors("version: 1\nmode: dry-run\nversion: 2\n"),
              HasSubstr("p.yaml:3:1: duplicate key 'version' in the policy (first at line 1)"));
}

TEST(PolicyParse, VersionMustBeANonNegativeInteger) {
  EXPECT_THAT(errors("version: -1\nmode: dry-run\n"),
              HasSubstr("p.yaml:1:10: 'version' must be a non-negative decimal integer, got '-1'"));
  EXPECT_THAT(errors("version: 1.5\nmode: dry-run\n"),
              HasSubstr("'version' must be a non-negative decimal integer, got '1.5'"));
  EXPECT_THAT(errors("version: \"3\"\nmode: dry-run\n"), HasSubstr("got the quoted string '3'"));
  EXPECT_THAT(errors("version: 0x10\nmode: dry-run\n"), HasSubstr("got '0x10'"));
  EXPECT_THAT(errors("version:\nmode: dry-run\n"),
              HasSubstr("p.yaml:1:1: 'version' must be a non-negative decimal integer, got "
                        "nothing (null)"));
  EXPECT_THAT(errors("version: [1]\nmode: dry-run\n"), HasSubstr("got a list"));
  EXPECT_THAT(errors("version: 18446744073709551616\nmode: dry-run\n"),
              HasSubstr("does not fit in 64 bits"));
  auto r = parse("version: 18446744073709551615\nmode: dry-run\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->version, UINT64_MAX);
}

TEST(PolicyParse, ModeMustBeEnforceOrDryRun) {
  EXPECT_THAT(errors("version: 1\nmode: permissive\n"),
              HasSubstr("p.yaml:2:7: 'mode' must be 'enforce' or 'dry-run', got 'permissive'"));
  EXPECT_THAT(errors("version: 1\nmode: Enforce\n"), HasSubstr("'mode' must be"));
}

TEST(PolicyParse, BooleansMustBeUnquotedTrueOrFalse) {
  EXPECT_THAT(errors("version: 1\nmode: dry-run\nlog_allowed: yes\n"),
              HasSubstr("p.yaml:3:14: 'log_allowed' must be true or false (unquoted), got 'yes'"));
  EXPECT_THAT(errors("version: 1\nmode: dry-run\nallow_forced: \"true\"\n"),
              HasSubstr("'allow_forced' must be true or false (unquoted), got the quoted string"));
  EXPECT_THAT(errors("version: 1\nmode: dry-run\nallow_empty: 1\n"),
              HasSubstr("'allow_empty' must be true or false"));
}

TEST(PolicyParse, MalformedHashes) {
  std::string e = errors(
      "version: 1\nmode: dry-run\nmodules:\n- name: a\n  sha256: abc\n"
      "- name: b\n  sha256: " +
      std::string(63, 'a') +
      "g\n"
      "- name: c\n  sha256: [x]\n");
  EXPECT_THAT(e, HasSubstr("p.yaml:5:11: 'sha256' 'abc': a sha256 is 64 hex digits, got 3"));
  EXPECT_THAT(e, HasSubstr("p.yaml:7:11: 'sha256' '"));
  EXPECT_THAT(e, HasSubstr("'g' at position 64 is not one"));
  EXPECT_THAT(e, HasSubstr("p.yaml:9:11: 'sha256' must be a string, got a list"));
}

TEST(PolicyParse, EntryWithoutNameOrHash) {
  std::string e = errors("version: 1\nmode: dry-run\nmodules:\n- name: a\n- sha256: " + kH1 +
                         "\n- just-a-string\n");
  EXPECT_THAT(e, HasSubstr("p.yaml:4:3: module entry without 'sha256'"));
  EXPECT_THAT(e, HasSubstr("p.yaml:5:3: module entry without 'name'"));
  EXPECT_THAT(e, HasSubstr("p.yaml:6:3: a 'modules' entry must be a mapping"));
}

// Concatenated `policy init` outputs repeat entries: the same module twice is one entry and a
// warning, and the policy means exactly what it means with the entry once.
TEST(PolicyParse, HighestPossibleVersionIsAWarning) {
  auto r = parse_policy("version: 18446744073709551615\nmode: dry-run\nmodules: []\n", "p.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->version, 18446744073709551615ull);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_THAT(r->warnings[0], HasSubstr("p.yaml:1:10: warning: version 18446744073709551615 is "
                                        "the highest possible"));
  auto below =
      parse_policy("version: 18446744073709551614\nmode: dry-run\nmodules: []\n", "p.yaml");
  ASSERT_TRUE(below.ok());
  EXPECT_TRUE(below->warnings.empty());
}

TEST(PolicyParse, DuplicateHashUnderSameNameIsAWarning) {
  const std::string once =
      "version: 1\nmode: dry-run\nmodules:\n- name: a\n  sha256: " + kH1 + "\n";
  auto r = parse_policy(once + "- name: a\n  sha256: " + kH1 + "\n  path: other/a.ko\n", "p.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->modules.size(), 1u);
  EXPECT_FALSE(r->modules[0].path) << "the first entry is the one kept";
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0],
            "p.yaml:7:11: warning: sha256 " + kH1 +
                " of 'a' is listed twice (first at line 4); the repeat is left out");
  auto single = parse_policy(once, "p.yaml");
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(r->digest, single->digest);
  EXPECT_TRUE(single->warnings.empty());
  // A real error elsewhere still refuses the file, and the warning does not hide it.
  EXPECT_THAT(errors(once + "- name: a\n  sha256: " + kH1 + "\nbogus: 1\n"),
              HasSubstr("unknown key 'bogus'"));
}

TEST(PolicyParse, SameHashUnderTwoNames) {
  EXPECT_THAT(
      errors("version: 1\nmode: dry-run\nmodules:\n- name: a\n  sha256: " + kH1 +
             "\n- name: b\n  sha256: " + kH1 + "\n"),
      HasSubstr("p.yaml:7:11: sha256 " + kH1 + " is listed under 'b' and under 'a' at line 4"));
}

TEST(PolicyParse, SameHashInDifferentCaseIsStillADuplicate) {
  std::string upper = kH1;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto r = parse_policy("version: 1\nmode: dry-run\nmodules:\n- name: a\n  sha256: " + kH1 +
                            "\n- name: a\n  sha256: " + upper + "\n",
                        "p.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->modules.size(), 1u);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_THAT(r->warnings[0], HasSubstr("is listed twice"));
}

TEST(PolicyParse, ModuleNameValidation) {
  std::string e = errors("version: 1\nmode: dry-run\nmodules:\n- name: \"a b\"\n  sha256: " + kH1 +
                         "\n- name: \"\"\n  sha256: " + kH2 + "\n- name: " + std::string(56, 'x') +
                         "\n  sha256: " + kH3 + "\n");
  EXPECT_THAT(e, HasSubstr("p.yaml:4:9: module name 'a b' contains ' '"));
  EXPECT_THAT(e, HasSubstr("p.yaml:6:9: module name '' is empty"));
  EXPECT_THAT(e, HasSubstr("p.yaml:8:9: module name '" + std::string(56, 'x') +
                           "' is 56 bytes; the kernel keeps at most 55"));
  EXPECT_TRUE(parse("version: 1\nmode: dry-run\nmodules:\n- name: " + std::string(55, 'x') +
                    "\n  sha256: " + kH1 + "\n")
                  .ok());
}

TEST(PolicyParse, EmptyModuleListInEnforceNeedsAllowEmpty) {
  EXPECT_THAT(errors("version: 1\nmode: enforce\nmodules: []\n"),
              HasSubstr("p.yaml:3:1: mode is enforce but no modules are listed"));
  EXPECT_THAT(errors("version: 1\nmode: enforce\n"),
              HasSubstr("p.yaml:2:1: mode is enforce but no modules are listed"));
  EXPECT_TRUE(parse("version: 1\nmode: enforce\nallow_empty: true\nmodules: []\n").ok());
  EXPECT_TRUE(parse("version: 1\nmode: dry-run\nmodules: []\n").ok());
}

TEST(PolicyParse, ModulesMustBeAList) {
  EXPECT_THAT(errors("version: 1\nmode: dry-run\nmodules:\n"),
              HasSubstr("p.yaml:3:1: 'modules' must be a list of entries, got nothing (null) "
                        "(write [] for an empty list)"));
  EXPECT_THAT(errors("version: 1\nmode: dry-run\nmodules: {a: 1}\n"),
              HasSubstr("p.yaml:3:10: 'modules' must be a list of entries, got a mapping"));
}

TEST(PolicyParse, AutoloadValidation) {
  std::string e = errors(
      "version: 1\nmode: dry-run\nautoload:\n  default: maybe\n  allow: [\"fs/*\", \"\", "
      "\"[ab]\", fs-*, fs-*]\n  deny: x\n");
  EXPECT_THAT(e,
              HasSubstr("p.yaml:4:12: 'autoload.default' must be 'allow' or 'deny', got 'maybe'"));
  EXPECT_THAT(e, HasSubstr("p.yaml:5:11: 'autoload.allow' pattern 'fs/*' contains '/'"));
  EXPECT_THAT(e, HasSubstr("'autoload.allow' pattern '' is empty"));
  EXPECT_THAT(e, HasSubstr("'autoload.allow' pattern '[ab]' contains '['"));
  EXPECT_THAT(e, HasSubstr("'autoload.allow' pattern 'fs-*' is listed twice (first at line 5)"));
  EXPECT_THAT(e, HasSubstr("p.yaml:6:9: 'autoload.deny' must be a list of patterns, got a scalar"));
}

TEST(PolicyParse, AutoloadLimitsOfTheKernelTable) {
  std::string many = "version: 1\nmode: dry-run\nautoload:\n  deny:\n";
  for (int i = 0; i <= MG_GLOB_MAX; i++) many += "  - p" + std::to_string(i) + "\n";
  EXPECT_THAT(errors(many), HasSubstr("p.yaml:5:3: 'autoload.deny' has 33 patterns; at most 32"));
  EXPECT_THAT(
      errors("version: 1\nmode: dry-run\nautoload:\n  allow: [" + std::string(64, 'a') + "]\n"),
      HasSubstr("is 64 bytes; at most 63 fit"));
  EXPECT_TRUE(
      parse("version: 1\nmode: dry-run\nautoload:\n  allow: [" + std::string(63, 'a') + "]\n")
          .ok());
}

TEST(PolicyParse, KernelGlobValidation) {
  std::string e = errors("version: 1\nmode: dry-run\nkernels: [\"6.1 *\", 6.1.0-*]\nkernels: x\n");
  EXPECT_THAT(e, HasSubstr("p.yaml:3:11: 'kernels' pattern '6.1 *' contains ' '"));
  EXPECT_THAT(e, HasSubstr("p.yaml:4:1: duplicate key 'kernels'"));
}

TEST(PolicyParse, AllProblemsAreReportedAtOnceInFileOrder) {
  std::string e = errors(
      "mode: strict\nlog_allowed: maybe\nbogus: 1\nmodules:\n- name: a\n"
      "  sha256: zz\n");
  auto ls = lines(e);
  ASSERT_EQ(ls.size(), 5u) << e;
  EXPECT_THAT(ls[0], HasSubstr("p.yaml:1:1: missing required key 'version'"));
  EXPECT_THAT(ls[1], HasSubstr("p.yaml:1:7: 'mode' must be"));
  EXPECT_THAT(ls[2], HasSubstr("p.yaml:2:14: 'log_allowed'"));
  EXPECT_THAT(ls[3], HasSubstr("p.yaml:3:1: unknown key 'bogus'"));
  EXPECT_THAT(ls[4], HasSubstr("p.yaml:6:11: 'sha256' 'zz'"));
}

TEST(PolicyParse, RootMustBeAMapping) {
  EXPECT_THAT(errors("- a\n- b\n"), HasSubstr("p.yaml:1:1: a policy is a mapping"));
  EXPECT_THAT(errors("just text\n"), HasSubstr("a policy is a mapping with at least 'version' and "
                                               "'mode', got a scalar"));
}

TEST(PolicyParse, EmptyFile) {
  EXPECT_EQ(errors(""), "p.yaml: is empty; a policy needs at least 'version' and 'mode'");
  EXPECT_EQ(errors("# only a comment\n"),
            "p.yaml: is empty; a policy needs at least 'version' and 'mode'");
}

TEST(PolicyParse, SecondDocumentIsAnError) {
  EXPECT_THAT(errors("version: 1\nmode: dry-run\n---\nversion: 2\n"),
              HasSubstr("a second YAML document; a policy file holds exactly one"));
}

// yaml-cpp 0.7's LoadAll never returned on these (it appended empty documents until memory ran
// out); found by tests/fuzz/policy_fuzz.cpp. Each must be one syntax error naming the token.
TEST(PolicyParse, StrayFlowTokenIsASyntaxErrorNotAHang) {
  EXPECT_EQ(errors("{version: 1, mode: enforce},\n"),
            "p.yaml:1:28: YAML syntax error: unexpected ',' outside any flow collection");
  EXPECT_EQ(errors(","),
            "p.yaml:1:1: YAML syntax error: unexpected ',' outside any flow collection");
  EXPECT_EQ(errors("[version, 1]\n,\n"),
            "p.yaml:2:1: YAML syntax error: unexpected ',' outside any flow collection");
  // A stray ']' or '}' is caught by yaml-cpp's scanner, with its own message.
  EXPECT_EQ(errors("{version: 1}\n}\n"), "p.yaml:2:1: YAML syntax error: illegal flow end");
}

TEST(PolicyParse, NonStandardTagIsAnError) {
  EXPECT_THAT(errors("version: 1\nmode: !custom dry-run\n"),
              HasSubstr("p.yaml:2:7: 'mode': unsupported tag '!custom'"));
}

TEST(PolicyParse, QuotedStringsAndKeyOrderDoNotMatter) {
  auto a = parse("version: 3\nmode: enforce\nmodules:\n- name: a\n  sha256: " + kH1 + "\n");
  auto b =
      parse("modules: [{sha256: '" + kH1 + "', name: \"a\"}]\n\n\nmode: 'enforce'\nversion: 3\n");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->digest, b->digest);
}

TEST(PolicyParse, UnquotedGlobSyntaxErrorsSayToQuote) {
  EXPECT_THAT(errors("version: 1\nmode: dry-run\nautoload:\n  allow:\n    - *-foo\n"),
              HasSubstr("p.yaml:5:7: YAML syntax error: the referenced anchor is not defined "
                        "(glob patterns containing '*' or '?' must be quoted"));
  EXPECT_THAT(errors("version: 1\nmode: dry-run\nautoload:\n  allow: [fs-?, x]\n"),
              HasSubstr("p.yaml:4:14: YAML syntax error: unknown token (glob patterns"));
}

TEST(PolicyParse, SyntaxErrorHasPosition) {
  EXPECT_THAT(errors("version: 1\nmode: dry-run\nmodules: [\n"),
              HasSubstr("p.yaml:4:1: YAML syntax error: "));
  EXPECT_THAT(errors("version: 1\n  mode: dry-run\n"), HasSubstr("p.yaml:2:7: YAML syntax error"));
}

// The parser streams libyaml's events; these pin what the yaml-cpp tree parser before it did, where
// the two libraries differ, so that a policy means the same to old and new agents.
TEST(PolicyParse, AliasesRepeatTheAnchoredNode) {
  auto r = parse("version: 1\nmode: dry-run\nmodules:\n- {name: a, sha256: " + kH1 +
                 ", signer: &s Debian Secure Boot CA}\n- {name: b, sha256: " + kH2 +
                 ", signer: *s}\nkernels: &k [\"6.1.*\"]\nautoload: {allow: *k}\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->modules[1].signer, "Debian Secure Boot CA");
  EXPECT_EQ(r->autoload.allow, (std::vector<std::string>{"6.1.*"}));
  // A repeated entry is the same entry twice, reported where the anchored one is.
  auto rep = parse_policy(
      "version: 1\nmode: dry-run\nmodules:\n- &e {name: a, sha256: " + kH1 + "}\n- *e\n", "p.yaml");
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  ASSERT_EQ(rep->warnings.size(), 1u);
  EXPECT_THAT(rep->warnings[0], HasSubstr("p.yaml:4:24: warning: sha256 " + kH1 +
                                          " of 'a' is listed twice (first at line 4)"));
}

TEST(PolicyParse, AliasInsideItsOwnAnchorIsRefused) {
  EXPECT_THAT(
      errors("version: 1\nmode: dry-run\nkernels: &k [a, *k]\n"),
      HasSubstr("p.yaml:3:17: YAML syntax error: an alias inside the node its anchor names"));
  EXPECT_THAT(errors("version: 1\nmode: dry-run\nkernels: [*nope]\n"),
              HasSubstr("p.yaml:3:11: YAML syntax error: the referenced anchor is not defined"));
}

TEST(PolicyParse, QuestionMarkInAFlowCollectionIsNoToken) {
  // libyaml reads these as a pattern and as a key indicator; yaml-cpp refused both.
  EXPECT_THAT(errors("version: 1\nmode: dry-run\nkernels: [6.1.?, x]\n"),
              HasSubstr("p.yaml:3:15: YAML syntax error: unknown token"));
  EXPECT_THAT(errors("version: 1\nmode: dry-run\nmodules: [{?name: a, sha256: " + kH1 + "}]\n"),
              HasSubstr("p.yaml:3:12: YAML syntax error: unknown token"));
  // In block context, and quoted, '?' is an ordinary character.
  auto r = parse("version: 1\nmode: dry-run\nkernels:\n- 6.1.?\n- \"6.12.?\"\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kernels, (std::vector<std::string>{"6.1.?", "6.12.?"}));
}

TEST(PolicyParse, LineBreaksTheParsersDisagreeOnAreRefused) {
  EXPECT_EQ(errors("version: 1\nmode: dry-run\r\nkernels: [a]\rx: 1\n"),
            "p.yaml:3:13: carriage return without a line feed; end lines with \\n or \\r\\n");
  EXPECT_EQ(errors("version: 1\nmode: dry-run\nmodules:\n- {name: a, sha256: " + kH1 +
                   ", note: \"x\u2028y\"}\n"),
            "p.yaml:4:95: character U+2028 is a line break to some YAML parsers and text to "
            "others; inside a double-quoted string, write it as \\L");
  EXPECT_THAT(errors("# \u0085\nversion: 1\nmode: dry-run\n"),
              HasSubstr("p.yaml:1:3: character U+0085"));
  // CRLF files are fine, and the escapes stand for the characters.
  auto r = parse("version: 1\r\nmode: dry-run\r\nmodules:\r\n- {name: a, sha256: " + kH1 +
                 ", note: \"\\x85 \\L \\P\"}\r\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->modules[0].note, "\u0085 \u2028 \u2029");
}

TEST(PolicyParse, ColumnsCountBytes) {
  // libyaml counts characters; positions stay in bytes, as they always were.
  EXPECT_THAT(errors("version: 1\nmode: dry-run\nmodules:\n- {note: \"\u00e9\u00e9\", nme: x}\n"),
              HasSubstr("p.yaml:4:18: unknown key 'nme'"));
}

}  // namespace
}  // namespace modgate::policy
