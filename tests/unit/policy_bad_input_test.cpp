// SPDX-License-Identifier: Apache-2.0
// Hostile and broken inputs: each must end in a clear error naming the file, never a crash, a hang
// or a silently partial result.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "policy/init.h"
#include "policy/policy.h"
#include "policy_test_util.h"

namespace modgate::policy {
namespace {

namespace fs = std::filesystem;
using ::modgate::policy::testing::data_path;
using ::modgate::policy::testing::TempDir;
using ::modgate::policy::testing::write_file;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

const std::string kValid = "version: 1\nmode: enforce\nmodules:\n  - {name: a, sha256: \"" +
                           testing::hash_hex(1) + "\", note: \"a note\"}\n";

std::string load_error(const std::string& path) {
  auto r = load_policy_file(path);
  EXPECT_FALSE(r.ok()) << path << " loaded";
  return r.ok() ? "" : r.error().message;
}

TEST(PolicyBadInput, TruncatedYaml) {
  TempDir t;
  write_file(t / "ok.yaml", kValid);
  ASSERT_TRUE(load_policy_file(t / "ok.yaml").ok());
  // Cut inside the quoted note: an unterminated flow mapping and string.
  write_file(t / "cut.yaml", kValid.substr(0, kValid.find("a note") + 3));
  EXPECT_THAT(load_error(t / "cut.yaml"),
              MatchesRegex(t / "cut.yaml" + ":[0-9]+:[0-9]+: YAML syntax error: .*"));
  // Cut after a key: the value is missing.
  write_file(t / "cut2.yaml", "version: 1\nmode:");
  EXPECT_THAT(load_error(t / "cut2.yaml"),
              StartsWith(t / "cut2.yaml" + ":2:1: 'mode' must be a string, got nothing"));
}

TEST(PolicyBadInput, BinaryGarbage) {
  TempDir t;
  std::mt19937 rng(42);
  std::string garbage(4096, '\0');
  for (auto& c : garbage) c = static_cast<char>(rng() & 0xff);
  write_file(t / "garbage.yaml", garbage);
  std::string e = load_error(t / "garbage.yaml");
  EXPECT_THAT(e, MatchesRegex(t / "garbage.yaml" +
                              ":1:[0-9]+: byte 0x[0-9a-f]{2} is not UTF-8 text; a policy is a YAML "
                              "text file"));
}

TEST(PolicyBadInput, NulByteInText) {
  TempDir t;
  write_file(t / "nul.yaml", std::string("version: 1\nmode: dry-\0run\n", 26));
  EXPECT_EQ(load_error(t / "nul.yaml"),
            t / "nul.yaml" + ":2:11: byte 0x00 is not UTF-8 text; a policy is a YAML text file");
}

TEST(PolicyBadInput, HugeFileIsRefusedBySizeBeforeReading) {
  TempDir t;
  std::string path = t / "huge.yaml";
  // Sparse: a GiB of zeros costs no disk. Were it read, the error would be about byte 0x00.
  write_file(path, "");
  ASSERT_EQ(::truncate(path.c_str(), 1LL << 30), 0);
  EXPECT_EQ(load_error(path),
            path + ": 1073741824 bytes is larger than the 16 MiB a policy may be");
}

TEST(PolicyBadInput, OneByteOverTheLimitIsRefused) {
  TempDir t;
  std::string path = t / "big.yaml";
  write_file(path, "");
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(kMaxPolicyBytes + 1)), 0);
  EXPECT_THAT(load_error(path), HasSubstr("is larger than the 16 MiB"));
  auto r = parse_policy(std::string(kMaxPolicyBytes + 1, ' '), "mem.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, StartsWith("mem.yaml: "));
}

TEST(PolicyBadInput, DeepFlowNestingIsRefusedBeforeParsing) {
  TempDir t;
  write_file(t / "deep.yaml", std::string(100000, '[') + std::string(100000, ']'));
  EXPECT_EQ(load_error(t / "deep.yaml"),
            t / "deep.yaml" + ":1:65: nested more than 64 levels deep; a policy needs four");
}

TEST(PolicyBadInput, DeepBlockNestingDoesNotCrash) {
  TempDir t;
  std::string seq;
  for (int i = 0; i < 100000; i++) seq += "- ";
  write_file(t / "deepseq.yaml", seq + "x\n");
  EXPECT_THAT(load_error(t / "deepseq.yaml"),
              MatchesRegex(t / "deepseq.yaml" + ":1:[0-9]+: nested too deeply for the YAML "
                                                "parser; a policy needs four levels"));
  std::string map;
  for (int i = 0; i < 5000; i++) map += std::string(static_cast<std::size_t>(i), ' ') + "a:\n";
  write_file(t / "deepmap.yaml", map);
  EXPECT_THAT(load_error(t / "deepmap.yaml"), StartsWith(t / "deepmap.yaml" + ":"));
}

TEST(PolicyBadInput, BracketsInQuotedStringsWithEscapedQuotesAreNotNesting) {
  // What policy_to_yaml writes for a note holding a quote and many brackets must read back
  // (tests/fuzz/regressions/policy/prescan-escaped-quote-brackets.yaml).
  const std::string many(70, '{');
  const std::string head =
      "version: 1\nmode: dry-run\nmodules:\n- name: a\n  sha256: " + std::string(64, 'a') +
      "\n  note: ";
  auto dq = parse_policy(head + "\"say \\\"hi\\\" " + many + "\"\n", "dq.yaml");
  ASSERT_TRUE(dq.ok()) << dq.error().message;
  EXPECT_EQ(dq->modules[0].note, "say \"hi\" " + many);
  auto sq = parse_policy(head + "'it''s " + many + "'\n", "sq.yaml");
  ASSERT_TRUE(sq.ok()) << sq.error().message;
  EXPECT_EQ(sq->modules[0].note, "it's " + many);
  // Real nesting after such strings is still counted.
  auto deep = parse_policy(head + "\"\\\"\"\nkernels: " + std::string(70, '[') + "\n", "deep.yaml");
  ASSERT_FALSE(deep.ok());
  EXPECT_THAT(deep.error().message, HasSubstr("nested more than 64 levels deep"));
}

TEST(PolicyBadInput, NestingWithinTheLimitReachesValidation) {
  auto r = parse_policy(
      "version: 1\nmode: dry-run\nkernels: " + std::string(60, '[') + std::string(60, ']') + "\n",
      "n.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("n.yaml:3:11: 'kernels' entries must be a string"));
}

TEST(PolicyBadInput, AliasFanOutIsBoundedByTheFileSize) {
  // Billion-laughs shape: yaml-cpp shares aliased nodes instead of copying them, and validation
  // looks only one level into each list, so this is refused quickly with one error per item.
  std::string text =
      "version: 1\nmode: dry-run\nx: &a [q, q, q, q, q, q, q, q]\n"
      "y: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nz: &c [*b, *b, *b, *b, *b, *b, *b]\n"
      "kernels: [*c, *c, *c, *c, *c, *c, *c, *c]\n";
  auto r = parse_policy(text, "laughs.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("unknown key 'x'"));
  EXPECT_THAT(r.error().message, HasSubstr("'kernels' entries must be a string, got a list"));
}

TEST(PolicyBadInput, FifoIsRefusedWithoutBlocking) {
  TempDir t;
  std::string path = t / "fifo.yaml";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  EXPECT_EQ(load_error(path), path + ": not a regular file");
}

TEST(PolicyBadInput, DirectoryAndMissingFile) {
  TempDir t;
  EXPECT_EQ(load_error(t.path().string()), t.path().string() + ": not a regular file");
  EXPECT_EQ(load_error(t / "missing.yaml"), t / "missing.yaml" + ": No such file or directory");
}

// Module trees: each broken file is reported by path and the rest of the tree is still scanned.
class BadTree : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(t_.path() / "kernel");
    fs::copy_file(data_path("modules/fake_plain.ko"), t_.path() / "kernel/fake_plain.ko");
  }
  // Scans and expects exactly one problem, for `rel`, returning its message.
  std::string only_problem(const std::string& rel) {
    auto r = scan_module_tree({t_.path().string(), std::nullopt, Mode::kDryRun, 2});
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (!r.ok()) return "";
    EXPECT_EQ(r->policy.modules.size(), 1u) << "the good module is still listed";
    EXPECT_EQ(r->files, 2u);
    EXPECT_EQ(r->problems.size(), 1u);
    if (r->problems.size() != 1) return "";
    std::string prefix = t_ / rel + ": ";
    EXPECT_THAT(r->problems[0], StartsWith(prefix));
    return r->problems[0].substr(std::min(prefix.size(), r->problems[0].size()));
  }
  TempDir t_;
};

TEST_F(BadTree, BrokenSymlink) {
  fs::create_symlink("/nonexistent/gone.ko", t_.path() / "kernel/gone.ko");
  EXPECT_EQ(only_problem("kernel/gone.ko"), "broken symbolic link to /nonexistent/gone.ko");
}

TEST_F(BadTree, DirectoryNamedLikeAModule) {
  fs::create_directory(t_.path() / "kernel/dir.ko");
  EXPECT_EQ(only_problem("kernel/dir.ko"), "is a directory, not a module file");
}

TEST_F(BadTree, FifoNamedLikeAModuleDoesNotBlock) {
  // Tests run as root, which reads any file, so "unreadable" is simulated by something open()
  // succeeds on but that is not a file: a FIFO, which would block a naive reader forever.
  ASSERT_EQ(::mkfifo((t_ / "kernel/pipe.ko").c_str(), 0600), 0);
  EXPECT_EQ(only_problem("kernel/pipe.ko"), "is a FIFO, not a module file");
}

TEST_F(BadTree, CorruptXz) {
  fs::copy_file(data_path("modules/corrupt.ko.xz"), t_.path() / "kernel/corrupt.ko.xz");
  EXPECT_EQ(only_problem("kernel/corrupt.ko.xz"), "xz data is corrupt");
}

TEST_F(BadTree, TruncatedXz) {
  fs::copy_file(data_path("modules/truncated.ko.xz"), t_.path() / "kernel/truncated.ko.xz");
  EXPECT_EQ(only_problem("kernel/truncated.ko.xz"), "xz data is truncated");
}

TEST_F(BadTree, CompressionNotWhatTheNameSays) {
  fs::copy_file(data_path("modules/fake_signed.ko.gz"), t_.path() / "kernel/liar.ko.xz");
  EXPECT_EQ(only_problem("kernel/liar.ko.xz"), "is named .xz but is not xz data");
}

TEST_F(BadTree, NotAnElfFile) {
  write_file(t_.path() / "kernel/text.ko", "this is not a module\n");
  EXPECT_EQ(only_problem("kernel/text.ko"), "is not an ELF file");
}

TEST_F(BadTree, ElfWithoutModinfo) {
  fs::copy_file(data_path("modules/not_a_module.o"), t_.path() / "kernel/obj.ko");
  EXPECT_EQ(only_problem("kernel/obj.ko"), "has no .modinfo section; not a kernel module");
}

TEST_F(BadTree, EmptyModuleFile) {
  write_file(t_.path() / "kernel/empty.ko", "");
  EXPECT_EQ(only_problem("kernel/empty.ko"), "is not an ELF file");
}

TEST_F(BadTree, CompressedPayloadThatIsNotAModule) {
  // Valid xz around text: the decompressed payload is what gets blamed.
  fs::copy_file(data_path("modules/not_a_module.o"), t_.path() / "kernel/x.o");
  ASSERT_EQ(std::system(("xz -c " + (t_ / "kernel/x.o") + " > " + (t_ / "kernel/obj.ko.xz") +
                         " && rm " + (t_ / "kernel/x.o"))
                            .c_str()),
            0);
  EXPECT_EQ(only_problem("kernel/obj.ko.xz"),
            "decompressed payload has no .modinfo section; not a kernel module");
}

}  // namespace
}  // namespace modgate::policy
