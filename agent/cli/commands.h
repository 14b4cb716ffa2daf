// SPDX-License-Identifier: Apache-2.0
// Each subcommand registers itself on the CLI11 app and returns a process exit code when run.
// Exit codes are documented in docs/cli.md; keep them in one place here.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace modgate::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,  // the command ran and found a problem (a file unreadable, a check failing)
  kExitUsage = 2,    // bad command line
};

// Every option that takes a duration goes through here, so they all read the same forms: whole
// seconds written as 90, 90s, 15m or 15min, 2h or 1d (docs/fleet.md), between `min` and `max`.
inline CLI::Option* add_duration_option(CLI::App* cmd, const std::string& name,
                                        std::chrono::seconds& value, const std::string& help,
                                        std::chrono::seconds min = std::chrono::seconds{1},
                                        std::chrono::seconds max = std::chrono::hours{24 * 7}) {
  return cmd->add_option(name, value, help + " (a number with s, m or min, h or d; s if none)")
      ->transform(CLI::AsNumberWithUnit(
                      std::map<std::string, long>{
                          {"s", 1}, {"m", 60}, {"min", 60}, {"h", 3600}, {"d", 86400}},
                      CLI::AsNumberWithUnit::CASE_SENSITIVE)
                      .description(""))
      // AsNumberWithUnit reads a bare unit ("s") as 1 of it; a typo must not become a setting.
      // CLI11 runs the transform added last first, so this sees the text as typed.
      ->transform(CLI::Validator(
          [](std::string& s) {
            return !s.empty() && s[0] >= '0' && s[0] <= '9'
                       ? std::string{}
                       : "'" + s + "' does not start with a number";
          },
          ""))
      ->check(CLI::Range(static_cast<long>(min.count()), static_cast<long>(max.count()))
                  .description(""))
      ->type_name("DURATION");
}

// Returned by each register_*: the function main() runs if that subcommand was chosen.
using Runner = std::function<int()>;

Runner register_version(CLI::App& app);
Runner register_hash(CLI::App& app);
Runner register_run(CLI::App& app);
Runner register_status(CLI::App& app);
Runner register_apply(CLI::App& app);
Runner register_disarm(CLI::App& app);
Runner register_policy(CLI::App& app);
Runner register_audit(CLI::App& app);
Runner register_completion(CLI::App& app);
Runner register_keygen(CLI::App& app);
// `policy sign` and `policy verify`, added to the `policy` group GRP: the returned function runs
// the chosen one, or returns nothing when neither was chosen.
std::function<std::optional<int>()> register_policy_bundle(CLI::App& grp);
// `policy merge` and `policy prune`, the same way.
std::function<std::optional<int>()> register_policy_kernels(CLI::App& grp);

}  // namespace modgate::cli
