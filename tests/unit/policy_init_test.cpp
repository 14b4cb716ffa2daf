// SPDX-License-Identifier: Apache-2.0

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "policy/decompress.h"
#include "policy/init.h"
#include "policy/modinfo.h"
#include "policy_test_util.h"

namespace modgate::policy {
namespace {

namespace fs = std::filesystem;
using ::modgate::policy::testing::data_path;
using ::modgate::policy::testing::read_bytes;
using ::modgate::policy::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

std::string mod(const std::string& f) { return data_path("modules/" + f); }

TEST(PolicyModinfo, ReadsNameVersionVermagic) {
  auto mi = read_modinfo(read_bytes(mod("fake_plain.ko")));
  ASSERT_TRUE(mi.ok()) << mi.error().message;
  EXPECT_EQ(mi->name, "fake_plain");
  EXPECT_EQ(mi->version, "1.2.3");
  EXPECT_EQ(mi->vermagic, "6.1.0-test SMP preempt mod_unload ");
}

TEST(PolicyModinfo, SignedModuleStillHasItsModinfo) {
  auto mi = read_modinfo(read_bytes(mod("fake_signed.ko")));
  ASSERT_TRUE(mi.ok()) << mi.error().message;
  EXPECT_EQ(mi->name, "fake_signed");
  EXPECT_FALSE(mi->version.has_value());
}

TEST(PolicyModinfo, RejectsWhatIsNotAModule) {
  auto not_elf = read_modinfo(read_bytes(data_path("modules/make-modules.sh")));
  ASSERT_FALSE(not_elf.ok());
  EXPECT_EQ(not_elf.error().message, "is not an ELF file");
  auto no_modinfo = read_modinfo(read_bytes(mod("not_a_module.o")));
  ASSERT_FALSE(no_modinfo.ok());
  EXPECT_THAT(no_modinfo.error().message, HasSubstr("has no .modinfo section"));
  std::vector<std::uint8_t> empty;
  EXPECT_FALSE(read_modinfo(empty).ok());
}

TEST(PolicyModinfo, RejectsTruncatedElf) {
  auto bytes = read_bytes(mod("fake_plain.ko"));
  bytes.resize(100);  // header intact, section table gone
  EXPECT_FALSE(read_modinfo(bytes).ok());
}

TEST(PolicySigner, IssuerCommonName) {
  auto s = module_signer(read_bytes(mod("fake_signed.ko")));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(*s, "modgate test signing key");
}

TEST(PolicySigner, SubjectKeyIdentifier) {
  auto s = module_signer(read_bytes(mod("fake_keyid.ko")));
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE(s->has_value());
  EXPECT_THAT(**s, MatchesRegex("skid:[0-9a-f]{40}"));
}

TEST(PolicySigner, UnsignedModuleHasNoSigner) {
  auto s = module_signer(read_bytes(mod("fake_plain.ko")));
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->has_value());
}

TEST(PolicySigner, CorruptSignatureIsAnError) {
  auto bytes = read_bytes(mod("fake_signed.ko"));
  // Length field (big-endian, just before the magic) claiming more than the file holds.
  std::size_t len_at = bytes.size() - 28 - 4;
  bytes[len_at] = 0x7f;
  auto s = module_signer(bytes);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("exceeds the file"));

  bytes = read_bytes(mod("fake_signed.ko"));
  bytes[bytes.size() - 28 - 12 - 50] ^= 0xff;  // inside the DER
  bytes[bytes.size() - 28 - 12 - 200] ^= 0xff;
  auto t = module_signer(bytes);
  // Flipping bytes in the signature value itself still parses; in the structure it does not. Either
  // way the call must not crash, and a parse must not invent a different signer.
  if (t.ok()) {
    EXPECT_EQ(*t, "modgate test signing key");
  }

  std::vector<std::uint8_t> only_magic(bytes.end() - 30, bytes.end());
  EXPECT_FALSE(module_signer(only_magic).ok());
}

TEST(PolicyDecompress, AllThreeFormatsGiveTheModuleBack) {
  auto plain = read_bytes(mod("fake_signed.ko"));
  for (auto [file, c] : {std::pair{"fake_signed.ko.xz", Compression::kXz},
                         std::pair{"fake_signed.ko.zst", Compression::kZstd},
                         std::pair{"fake_signed.ko.gz", Compression::kGzip}}) {
    auto data = read_bytes(mod(file));
    EXPECT_EQ(compression_from_name(file), c);
    EXPECT_EQ(compression_from_magic(data), c);
    auto out = decompress(data, c);
    ASSERT_TRUE(out.ok()) << file << ": " << out.error().message;
    EXPECT_EQ(*out, plain) << file;
  }
  EXPECT_EQ(compression_from_name("x.ko"), Compression::kNone);
  EXPECT_EQ(compression_from_magic(plain), Compression::kNone);
}

TEST(PolicyDecompress, CorruptAndTruncatedXz) {
  auto corrupt = decompress(read_bytes(mod("corrupt.ko.xz")), Compression::kXz);
  ASSERT_FALSE(corrupt.ok());
  EXPECT_EQ(corrupt.error().message, "xz data is corrupt");
  auto truncated = decompress(read_bytes(mod("truncated.ko.xz")), Compression::kXz);
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error().message, "xz data is truncated");
}

TEST(PolicyDecompress, TruncatedZstdAndGzip) {
  for (auto [file, c] : {std::pair{"fake_signed.ko.zst", Compression::kZstd},
                         std::pair{"fake_signed.ko.gz", Compression::kGzip}}) {
    auto data = read_bytes(mod(file));
    data.resize(data.size() / 2);
    auto out = decompress(data, c);
    ASSERT_FALSE(out.ok()) << file;
    EXPECT_THAT(out.error().message, HasSubstr("truncated")) << file;
  }
}

TEST(PolicyDecompress, TrailingGarbageIsRefused) {
  auto data = read_bytes(mod("fake_signed.ko.xz"));
  data.push_back('x');
  EXPECT_FALSE(decompress(data, Compression::kXz).ok());
  auto gz = read_bytes(mod("fake_signed.ko.gz"));
  gz.push_back('x');
  auto r = decompress(gz, Compression::kGzip);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("after the gzip stream"));
}

TEST(PolicyDecompress, OutputCeilingStopsBombs) {
  for (auto [file, c] : {std::pair{"fake_signed.ko.xz", Compression::kXz},
                         std::pair{"fake_signed.ko.zst", Compression::kZstd},
                         std::pair{"fake_signed.ko.gz", Compression::kGzip}}) {
    auto out = decompress(read_bytes(mod(file)), c, 100);
    ASSERT_FALSE(out.ok()) << file;
    EXPECT_THAT(out.error().message, HasSubstr("decompresses to more than")) << file;
  }
}

TEST(PolicyInit, PlainModuleIsOneEntry) {
  auto e = module_file_entries(mod("fake_plain.ko"), "extra/fake_plain.ko");
  ASSERT_TRUE(e.ok()) << e.error().message;
  ASSERT_EQ(e->size(), 1u);
  const auto& m = (*e)[0];
  EXPECT_EQ(m.name, "fake_plain");
  EXPECT_EQ(m.sha256, *sha256_file(mod("fake_plain.ko")));
  EXPECT_EQ(m.version, "1.2.3");
  EXPECT_EQ(m.vermagic, "6.1.0-test SMP preempt mod_unload ");
  EXPECT_FALSE(m.signer.has_value());
  EXPECT_EQ(m.path, "extra/fake_plain.ko");
  EXPECT_FALSE(m.note.has_value());
}

TEST(PolicyInit, CompressedModuleRecordsFileAndPayloadHashes) {
  for (const char* f : {"fake_signed.ko.xz", "fake_signed.ko.zst", "fake_signed.ko.gz"}) {
    auto e = module_file_entries(mod(f), f);
    ASSERT_TRUE(e.ok()) << f << ": " << e.error().message;
    ASSERT_EQ(e->size(), 2u);
    EXPECT_EQ((*e)[0].name, "fake_signed");
    EXPECT_EQ((*e)[1].name, "fake_signed");
    EXPECT_EQ((*e)[0].sha256, *sha256_file(mod(f))) << f;
    EXPECT_EQ((*e)[1].sha256, *sha256_file(mod("fake_signed.ko"))) << f;
    EXPECT_THAT(*(*e)[0].note, HasSubstr("compressed file"));
    EXPECT_THAT(*(*e)[1].note, HasSubstr("decompressed payload"));
    EXPECT_EQ((*e)[0].signer, "modgate test signing key");
    EXPECT_EQ((*e)[1].signer, "modgate test signing key");
  }
}

TEST(PolicyInit, NameComesFromModinfoNotFileName) {
  auto e = module_file_entries(mod("fake-dash.ko"), "fake-dash.ko");
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ((*e)[0].name, "fake_dash");
}

// A small tree with one of each kind, under subdirectories as in /lib/modules.
void make_tree(const fs::path& root) {
  fs::create_directories(root / "kernel/fs/a");
  fs::create_directories(root / "kernel/drivers/b");
  fs::create_directories(root / "updates");
  fs::copy_file(mod("fake_plain.ko"), root / "kernel/fs/a/fake_plain.ko");
  fs::copy_file(mod("fake_signed.ko.xz"), root / "kernel/drivers/b/fake_signed.ko.xz");
  fs::copy_file(mod("fake_keyid.ko"), root / "updates/fake_keyid.ko");
  fs::copy_file(mod("fake-dash.ko"), root / "kernel/fs/a/fake-dash.ko");
  testing::write_file(root / "modules.order", "kernel/fs/a/fake_plain.ko\n");
  // A copy of the payload as a plain .ko beside it: same bytes, same name, one entry.
  fs::copy_file(mod("fake_signed.ko"), root / "updates/fake_signed.ko");
  fs::create_directory_symlink("/nonexistent/build", root / "build");
}

TEST(PolicyInit, ScanTreeIsSortedDeduplicatedAndReadsBack) {
  TempDir t;
  make_tree(t.path());
  auto r = scan_module_tree({t.path().string(), std::nullopt, Mode::kDryRun, 2});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->problems.empty()) << r->problems[0];
  EXPECT_EQ(r->files, 5u);
  const auto& mods = r->policy.modules;
  ASSERT_EQ(mods.size(), 5u);  // dash, keyid, plain, signed (file, payload); the copy deduplicated
  EXPECT_EQ(mods[0].name, "fake_dash");
  EXPECT_EQ(mods[1].name, "fake_keyid");
  EXPECT_EQ(mods[2].name, "fake_plain");
  EXPECT_EQ(mods[3].name, "fake_signed");
  EXPECT_EQ(mods[3].path, "kernel/drivers/b/fake_signed.ko.xz");
  EXPECT_THAT(*mods[3].note, HasSubstr("compressed file"));
  EXPECT_THAT(*mods[4].note, HasSubstr("decompressed payload"));
  EXPECT_EQ(r->policy.kernels, std::vector<std::string>{"6.1.0-test"});
  EXPECT_EQ(r->policy.mode, Mode::kDryRun);
  EXPECT_EQ(r->policy.version, 1u);

  std::string yaml = policy_to_yaml(r->policy, {"header line"});
  EXPECT_EQ(yaml.rfind("# header line\n", 0), 0u);
  auto back = parse_policy(yaml, "generated.yaml");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->digest, r->policy.digest);
  EXPECT_EQ(back->modules.size(), 5u);
}

TEST(PolicyInit, OutputIsIdenticalWhateverTheThreadCount) {
  TempDir t;
  make_tree(t.path());
  std::string first;
  for (unsigned threads : {1u, 2u, 7u}) {
    auto r = scan_module_tree({t.path().string(), std::nullopt, Mode::kDryRun, threads});
    ASSERT_TRUE(r.ok());
    std::string yaml = policy_to_yaml(r->policy, {});
    if (first.empty()) first = yaml;
    EXPECT_EQ(yaml, first) << threads << " threads";
  }
}

TEST(PolicyInit, KernelOptionAndEnforceMode) {
  TempDir t;
  make_tree(t.path());
  auto r = scan_module_tree({t.path().string(), "6.1.0-99-amd64", Mode::kEnforce, 0});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->policy.kernels, std::vector<std::string>{"6.1.0-99-amd64"});
  EXPECT_EQ(r->policy.mode, Mode::kEnforce);
  EXPECT_TRUE(parse_policy(policy_to_yaml(r->policy, {}), "g.yaml").ok());
}

TEST(PolicyInit, EmptyOrMissingTreeIsAnError) {
  TempDir t;
  auto empty = scan_module_tree({t.path().string(), std::nullopt, Mode::kDryRun, 0});
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.error().message, HasSubstr("no module files"));
  auto missing = scan_module_tree({t / "nope", std::nullopt, Mode::kDryRun, 0});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr(t / "nope"));
}

TEST(PolicyInit, YamlWriterQuotesAndEscapes) {
  Policy p;
  p.version = 3;
  p.allow_empty = true;
  ModuleEntry e;
  e.name = "m";
  e.note = "quote \" backslash \\ newline \n tab \t bell \x07 colon: # hash";
  e.signer = "Ünïcödé";
  p.modules.push_back(e);
  p.digest = policy_digest(p);
  auto back = parse_policy(policy_to_yaml(p, {}), "w.yaml");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->modules[0].note, e.note);
  EXPECT_EQ(back->modules[0].signer, e.signer);
  EXPECT_EQ(back->digest, p.digest);
}

TEST(PolicyInit, YamlWriterKeepsFirmwareKexecAndProtect) {
  // policy suggest rewrites an existing policy through this writer; it must mean the same after.
  Policy p;
  p.version = 4;
  p.allow_empty = true;
  p.protect = true;
  p.firmware.emplace();
  ModuleEntry fw;
  fw.name = "intel/ibt-12-16.sfi";
  fw.sha256[0] = 7;
  fw.note = "bluetooth";
  p.firmware->push_back(fw);
  p.kexec.emplace();  // present and empty: deny every kexec
  p.digest = policy_digest(p);
  auto back = parse_policy(policy_to_yaml(p, {}), "w.yaml");
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_TRUE(back->firmware.has_value());
  EXPECT_EQ((*back->firmware)[0].name, fw.name);
  ASSERT_TRUE(back->kexec.has_value());
  EXPECT_TRUE(back->kexec->empty());
  EXPECT_TRUE(back->protect);
  EXPECT_EQ(back->digest, p.digest);
}

TEST(PolicyInit, YamlWriterEscapesLineBreaksTheParsersDisagreeOn) {
  // Raw, the parser refuses them (one is a line break to libyaml and text to yaml-cpp); escaped,
  // both read them back as the character.
  Policy p;
  p.version = 5;
  p.allow_empty = true;
  ModuleEntry e;
  e.name = "m";
  e.note = "nel \u0085 ls \u2028 ps \u2029 nbsp \u00a0";
  p.modules.push_back(e);
  p.digest = policy_digest(p);
  const std::string yaml = policy_to_yaml(p, {});
  EXPECT_THAT(yaml, HasSubstr("nel \\x85 ls \\L ps \\P nbsp \u00a0"));
  auto back = parse_policy(yaml, "w.yaml");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->modules[0].note, e.note);
  EXPECT_EQ(back->digest, p.digest);
}

}  // namespace
}  // namespace modgate::policy
