// SPDX-License-Identifier: Apache-2.0
// Human and JSON renderings of policies and diffs, as `modgate policy show|diff` print them
// (docs/policy.md, "Commands"). Kept out of the CLI so they are tested without the agent.
#pragma once

#include <string>

#include "policy/diff.h"
#include "policy/policy.h"

namespace modgate::policy {

// Digest and a summary; with list_modules also one line per entry.
std::string show_text(const Policy& p, const std::string& file, bool list_modules);
// Everything in the policy, entries included, as one JSON object.
std::string show_json(const Policy& p, const std::string& file);

std::string diff_text(const PolicyDiff& d, const Policy& from, const Policy& to);
std::string diff_json(const PolicyDiff& d, const Policy& from, const Policy& to);

}  // namespace modgate::policy
