// SPDX-License-Identifier: Apache-2.0
// The commands that talk to a running agent over its control socket: status, apply, disarm.
#include <unistd.h>

#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "agent/bpf/enforcer.h"
#include "agent/cli/commands.h"
#include "agent/cli/style.h"
#include "agent/control/protocol.h"
#include "agent/disarm.h"
#include "agent/report/prometheus.h"
#include "policy/policy.h"
#include "policy/preloaded.h"

namespace modgate::cli {
namespace {

// Ordered, so that the status prints (and its metrics render) in the agent's own order.
using json = nlohmann::ordered_json;

Result<json> ask(const std::string& socket, const control::Request& req, int timeout_s,
                 control::ClientError* err = nullptr) {
  auto r = control::call(socket, req, timeout_s, err);
  if (!r) return r.error();
  json j = json::parse(r->line, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Error{"the agent answered something that is not JSON"};
  return j;
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "-";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

void print_status(const json& s) {
  const Style st = Style::for_fd(1);
  const json& a = s["agent"];
  const json& p = s["policy"];
  auto row = [](const std::string& k, const std::string& v) {
    // 14 columns: a 64-digit digest still fits an 80-column line with room for an indent.
    std::cout << std::left << std::setw(14) << k << v << "\n";
  };
  if (p.is_null()) {
    row("policy", st.bad("none in force"));
  } else {
    std::string mode = st.mode(str(p, "mode"));
    if (p.contains("configured_mode") && p["configured_mode"] != p["mode"])
      mode += " (policy says " + str(p, "configured_mode") + "; this host is outside the rollout)";
    row("mode", mode);
    row("version", str(p, "version"));
    row("sha256", str(p, "digest"));
    row("allowlisted", str(p, "entries") + " hashes");
    row("autoload", "allow " + str(p, "autoload_allow") + " pattern(s), deny " +
                        str(p, "autoload_deny") + " pattern(s)");
    // Modules always; firmware and kexec only with their policy sections (docs/policy.md).
    std::string judged = "modules";
    if (p.value("firmware", false)) judged += ", firmware";
    if (p.value("kexec", false)) judged += ", kexec images";
    row("judged", judged);
  }
  if (s.contains("ftrace_enabled") && s["ftrace_enabled"] == false)
    row("programs", st.bad("NOT RUNNING: kernel.ftrace_enabled is 0"));
  // The next boot may run a kernel the policy does not name: said before anyone reboots.
  if (s.contains("kernels") && s["kernels"].is_object() && s["kernels"].contains("not_covered"))
    for (const auto& release : s["kernels"]["not_covered"])
      row("next boot", st.bad(release.get<std::string>() + " installed, not in the policy"));
  const json& la = s["last_apply"];
  if (!la.is_null()) {
    bool ok = str(la, "result") == "ok";
    row("last apply", (ok ? st.good("ok") : st.bad(str(la, "result"))) + " at " + str(la, "time") +
                          " via " + str(la, "source"));
    if (!ok) row("", str(la, "message"));
  }
  row("events lost", str(s, "events_lost"));
  row("hash failures", str(s, "hash_failures"));
  row("agent", "pid " + str(a, "pid") + ", up " + str(a, "uptime_s") + " s, object " +
                   str(a, "object") + (a.value("adopted", false) ? " (adopted)" : ""));
  row("pinned",
      (a.value("pinned", false) ? std::string("yes") : st.bad("NO")) + " in " + str(a, "pin_dir"));
  row("kernel", str(a, "kernel_release"));
  std::cout << "\n"
            << std::left << std::setw(24) << "hook" << std::right << std::setw(10) << "allow"
            << std::setw(10) << "deny" << std::setw(12) << "would-deny"
            << "\n";
  for (const auto& [hook, c] : s["counters"].items())
    std::cout << std::left << std::setw(24) << hook << std::right << std::setw(10)
              << c.value("allow", 0) << std::setw(10) << c.value("deny", 0) << std::setw(12)
              << c.value("would-deny", 0) << "\n";
  // The same load decisions by what was loaded; firmware and kexec share the hooks above.
  if (s.contains("decisions_by_kind") && !s["decisions_by_kind"].empty()) {
    std::cout << "\n";
    for (const auto& [kind, c] : s["decisions_by_kind"].items())
      std::cout << std::left << std::setw(24) << kind << std::right << std::setw(10)
                << c.value("allow", 0) << std::setw(10) << c.value("deny", 0) << std::setw(12)
                << c.value("would-deny", 0) << "\n";
  }
}

}  // namespace

Runner register_status(CLI::App& app) {
  struct Opts {
    std::string socket = control::kDefaultSocket;
    bool json = false;
    bool prometheus = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("status", "Show what the running agent enforces and has decided");
  auto* json_flag = cmd->add_flag("--json", o->json,
                                  "Print the status object (docs/control.md) instead of a table");
  cmd->add_flag("--prometheus", o->prometheus,
                "Print the status as Prometheus metrics (the same text --metrics-file holds; "
                "docs/fleet.md)")
      ->excludes(json_flag);
  cmd->add_option("--socket", o->socket, "The agent's control socket")->capture_default_str();
  cmd->footer(
      "Exit status: 0, or 1 when no agent answers.\n\nExamples:\n  modgate status\n"
      "  modgate status --json | jq .policy.version\n"
      "  modgate status --prometheus");
  return [o] {
    control::Request req;
    auto j = ask(o->socket, req, 10);
    if (!j) {
      std::cerr << "modgate status: " << j.error().message << "\n";
      return kExitFailure;
    }
    if (!j->value("ok", false)) {
      std::cerr << "modgate status: " << str(*j, "error") << "\n";
      return kExitFailure;
    }
    if (o->json)
      std::cout << (*j)["status"].dump(2) << "\n";
    else if (o->prometheus)
      std::cout << report::render_prometheus((*j)["status"]);
    else
      print_status((*j)["status"]);
    return kExitOk;
  };
}

Runner register_apply(CLI::App& app) {
  struct Opts {
    std::string socket = control::kDefaultSocket;
    std::string file;
    bool force = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd =
      app.add_subcommand("apply", "Make the running agent enforce a new policy, atomically");
  cmd->add_option("FILE", o->file, "Policy file")->required();
  cmd->add_flag("--force", o->force,
                "Apply even if its version is not above the one in force, or its kernels: list "
                "excludes this kernel (logged as forced)");
  cmd->add_option("--socket", o->socket, "The agent's control socket")->capture_default_str();
  cmd->footer(
      "The agent validates the file (same FILE:LINE:COL errors as 'policy check'), refuses a\n"
      "version not greater than the one in force, and swaps the whole policy in one step; a\n"
      "refused file leaves the policy in force untouched.\n"
      "Exit status: 0 applied (or already in force), 1 refused or no agent.\n\n"
      "Example:\n  modgate apply /etc/modgate/policy.yaml");
  return [o] {
    auto text = policy::read_policy_text(o->file);
    if (!text) {
      std::cerr << "modgate apply: " << text.error().message << "\n";
      return kExitFailure;
    }
    control::Request req;
    req.cmd = control::Request::Cmd::kApply;
    req.file = o->file;
    req.content = std::move(*text);
    req.force = o->force;
    auto j = ask(o->socket, req, 120);
    if (!j) {
      std::cerr << "modgate apply: " << j.error().message << "\n";
      return kExitFailure;
    }
    if (j->contains("errors")) std::cerr << (*j)["errors"].get<std::string>() << "\n";
    if (!j->value("ok", false)) {
      std::cerr << "modgate apply: "
                << (j->contains("error") ? str(*j, "error") : str(*j, "message")) << "\n";
      return kExitFailure;
    }
    std::cout << "modgate apply: " << str(*j, "message") << "\n";
    if (j->contains("digest")) std::cout << "policy sha256 " << str(*j, "digest") << "\n";
    return kExitOk;
  };
}

Runner register_disarm(CLI::App& app) {
  struct Opts {
    std::string socket = control::kDefaultSocket;
    std::string pin_dir = kDefaultPinDir;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "disarm", "Stop enforcing: detach and unpin modgate's programs (the running agent exits)");
  cmd->add_option("--socket", o->socket, "The agent's control socket")->capture_default_str();
  cmd->add_option("--pin-dir", o->pin_dir, "Where the programs are pinned")->capture_default_str();
  cmd->footer(
      "Stopping or killing the agent leaves enforcement in place; this is the one explicit way\n"
      "to remove it. Without a running agent the pins are removed directly.\n\n"
      "Example:\n  modgate disarm");
  return [o] {
    control::Request req;
    req.cmd = control::Request::Cmd::kDisarm;
    control::ClientError err;
    auto j = ask(o->socket, req, 30, &err);
    if (!j && !err.not_running) {
      std::cerr << "modgate disarm: " << j.error().message << "\n";
      return kExitFailure;
    }
    if (j) {
      if (!j->value("ok", false)) {
        std::cerr << "modgate disarm: " << str(*j, "error") << "\n";
        return kExitFailure;
      }
      std::cout << "modgate disarm: the agent removed its pins and exited:\n"
                << describe_unpinned(j->value("removed", nlohmann::ordered_json::object()))
                << "Module loads are no longer checked.\n";
      return kExitOk;
    }
    auto removed = Enforcer::unpin_all(o->pin_dir);
    if (!removed) {
      std::cerr << "modgate disarm: " << removed.error().message << "\n";
      return kExitFailure;
    }
    // The record of what was loaded before enforcement began speaks for the pins just removed.
    auto slash = o->socket.find_last_of('/');
    if (slash != std::string::npos)
      ::unlink((o->socket.substr(0, slash + 1) + policy::kPreloadedFileName).c_str());
    const std::string what = describe_unpinned(unpinned_json(*removed));
    if (what.empty())
      std::cout << "modgate disarm: no agent was running and nothing was pinned in\n  "
                << o->pin_dir << ": nothing was being enforced.\n";
    else
      std::cout << "modgate disarm: no agent was running; removed the pins:\n"
                << what << "Module loads are no longer checked.\n";
    return kExitOk;
  };
}

}  // namespace modgate::cli
