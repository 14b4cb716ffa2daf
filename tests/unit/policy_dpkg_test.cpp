// SPDX-License-Identifier: Apache-2.0
// policy/dpkg.h: `policy init --verify-dpkg` lists only the files dpkg installed as it recorded
// them, as the kernel hooks rely on (docs/rollout.md). The real dpkg side is tests/boot's
// kernel-upgrade test; this one covers each way a file is left out.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "policy/dpkg.h"
#include "policy/init.h"
#include "policy_test_util.h"

namespace modgate::policy {
namespace {

namespace fs = std::filesystem;
using ::modgate::policy::testing::data_path;
using ::modgate::policy::testing::TempDir;
using ::modgate::policy::testing::write_file;
using ::testing::HasSubstr;

std::string md5_of(const fs::path& p) {
  std::unique_ptr<FILE, decltype(&pclose)> f(popen(("md5sum '" + p.string() + "'").c_str(), "r"),
                                             pclose);
  std::array<char, 33> hex{};
  if (!f || fread(hex.data(), 1, 32, f.get()) != 32) return "";
  return std::string(hex.data(), 32);
}

struct Host {
  TempDir t;
  fs::path tree = t.path() / "lib/modules/6.1.0-test";
  fs::path admin = t.path() / "dpkg";
  Host() {
    fs::create_directories(tree / "kernel/fs");
    fs::create_directories(tree / "updates/dkms");
    fs::create_directories(admin / "info");
    fs::copy_file(data_path("modules/fake_plain.ko"), tree / "kernel/fs/fake_plain.ko");
    fs::copy_file(data_path("modules/fake_signed.ko.xz"), tree / "kernel/fs/fake_signed.ko.xz");
  }
  std::string line(const std::string& rel, const std::string& prefix = "lib/modules/6.1.0-test/") {
    return md5_of(tree / rel) + "  " + prefix + rel + "\n";
  }
  InitReport verified() {
    auto r = scan_module_tree({tree.string(), std::nullopt, Mode::kDryRun, 1});
    EXPECT_TRUE(r.ok()) << r.error().message;
    auto records = read_dpkg_md5sums(admin.string(), "6.1.0-test");
    EXPECT_TRUE(records.ok()) << records.error().message;
    keep_dpkg_verified(*r, tree.string(), *records);
    return *r;
  }
};

TEST(PolicyDpkg, FilesInstalledAsRecordedAreAllKept) {
  Host h;
  write_file(h.admin / "info/linux-image-6.1.0-test.md5sums",
             h.line("kernel/fs/fake_plain.ko") + h.line("kernel/fs/fake_signed.ko.xz") +
                 "d41d8cd98f00b204e9800998ecf8427e  usr/share/doc/x/changelog.gz\n");
  auto r = h.verified();
  EXPECT_TRUE(r.problems.empty()) << r.problems[0];
  EXPECT_EQ(r.policy.modules.size(), 3u) << "plain, compressed file and its payload";
  auto again = scan_module_tree({h.tree.string(), std::nullopt, Mode::kDryRun, 1});
  EXPECT_EQ(r.policy.digest, again->policy.digest);
}

TEST(PolicyDpkg, AMergedUsrRecordVouchesForTheSameFile) {
  Host h;
  write_file(h.admin / "info/linux-modules-7.3.md5sums",
             h.line("kernel/fs/fake_plain.ko", "usr/lib/modules/6.1.0-test/") +
                 h.line("kernel/fs/fake_signed.ko.xz", "usr/lib/modules/6.1.0-test/"));
  EXPECT_TRUE(h.verified().problems.empty());
}

TEST(PolicyDpkg, AFileThatDiffersFromItsRecordIsLeftOutNamingThePackage) {
  Host h;
  write_file(h.admin / "info/linux-image-6.1.0-test.md5sums",
             h.line("kernel/fs/fake_plain.ko") +
                 "0123456789abcdef0123456789abcdef  lib/modules/6.1.0-test/kernel/fs/"
                 "fake_signed.ko.xz\n");
  auto r = h.verified();
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_THAT(r.problems[0], HasSubstr("fake_signed.ko.xz: differs from what dpkg recorded for "
                                       "package linux-image-6.1.0-test"));
  ASSERT_EQ(r.policy.modules.size(), 1u) << "neither the file's entry nor its payload's stays";
  EXPECT_EQ(r.policy.modules[0].name, "fake_plain");
  auto back = parse_policy(policy_to_yaml(r.policy, {}), "v.yaml");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->digest, r.policy.digest) << "the digest describes what is left";
}

TEST(PolicyDpkg, AFileNoPackageInstalledIsLeftOut) {
  Host h;
  fs::copy_file(data_path("modules/fake_keyid.ko"), h.tree / "updates/dkms/fake_keyid.ko");
  write_file(h.admin / "info/linux-image-6.1.0-test.md5sums",
             h.line("kernel/fs/fake_plain.ko") + h.line("kernel/fs/fake_signed.ko.xz"));
  auto r = h.verified();
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_THAT(r.problems[0], HasSubstr("updates/dkms/fake_keyid.ko: not installed by any Debian "
                                       "package"));
  EXPECT_EQ(r.policy.modules.size(), 3u);
}

TEST(PolicyDpkg, AFileSwappedAfterTheScanIsCaughtByItsSha256) {
  Host h;
  auto r = scan_module_tree({h.tree.string(), std::nullopt, Mode::kDryRun, 1});
  ASSERT_TRUE(r.ok());
  // The attacker swaps in other bytes, and dpkg's record happens to describe them: the MD5
  // matches, the hash the scan listed does not.
  fs::copy_file(data_path("modules/fake_keyid.ko"), h.tree / "kernel/fs/fake_plain.ko",
                fs::copy_options::overwrite_existing);
  write_file(h.admin / "info/linux-image-6.1.0-test.md5sums",
             h.line("kernel/fs/fake_plain.ko") + h.line("kernel/fs/fake_signed.ko.xz"));
  auto records = read_dpkg_md5sums(h.admin.string(), "6.1.0-test");
  ASSERT_TRUE(records.ok());
  keep_dpkg_verified(*r, h.tree.string(), *records);
  ASSERT_EQ(r->problems.size(), 1u);
  EXPECT_THAT(r->problems[0], HasSubstr("fake_plain.ko: changed while it was being read"));
}

TEST(PolicyDpkg, AMalformedRecordIsAnErrorNamingFileAndLine) {
  Host h;
  write_file(h.admin / "info/linux-image-6.1.0-test.md5sums",
             h.line("kernel/fs/fake_plain.ko") + "not a line\n");
  auto records = read_dpkg_md5sums(h.admin.string(), "6.1.0-test");
  ASSERT_FALSE(records.ok());
  EXPECT_THAT(records.error().message,
              HasSubstr("linux-image-6.1.0-test.md5sums:2: not an md5sums"));
  write_file(h.admin / "info/linux-image-6.1.0-test.md5sums",
             "0123456789abcdef0123456789abcdeX  lib/modules/6.1.0-test/kernel/fs/fake_plain.ko\n");
  records = read_dpkg_md5sums(h.admin.string(), "6.1.0-test");
  ASSERT_FALSE(records.ok());
  EXPECT_THAT(records.error().message, HasSubstr(":1: '0123456789abcdef0123456789abcdeX' is not"));
  auto missing = read_dpkg_md5sums((h.t.path() / "nowhere").string(), "6.1.0-test");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("--dpkg-admindir"));
}

}  // namespace
}  // namespace modgate::policy
