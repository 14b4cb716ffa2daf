// SPDX-License-Identifier: Apache-2.0
// What a start installs when it cannot put the configured policy in force, so that the host is
// never left with no policy at all (docs/boot.md, "When the start fails"): an empty allowlist,
// version 0, in the mode the operator chose with `modgate run --fallback` (report: every load
// allowed and reported as would-deny; deny: every load refused). A policy for other kernels is not
// replaced by this: it runs as its own `other_kernels:` says (agent/admission.h, KernelRule).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "policy/policy.h"

namespace modgate {

enum class FallbackAction { kReport, kDeny };

std::string_view fallback_action_name(FallbackAction a);
std::optional<FallbackAction> parse_fallback_action(std::string_view s);

// Version 0, no entries, mode dry-run (report) or enforce (deny), digest filled in.
policy::Policy fallback_policy(FallbackAction a);

// Which fallback, if any, a policy digest in force is: how an agent that adopts pinned state
// knows that the start before it fell back.
std::optional<FallbackAction> fallback_of_digest(const std::uint8_t (&digest)[32]);

}  // namespace modgate
