// SPDX-License-Identifier: Apache-2.0
// The whole command line in one place: main() runs it, tests walk it (every subcommand's --help
// must document every option and show an example).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/cli/commands.h"

namespace modgate::cli {

struct Cli {
  CLI::App app;
  std::vector<std::pair<CLI::App*, Runner>> commands;
};

std::unique_ptr<Cli> make_cli();
// A command word in argv that names no command of its group ('modgate stauts', 'modgate policy
// chek'): the message to print, with the nearest command when one is a typo away.
std::optional<std::string> unknown_command(const CLI::App& app, int argc, char** argv);
// Parses argv and runs the chosen command; returns the process exit code (docs/cli.md).
int run_cli(Cli& cli, int argc, char** argv);

}  // namespace modgate::cli
