// SPDX-License-Identifier: Apache-2.0
// Several policies as one (`modgate policy merge`): the allowlist of each kernel's tree, built
// separately by `policy init`, becomes the one policy a fleet signs (docs/policy.md).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "policy/policy.h"
#include "policy/result.h"

namespace modgate::policy {

struct MergeOptions {
  // The first input's settings win and the others add only entries and kernels: how a kernel
  // hook adds a new tree's `policy init` output to the operator's policy, whose mode, autoload
  // and flags init knows nothing about.
  bool settings_from_first = false;
};

struct MergeInput {
  std::string file;  // for messages
  Policy policy;
};

// Entries are the union by (name, sha256), in input order, an exact repeat dropped (the first
// one's descriptive fields kept); kernels are the union, or every kernel when any input applies
// to every kernel. Every other setting (mode, rollout, autoload, flags, which sections exist)
// must be the same in all inputs: merging cannot choose between them, so a difference is an
// error naming both files. The version is one above the highest input's; the digest is filled.
Result<Policy> merge_policies(const std::vector<MergeInput>& inputs, MergeOptions options = {});

struct PruneResult {
  Policy policy;
  std::size_t entries_removed = 0;
  std::vector<std::string> kernels_removed;  // the kernels: items dropped
};

// Drops what a policy holds for the kernels `releases` (uname -r globs) match: the module entries
// whose vermagic names such a release, and the kernels: items they match. Entries without a
// vermagic (written by hand, or firmware and kexec images) say nothing about a kernel and stay;
// a kernels: glob that a release only falls under stays too, since it may cover others. Refused
// when nothing matches (the caller named a kernel the policy does not hold), and when the
// policy named kernels and would be left naming none: an empty kernels: means every kernel.
// The version is one above the input's; the digest is filled.
Result<PruneResult> prune_kernels(const Policy& policy, const std::vector<std::string>& releases);

}  // namespace modgate::policy
