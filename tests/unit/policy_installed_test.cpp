// SPDX-License-Identifier: Apache-2.0
// policy/installed.h: which installed kernels the next boot may run without the policy naming
// them (status's kernels.not_covered, docs/rollout.md).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "policy/installed.h"
#include "policy_test_util.h"

namespace modgate::policy {
namespace {

namespace fs = std::filesystem;
using ::modgate::policy::testing::parsed;
using ::modgate::policy::testing::TempDir;
using ::modgate::policy::testing::write_file;

void installed(const fs::path& modules, const std::string& release, bool depmod_ran = true) {
  fs::create_directories(modules / release / "kernel");
  if (depmod_ran) write_file(modules / release / "modules.dep", "");
}

TEST(PolicyInstalled, NamesInstalledReleasesThePolicyDoesNotMatch) {
  TempDir t;
  installed(t.path(), "6.1.0-57-amd64");
  installed(t.path(), "6.1.0-58-amd64");
  installed(t.path(), "6.12.95+deb12-amd64");
  installed(t.path(), "7.3.4+deb13-amd64");
  // What a removed kernel leaves behind when DKMS modules keep its directory: no modules.dep.
  installed(t.path(), "6.1.0-40-amd64", false);
  auto p = parsed("version: 1\nmode: dry-run\nkernels: [\"6.1.0-*-amd64\"]\nmodules: []\n");
  auto r = installed_kernels_not_covered(p, t.path().string(), "6.1.0-57-amd64");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, (std::vector<std::string>{"6.12.95+deb12-amd64", "7.3.4+deb13-amd64"}));
  // The running kernel is not the next boot's question, even when the policy misses it (the
  // fallback says that one).
  auto other = parsed("version: 1\nmode: dry-run\nkernels: [\"7.3.*\"]\nmodules: []\n");
  auto r2 = installed_kernels_not_covered(other, t.path().string(), "6.1.0-57-amd64");
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(*r2, (std::vector<std::string>{"6.1.0-58-amd64", "6.12.95+deb12-amd64"}));
}

TEST(PolicyInstalled, APolicyForEveryKernelNamesThemAll) {
  TempDir t;
  installed(t.path(), "6.12.95+deb12-amd64");
  auto p = parsed("version: 1\nmode: dry-run\nmodules: []\n");
  auto r = installed_kernels_not_covered(p, t.path().string(), "6.1.0-57-amd64");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(PolicyInstalled, AnUnreadableDirectoryIsAnError) {
  TempDir t;
  auto p = parsed("version: 1\nmode: dry-run\nmodules: []\n");
  auto r = installed_kernels_not_covered(p, (t.path() / "none").string(), "x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("none"), std::string::npos);
}

}  // namespace
}  // namespace modgate::policy
