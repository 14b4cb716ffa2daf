// SPDX-License-Identifier: Apache-2.0
// Response hooks with real processes (agent/response/hooks.h): what a hook receives, and how
// failures, timeouts, the concurrency cap and the rate limit are counted and reported.
#include "agent/response/hooks.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace modgate::response {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;
using std::chrono::milliseconds;

class HooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Orphans of a hook's process group become our children, so a test can see them die.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    char tmpl[] = "/tmp/modgate-hooks-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<HookRunner> make(std::map<std::string, std::string> cmds, HookLimits l = {}) {
    auto r = HookRunner::create(std::move(cmds), l,
                                [this](ordered_json j) { reports_.push_back(std::move(j)); });
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(*r) : nullptr;
  }

  // Runs the runner's part of an event loop until `done` or a generous bound; the bound only
  // keeps a broken runner from hanging the suite.
  void drive(HookRunner& r, const std::function<bool()>& done) {
    auto give_up = Clock::now() + std::chrono::seconds(60);
    while (!done() && Clock::now() < give_up) {
      pollfd p{r.poll_fd(), POLLIN, 0};
      int t = r.next_timeout_ms();
      ::poll(&p, 1, t < 0 || t > 100 ? 100 : t);
      r.process();
    }
    ASSERT_TRUE(done()) << "the runner did not finish";
  }

  std::string read(const std::string& name) {
    std::ifstream in(dir_ / name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  fs::path dir_;
  std::vector<ordered_json> reports_;
};

TEST(TokenBucket, StartsFullSpendsAndRefillsUpToBurst) {
  auto t0 = Clock::now();
  TokenBucket b(2.0, 3, t0);
  EXPECT_TRUE(b.take(t0));
  EXPECT_TRUE(b.take(t0));
  EXPECT_TRUE(b.take(t0));
  EXPECT_FALSE(b.take(t0));
  auto t1 = t0 + milliseconds(1000);  // 2 tokens back
  EXPECT_TRUE(b.take(t1));
  EXPECT_TRUE(b.take(t1));
  EXPECT_FALSE(b.take(t1));
  auto t2 = t1 + std::chrono::hours(1);  // never more than the burst
  for (int i = 0; i < 3; i++) EXPECT_TRUE(b.take(t2)) << i;
  EXPECT_FALSE(b.take(t2));
  // A clock that goes backwards (it cannot for steady_clock, but a caller could pass one) adds
  // nothing.
  EXPECT_FALSE(b.take(t0));
}

TEST(HookLimits, RefusesLimitsThatDisableTheSafeguards) {
  HookLimits l;
  EXPECT_TRUE(validate(l).ok());
  l.timeout = milliseconds(0);
  EXPECT_FALSE(validate(l).ok());
  l = {};
  l.max_running = 0;
  EXPECT_FALSE(validate(l).ok());
  l = {};
  l.rate_per_s = 0;
  EXPECT_FALSE(validate(l).ok());
  l = {};
  l.burst = 0;
  EXPECT_FALSE(validate(l).ok());
  EXPECT_FALSE(HookRunner::create({{"on_deny", "true"}}, l, [](const ordered_json&) {}).ok());
}

TEST_F(HooksTest, HookGetsTheEventOnStdinAndItsNameInTheEnvironment) {
  const std::string out = (dir_ / "got").string();
  auto r = make({{"on_deny", "cat > '" + out + "'; echo \"$MODGATE_HOOK\" > '" + out + ".env'"}});
  const std::string event = R"({"event":"module_load","verdict":"deny","name":"nlmon"})"
                            "\n";
  r->fire("on_deny", event);
  EXPECT_EQ(r->running(), 1u);
  drive(*r, [&] { return r->running() == 0; });
  EXPECT_EQ(read("got"), event);
  EXPECT_EQ(read("got.env"), "on_deny\n");
  EXPECT_EQ(r->counters("on_deny").started, 1u);
  EXPECT_EQ(r->counters("on_deny").succeeded, 1u);
  EXPECT_EQ(r->counters("on_deny").failed, 0u);
  EXPECT_TRUE(reports_.empty()) << reports_[0].dump();
}

TEST_F(HooksTest, AnUnconfiguredHookIsNotRun) {
  auto r = make({{"on_deny", "true"}, {"on_would_deny", ""}});
  EXPECT_FALSE(r->has("on_would_deny"));
  r->fire("on_would_deny", "{}\n");
  EXPECT_EQ(r->running(), 0u);
  EXPECT_EQ(r->counters("on_would_deny").started, 0u);
  EXPECT_FALSE(r->status().contains("on_would_deny"));
}

TEST_F(HooksTest, AHookThatIgnoresStdinSucceeds) {
  auto r = make({{"on_deny", "exit 0"}});
  std::string big(3000, 'x');  // below PIPE_BUF; written whole whether or not anyone reads it
  for (int i = 0; i < 3; i++) r->fire("on_deny", big);
  drive(*r, [&] { return r->running() == 0; });
  EXPECT_EQ(r->counters("on_deny").succeeded, 3u);
  EXPECT_EQ(r->counters("on_deny").failed, 0u);
}

TEST_F(HooksTest, AFailingHookIsCountedAndReportedWithItsStatus) {
  auto r = make({{"on_deny", "exit 3"}, {"on_would_deny", "/nonexistent/hook"}});
  r->fire("on_deny", "{}\n");
  r->fire("on_would_deny", "{}\n");
  drive(*r, [&] { return r->running() == 0; });
  EXPECT_EQ(r->counters("on_deny").failed, 1u);
  EXPECT_EQ(r->counters("on_would_deny").failed, 1u);
  ASSERT_EQ(reports_.size(), 2u);
  std::map<std::string, ordered_json> by_hook;
  for (auto& j : reports_) by_hook[j["hook"]] = j;
  EXPECT_EQ(by_hook["on_deny"]["event"], "hook");
  EXPECT_EQ(by_hook["on_deny"]["result"], "failed");
  EXPECT_EQ(by_hook["on_deny"]["exit_status"], 3);
  EXPECT_EQ(by_hook["on_would_deny"]["exit_status"], 127);  // sh: command not found
}

TEST_F(HooksTest, AHookPastItsTimeoutIsTerminatedWithItsProcessGroup) {
  HookLimits l;
  l.timeout = milliseconds(200);
  const std::string pids = (dir_ / "pids").string();
  // The shell and a grandchild it started: both must end.
  auto r = make({{"on_deny", "sleep 30 & echo $! > '" + pids + "'; wait"}}, l);
  r->fire("on_deny", "{}\n");
  drive(*r, [&] { return r->running() == 0; });
  EXPECT_EQ(r->counters("on_deny").timed_out, 1u);
  EXPECT_EQ(r->counters("on_deny").succeeded, 0u);
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_EQ(reports_[0]["result"], "timeout");
  pid_t grandchild = std::stoi(read("pids"));
  int st = 0;
  ASSERT_EQ(waitpid(grandchild, &st, 0), grandchild);  // reparented to us (subreaper)
  EXPECT_TRUE(WIFSIGNALED(st));
}

TEST_F(HooksTest, AHookIgnoringSigtermIsKilledAfterTheGrace) {
  HookLimits l;
  l.timeout = milliseconds(100);
  l.kill_grace = milliseconds(100);
  auto r = make({{"on_deny", "trap '' TERM; sleep 30; sleep 30"}}, l);
  r->fire("on_deny", "{}\n");
  drive(*r, [&] { return r->running() == 0; });
  EXPECT_EQ(r->counters("on_deny").timed_out, 1u);
}

TEST_F(HooksTest, WhatAHookLeavesBehindEndsWithIt) {
  const std::string pids = (dir_ / "pids").string();
  auto r = make({{"on_deny", "sleep 30 & echo $! > '" + pids + "'; exit 0"}});
  r->fire("on_deny", "{}\n");
  drive(*r, [&] { return r->running() == 0; });
  EXPECT_EQ(r->counters("on_deny").succeeded, 1u);
  pid_t leftover = std::stoi(read("pids"));
  int st = 0;
  ASSERT_EQ(waitpid(leftover, &st, 0), leftover);
  ASSERT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGKILL);
}

TEST_F(HooksTest, BeyondTheConcurrencyCapEventsAreDroppedAndCounted) {
  HookLimits l;
  l.max_running = 2;
  l.rate_per_s = 1000;
  l.burst = 1000;
  auto r = make({{"on_deny", "cat > /dev/null"}}, l);
  for (int i = 0; i < 5; i++) r->fire("on_deny", "{}\n");
  EXPECT_EQ(r->running(), 2u);
  EXPECT_EQ(r->counters("on_deny").started, 2u);
  EXPECT_EQ(r->counters("on_deny").dropped_busy, 3u);
  drive(*r, [&] { return r->running() == 0 && !reports_.empty(); });
  EXPECT_EQ(r->counters("on_deny").succeeded, 2u);
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_EQ(reports_[0]["event"], "hook_dropped");
  EXPECT_EQ(reports_[0]["count"], 3);
  EXPECT_EQ(reports_[0]["dropped_busy"], 3);
  // A slot is free again.
  r->fire("on_deny", "{}\n");
  EXPECT_EQ(r->counters("on_deny").started, 3u);
  drive(*r, [&] { return r->running() == 0; });
}

TEST_F(HooksTest, AFloodIsRateLimitedAndTheDropsReportedInOneRecord) {
  HookLimits l;
  l.max_running = 1000;
  l.rate_per_s = 0.001;  // no refill within the test
  l.burst = 3;
  auto r = make({{"on_deny", "true"}, {"on_would_deny", "true"}}, l);
  for (int i = 0; i < 100; i++) r->fire(i % 2 ? "on_deny" : "on_would_deny", "{}\n");
  // The bucket is shared: 3 starts in all, whichever hook asked.
  EXPECT_EQ(r->counters("on_deny").started + r->counters("on_would_deny").started, 3u);
  EXPECT_EQ(r->counters("on_deny").dropped_rate_limited +
                r->counters("on_would_deny").dropped_rate_limited,
            97u);
  drive(*r, [&] { return r->running() == 0 && reports_.size() >= 2; });
  std::uint64_t reported = 0;
  for (const auto& j : reports_) {
    EXPECT_EQ(j["event"], "hook_dropped");
    reported += j["count"].get<std::uint64_t>();
  }
  EXPECT_EQ(reported, 97u);
  auto s = r->status();
  EXPECT_EQ(s["on_deny"]["dropped_rate_limited"].get<std::uint64_t>() +
                s["on_would_deny"]["dropped_rate_limited"].get<std::uint64_t>(),
            97u);
  EXPECT_EQ(s["limits"]["burst"], 3);
  EXPECT_EQ(s["running"], 0);
}

TEST_F(HooksTest, DestroyingTheRunnerEndsRunningHooks) {
  const std::string pidfile = (dir_ / "pid").string();
  pid_t pid = 0;
  {
    auto r = make({{"on_deny", "echo $$ > '" + pidfile + "'; exec sleep 30"}});
    r->fire("on_deny", "{}\n");
    auto give_up = Clock::now() + std::chrono::seconds(30);
    while (read("pid").empty() && Clock::now() < give_up) usleep(10'000);
    pid = std::stoi(read("pid"));
    EXPECT_EQ(::kill(pid, 0), 0);
  }
  // Reaped by the destructor: the pid no longer names a process of ours.
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

}  // namespace
}  // namespace modgate::response
