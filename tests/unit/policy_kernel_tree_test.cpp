// SPDX-License-Identifier: Apache-2.0
// policy init against Debian's real module trees (scripts/vm/fetch-kernel; cached after the first
// download): hashes cross-checked with sha256sum and xz, metadata with modinfo(8).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "policy/init.h"
#include "policy/package.h"
#include "policy/policy.h"

namespace modgate::policy {
namespace {

namespace fs = std::filesystem;

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

// Where fetch-kernel unpacked a Debian kernel's packages (and kept the .debs, in .debs/).
std::string fetched(const std::string& suite) {
  return trim(shell(std::string(MODGATE_SOURCE_DIR) + "/scripts/vm/fetch-kernel " + suite));
}

// The module tree of a fetched Debian kernel: lib/modules/RELEASE, or usr/lib/modules/RELEASE on
// merged-/usr releases (trixie).
std::string module_tree(const std::string& suite) {
  std::string dir = fetched(suite);
  for (const char* sub : {"lib/modules", "usr/lib/modules"}) {
    fs::path p = fs::path(dir) / sub;
    std::error_code ec;
    if (!fs::is_directory(p, ec)) continue;
    for (const auto& e : fs::directory_iterator(p)) return e.path().string();
  }
  return "";
}

// Every 800th module file in path order: a handful spread over the tree.
std::vector<std::string> sample(const std::string& root, const std::string& suffix) {
  std::vector<std::string> all;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    std::string p = e.path().string();
    if (p.size() > suffix.size() && p.substr(p.size() - suffix.size()) == suffix) all.push_back(p);
  }
  std::sort(all.begin(), all.end());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < all.size(); i += 800) out.push_back(all[i]);
  return out;
}

std::string sum_of(const std::string& cmd) { return shell(cmd + " | sha256sum").substr(0, 64); }

TEST(PolicyKernelTree, BookwormPlainModulesMatchSha256sumAndModinfo) {
  std::string root = module_tree("bookworm");
  ASSERT_FALSE(root.empty()) << "fetch-kernel bookworm gave no module tree";
  auto files = sample(root, ".ko");
  ASSERT_GE(files.size(), 4u);
  for (const auto& f : files) {
    auto e = module_file_entries(f, f);
    ASSERT_TRUE(e.ok()) << f << ": " << e.error().message;
    ASSERT_EQ(e->size(), 1u);
    EXPECT_EQ(to_hex((*e)[0].sha256), shell("sha256sum '" + f + "'").substr(0, 64)) << f;
    EXPECT_EQ((*e)[0].name, trim(shell("/sbin/modinfo -F name '" + f + "'"))) << f;
    EXPECT_EQ((*e)[0].vermagic.value_or(""), shell("/sbin/modinfo -F vermagic '" + f + "'")
                                                 .substr(0, (*e)[0].vermagic.value_or("").size()))
        << f;
    EXPECT_EQ((*e)[0].signer.value_or(""), trim(shell("/sbin/modinfo -F signer '" + f + "'"))) << f;
  }
}

TEST(PolicyKernelTree, TrixieXzModulesMatchFileAndPayloadSums) {
  std::string root = module_tree("trixie");
  ASSERT_FALSE(root.empty()) << "fetch-kernel trixie gave no module tree";
  auto files = sample(root, ".ko.xz");
  ASSERT_GE(files.size(), 4u);
  for (const auto& f : files) {
    auto e = module_file_entries(f, f);
    ASSERT_TRUE(e.ok()) << f << ": " << e.error().message;
    ASSERT_EQ(e->size(), 2u);
    EXPECT_EQ(to_hex((*e)[0].sha256), shell("sha256sum '" + f + "'").substr(0, 64)) << f;
    EXPECT_EQ(to_hex((*e)[1].sha256), sum_of("xz -dc '" + f + "'")) << f;
    EXPECT_EQ((*e)[1].name, trim(shell("/sbin/modinfo -F name '" + f + "'"))) << f;
  }
}

void whole_tree(const std::string& suite, std::size_t entries_per_file) {
  std::string root = module_tree(suite);
  ASSERT_FALSE(root.empty());
  auto r = scan_module_tree({root, std::nullopt, Mode::kDryRun, 0});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->problems.empty()) << r->problems.size() << " problems, first: " << r->problems[0];
  EXPECT_GT(r->files, 3000u);
  EXPECT_EQ(r->policy.modules.size(), r->files * entries_per_file);
  EXPECT_EQ(r->policy.kernels, std::vector<std::string>{fs::path(root).filename().string()});
  for (const auto& m : r->policy.modules) ASSERT_TRUE(m.signer.has_value()) << m.name;
  auto back = parse_policy(policy_to_yaml(r->policy, {}), suite + ".yaml");
  ASSERT_TRUE(back.ok()) << back.error().message.substr(0, 2000);
  EXPECT_EQ(back->digest, r->policy.digest);
}

TEST(PolicyKernelTree, WholeBookwormTree) { whole_tree("bookworm", 1); }
TEST(PolicyKernelTree, WholeTrixieTree) { whole_tree("trixie", 2); }

// policy init --from-package on every package fetch-kernel kept against --from on what dpkg -x
// unpacked from them: the same entries, field for field and in the same order.
void package_matches_tree(const std::string& suite) {
  std::string root = module_tree(suite);
  ASSERT_FALSE(root.empty());
  std::vector<std::string> debs;
  for (const auto& e : fs::directory_iterator(fs::path(fetched(suite)) / ".debs"))
    debs.push_back(e.path().string());
  ASSERT_FALSE(debs.empty());
  std::sort(debs.begin(), debs.end());
  auto pkg = scan_packages(debs, {"", std::nullopt, Mode::kDryRun, 0});
  ASSERT_TRUE(pkg.ok()) << pkg.error().message;
  auto tree = scan_module_tree({root, std::nullopt, Mode::kDryRun, 0});
  ASSERT_TRUE(tree.ok()) << tree.error().message;
  EXPECT_TRUE(pkg->problems.empty()) << pkg->problems[0];
  EXPECT_EQ(pkg->files, tree->files);
  const auto& a = pkg->policy.modules;
  const auto& b = tree->policy.modules;
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); i++) {
    auto fields = [](const ModuleEntry& m) {
      return std::tie(m.name, m.sha256, m.version, m.vermagic, m.signer, m.path, m.note);
    };
    ASSERT_TRUE(fields(a[i]) == fields(b[i]))
        << "entry " << i << ": " << a[i].name << " " << a[i].path.value_or("") << " vs "
        << b[i].name << " " << b[i].path.value_or("");
  }
  EXPECT_EQ(pkg->policy.kernels, std::vector<std::string>{fs::path(root).filename().string()});
  EXPECT_EQ(pkg->policy.kernels, tree->policy.kernels);
  EXPECT_EQ(pkg->policy.digest, tree->policy.digest);
  EXPECT_EQ(policy_to_yaml(pkg->policy, {}), policy_to_yaml(tree->policy, {}));
}

// linux-image-6.1.0-57-amd64: lib/modules, plain .ko, data.tar.xz.
TEST(PolicyKernelTree, BookwormPackageMatchesTree) { package_matches_tree("bookworm"); }
// linux-modules-7.3.4+deb13-amd64 (with linux-image, -binary and -base, which add nothing):
// usr/lib/modules, .ko.xz.
TEST(PolicyKernelTree, TrixieBackportsPackagesMatchTree) { package_matches_tree("trixie-bpo"); }

}  // namespace
}  // namespace modgate::policy
