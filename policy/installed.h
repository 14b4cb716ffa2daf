// SPDX-License-Identifier: Apache-2.0
// The kernels installed on this host that a policy does not name: what the next boot may run
// without the policy in force (docs/rollout.md, "Kernel upgrades").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.h"
#include "policy/result.h"

namespace modgate::policy {

// Releases under modules_dir (/lib/modules) whose tree has a modules.dep, i.e. that depmod ran
// for when the kernel package was configured (a directory that only DKMS leftovers keep after a
// removal has none), other than `running`, that the policy's kernels: does not match. Sorted.
// A policy for every kernel (no kernels:) names them all; whether its hashes cover a tree is
// `modgate policy check --covers`'s question, too costly to ask here.
Result<std::vector<std::string>> installed_kernels_not_covered(const Policy& policy,
                                                               const std::string& modules_dir,
                                                               std::string_view running);

}  // namespace modgate::policy
