// SPDX-License-Identifier: Apache-2.0
// Signature details and the audit on Debian's real 6.1 and 6.12 module trees
// (scripts/vm/fetch-kernel, cached after the first download), checked against modinfo(8).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "audit_test_util.h"
#include "policy/audit.h"
#include "policy/decompress.h"
#include "policy/modinfo.h"
#include "policy_test_util.h"

namespace modgate::policy {
namespace {

namespace fs = std::filesystem;
using ::modgate::policy::testing::read_bytes;
using ::modgate::policy::testing::Signer;
using ::modgate::policy::testing::strip;
using ::modgate::policy::testing::TempDir;
using ::modgate::policy::testing::write_file;
using ::testing::ElementsAre;

std::string shell(const std::string& cmd) {
  std::unique_ptr<FILE, decltype(&pclose)> p(popen(cmd.c_str(), "r"), pclose);
  if (!p) return "";
  std::string out;
  std::array<char, 4096> buf;
  while (std::size_t n = fread(buf.data(), 1, buf.size(), p.get())) out.append(buf.data(), n);
  return out;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string module_tree(const std::string& suite) {
  std::string dir =
      trim(shell(std::string(MODGATE_SOURCE_DIR) + "/scripts/vm/fetch-kernel " + suite));
  for (const char* sub : {"lib/modules", "usr/lib/modules"}) {
    fs::path p = fs::path(dir) / sub;
    std::error_code ec;
    if (!fs::is_directory(p, ec)) continue;
    for (const auto& e : fs::directory_iterator(p)) return e.path().string();
  }
  return "";
}

// modinfo prints sig_key as "66:F5:4E:..."; module_signature gives lowercase hex.
std::string colon_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    if (i) out += ':';
    out += static_cast<char>(std::toupper(hex[i]));
    out += static_cast<char>(std::toupper(hex[i + 1]));
  }
  return out;
}

std::string modinfo_field(const std::string& file, const std::string& field) {
  return trim(shell("modinfo -F " + field + " '" + file + "'"));
}

// The module's bytes as the kernel checks the signature on: decompressed.
std::vector<std::uint8_t> payload(const std::string& path) {
  auto bytes = read_bytes(path);
  Compression c = compression_from_name(path);
  if (c == Compression::kNone) return bytes;
  auto d = decompress(bytes, c);
  EXPECT_TRUE(d.ok()) << path;
  return d.ok() ? *d : std::vector<std::uint8_t>();
}

std::string find_module(const std::string& tree, const std::string& name) {
  for (const auto& e : fs::recursive_directory_iterator(tree)) {
    std::string f = e.path().filename().string();
    if (f.rfind(name + ".ko", 0) == 0) return e.path().string();
  }
  return "";
}

class KernelTree : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    tree_ = module_tree(GetParam());
    ASSERT_FALSE(tree_.empty()) << "fetch-kernel " << GetParam() << " gave no module tree";
  }
  std::string tree_;
};

TEST_P(KernelTree, SignatureDetailsMatchModinfo) {
  std::vector<std::string> all;
  for (const auto& e : fs::recursive_directory_iterator(tree_))
    if (e.path().string().find(".ko") != std::string::npos) all.push_back(e.path().string());
  std::sort(all.begin(), all.end());
  ASSERT_GT(all.size(), 1000u);
  int checked = 0;
  for (std::size_t i = 0; i < all.size(); i += 500, ++checked) {
    auto s = module_signature(payload(all[i]));
    ASSERT_TRUE(s.ok()) << all[i] << ": " << s.error().message;
    ASSERT_TRUE(s->has_value()) << all[i] << " unsigned";
    EXPECT_EQ((*s)->signer, modinfo_field(all[i], "signer")) << all[i];
    EXPECT_EQ(colon_hex((*s)->key_id), modinfo_field(all[i], "sig_key")) << all[i];
    EXPECT_EQ((*s)->hash_algorithm, modinfo_field(all[i], "sig_hashalgo")) << all[i];
  }
  EXPECT_GE(checked, 3);
}

// A fake /proc listing real modules, read against the real tree: Debian's own are signed by
// its build key; the stripped and the SHA-1 re-signed copies are flagged.
TEST_P(KernelTree, AuditFlagsStrippedAndResignedCopiesOfRealModules) {
  TempDir root;
  std::string minix = find_module(tree_, "minix");
  ASSERT_FALSE(minix.empty());
  auto plain = strip(payload(minix));
  fs::path extra = root.path() / "extra";
  fs::create_directories(extra);
  fs::create_directories(root.path() / "proc/sys/kernel");
  write_file(extra / "minix_bare.ko", std::string(plain.begin(), plain.end()));
  Signer signer(root.path());
  signer.sign(extra / "minix_bare.ko", extra / "minix_sha1.ko", "sha1");
  // The copies live in a tree of their own (no modules.dep: the audit walks it); the real
  // module is audited against Debian's tree below.
  write_file(root.path() / "proc/sys/kernel/tainted", "0\n");
  write_file(root.path() / "proc/modules",
             "minix 45056 0 - Live 0xffffffffc0000000\n"
             "minix_bare 45056 0 - Live 0xffffffffc0000000\n"
             "minix_sha1 45056 0 - Live 0xffffffffc0000000\n");
  AuditOptions o;
  o.root = root.path().string();
  o.modules_dir = extra.string();
  auto r = run_audit(o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto find = [&](const std::string& n) -> const AuditModule& {
    for (const auto& m : r->modules)
      if (m.name == n) return m;
    throw std::runtime_error(n + " missing");
  };
  EXPECT_THAT(find("minix_bare").findings, ElementsAre("unsigned"));
  EXPECT_THAT(find("minix_sha1").findings, ElementsAre("weak-signature-hash"));
  EXPECT_EQ(find("minix_sha1").signature->signer, "modgate audit key");

  o.modules_dir = tree_;
  auto real = run_audit(o);
  ASSERT_TRUE(real.ok()) << real.error().message;
  const AuditModule* m = nullptr;
  for (const auto& x : real->modules)
    if (x.name == "minix") m = &x;
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->signature.has_value()) << m->file_error.value_or("");
  EXPECT_EQ(m->signature->signer, "Build time autogenerated kernel key");
  EXPECT_EQ(m->signature->hash_algorithm, "sha256");
  EXPECT_TRUE(m->findings.empty());
  std::size_t builtin = 0;
  for (const auto& x : real->modules) builtin += x.builtin;
  EXPECT_GT(builtin, 100u);
}

INSTANTIATE_TEST_SUITE_P(Debian, KernelTree, ::testing::Values("bookworm", "trixie"));

}  // namespace
}  // namespace modgate::policy
