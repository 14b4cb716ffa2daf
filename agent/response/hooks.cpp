// SPDX-License-Identifier: Apache-2.0

#include "agent/response/hooks.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <vector>

extern char** environ;

namespace modgate::response {
namespace {

std::string errstr(int e) { return std::strerror(e); }

long long ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

// RAII for the posix_spawn attribute objects, which must be destroyed on every path.
struct SpawnSetup {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
  }
};

}  // namespace

TokenBucket::TokenBucket(double rate_per_s, double burst, Clock::time_point now)
    : rate_(rate_per_s), burst_(burst), tokens_(burst), last_(now) {}

void TokenBucket::refill(Clock::time_point now) {
  if (now <= last_) return;
  double secs = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + secs * rate_);
  last_ = now;
}

bool TokenBucket::take(Clock::time_point now) {
  refill(now);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

Result<Ok> validate(const HookLimits& l) {
  if (l.timeout.count() <= 0) return Error{"--hook-timeout must be greater than 0"};
  if (l.max_running < 1 || l.max_running > 1024)
    return Error{"--hook-max-running must be between 1 and 1024"};
  if (!(l.rate_per_s > 0) || !std::isfinite(l.rate_per_s) || l.rate_per_s > 1000)
    return Error{"--hook-rate must be a number of starts per second above 0 and at most 1000"};
  if (l.burst < 1 || l.burst > 10000) return Error{"--hook-burst must be between 1 and 10000"};
  return Ok{};
}

HookRunner::HookRunner(std::map<std::string, std::string> commands, HookLimits limits,
                       ReportFn report)
    : commands_(std::move(commands)),
      limits_(limits),
      report_(std::move(report)),
      bucket_(limits.rate_per_s, limits.burst, Clock::now()) {}

Result<std::unique_ptr<HookRunner>> HookRunner::create(std::map<std::string, std::string> commands,
                                                       HookLimits limits, ReportFn report) {
  if (auto v = validate(limits); !v) return v.error();
  for (auto it = commands.begin(); it != commands.end();)
    it = it->second.empty() ? commands.erase(it) : std::next(it);
  std::unique_ptr<HookRunner> r(new HookRunner(std::move(commands), limits, std::move(report)));
  r->ep_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (r->ep_ < 0) return Error{"hooks: epoll_create1: " + errstr(errno)};
  for (const auto& [hook, cmd] : r->commands_) r->counters_[hook];
  return r;
}

HookRunner::~HookRunner() {
  for (auto& [fd, c] : running_) {
    ::kill(-c.pid, SIGKILL);
    ::waitpid(c.pid, nullptr, 0);
    ::close(fd);
  }
  if (ep_ >= 0) ::close(ep_);
}

const HookCounters& HookRunner::counters(const std::string& hook) const {
  static const HookCounters none;
  auto it = counters_.find(hook);
  return it == counters_.end() ? none : it->second;
}

Result<HookRunner::Child> HookRunner::spawn(const std::string& hook, const std::string& input) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return Error{"pipe: " + errstr(errno)};
  SpawnSetup s;
  // stdin: the event; stdout joins stderr, because the agent's stdout may be the event stream
  // itself and a hook's chatter must not corrupt it. Nothing else of the agent's leaks through.
  posix_spawn_file_actions_adddup2(&s.fa, pipefd[0], 0);
  posix_spawn_file_actions_adddup2(&s.fa, 2, 1);
  posix_spawn_file_actions_addclosefrom_np(&s.fa, 3);
  // Its own process group, so a timeout ends everything the hook started, not just the shell.
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setflags(&s.attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&s.attr, 0);
  // The agent blocks the signals it reads through signalfd; a hook must start with none blocked.
  posix_spawnattr_setsigmask(&s.attr, &empty);
  posix_spawnattr_setsigdefault(&s.attr, &all);

  const std::string& command = commands_.at(hook);
  std::vector<std::string> env_store;
  for (char** e = environ; e && *e; ++e)
    if (std::strncmp(*e, "MODGATE_HOOK=", 13) != 0) env_store.emplace_back(*e);
  env_store.push_back("MODGATE_HOOK=" + hook);
  std::vector<char*> envp;
  envp.reserve(env_store.size() + 1);
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = command, arg0 = "modgate-" + hook;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), arg0.data(), nullptr};

  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, "/bin/sh", &s.fa, &s.attr, argv, envp.data());
  ::close(pipefd[0]);  // after the spawn: the child holds its copy as stdin
  if (rc != 0) {
    ::close(pipefd[1]);
    return Error{"cannot start /bin/sh: " + errstr(rc)};
  }
  // An event line is far below PIPE_BUF, so one non-blocking write into the empty pipe succeeds
  // whole whether or not the hook ever reads it; a hook that exits early gets EPIPE here, which
  // MSG_NOSIGNAL cannot apply to on a pipe, hence SIGPIPE is ignored around the write.
  ::fcntl(pipefd[1], F_SETFL, O_NONBLOCK);
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  (void)!::write(pipefd[1], input.data(), input.size());
  ::close(pipefd[1]);
  // Discard a SIGPIPE the write raised while blocked, then restore the mask.
  timespec zero{};
  while (::sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);

  // glibc 2.36 declares pidfd_open without C linkage for C++; the raw syscall is the same.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    int e = errno;
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return Error{"pidfd_open: " + errstr(e)};
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = pidfd;
  if (::epoll_ctl(ep_, EPOLL_CTL_ADD, pidfd, &ev) != 0) {
    int e = errno;
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ::close(pidfd);
    return Error{"epoll_ctl: " + errstr(e)};
  }
  Child c;
  c.hook = hook;
  c.pid = pid;
  c.pidfd = pidfd;
  c.started = Clock::now();
  c.deadline = c.started + limits_.timeout;
  return c;
}

void HookRunner::fire(const std::string& hook, const std::string& input) {
  if (!has(hook)) return;
  HookCounters& n = counters_[hook];
  // Busy is checked first so that a drop for lack of a slot does not also spend a token.
  if (running_.size() >= limits_.max_running) {
    n.dropped_busy++;
    unreported_drops_[hook]++;
    return;
  }
  if (!bucket_.take(Clock::now())) {
    n.dropped_rate_limited++;
    unreported_drops_[hook]++;
    return;
  }
  auto c = spawn(hook, input);
  if (!c) {
    n.failed++;
    report_(
        {{"event", "hook"}, {"hook", hook}, {"result", "failed"}, {"error", c.error().message}});
    return;
  }
  n.started++;
  int fd = c->pidfd;
  running_.emplace(fd, std::move(*c));
}

void HookRunner::reap(int pidfd) {
  auto it = running_.find(pidfd);
  if (it == running_.end()) return;
  Child& c = it->second;
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(c.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
      info.si_pid == 0)
    return;  // not ended yet (spurious wakeup)
  // Whatever the hook left behind in its group goes with it: the concurrency cap counts hooks,
  // so their processes must not outlive them. Killed before the reap: while the leader is an
  // unreaped zombie its id cannot name any other process group.
  ::kill(-c.pid, SIGKILL);
  int st = 0;
  pid_t r = ::waitpid(c.pid, &st, 0);
  HookCounters& n = counters_[c.hook];
  long long ms = ms_between(c.started, Clock::now());
  nlohmann::ordered_json rec{{"event", "hook"}, {"hook", c.hook}};
  if (c.term_sent) {
    n.timed_out++;
    rec["result"] = "timeout";
    rec["timeout_ms"] = limits_.timeout.count();
    report_(rec);
  } else if (r > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
    n.succeeded++;
  } else {
    n.failed++;
    rec["result"] = "failed";
    if (r > 0 && WIFEXITED(st))
      rec["exit_status"] = WEXITSTATUS(st);
    else if (r > 0 && WIFSIGNALED(st))
      rec["signal"] = WTERMSIG(st);
    else
      rec["error"] = "waitpid: " + errstr(errno);
    rec["duration_ms"] = ms;
    report_(rec);
  }
  ::epoll_ctl(ep_, EPOLL_CTL_DEL, pidfd, nullptr);
  ::close(pidfd);
  running_.erase(it);
}

void HookRunner::report_drops(bool force) {
  if (unreported_drops_.empty()) return;
  auto now = Clock::now();
  if (!force && now < next_drop_report_) return;
  for (const auto& [hook, count] : unreported_drops_) {
    const HookCounters& n = counters_[hook];
    report_({{"event", "hook_dropped"},
             {"hook", hook},
             {"count", count},
             {"dropped_rate_limited", n.dropped_rate_limited},
             {"dropped_busy", n.dropped_busy}});
  }
  unreported_drops_.clear();
  next_drop_report_ = now + std::chrono::seconds(1);
}

void HookRunner::process() {
  epoll_event evs[16];
  for (;;) {
    int n = ::epoll_wait(ep_, evs, 16, 0);
    if (n <= 0) break;
    for (int i = 0; i < n; i++) reap(evs[i].data.fd);
    if (n < 16) break;
  }
  auto now = Clock::now();
  for (auto& [fd, c] : running_) {
    if (!c.term_sent && now >= c.deadline) {
      ::kill(-c.pid, SIGTERM);
      c.term_sent = true;
      c.deadline = now + limits_.kill_grace;
    } else if (c.term_sent && now >= c.deadline) {
      ::kill(-c.pid, SIGKILL);
      c.deadline = Clock::time_point::max();
    }
  }
  report_drops(false);
}

int HookRunner::next_timeout_ms() const {
  auto now = Clock::now();
  auto due = Clock::time_point::max();
  for (const auto& [fd, c] : running_) due = std::min(due, c.deadline);
  if (!unreported_drops_.empty()) due = std::min(due, next_drop_report_);
  if (due == Clock::time_point::max()) return -1;
  return static_cast<int>(std::clamp<long long>(ms_between(now, due) + 1, 0, 60'000));
}

nlohmann::ordered_json HookRunner::status() const {
  nlohmann::ordered_json s;
  for (const auto& [hook, cmd] : commands_) {
    const HookCounters& n = counters(hook);
    s[hook] = {{"command", cmd},
               {"started", n.started},
               {"succeeded", n.succeeded},
               {"failed", n.failed},
               {"timed_out", n.timed_out},
               {"dropped_rate_limited", n.dropped_rate_limited},
               {"dropped_busy", n.dropped_busy}};
  }
  s["running"] = running_.size();
  s["limits"] = {{"timeout_s", std::chrono::duration<double>(limits_.timeout).count()},
                 {"max_running", limits_.max_running},
                 {"rate_per_s", limits_.rate_per_s},
                 {"burst", limits_.burst}};
  return s;
}

}  // namespace modgate::response
