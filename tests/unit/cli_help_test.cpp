// Every command's --help documents every one of its options and shows an example: the CLI is the
// product's face, and an option nobody can discover from --help does not exist for its users.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/cli/app.h"

namespace modgate::cli {
namespace {

void collect(CLI::App* app, const std::string& path,
             std::vector<std::pair<std::string, CLI::App*>>& out) {
  for (CLI::App* sub : app->get_subcommands({})) {
    std::string p = path + " " + sub->get_name();
    out.emplace_back(p, sub);
    collect(sub, p, out);
  }
}

TEST(CliHelp, EveryOptionOfEveryCommandIsInItsHelp) {
  auto cli = make_cli();
  std::vector<std::pair<std::string, CLI::App*>> commands;
  collect(&cli->app, "modgate", commands);
  ASSERT_GE(commands.size(), 7u);
  for (const auto& [path, sub] : commands) {
    const std::string help = sub->help();
    EXPECT_FALSE(sub->get_description().empty()) << path << " has no description";
    for (const CLI::Option* opt : sub->get_options()) {
      if (opt->get_name() == "--help") continue;
      const std::string name = opt->get_name();
      EXPECT_NE(help.find(name), std::string::npos) << path << " --help does not mention " << name;
      EXPECT_FALSE(opt->get_description().empty()) << path << " " << name << " is not described";
    }
  }
}

TEST(CliHelp, EveryRunnableCommandShowsAnExample) {
  auto cli = make_cli();
  std::vector<std::pair<std::string, CLI::App*>> commands;
  collect(&cli->app, "modgate", commands);
  for (const auto& [path, sub] : commands) {
    if (!sub->get_subcommands({}).empty()) continue;  // a group: its members carry the examples
    EXPECT_NE(sub->help().find("modgate "), std::string::npos)
        << path << " --help shows no example command line";
    EXPECT_NE(sub->get_footer().find("xample"), std::string::npos) << path << " has no Examples";
  }
}

}  // namespace
}  // namespace modgate::cli
