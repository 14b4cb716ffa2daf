// SPDX-License-Identifier: Apache-2.0
// `modgate policy init`: a first policy from a module tree, every module file hashed as the kernel
// will see it (docs/policy.md, "Generating a policy").
#pragma once

#include <cstddef>
#include <optional>
#include <string>
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

// Walks root for *.ko, *.ko.xz, *.ko.zst, *.ko.gz (directory symlinks are not followed). Files that
// cannot be read or are not modules become problems; the walk goes on. Fails only when root
// itself cannot be walked or holds no module file at all.
Result<InitReport> scan_module_tree(const InitOptions& options);

// YAML text for p, every string double-quoted, that parse_policy reads back to the same digest.
// `header` lines are written as comments first.
std::string policy_to_yaml(const Policy& p, const std::vector<std::string>& header);

}  // namespace modgate::policy
