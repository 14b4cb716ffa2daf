// SPDX-License-Identifier: Apache-2.0
// The man page and the shell completion are generated from the same CLI11 definitions that parse
// the command line (make_cli()), so neither can fall behind an option that is added or renamed.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace modgate::cli {

// modgate(8) in man(7) roff: every command, every option with its description, every footer
// (examples, exit status).
std::string man_page(CLI::App& app, const std::string& version, const std::string& date);

// A bash completion script: commands, subcommands and each command's options; files after
// options that take a path.
std::string bash_completion(CLI::App& app);

}  // namespace modgate::cli
