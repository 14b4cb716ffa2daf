// SPDX-License-Identifier: Apache-2.0

#include "agent/fallback.h"

#include <cstring>

namespace modgate {

std::string_view fallback_action_name(FallbackAction a) {
  return a == FallbackAction::kDeny ? "deny" : "report";
}

std::optional<FallbackAction> parse_fallback_action(std::string_view s) {
  if (s == "report") return FallbackAction::kReport;
  if (s == "deny") return FallbackAction::kDeny;
  return std::nullopt;
}

policy::Policy fallback_policy(FallbackAction a) {
  policy::Policy p;
  p.version = 0;
  p.mode = a == FallbackAction::kDeny ? policy::Mode::kEnforce : policy::Mode::kDryRun;
  p.allow_empty = true;
  p.digest = policy::policy_digest(p);
  return p;
}

std::optional<FallbackAction> fallback_of_digest(const std::uint8_t (&digest)[32]) {
  for (FallbackAction a : {FallbackAction::kReport, FallbackAction::kDeny})
    if (std::memcmp(fallback_policy(a).digest.data(), digest, sizeof(digest)) == 0) return a;
  return std::nullopt;
}

}  // namespace modgate
