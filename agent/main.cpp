#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <utility>
#include <vector>

#include "agent/cli/commands.h"

int main(int argc, char** argv) {
  using namespace modgate::cli;
  CLI::App app{
      "modgate: allow only approved kernel modules into the kernel.\n"
      "BPF LSM programs hash the exact bytes of every module load in the kernel and deny any "
      "whose\n"
      "SHA-256 is not on the policy's allowlist.",
      "modgate"};
  app.require_subcommand(1);
  app.footer("Run 'modgate COMMAND --help' for a command's options and examples.");

  std::vector<std::pair<CLI::App*, Runner>> commands;
  auto add = [&](Runner (*reg)(CLI::App&)) {
    Runner r = reg(app);
    commands.emplace_back(app.get_subcommands({}).back(), std::move(r));
  };
  add(register_version);
  add(register_hash);
  add(register_run);
  add(register_status);
  add(register_apply);
  add(register_disarm);
  add(register_policy);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  try {
    for (auto& [sub, run] : commands)
      if (sub->parsed()) return run();
  } catch (const std::exception& e) {
    std::cerr << "modgate: " << e.what() << "\n";
    return kExitFailure;
  }
  return kExitUsage;
}
