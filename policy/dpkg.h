// SPDX-License-Identifier: Apache-2.0
// What dpkg recorded about a module tree's files (each package's md5sums, as `dpkg --verify`
// reads them): a kernel hook adds only the files a Debian package installed, as it installed them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "policy/init.h"
#include "policy/result.h"

namespace modgate::policy {

struct DpkgFile {
  std::string package;
  std::array<std::uint8_t, 16> md5{};
};

// Path in package form ("lib/modules/REL/kernel/fs/ext4/ext4.ko.xz"; a merged-/usr package's
// "usr/lib/modules/..." is recorded under the same key) -> what dpkg recorded for it.
using DpkgRecords = std::unordered_map<std::string, DpkgFile>;

// Reads ADMIN_DIR/info/*.md5sums, keeping only the files under lib/modules/RELEASE/. A malformed
// md5sums line is an error naming the file and line: a record that cannot be read vouches for
// nothing.
Result<DpkgRecords> read_dpkg_md5sums(const std::string& admin_dir, const std::string& release);

// Leaves in report only the entries of files whose bytes match what dpkg recorded. Each file is
// read once more and its MD5 and SHA-256 taken from the same bytes, so a file swapped after the
// scan is caught by its SHA-256 rather than vouched for by the MD5 of its replacement. Every file
// left out becomes a problem (not installed by a package, differs from its record, changed while
// read); the digest is recomputed. root is the tree the report was scanned from, named after its
// release.
void keep_dpkg_verified(InitReport& report, const std::string& root, const DpkgRecords& records);

}  // namespace modgate::policy
