// SPDX-License-Identifier: Apache-2.0
// The running agent: one thread, one epoll loop over the event ring buffer, the control socket,
// signals and the watched policy directory. Every policy change, whatever its source, goes
// through Daemon::apply, so the rules (validation, version, kernel match) are the same for all.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "agent/fallback.h"
#include "agent/response/hooks.h"

namespace modgate {

struct DaemonOptions {
  std::string policy_file;  // may be empty when adopting pinned state or with watch_dir
  std::string events_file;  // empty: stdout
  std::string socket_path;
  std::string pin_dir;
  std::string watch_dir;  // empty: no watching
  std::string state_dir;
  std::string trust_dir;  // non-empty: accept only bundles signed by a key in it
  std::chrono::seconds max_future_skew{300};
  std::string machine_id_file = "/etc/machine-id";
  std::string pull_url;  // non-empty: poll it for bundles (needs trust_dir)
  std::string pull_ca;
  std::chrono::seconds pull_interval{60};
  std::string metrics_file;  // empty: no textfile; else rewritten every metrics_interval
  std::chrono::seconds metrics_interval{15};
  bool verbose = false;
  // Response hooks (docs/hooks.md): "on_deny" / "on_would_deny" -> shell command.
  std::map<std::string, std::string> hooks;
  response::HookLimits hook_limits;
  // Install the policy, attach and pin, record what was loaded before, then exit, leaving the
  // events in the pinned ring buffer for the next agent (the initramfs; docs/boot.md).
  bool arm_only = false;
  // What a start that cannot put its policy in force installs instead (agent/fallback.h).
  FallbackAction fallback = FallbackAction::kReport;
};

// --arm-only's exit code when it armed the fallback rather than the policy given.
inline constexpr int kArmedFallbackExit = 3;

// Runs until SIGTERM/SIGINT (enforcement stays, pinned) or a disarm request (removed).
// Returns the process exit code.
int run_daemon(const DaemonOptions& options);

}  // namespace modgate
