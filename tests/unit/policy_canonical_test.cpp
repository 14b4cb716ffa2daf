// SPDX-License-Identifier: Apache-2.0

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "policy/policy.h"
#include "policy_test_util.h"

namespace modgate::policy {
namespace {

using ::modgate::policy::testing::hash_hex;

Policy parsed(const std::string& text) {
  auto r = parse_policy(text, "p.yaml");
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : Policy{};
}

const std::string kA =
    "version: 5\nmode: enforce\nkernels: [\"6.1.*\", \"6.12.*\"]\n"
    "autoload:\n  default: deny\n  allow: [fs-*, net-pf-*]\n"
    "modules:\n- name: b\n  sha256: " +
    hash_hex(2) + "\n- name: a\n  sha256: " + hash_hex(1) + "\n  note: \"two\\nlines\"\n";

TEST(PolicyCanonical, FormIsSpecifiedByteForByte) {
  // docs/policy.md quotes this encoding; changing it changes every deployed digest.
  std::string expected =
      "modgate-policy-canonical 1\n"
      "version 5\n"
      "mode enforce\n"
      "log_allowed false\n"
      "allow_forced false\n"
      "allow_empty false\n"
      "kernels 2\n"
      "5:6.1.*\n"
      "6:6.12.*\n"
      "autoload.default deny\n"
      "autoload.allow 2\n"
      "4:fs-*\n"
      "8:net-pf-*\n"
      "autoload.deny 0\n"
      "modules 2\n"
      "1:a " +
      hash_hex(1) +
      " - - - - 9:two\nlines\n"
      "1:b " +
      hash_hex(2) + " - - - - -\n";
  EXPECT_EQ(canonical_form(parsed(kA)), expected);
}

TEST(PolicyCanonical, DigestIsStableUnderKeyOrderListOrderAndWhitespace) {
  const std::string reordered =
      "# same policy, written differently\n"
      "modules:\n"
      "  -   sha256: '" +
      hash_hex(1) +
      "'\n"
      "      note: |-\n        two\n        lines\n"
      "      name: a\n"
      "  - {name: b,   sha256: " +
      hash_hex(2) +
      "}\n"
      "autoload: {allow: [net-pf-*, fs-*], default: deny}\n"
      "kernels:\n  - 6.12.*\n  - 6.1.*\n"
      "mode:    enforce\n"
      "version: 5\n";
  EXPECT_EQ(parsed(kA).digest, parsed(reordered).digest);
}

TEST(PolicyCanonical, DigestChangesWithEveryField) {
  Sha256 base = parsed(kA).digest;
  auto changed = [&](const std::string& from, const std::string& to) {
    std::string t = kA;
    auto pos = t.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    t.replace(pos, from.size(), to);
    return parsed(t).digest != base;
  };
  EXPECT_TRUE(changed("version: 5", "version: 6"));
  EXPECT_TRUE(changed("mode: enforce", "mode: dry-run"));
  EXPECT_TRUE(changed("\"6.1.*\", ", ""));
  EXPECT_TRUE(changed("default: deny", "default: allow"));
  EXPECT_TRUE(changed("fs-*, ", ""));
  EXPECT_TRUE(changed("allow: [fs-*, net-pf-*]", "allow: [fs-*]\n  deny: [net-pf-*]"));
  EXPECT_TRUE(changed("name: b", "name: c"));
  EXPECT_TRUE(changed(hash_hex(2), hash_hex(3)));
  EXPECT_TRUE(changed("two\\nlines", "two lines"));
  EXPECT_TRUE(changed("mode: enforce\n", "mode: enforce\nlog_allowed: true\n"));
  EXPECT_TRUE(changed("mode: enforce\n", "mode: enforce\nallow_forced: true\n"));
  EXPECT_TRUE(changed("mode: enforce\n", "mode: enforce\nallow_empty: true\n"));
  EXPECT_TRUE(changed("name: b\n", "name: b\n  path: x\n"));
  EXPECT_TRUE(changed("name: b\n", "name: b\n  signer: x\n"));
  EXPECT_TRUE(changed("mode: enforce\n", "mode: enforce\nother_kernels: enforce\n"));
  // The default, written or not, is one policy: digests from before the key stay valid.
  EXPECT_FALSE(changed("mode: enforce\n", "mode: enforce\nother_kernels: report\n"));
}

TEST(PolicyCanonical, FirmwareAndKexecSectionsFollowTheModulesOnlyWhenPresent) {
  // Without the sections the form is exactly that of FormIsSpecifiedByteForByte: every policy
  // written before they existed keeps its digest.
  const std::string with = kA + "firmware:\n- {name: intel/b.bin, sha256: " + hash_hex(7) +
                           "}\n- {name: a.bin, sha256: " + hash_hex(8) + "}\nkexec: []\n";
  std::string without = canonical_form(parsed(kA));
  std::string form = canonical_form(parsed(with));
  ASSERT_EQ(form.substr(0, without.size()), without);
  EXPECT_EQ(form.substr(without.size()), "firmware 2\n5:a.bin " + hash_hex(8) +
                                             " - - - - -\n11:intel/b.bin " + hash_hex(7) +
                                             " - - - - -\nkexec 0\n");
}

TEST(PolicyCanonical, SectionsChangeTheDigest) {
  Sha256 base = parsed(kA).digest;
  // Present and empty (deny every firmware load) is not absent (leave firmware to the kernel).
  EXPECT_NE(parsed(kA + "firmware: []\n").digest, base);
  EXPECT_NE(parsed(kA + "kexec: []\n").digest, base);
  EXPECT_NE(parsed(kA + "firmware: []\n").digest, parsed(kA + "kexec: []\n").digest);
  // The same entry in another section admits another kind: another policy.
  const std::string entry = "\n- {name: x, sha256: " + hash_hex(9) + "}\n";
  EXPECT_NE(parsed(kA + "firmware:" + entry).digest, parsed(kA + "kexec:" + entry).digest);
  EXPECT_NE(parsed(kA + "firmware:" + entry).digest, parsed(kA + "firmware: []\n").digest);
  // Order and spelling still do not matter.
  EXPECT_EQ(parsed(kA + "kexec: []\nfirmware:" + entry).digest,
            parsed("firmware:" + entry + kA + "kexec: []\n").digest);
}

TEST(PolicyCanonical, AbsentAndEmptyOptionalFieldsDiffer) {
  std::string base =
      "version: 1\nmode: dry-run\nmodules:\n- name: a\n  sha256: " + hash_hex(1) + "\n";
  EXPECT_NE(parsed(base).digest, parsed(base + "  note: \"\"\n").digest);
}

TEST(PolicyCanonical, LengthPrefixKeepsFieldBoundariesUnambiguous) {
  // Without the length prefix, these two would serialise to the same bytes.
  std::string base =
      "version: 1\nmode: dry-run\nmodules:\n- name: a\n  sha256: " + hash_hex(1) + "\n";
  EXPECT_NE(parsed(base + "  version: \"1 -\"\n").digest,
            parsed(base + "  version: \"1\"\n  vermagic: \"\"\n").digest);
}

// docs/policy.md's examples are what operators copy; they must stay valid, and the canonical form
// it prints must be what the code produces.
TEST(PolicyCanonical, DocumentationExamplesHold) {
  std::ifstream in(std::string(MODGATE_POLICY_TEST_DATA) + "/../../../docs/policy.md");
  ASSERT_TRUE(in) << "docs/policy.md not found";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string doc = ss.str();
  std::vector<std::string> yaml;
  for (std::size_t pos = 0; (pos = doc.find("```yaml\n", pos)) != std::string::npos;) {
    pos += 8;
    yaml.push_back(doc.substr(pos, doc.find("```", pos) - pos));
  }
  ASSERT_EQ(yaml.size(), 3u);
  for (const auto& y : yaml) {
    auto r = parse_policy(y, "docs/policy.md");
    EXPECT_TRUE(r.ok()) << r.error().message;
  }
  auto small = parse_policy(yaml.back(), "docs/policy.md");
  ASSERT_TRUE(small.ok());
  std::string canonical = canonical_form(*small);
  EXPECT_NE(doc.find("```\n" + canonical + "```"), std::string::npos)
      << "docs/policy.md should show:\n"
      << canonical;
}

}  // namespace
}  // namespace modgate::policy
