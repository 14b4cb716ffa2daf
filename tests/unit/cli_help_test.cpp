// SPDX-License-Identifier: Apache-2.0
// Every command's --help documents every one of its options and shows an example: the CLI is the
// product's face, and an option nobody can discover from --help does not exist for its users.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "agent/cli/app.h"
#include "agent/cli/docgen.h"

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

// The man page is generated from the same definitions; this holds the generator to covering all.
TEST(CliHelp, ManPageDocumentsEveryCommandAndOption) {
  auto cli = make_cli();
  const std::string man = man_page(cli->app, "0", "2026-01-01");
  auto roff = [](const std::string& s) {
    std::string out;
    for (char c : s) out += c == '-' ? std::string("\\-") : std::string(1, c);
    return out;
  };
  std::vector<std::pair<std::string, CLI::App*>> commands;
  collect(&cli->app, "modgate", commands);
  for (const auto& [path, sub] : commands) {
    EXPECT_NE(man.find(".SS \"" + path + "\""), std::string::npos) << path << " has no section";
    for (const CLI::Option* opt : sub->get_options()) {
      if (opt->get_name() == "--help") continue;
      EXPECT_NE(man.find(roff(opt->get_name())), std::string::npos)
          << path << " " << opt->get_name() << " is not in the man page";
    }
  }
}

// Every duration option shares one parser (commands.h add_duration_option): a unit defaults to
// seconds, and anything outside 1 s .. 7 days, or not a single number with a unit, is refused.
TEST(CliOptions, DurationsTakeOneUnitAndStayWithinAWeek) {
  auto seconds_of = [](const std::string& text) -> long {
    auto cli = make_cli();
    cli->app.parse(std::vector<std::string>{text, "--interval", "run"});  // reversed argv
    return cli->app.get_subcommand("run")->get_option("--interval")->as<long>();
  };
  EXPECT_EQ(seconds_of("90"), 90);
  EXPECT_EQ(seconds_of("90s"), 90);
  EXPECT_EQ(seconds_of("15min"), 900);
  EXPECT_EQ(seconds_of("15m"), 900) << "the form docs/fleet.md shows";
  EXPECT_EQ(seconds_of("2h"), 7200);
  EXPECT_EQ(seconds_of("1d"), 24 * 3600);
  EXPECT_EQ(seconds_of("7d"), 7 * 24 * 3600);
  EXPECT_EQ(seconds_of("168h"), 7 * 24 * 3600);
  for (const char* bad : {"", "0", "-5", "10x", "1h30min", "169h", "8d", "1.5.2", "s", "m", "d"})
    EXPECT_THROW(seconds_of(bad), CLI::ParseError) << "'" << bad << "' was accepted";
}

// policy verify's skew takes the same forms, and 0 (no skew at all) too.
TEST(CliOptions, VerifySkewIsADurationFromZero) {
  auto skew_of = [](const std::string& text) -> long {
    auto cli = make_cli();
    cli->app.parse(std::vector<std::string>{"b", text, "--max-future-skew", "k", "--pubkey",
                                            "verify", "policy"});  // reversed argv
    return cli->app.get_subcommand("policy")
        ->get_subcommand("verify")
        ->get_option("--max-future-skew")
        ->as<long>();
  };
  EXPECT_EQ(skew_of("0"), 0);
  EXPECT_EQ(skew_of("5m"), 300);
  EXPECT_EQ(skew_of("1d"), 86400);
  EXPECT_THROW(skew_of("-1"), CLI::ParseError);
}

// argv as main() gets it: "modgate" and the words.
class Argv {
 public:
  explicit Argv(std::vector<std::string> words) : words_(std::move(words)) {
    words_.insert(words_.begin(), "modgate");
    for (auto& w : words_) ptrs_.push_back(w.data());
  }
  int argc() const { return static_cast<int>(ptrs_.size()); }
  char** argv() { return ptrs_.data(); }

 private:
  std::vector<std::string> words_;
  std::vector<char*> ptrs_;
};

int run(std::vector<std::string> words, std::string* err, std::string* out = nullptr) {
  Argv a(std::move(words));
  auto cli = make_cli();
  testing::internal::CaptureStderr();
  testing::internal::CaptureStdout();
  int rc = run_cli(*cli, a.argc(), a.argv());
  std::string o = testing::internal::GetCapturedStdout();
  *err = testing::internal::GetCapturedStderr();
  if (out) *out = o;
  return rc;
}

TEST(CliDispatch, UnknownCommandIsNamedWithTheNearestOne) {
  std::string err;
  EXPECT_EQ(run({"stauts"}, &err), kExitUsage);
  EXPECT_NE(err.find("unknown command 'modgate stauts'"), std::string::npos) << err;
  EXPECT_NE(err.find("did you mean 'modgate status'?"), std::string::npos) << err;
  EXPECT_EQ(err.find("A subcommand is required"), std::string::npos) << err;
}

TEST(CliDispatch, UnknownSubcommandOfAGroupIsNamedToo) {
  std::string err;
  EXPECT_EQ(run({"policy", "chek", "x.yaml"}, &err), kExitUsage);
  EXPECT_NE(err.find("unknown command 'modgate policy chek'; did you mean 'modgate policy check'?"),
            std::string::npos)
      << err;
}

TEST(CliDispatch, NothingCloseGetsNoSuggestion) {
  std::string err;
  EXPECT_EQ(run({"frobnicate"}, &err), kExitUsage);
  EXPECT_NE(err.find("unknown command 'modgate frobnicate'"), std::string::npos) << err;
  EXPECT_EQ(err.find("did you mean"), std::string::npos) << err;
  EXPECT_NE(err.find("'modgate --help' lists the commands"), std::string::npos) << err;
}

TEST(CliDispatch, VersionFlagPrintsTheVersion) {
  std::string err, out;
  EXPECT_EQ(run({"--version"}, &err, &out), kExitOk);
  EXPECT_EQ(out.rfind("modgate ", 0), 0u) << out;
  EXPECT_GT(out.size(), std::string("modgate \n").size()) << out;
}

TEST(CliDispatch, KnownCommandsAndPathsAreNotMistakenForCommands) {
  auto cli = make_cli();
  Argv a({"hash", "stauts"});  // a file named like a typo
  EXPECT_FALSE(unknown_command(cli->app, a.argc(), a.argv()));
}

}  // namespace
}  // namespace modgate::cli
