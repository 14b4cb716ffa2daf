// SPDX-License-Identifier: Apache-2.0

#include <sys/stat.h>

#include <cmath>
#include <iostream>
#include <memory>
#include <string>

#include "agent/bpf/enforcer.h"
#include "agent/cli/commands.h"
#include "agent/cli/config_file.h"
#include "agent/control/protocol.h"
#include "agent/daemon.h"

namespace modgate::cli {
namespace {

struct RunCliOptions {
  DaemonOptions d;
  std::string config;
  std::string on_deny, on_would_deny;
  std::string fallback = "report";
  double hook_timeout_s = 10;
};

}  // namespace

Runner register_run(CLI::App& app) {
  auto o = std::make_shared<RunCliOptions>();
  o->d.socket_path = control::kDefaultSocket;
  o->d.pin_dir = kDefaultPinDir;
  o->d.state_dir = "/var/lib/modgate";
  auto* cmd = app.add_subcommand("run",
                                 "Enforce a policy: load, attach and pin the BPF LSM "
                                 "programs, then serve the control socket and stream events");
  cmd->add_option("--config", o->config,
                  std::string("Read options from FILE (TOML/INI: one 'key = value' per line, the "
                              "keys are the long options below, e.g. policy, on_deny); the "
                              "command line wins. Default ") +
                      kDefaultConfigFile + " when it exists; --config /dev/null for none")
      ->configurable(false);
  cmd->add_option("--policy", o->d.policy_file,
                  "Policy file (YAML, docs/policy.md); SIGHUP re-reads it. Needed unless a policy "
                  "is already in force (pinned), or --watch or --pull gives one");
  cmd->add_option("--events", o->d.events_file, "Append events as JSON lines to FILE, not stdout");
  cmd->add_option("--watch", o->d.watch_dir,
                  "Follow DIR/policy.yaml (or --policy inside DIR): apply it whenever it is "
                  "replaced, as editors, config management and Kubernetes ConfigMaps do");
  cmd->add_option("--trust", o->d.trust_dir,
                  "Accept only policies signed by a key in DIR (*.pem public keys, modgate "
                  "keygen); plain policy files are then refused, and a signed version at or "
                  "below the highest ever applied here is refused (anti-rollback, kept in "
                  "--state-dir)");
  add_duration_option(cmd, "--max-future-skew", o->d.max_future_skew,
                      "With --trust: how far a bundle's creation time may lie in this host's "
                      "future")
      ->default_str("5min");
  cmd->add_option("--pull", o->d.pull_url,
                  "Poll URL (https:// only) for a signed bundle and apply it when it changes; "
                  "needs --trust. Failures keep the policy in force and show in status");
  cmd->add_option("--ca", o->d.pull_ca,
                  "With --pull: trust only the CA certificates in FILE (PEM) for the server, "
                  "not the system's");
  add_duration_option(cmd, "--interval", o->d.pull_interval,
                      "With --pull: time between polls (each jittered by +-20%; failures back "
                      "off exponentially up to 15 min)")
      ->default_str("60s");
  cmd->add_option("--machine-id", o->d.machine_id_file,
                  "Where this host's machine id is read from, for a policy's staged rollout")
      ->capture_default_str();
  cmd->add_option("--socket", o->d.socket_path, "Control socket")->capture_default_str();
  cmd->add_option("--pin-dir", o->d.pin_dir, "bpffs directory holding the pinned programs and maps")
      ->capture_default_str();
  cmd->add_option("--state-dir", o->d.state_dir,
                  "Where the applied policy is kept for a restarted agent")
      ->capture_default_str();
  cmd->add_option("--on-deny", o->on_deny,
                  "Run CMD (with /bin/sh -c) for each denied load, the event's JSON line on its "
                  "stdin and MODGATE_HOOK=on_deny in its environment (docs/hooks.md)");
  cmd->add_option("--on-would-deny", o->on_would_deny,
                  "Run CMD the same way for each load a dry-run policy would deny");
  cmd->add_option("--hook-timeout", o->hook_timeout_s,
                  "Seconds a hook may run; then SIGTERM to its process group, SIGKILL 2 s later")
      ->check(CLI::Range(0.001, 3600.0))
      ->capture_default_str();
  cmd->add_option("--hook-max-running", o->d.hook_limits.max_running,
                  "Hook processes at once, all hooks together; events beyond are dropped and "
                  "counted")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--hook-rate", o->d.hook_limits.rate_per_s,
                  "Hook starts per second sustained (token bucket, all hooks together); events "
                  "beyond are dropped and counted")
      ->check(CLI::Range(0.001, 1000.0))
      ->capture_default_str();
  cmd->add_option("--hook-burst", o->d.hook_limits.burst,
                  "Hook starts allowed at once after a quiet period (the bucket's size)")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  cmd->add_flag("--arm-only", o->d.arm_only,
                "Install the policy, attach and pin, record what was loaded before, then exit; "
                "events wait in the pinned ring buffer for the next agent (the initramfs, "
                "docs/boot.md)");
  cmd->add_option("--fallback", o->fallback,
                  "What a start installs when its policy cannot be put in force and none is "
                  "(unreadable or invalid file, bad signature or trust store, unreadable "
                  "anti-rollback mark): 'report' allows every load and reports each as "
                  "would-deny; 'deny' refuses every module load. Either way the agent keeps "
                  "running, says why (stderr, status, metrics, a 'fallback' event) and takes the "
                  "next good policy. A policy for other kernels runs as its other_kernels: says")
      ->check(CLI::IsMember({"report", "deny"}))
      ->capture_default_str();
  cmd->add_option("--metrics-file", o->d.metrics_file,
                  "Write Prometheus metrics to FILE (must end in .prom) for node_exporter's "
                  "textfile collector, replaced atomically after every policy change and every "
                  "--metrics-interval");
  add_duration_option(cmd, "--metrics-interval", o->d.metrics_interval,
                      "How often --metrics-file is rewritten")
      ->default_str("15s");
  cmd->add_flag("--verbose", o->d.verbose, "Show libbpf's own messages on stderr");
  cmd->footer(
      "Prints one line containing 'ready' on stderr once enforcement is live, then one JSON line\n"
      "per decision worth reporting (deny and would-deny always; allow when the policy sets\n"
      "log_allowed), and one per policy change (docs/events.md).\n\n"
      "Programs and maps are pinned: when the agent stops or dies, enforcement goes on with the\n"
      "last policy, and the next agent adopts it. 'modgate disarm' is the one way to remove it.\n"
      "A policy change (modgate apply, SIGHUP, --watch) must raise 'version'.\n\n"
      "Examples:\n"
      "  modgate run --policy /etc/modgate/policy.yaml\n"
      "  modgate run --watch /etc/modgate --events /var/log/modgate/events.jsonl\n"
      "  modgate run --trust /etc/modgate/trust --pull https://policy.example.com/fleet.bundle\n"
      "  modgate run --policy /etc/modgate/policy.yaml \\\n"
      "      --metrics-file /var/lib/prometheus/node-exporter/modgate.prom\n"
      "  modgate run --config /etc/modgate/modgate.conf --on-deny /usr/share/modgate/hooks/syslog\n"
      "  modgate run --arm-only --policy /etc/modgate/policy.yaml   # initramfs");
  return [o, cmd]() -> int {
    struct stat st {};
    std::string config = o->config;
    if (config.empty() && ::stat(kDefaultConfigFile, &st) == 0) config = kDefaultConfigFile;
    if (!config.empty()) {
      if (auto r = apply_config_file(*cmd, config); !r) {
        std::cerr << "modgate run: " << r.error().message << "\n";
        return kExitUsage;
      }
    }
    DaemonOptions& d = o->d;
    d.fallback = *parse_fallback_action(o->fallback);
    if (!o->on_deny.empty()) d.hooks["on_deny"] = o->on_deny;
    if (!o->on_would_deny.empty()) d.hooks["on_would_deny"] = o->on_would_deny;
    d.hook_limits.timeout = std::chrono::milliseconds(std::llround(o->hook_timeout_s * 1000));
    if (auto v = response::validate(d.hook_limits); !v) {
      std::cerr << "modgate run: " << v.error().message << "\n";
      return kExitUsage;
    }
    if (d.watch_dir.size() > 1 && d.watch_dir.back() == '/') d.watch_dir.pop_back();
    return run_daemon(d);
  };
}

}  // namespace modgate::cli
