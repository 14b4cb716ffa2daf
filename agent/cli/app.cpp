// SPDX-License-Identifier: Apache-2.0

#include "agent/cli/app.h"

#include <exception>
#include <iostream>

namespace modgate::cli {

std::unique_ptr<Cli> make_cli() {
  auto cli = std::make_unique<Cli>();
  CLI::App& app = cli->app;
  app.name("modgate");
  app.description(
      "modgate: allow only approved kernel modules into the kernel.\n"
      "BPF LSM programs hash the exact bytes of every module load in the kernel and deny any\n"
      "whose SHA-256 is not on the policy's allowlist.");
  app.require_subcommand(1);
  app.footer(
      "Run 'modgate COMMAND --help' for a command's options and examples.\n"
      "Exit status: 0 success, 1 failure or findings, 2 bad command line (docs/cli.md).");
  for (auto reg :
       {register_version, register_hash, register_run, register_status, register_apply,
        register_disarm, register_policy, register_audit, register_keygen, register_completion}) {
    Runner r = reg(app);
    cli->commands.emplace_back(app.get_subcommands({}).back(), std::move(r));
  }
  return cli;
}

int run_cli(Cli& cli, int argc, char** argv) {
  try {
    cli.app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = cli.app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  try {
    for (auto& [sub, run] : cli.commands)
      if (sub->parsed()) return run();
  } catch (const std::exception& e) {
    std::cerr << "modgate: " << e.what() << "\n";
    return kExitFailure;
  }
  return kExitUsage;
}

}  // namespace modgate::cli
