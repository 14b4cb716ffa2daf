// SPDX-License-Identifier: Apache-2.0
// Reading and writing policy files the same way in every `modgate policy` subcommand.
#pragma once

#include <string>
#include <vector>

#include "policy/policy.h"
#include "policy/result.h"

namespace modgate::cli {

// A policy file parsed and compiled, its warnings printed. A bundle is refused with the command
// that checks it, unless `bundle_ok` (commands that only show a policy): then its policy is read
// without checking the signature, and a note on stderr says so. Errors name the file and position.
Result<policy::Policy> load_policy_file(const std::string& file, bool bundle_ok = false);

// Writes p as YAML (with `header` comment lines) to output, or stdout when output is empty or
// "-", after checking that the text reads back to p's digest. Returns an exit code; `me` prefixes
// the error.
int write_generated(const std::string& me, const policy::Policy& p,
                    const std::vector<std::string>& header, const std::string& output);

}  // namespace modgate::cli
