// SPDX-License-Identifier: Apache-2.0
// Several policies as one (`modgate policy merge`): the allowlist of each kernel's tree, built
// separately by `policy init`, becomes the one policy a fleet signs (docs/policy.md).
#pragma once

#include <string>
#include <vector>

#include "policy/policy.h"
#include "policy/result.h"

namespace modgate::policy {

struct MergeInput {
  std::string file;  // for messages
  Policy policy;
};

// Entries are the union by (name, sha256), in input order, an exact repeat dropped (the first
// one's descriptive fields kept); kernels are the union, or every kernel when any input applies
// to every kernel. Every other setting (mode, rollout, autoload, flags, which sections exist)
// must be the same in all inputs: merging cannot choose between them, so a difference is an
// error naming both files. The version is one above the highest input's; the digest is filled.
Result<Policy> merge_policies(const std::vector<MergeInput>& inputs);

}  // namespace modgate::policy
