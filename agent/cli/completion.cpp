// SPDX-License-Identifier: Apache-2.0

#include <iostream>
#include <memory>
#include <string>

#include "agent/cli/commands.h"
#include "agent/cli/docgen.h"

namespace modgate::cli {

Runner register_completion(CLI::App& app) {
  auto shell = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("completion", "Print a shell completion script for modgate");
  cmd->add_option("SHELL", *shell, "The shell (bash)")->required()->check(CLI::IsMember({"bash"}));
  cmd->footer(
      "The package installs it already; for a hand-installed binary:\n\n"
      "Examples:\n  modgate completion bash > /etc/bash_completion.d/modgate\n"
      "  source <(modgate completion bash)");
  CLI::App* root = &app;
  // The runner holds the option's storage: CLI11 writes into it when the command line is parsed,
  // after this function has returned.
  return [root, shell] {
    std::cout << bash_completion(*root);
    return kExitOk;
  };
}

}  // namespace modgate::cli
