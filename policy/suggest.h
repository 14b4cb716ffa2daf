// SPDX-License-Identifier: Apache-2.0
// `modgate policy suggest`: entries to add to a policy, proposed from the deny and would-deny
// module_load events of one or many hosts (docs/events.md), for review (docs/audit.md).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.h"

namespace modgate::policy {

struct Suggestion {
  Sha256 sha256{};
  std::string name;                          // the events' name, made a valid policy name
  std::map<std::string, std::size_t> hosts;  // "host" field of the events, or "unknown"
  std::size_t count = 0;
  std::optional<std::string> path;  // the first path an event gave
};

struct SuggestReport {
  std::vector<Suggestion> suggestions;  // sorted by name, then hash
  std::size_t lines = 0;                // non-empty lines read
  std::size_t denials = 0;              // deny/would-deny module_load events with a hash
  std::size_t already_listed = 0;       // of those, hashes the old policy (or event) lists
  std::vector<std::string> malformed;   // "LINE: reason", in line order
  Policy proposed;                      // old policy plus the suggestions, version bumped
};

// `text` is JSONL, one event a line. `old` may be null: the proposal is then a new dry-run policy
// at version 1. Never fails on event content; malformed lines are counted and named.
SuggestReport suggest_from_events(std::string_view text, const Policy* old);

}  // namespace modgate::policy
