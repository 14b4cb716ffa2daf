// SPDX-License-Identifier: Apache-2.0
// Response hooks (docs/hooks.md): an operator's command run for each deny or would-deny event, with
// the event's JSON line on its standard input. Enforcement never waits for a hook — the kernel has
// already decided when the event arrives — and the agent's loop never blocks on one: children are
// started with posix_spawn and watched through pidfds in an epoll set the daemon polls like any
// other fd. A flood of denials cannot turn into a flood of processes: a token bucket bounds how
// often hooks start, a cap bounds how many run at once, a timeout bounds how long each lives, and
// every start, success, failure, timeout and drop is counted.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "policy/result.h"

namespace modgate::response {

using Clock = std::chrono::steady_clock;

// Classic token bucket: starts full, refills at `rate` tokens per second up to `burst`.
class TokenBucket {
 public:
  TokenBucket(double rate_per_s, double burst, Clock::time_point now);
  // Takes one token if there is one.
  bool take(Clock::time_point now);

 private:
  void refill(Clock::time_point now);
  double rate_, burst_, tokens_;
  Clock::time_point last_;
};

struct HookLimits {
  std::chrono::milliseconds timeout{10'000};    // then SIGTERM to the hook's process group
  std::chrono::milliseconds kill_grace{2'000};  // then SIGKILL
  unsigned max_running = 4;                     // hook processes at once, all hooks together
  double rate_per_s = 1.0;                      // sustained starts per second, all hooks together
  unsigned burst = 10;                          // starts allowed at once after a quiet period
};

// Checks the limits an operator gave; the message names the option.
Result<Ok> validate(const HookLimits& limits);

struct HookCounters {
  std::uint64_t started = 0, succeeded = 0, failed = 0, timed_out = 0;
  std::uint64_t dropped_rate_limited = 0, dropped_busy = 0;
};

class HookRunner {
 public:
  // Receives the records worth reporting in the event stream (docs/events.md): hook failures and
  // timeouts one by one, drops summed up at most once per second.
  using ReportFn = std::function<void(nlohmann::ordered_json)>;

  // commands: hook name (e.g. "on_deny") -> shell command; empty commands are left out.
  static Result<std::unique_ptr<HookRunner>> create(std::map<std::string, std::string> commands,
                                                    HookLimits limits, ReportFn report);
  // Kills whatever still runs (SIGKILL to each process group) and reaps it.
  ~HookRunner();
  HookRunner(const HookRunner&) = delete;
  HookRunner& operator=(const HookRunner&) = delete;

  bool has(const std::string& hook) const { return commands_.count(hook) > 0; }
  // Starts `hook` with `input` on its stdin, or counts a drop. Never blocks.
  void fire(const std::string& hook, const std::string& input);

  // Readable when a hook process has ended; the daemon adds it to its epoll set.
  int poll_fd() const { return ep_; }
  // Milliseconds until the next timeout or drop report is due; -1 when none is pending.
  int next_timeout_ms() const;
  // Reaps ended hooks, signals overdue ones, reports drops. Call when poll_fd is readable or the
  // timeout has passed; calling it more often is harmless.
  void process();

  std::size_t running() const { return running_.size(); }
  const HookCounters& counters(const std::string& hook) const;
  // The "hooks" object of `modgate status` (docs/control.md).
  nlohmann::ordered_json status() const;

 private:
  struct Child {
    std::string hook;
    pid_t pid = -1;
    int pidfd = -1;
    Clock::time_point started, deadline;
    bool term_sent = false;
  };
  HookRunner(std::map<std::string, std::string> commands, HookLimits limits, ReportFn report);
  Result<Child> spawn(const std::string& hook, const std::string& input);
  void reap(int pidfd);
  void report_drops(bool force);

  std::map<std::string, std::string> commands_;
  HookLimits limits_;
  ReportFn report_;
  TokenBucket bucket_;
  int ep_ = -1;
  std::map<int, Child> running_;  // by pidfd
  std::map<std::string, HookCounters> counters_;
  std::map<std::string, std::uint64_t> unreported_drops_;
  Clock::time_point next_drop_report_{};
};

}  // namespace modgate::response
