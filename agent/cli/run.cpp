#include <memory>
#include <string>

#include "agent/bpf/enforcer.h"
#include "agent/cli/commands.h"
#include "agent/control/protocol.h"
#include "agent/daemon.h"

namespace modgate::cli {

Runner register_run(CLI::App& app) {
  auto o = std::make_shared<DaemonOptions>();
  o->socket_path = control::kDefaultSocket;
  o->pin_dir = kDefaultPinDir;
  o->state_dir = "/var/lib/modgate";
  auto* cmd = app.add_subcommand("run",
                                 "Enforce a policy: load, attach and pin the BPF LSM "
                                 "programs, then serve the control socket and stream events");
  cmd->add_option("--policy", o->policy_file,
                  "Policy file (YAML, docs/policy.md); SIGHUP re-reads it. Needed unless a policy "
                  "is already in force (pinned), or --watch or --pull gives one");
  cmd->add_option("--events", o->events_file, "Append events as JSON lines to FILE, not stdout");
  cmd->add_option("--watch", o->watch_dir,
                  "Follow DIR/policy.yaml (or --policy inside DIR): apply it whenever it is "
                  "replaced, as editors, config management and Kubernetes ConfigMaps do");
  cmd->add_option("--trust", o->trust_dir,
                  "Accept only policies signed by a key in DIR (*.pem public keys, modgate "
                  "keygen); plain policy files are then refused, and a signed version at or "
                  "below the highest ever applied here is refused (anti-rollback, kept in "
                  "--state-dir)");
  add_duration_option(cmd, "--max-future-skew", o->max_future_skew,
                      "With --trust: how far a bundle's creation time may lie in this host's "
                      "future")
      ->default_str("5min");
  cmd->add_option("--pull", o->pull_url,
                  "Poll URL (https:// only) for a signed bundle and apply it when it changes; "
                  "needs --trust. Failures keep the policy in force and show in status");
  cmd->add_option("--ca", o->pull_ca,
                  "With --pull: trust only the CA certificates in FILE (PEM) for the server, "
                  "not the system's");
  add_duration_option(cmd, "--interval", o->pull_interval,
                      "With --pull: time between polls (each jittered by +-20%; failures back "
                      "off exponentially up to 15 min)")
      ->default_str("60s");
  cmd->add_option("--machine-id", o->machine_id_file,
                  "Where this host's machine id is read from, for a policy's staged rollout")
      ->capture_default_str();
  cmd->add_option("--socket", o->socket_path, "Control socket")->capture_default_str();
  cmd->add_option("--pin-dir", o->pin_dir, "bpffs directory holding the pinned programs and maps")
      ->capture_default_str();
  cmd->add_option("--state-dir", o->state_dir,
                  "Where the applied policy is kept for a restarted agent")
      ->capture_default_str();
  cmd->add_option("--metrics-file", o->metrics_file,
                  "Write Prometheus metrics to FILE (must end in .prom) for node_exporter's "
                  "textfile collector, replaced atomically after every policy change and every "
                  "--metrics-interval");
  add_duration_option(cmd, "--metrics-interval", o->metrics_interval,
                      "How often --metrics-file is rewritten")
      ->default_str("15s");
  cmd->add_flag("--verbose", o->verbose, "Show libbpf's own messages on stderr");
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
      "      --metrics-file /var/lib/prometheus/node-exporter/modgate.prom");
  return [o] {
    if (o->watch_dir.size() > 1 && o->watch_dir.back() == '/') o->watch_dir.pop_back();
    return run_daemon(*o);
  };
}

}  // namespace modgate::cli
