// SPDX-License-Identifier: Apache-2.0

#include "agent/cli/app.h"

#include <algorithm>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
  app.set_version_flag("--version", std::string("modgate ") + MODGATE_VERSION,
                       "Print modgate's version and exit ('modgate version' also names the "
                       "libraries)");
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

namespace {

// Levenshtein distance; the command names are a handful of short words, so the plain table is
// enough and no library is worth pulling in for it.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); j++) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); i++) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); j++) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<std::string> unknown_command(const CLI::App& app, int argc, char** argv) {
  const CLI::App* group = &app;
  std::string path = app.get_name();
  for (int i = 1; i < argc; i++) {
    const std::string word = argv[i];
    // Options, and whatever follows one, are CLI11's to judge.
    if (word.empty() || word[0] == '-') return std::nullopt;
    const auto subs = group->get_subcommands({});
    if (subs.empty()) return std::nullopt;
    const CLI::App* next = nullptr;
    std::string nearest;
    std::size_t best = std::string::npos;
    for (const CLI::App* sub : subs) {
      if (sub->check_name(word)) next = sub;
      std::size_t d = edit_distance(word, sub->get_name());
      if (d < best) best = d, nearest = sub->get_name();
    }
    if (!next) {
      std::string msg = "unknown command '" + path + " " + word + "'";
      // A typo is a few letters off; anything further is no suggestion worth making.
      if (best <= std::max<std::size_t>(1, std::min(word.size(), nearest.size()) / 3))
        msg += "; did you mean '" + path + " " + nearest + "'?";
      return msg + " ('" + path + " --help' lists the commands)";
    }
    group = next;
    path += " " + next->get_name();
  }
  return std::nullopt;
}

int run_cli(Cli& cli, int argc, char** argv) {
  // Without this CLI11 takes an unknown command for an extra argument and says only that a
  // subcommand is required.
  if (auto msg = unknown_command(cli.app, argc, argv)) {
    std::cerr << "modgate: " << *msg << "\n";
    return kExitUsage;
  }
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
