// SPDX-License-Identifier: Apache-2.0
// `modgate policy init`: a first policy from a module tree, every module file hashed as the kernel
// will see it (docs/policy.md, "Generating a policy").
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.h"

namespace modgate::policy {

struct InitOptions {
  std::string root;                   // e.g. /lib/modules/6.1.0-18-amd64
  std::optional<std::string> kernel;  // release for 'kernels:'; else inferred from vermagic
  Mode mode = Mode::kDryRun;
  unsigned threads = 0;  // 0: one per CPU
};

struct InitReport {
  Policy policy;
  std::size_t files = 0;              // module files found (including those with problems)
  std::vector<std::string> problems;  // "PATH: message", sorted by path
};

// The entries one module file contributes: one for a plain .ko; for a compressed one, the file's
// hash and the decompressed payload's hash, under the same name. `rel` is the path recorded.
Result<std::vector<ModuleEntry>> module_file_entries(const std::string& path,
                                                     const std::string& rel);

// The same from a module file's bytes already in memory (policy/package.cpp reads them out of a
// package); `name` is the file's name, which tells its compression.
Result<std::vector<ModuleEntry>> module_bytes_entries(std::span<const std::uint8_t> file,
                                                      const std::string& name,
                                                      const std::string& rel);

// *.ko, *.ko.xz, *.ko.zst, *.ko.gz: the names policy init hashes.
bool is_module_file_name(std::string_view name);

// "a directory", "a FIFO", ...: what a file named like a module is instead of a regular file.
std::string file_type_name(mode_t mode);

// One module file's outcome, for assemble_report.
struct ScannedFile {
  std::string rel;    // path recorded in its entries (relative to the module tree)
  std::string shown;  // how problems name it
  Result<std::vector<ModuleEntry>> entries;
};

// The report from every module file's outcome, however they were read: entries ordered by name
// and path, the same bytes kept once, 'kernels' from options.kernel or the modules' vermagic.
// `problems` are those found before hashing (unreadable directories, say).
InitReport assemble_report(std::vector<ScannedFile> files, std::vector<std::string> problems,
                           const InitOptions& options);

// Walks root for *.ko, *.ko.xz, *.ko.zst, *.ko.gz (directory symlinks are not followed). Files that
// cannot be read or are not modules become problems; the walk goes on. Fails only when root
// itself cannot be walked or holds no module file at all.
Result<InitReport> scan_module_tree(const InitOptions& options);

// YAML text for p, every string double-quoted, that parse_policy reads back to the same digest.
// `header` lines are written as comments first.
std::string policy_to_yaml(const Policy& p, const std::vector<std::string>& header);

}  // namespace modgate::policy
