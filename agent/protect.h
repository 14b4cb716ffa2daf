// SPDX-License-Identifier: Apache-2.0
// Tamper protection's rules for policy changes (docs/threat-model.md). The kernel refuses the
// operations that would switch modgate off; these rules decide which policy changes and which
// disarm requests the agent itself accepts while protection is in force. Pure functions, so that
// every rule is tested without a kernel.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "policy/policy.h"

namespace modgate::protect {

// Protection is in force when the policy says `protect: true` and enforces: in dry-run the kernel
// reports tamper attempts as would-deny and lets them happen.
bool effective(std::uint32_t mode, std::uint32_t config_flags);  // mg_config's mode and flags
bool effective(const policy::Policy& p);

// Why `next` (read from `file`, arriving through `source`) may not replace the policy in force,
// or nothing when it may. `trusted`: its authenticity was verified (a signed bundle whose
// signature checked out). `unavailable`: why this agent cannot offer protection at all, or
// nothing when it can.
std::optional<std::string> apply_refusal(bool in_force_protected, const policy::Policy& next,
                                         const std::string& file, const std::string& source,
                                         bool trusted,
                                         const std::optional<std::string>& unavailable);

// Why disarm is refused, or nothing when it is allowed.
std::optional<std::string> disarm_refusal(bool in_force_protected);

}  // namespace modgate::protect
