// SPDX-License-Identifier: Apache-2.0
// `modgate policy init --from-package`: a first policy from Debian kernel packages, read without
// installing or unpacking them (docs/policy.md, `modgate policy init`).
#pragma once

#include <string>
#include <vector>

#include "policy/init.h"

namespace modgate::policy {

// Reads the module files under lib/modules/RELEASE/ and usr/lib/modules/RELEASE/ of each .deb
// (linux-image-RELEASE before 7.x, linux-modules-RELEASE from 7.x) and reports what
// scan_module_tree would on the unpacked tree: the same entries in the same order, paths
// relative to RELEASE/. options.root is not used. Module files that are not modules become
// problems; a file that is not a Debian package, a damaged one, packages of two releases, or no
// module file at all fail the whole run.
Result<InitReport> scan_packages(const std::vector<std::string>& debs, const InitOptions& options);

}  // namespace modgate::policy
