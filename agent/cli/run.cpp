#include <signal.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "agent/bpf/enforcer.h"
#include "agent/bpf/libbpf_log.h"
#include "agent/cli/commands.h"
#include "agent/events.h"
#include "policy/policy.h"

namespace modgate::cli {
namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop = true; }

struct RunOptions {
  std::string policy_file;
  std::string events_file;
  bool verbose = false;
};

int fail(const std::string& msg) {
  std::cerr << "modgate run: " << msg << "\n";
  return kExitFailure;
}

// What the kernel decided while we ran, for the operator reading the log of a stopped agent.
void print_counters(const std::unique_ptr<Enforcer>& enf) {
  auto st = enf->stats();
  if (!st) {
    std::cerr << "modgate: " << st.error().message << "\n";
    return;
  }
  std::cerr << "modgate: decisions:";
  bool any = false;
  for (std::uint32_t hook = 1; hook < MG_HOOK_COUNT; hook++) {
    std::string line;
    for (std::uint32_t v = 0; v < MG_VERDICT_COUNT; v++) {
      std::uint64_t n = (*st)[hook * MG_VERDICT_COUNT + v];
      if (n) line += std::string(" ") + verdict_name(v) + "=" + std::to_string(n);
    }
    if (!line.empty()) {
      std::cerr << "\n  " << hook_name(hook) << line;
      any = true;
    }
  }
  std::cerr << (any ? "\n  " : " none; ") << "events lost=" << (*st)[MG_STAT_RINGBUF_LOST]
            << " hash failures=" << (*st)[MG_STAT_HASH_FAILED] << std::endl;
}

int run(const RunOptions& o) {
  // There is no allow-all: without a policy the agent does not start.
  if (o.policy_file.empty())
    return fail("no policy given (--policy FILE); modgate never runs without one.");
  auto pol = policy::load_policy_file(o.policy_file);
  if (!pol) {
    std::cerr << pol.error().message << "\n";
    return fail("policy " + o.policy_file + " is invalid; nothing was loaded.");
  }
  auto compiled = policy::compile(*pol);
  if (!compiled) return fail(compiled.error().message);
  if (auto ok = preflight(); !ok) return fail(ok.error().message);

  libbpf_set_verbose(o.verbose);
  auto enf = Enforcer::load();
  if (!enf) return fail(enf.error().message);
  // The policy is in place before the first program is attached, so enforcement never starts
  // from an empty map.
  if (auto r = (*enf)->install(*compiled); !r) return fail(r.error().message);

  std::ofstream events_file;
  std::ostream* out = &std::cout;
  if (!o.events_file.empty()) {
    events_file.open(o.events_file, std::ios::app);
    if (!events_file) return fail("cannot open events file " + o.events_file);
    out = &events_file;
  }
  EventWriter writer(*out, *pol);
  if (auto r = (*enf)->open_events([&](const mg_event& e) { writer.write(e); }); !r)
    return fail(r.error().message);
  if (auto r = (*enf)->attach(); !r) return fail(r.error().message);

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  std::cerr << "modgate: ready: policy " << o.policy_file << " version " << pol->version
            << " (sha256 " << to_hex(pol->digest) << "), mode " << policy::mode_name(pol->mode)
            << ", " << compiled->allow.size() << " hashes allowlisted" << std::endl;

  std::uint64_t lost_reported = 0;
  while (!g_stop) {
    if (auto n = (*enf)->poll_events(250); !n) return fail(n.error().message);
    if (auto st = (*enf)->stats(); st) {
      std::uint64_t lost = (*st)[MG_STAT_RINGBUF_LOST];
      if (lost > lost_reported) {
        writer.write_lost(lost - lost_reported);
        lost_reported = lost;
      }
    }
  }
  // Drain what arrived before the signal.
  (void)(*enf)->poll_events(0);
  print_counters(*enf);
  std::cerr << "modgate: stopped; programs detached" << std::endl;
  return kExitOk;
}

}  // namespace

Runner register_run(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand("run", "Load the BPF LSM programs with a policy and enforce it");
  cmd->add_option("--policy", o->policy_file, "Policy file (YAML, docs/policy.md); required")
      ->required();
  cmd->add_option("--events", o->events_file,
                  "Append events as JSON lines to FILE instead of stdout");
  cmd->add_flag("--verbose", o->verbose, "Show libbpf's own messages on stderr");
  cmd->footer(
      "Prints one line containing 'ready' on stderr once enforcement is live, then streams one\n"
      "JSON line per decision worth reporting (deny and would-deny always; allow when the\n"
      "policy sets log_allowed) until SIGTERM or SIGINT.\n\n"
      "Examples:\n"
      "  modgate run --policy /etc/modgate/policy.yaml\n"
      "  modgate run --policy policy.yaml --events /var/log/modgate/events.jsonl");
  return [o] { return run(*o); };
}

}  // namespace modgate::cli
