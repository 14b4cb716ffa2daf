// SPDX-License-Identifier: Apache-2.0

#include <gtest/gtest.h>

#include <string>

#include "policy/glob.h"

namespace modgate::policy {
namespace {

TEST(PolicyGlob, LiteralMatchesOnlyItself) {
  EXPECT_TRUE(glob_match("fs-ext4", "fs-ext4"));
  EXPECT_FALSE(glob_match("fs-ext4", "fs-ext3"));
  EXPECT_FALSE(glob_match("fs-ext4", "fs-ext4x"));
  EXPECT_FALSE(glob_match("fs-ext4", "fs-ext"));
  EXPECT_FALSE(glob_match("FS-EXT4", "fs-ext4"));  // case-sensitive
}

TEST(PolicyGlob, EmptyPatternMatchesOnlyEmptyName) {
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_FALSE(glob_match("", "a"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_FALSE(glob_match("?", ""));
}

TEST(PolicyGlob, StarMatchesAnyRunIncludingNone) {
  EXPECT_TRUE(glob_match("fs-*", "fs-"));
  EXPECT_TRUE(glob_match("fs-*", "fs-ext4"));
  EXPECT_TRUE(glob_match("*-ext4", "fs-ext4"));
  EXPECT_TRUE(glob_match("net-pf-*-proto-*", "net-pf-10-proto-132"));
  EXPECT_FALSE(glob_match("net-pf-*-proto-*", "net-pf-10"));
  EXPECT_TRUE(glob_match("a*b*c", "abc"));
  EXPECT_TRUE(glob_match("a*b*c", "axxbyyc"));
  EXPECT_FALSE(glob_match("a*b*c", "axxbyy"));
  EXPECT_TRUE(glob_match("**", "anything"));
}

TEST(PolicyGlob, StarNeedsBacktracking) {
  // The first 'b' the star could stop at is the wrong one.
  EXPECT_TRUE(glob_match("*bc", "abbc"));
  EXPECT_TRUE(glob_match("a*aab", "aaaab"));
  EXPECT_FALSE(glob_match("a*aab", "aaaba"));
  EXPECT_TRUE(glob_match("*a*a*a*b", "aaaaaaab"));
  EXPECT_FALSE(glob_match("*a*a*a*b", "aaaaaaa"));
}

TEST(PolicyGlob, QuestionMarkMatchesExactlyOneByte) {
  EXPECT_TRUE(glob_match("char-major-10-?", "char-major-10-1"));
  EXPECT_FALSE(glob_match("char-major-10-?", "char-major-10-12"));
  EXPECT_FALSE(glob_match("char-major-10-?", "char-major-10-"));
  EXPECT_TRUE(glob_match("?*", "x"));
  EXPECT_FALSE(glob_match("?*", ""));
}

TEST(PolicyGlob, NoOtherCharacterIsSpecial) {
  EXPECT_TRUE(glob_match("crypto-cbc(aes)", "crypto-cbc(aes)"));
  EXPECT_FALSE(glob_match("[ab]", "a"));
  EXPECT_FALSE(glob_match("a.c", "abc"));
  EXPECT_TRUE(glob_match("crypto-*", "crypto-cbc(aes)-all"));
}

// Brute-force reference: the textbook recursive definition, against the loop on every short
// pattern over a tiny alphabet.
bool reference(std::string_view p, std::string_view n) {
  if (p.empty()) return n.empty();
  if (p[0] == '*') return reference(p.substr(1), n) || (!n.empty() && reference(p, n.substr(1)));
  if (n.empty()) return false;
  return (p[0] == '?' || p[0] == n[0]) && reference(p.substr(1), n.substr(1));
}

void all_strings(std::string_view alphabet, std::size_t max_len, std::vector<std::string>& out,
                 const std::string& prefix = "") {
  out.push_back(prefix);
  if (prefix.size() == max_len) return;
  for (char c : alphabet) all_strings(alphabet, max_len, out, prefix + c);
}

TEST(PolicyGlob, AgreesWithRecursiveDefinitionExhaustively) {
  std::vector<std::string> patterns, names;
  all_strings("ab*?", 5, patterns);
  all_strings("ab", 6, names);
  for (const auto& p : patterns)
    for (const auto& n : names)
      ASSERT_EQ(glob_match(p, n), reference(p, n)) << "pattern '" << p << "' name '" << n << "'";
}

TEST(PolicyGlob, PatternCharacterClasses) {
  for (char c : std::string("azAZ09_:.-")) EXPECT_TRUE(is_autoload_pattern_char(c)) << c;
  for (char c : std::string("*?[]/\\ ()+\"")) EXPECT_FALSE(is_autoload_pattern_char(c)) << c;
  for (char c : std::string("azAZ09_.-+~")) EXPECT_TRUE(is_kernel_pattern_char(c)) << c;
  for (char c : std::string("*?[]/ :")) EXPECT_FALSE(is_kernel_pattern_char(c)) << c;
}

}  // namespace
}  // namespace modgate::policy
