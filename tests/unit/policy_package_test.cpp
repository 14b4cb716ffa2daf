// SPDX-License-Identifier: Apache-2.0
// policy init --from-package on small packages built here with dpkg-deb: the same policy as the
// unpacked tree, and clear errors for what is not a readable Debian package.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "policy/init.h"
#include "policy/package.h"
#include "policy_test_util.h"

namespace modgate::policy {
namespace {

namespace fs = std::filesystem;
using ::modgate::policy::testing::data_path;
using ::modgate::policy::testing::run_shell;
using ::modgate::policy::testing::slurp;
using ::modgate::policy::testing::TempDir;
using ::modgate::policy::testing::write_file;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string mod(const std::string& f) { return data_path("modules/" + f); }

class PolicyPackage : public ::testing::Test {
 protected:
  // A package root with DEBIAN/control; dpkg-deb packs the rest.
  fs::path package_root(const std::string& name) {
    fs::path root = t_.path() / name;
    fs::create_directories(root / "DEBIAN");
    write_file(root / "DEBIAN/control", "Package: " + name +
                                            "\nVersion: 1\nArchitecture: amd64\n"
                                            "Maintainer: modgate tests <t@example.org>\n"
                                            "Description: test package\n");
    return root;
  }

  // The fake modules of policy_init_test's tree, under DIR: plain, signed, compressed three ways,
  // a duplicate, a symlink (skipped in a package; the tree walk hashes its target, the same bytes).
  static void modules_into(const fs::path& dir) {
    fs::create_directories(dir / "kernel/fs/a");
    fs::create_directories(dir / "kernel/drivers/b");
    fs::create_directories(dir / "updates");
    fs::copy_file(mod("fake_plain.ko"), dir / "kernel/fs/a/fake_plain.ko");
    fs::copy_file(mod("fake_signed.ko.xz"), dir / "kernel/drivers/b/fake_signed.ko.xz");
    fs::copy_file(mod("fake_signed.ko.zst"), dir / "updates/other.ko.zst");
    fs::copy_file(mod("fake_keyid.ko"), dir / "updates/fake_keyid.ko");
    fs::copy_file(mod("fake-dash.ko"), dir / "kernel/fs/a/fake-dash.ko");
    fs::copy_file(mod("fake_signed.ko"), dir / "updates/fake_signed.ko");
    fs::create_symlink("../kernel/fs/a/fake_plain.ko", dir / "updates/link.ko");
    write_file(dir / "modules.order", "kernel/fs/a/fake_plain.ko\n");
  }

  std::string build(const fs::path& root, const std::string& compression = "gzip") {
    std::string deb = root.string() + ".deb";
    auto r = run_shell("dpkg-deb --root-owner-group -Z" + compression + " --build '" +
                           root.string() + "' '" + deb + "'",
                       t_);
    EXPECT_EQ(r.rc, 0) << r.err;
    return deb;
  }

  static std::string yaml_of(const Result<InitReport>& r) {
    return r ? policy_to_yaml(r->policy, {}) : "error: " + r.error().message;
  }

  // An ar archive of the given members, as dpkg-deb writes one.
  std::string ar(const std::string& name,
                 const std::vector<std::pair<std::string, std::string>>& members) {
    std::string out = "!<arch>\n";
    for (const auto& [member, data] : members) {
      char header[61];
      std::snprintf(header, sizeof header, "%-16s%-12s%-6s%-6s%-8s%-10zu`\n", member.c_str(), "0",
                    "0", "0", "100644", data.size());
      out += std::string(header, 60) + data;
      if (data.size() % 2) out += '\n';
    }
    std::string path = t_ / name;
    write_file(path, out);
    return path;
  }

  TempDir t_;
};

TEST_F(PolicyPackage, SameEntriesAsTheUnpackedTree) {
  for (std::string compression : {"gzip", "xz", "zstd", "none"}) {
    SCOPED_TRACE(compression);
    fs::path root = package_root("linux-image-6.1.0-test-" + compression);
    modules_into(root / "lib/modules/6.1.0-test");
    std::string deb = build(root, compression);
    auto tree = scan_module_tree(
        {(root / "lib/modules/6.1.0-test").string(), std::nullopt, Mode::kDryRun, 2});
    auto pkg = scan_packages({deb}, {"", std::nullopt, Mode::kDryRun, 2});
    ASSERT_TRUE(pkg.ok()) << pkg.error().message;
    EXPECT_TRUE(pkg->problems.empty()) << pkg->problems[0];
    EXPECT_EQ(pkg->files, 6u);  // the symlink left out
    EXPECT_EQ(yaml_of(pkg), yaml_of(tree));
    EXPECT_EQ(pkg->policy.digest, tree->policy.digest);
    EXPECT_EQ(pkg->policy.kernels, std::vector<std::string>{"6.1.0-test"});
  }
}

TEST_F(PolicyPackage, MergedUsrSplitOverPackagesAndKernelOption) {
  fs::path modules = package_root("linux-modules-7.0.0-test");
  modules_into(modules / "usr/lib/modules/7.0.0-test");
  fs::path base = package_root("linux-base-7.0.0-test");
  fs::create_directories(base / "usr/lib/modules/7.0.0-test");
  write_file(base / "usr/lib/modules/7.0.0-test/modules.builtin", "kernel/fs/ext4/ext4.ko\n");
  std::vector<std::string> debs{build(modules, "xz"), build(base, "xz")};
  InitOptions o{"", "7.0.0-test", Mode::kEnforce, 1};
  auto pkg = scan_packages(debs, o);
  o.root = (modules / "usr/lib/modules/7.0.0-test").string();
  auto tree = scan_module_tree(o);
  ASSERT_TRUE(pkg.ok()) << pkg.error().message;
  EXPECT_EQ(yaml_of(pkg), yaml_of(tree));
  EXPECT_EQ(pkg->policy.kernels, std::vector<std::string>{"7.0.0-test"});
}

TEST_F(PolicyPackage, BadModuleIsAProblemNamingPackageAndPath) {
  fs::path root = package_root("linux-image-6.1.0-bad");
  fs::path dir = root / "lib/modules/6.1.0-bad/kernel";
  fs::create_directories(dir);
  fs::copy_file(mod("fake_plain.ko"), dir / "fake_plain.ko");
  fs::copy_file(mod("not_a_module.o"), dir / "broken.ko");
  fs::copy_file(mod("truncated.ko.xz"), dir / "short.ko.xz");
  std::string deb = build(root);
  auto r = scan_packages({deb}, {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->files, 3u);
  ASSERT_EQ(r->problems.size(), 2u);
  EXPECT_THAT(r->problems[0],
              StartsWith(deb + ": lib/modules/6.1.0-bad/kernel/broken.ko: has no .modinfo"));
  EXPECT_THAT(r->problems[1], StartsWith(deb + ": lib/modules/6.1.0-bad/kernel/short.ko.xz: "));
  ASSERT_EQ(r->policy.modules.size(), 1u);
  EXPECT_EQ(r->policy.modules[0].path, "kernel/fake_plain.ko");
}

TEST_F(PolicyPackage, NotAnArchive) {
  std::string f = t_ / "notes.deb";
  write_file(f, "just some text, long enough to look like a file of some kind\n");
  auto r = scan_packages({f}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, f + ": not a Debian package (not an ar archive)");
}

TEST_F(PolicyPackage, MissingFile) {
  std::string f = t_ / "absent.deb";
  auto r = scan_packages({f}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, StartsWith(f + ": "));
  EXPECT_THAT(r.error().message, HasSubstr("No such file"));
}

TEST_F(PolicyPackage, ArchiveWithoutDataTar) {
  auto r = scan_packages({ar("nodata.deb", {{"debian-binary", "2.0\n"}, {"control.tar", ""}})}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, (t_ / "nodata.deb") + ": not a Debian package (no data.tar member)");
  auto other = scan_packages({ar("lib.a", {{"x.o", "abc"}})}, {});
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().message, (t_ / "lib.a") +
                                       ": not a Debian package (its first member is 'x.o', not "
                                       "debian-binary)");
}

TEST_F(PolicyPackage, TruncatedOrCorruptDataTar) {
  fs::path root = package_root("linux-image-6.1.0-cut");
  modules_into(root / "lib/modules/6.1.0-cut");
  std::string deb = build(root, "xz");
  std::string bytes = slurp(deb);
  std::string cut = t_ / "cut.deb";
  write_file(cut, bytes.substr(0, bytes.size() - 3000));
  auto r = scan_packages({cut}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, StartsWith(cut + ": "));

  // Flipped bytes in the middle of data.tar.xz: the xz check fails.
  std::string bad = t_ / "bad.deb";
  for (std::size_t i = bytes.size() / 2; i < bytes.size() / 2 + 64; i++) bytes[i] ^= 0x5a;
  write_file(bad, bytes);
  auto b = scan_packages({bad}, {});
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.error().message, StartsWith(bad + ": "));
}

TEST_F(PolicyPackage, NoModuleFiles) {
  fs::path root = package_root("linux-doc");
  fs::create_directories(root / "usr/share/doc/linux-doc");
  write_file(root / "usr/share/doc/linux-doc/README", "nothing here\n");
  // A module outside any release's tree is not one.
  fs::create_directories(root / "usr/lib/modules");
  fs::copy_file(mod("fake_plain.ko"), root / "usr/lib/modules/fake_plain.ko");
  std::string deb = build(root);
  auto r = scan_packages({deb}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, StartsWith(deb + ": no module files"));
}

TEST_F(PolicyPackage, TwoReleasesAreRefused) {
  fs::path a = package_root("linux-image-6.1.0-a");
  fs::create_directories(a / "lib/modules/6.1.0-a/kernel");
  fs::copy_file(mod("fake_plain.ko"), a / "lib/modules/6.1.0-a/kernel/fake_plain.ko");
  fs::path b = package_root("linux-modules-7.0.0-b");
  fs::create_directories(b / "usr/lib/modules/7.0.0-b/kernel");
  fs::copy_file(mod("fake_keyid.ko"), b / "usr/lib/modules/7.0.0-b/kernel/fake_keyid.ko");
  std::string da = build(a), db = build(b);
  auto r = scan_packages({da, db}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "module files of two kernel releases: 6.1.0-a (" + da +
                                   ") and 7.0.0-b (" + db + "); give the packages of one release");
}

}  // namespace
}  // namespace modgate::policy
