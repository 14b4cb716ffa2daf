// SPDX-License-Identifier: Apache-2.0

#include "agent/report/prometheus.h"

#include <sstream>

#include "agent/util/atomic_file.h"

namespace modgate::report {
namespace {

using nlohmann::ordered_json;

// Label values may hold anything a policy or a server sent (an error message, a URL); the format
// allows any UTF-8 with \\, \" and \n escaped.
std::string escape_label(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// One metric family: HELP and TYPE once, then its samples, as the format requires.
class Family {
 public:
  Family(std::ostringstream& out, const char* name, const char* type, const char* help)
      : out_(out), name_(name) {
    out_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  }
  Family& sample(const ordered_json& value,
                 std::initializer_list<std::pair<const char*, std::string>> labels = {}) {
    out_ << name_;
    if (labels.size() != 0) {
      out_ << '{';
      bool first = true;
      for (const auto& [k, v] : labels) {
        out_ << (first ? "" : ",") << k << "=\"" << escape_label(v) << '"';
        first = false;
      }
      out_ << '}';
    }
    out_ << ' ';
    if (value.is_boolean())
      out_ << (value.get<bool>() ? 1 : 0);
    else
      out_ << value.dump();
    out_ << '\n';
    return *this;
  }

 private:
  std::ostringstream& out_;
  const char* name_;
};

bool has(const ordered_json& j, const char* key) {
  return j.is_object() && j.contains(key) && !j[key].is_null();
}

std::string str(const ordered_json& j, const char* key) {
  if (!has(j, key)) return "";
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

}  // namespace

std::string render_prometheus(const ordered_json& s) {
  std::ostringstream out;
  const ordered_json& pol = has(s, "policy") ? s["policy"] : ordered_json();
  if (pol.is_object()) {
    Family(out, "modgate_policy_info", "gauge",
           "The policy in force; its identity is in the labels, the value is always 1.")
        .sample(1, {{"version", str(pol, "version")},
                    {"digest", str(pol, "digest")},
                    {"mode", str(pol, "mode")},
                    {"configured_mode", has(pol, "configured_mode") ? str(pol, "configured_mode")
                                                                    : str(pol, "mode")}});
    Family(out, "modgate_policy_version", "gauge", "Version of the policy in force.")
        .sample(pol["version"]);
    Family(out, "modgate_enforcing", "gauge",
           "1 when denied loads fail with EPERM, 0 in dry-run (effective mode, after rollout).")
        .sample(pol["mode"] == "enforce");
    Family(out, "modgate_policy_allowlist_entries", "gauge", "Hashes on the allowlist in force.")
        .sample(pol["entries"]);
    if (has(pol, "rollout")) {
      const auto& r = pol["rollout"];
      Family(out, "modgate_rollout_enforce_ratio", "gauge",
             "Share of the fleet the policy's rollout puts in enforce (0 to 1).")
          .sample(r["enforce_percent"].get<double>() / 100.0);
      Family(out, "modgate_rollout_in_enforce_cohort", "gauge",
             "1 when this host is in the enforcing cohort of the rollout.")
          .sample(r["in_cohort"]);
      Family(out, "modgate_rollout_cohort_position", "gauge",
             "This host's position in the rollout, 0 to 9999 (docs/fleet.md, Rollout cohorts).")
          .sample(r["bucket"]);
    }
  }
  Family(out, "modgate_policy_present", "gauge", "1 when a policy is in force.")
      .sample(pol.is_object());
  Family(out, "modgate_fallback_active", "gauge",
         "1 while a fallback runs because the start could not put the configured policy in "
         "force (docs/boot.md, When the start fails).")
      .sample(has(s, "fallback"));
  if (has(s, "fallback"))
    Family(out, "modgate_fallback_info", "gauge",
           "Why the fallback runs and what it does; the value is always 1.")
        .sample(1, {{"reason", str(s["fallback"], "reason")},
                    {"action", str(s["fallback"], "action")}});

  if (has(s, "ftrace_enabled"))
    Family(out, "modgate_ftrace_enabled", "gauge",
           "kernel.ftrace_enabled; at 0 the kernel runs none of modgate's programs (alert when 0).")
        .sample(s["ftrace_enabled"].get<bool>() ? 1 : 0);
  if (has(s, "kernels") && has(s["kernels"], "not_covered")) {
    const auto& nc = s["kernels"]["not_covered"];
    Family(out, "modgate_kernels_not_covered", "gauge",
           "Installed kernels, other than the running one, that the policy's kernels: does not "
           "name: booting one runs the policy as its other_kernels: says (docs/rollout.md).")
        .sample(nc.size());
    if (!nc.empty()) {
      Family f(out, "modgate_kernel_not_covered_info", "gauge",
               "One per installed kernel the policy does not name; the value is always 1.");
      for (const auto& release : nc) f.sample(1, {{"release", release.get<std::string>()}});
    }
  }
  if (has(s, "counters") && !s["counters"].empty()) {
    Family f(out, "modgate_decisions_total", "counter",
             "Module, firmware and kexec load decisions and autoload decisions, by LSM hook "
             "and verdict.");
    for (const auto& [hook, verdicts] : s["counters"].items())
      for (const auto& [verdict, n] : verdicts.items())
        f.sample(n, {{"hook", hook}, {"verdict", verdict}});
  }
  // The load decisions of every hook but kernel_module_request again, by what was loaded.
  if (has(s, "decisions_by_kind") && !s["decisions_by_kind"].empty()) {
    Family f(out, "modgate_load_decisions_total", "counter",
             "Load decisions by kind (module, firmware, kexec_image, kexec_initramfs) and "
             "verdict.");
    for (const auto& [kind, verdicts] : s["decisions_by_kind"].items())
      for (const auto& [verdict, n] : verdicts.items())
        f.sample(n, {{"kind", kind}, {"verdict", verdict}});
  }
  if (has(s, "tamper_attempts") && !s["tamper_attempts"].empty()) {
    Family f(out, "modgate_tamper_attempts_total", "counter",
             "Attempts to switch modgate off, blind or stop it, by operation: refused under "
             "protect, reported in dry-run (docs/threat-model.md).");
    for (const auto& [op, n] : s["tamper_attempts"].items()) f.sample(n, {{"operation", op}});
  }
  if (has(s, "events_lost"))
    Family(out, "modgate_events_lost_total", "counter",
           "Events the kernel could not queue (ring buffer full); each decision still counted.")
        .sample(s["events_lost"]);
  if (has(s, "hash_failures"))
    Family(out, "modgate_hash_failures_total", "counter",
           "Loads whose bytes could not be hashed (refused, fail closed).")
        .sample(s["hash_failures"]);

  if (has(s, "apply")) {
    const auto& a = s["apply"];
    if (has(a, "last_success_unix"))
      Family(out, "modgate_policy_apply_last_success_timestamp_seconds", "gauge",
             "When a policy was last applied (Unix time).")
          .sample(a["last_success_unix"]);
    if (has(a, "last_failure_unix"))
      Family(out, "modgate_policy_apply_last_failure_timestamp_seconds", "gauge",
             "When a policy was last refused (Unix time).")
          .sample(a["last_failure_unix"]);
    Family(out, "modgate_policy_apply_failures_total", "counter",
           "Policies refused, from any source (file, socket, pull).")
        .sample(a["failures_total"]);
    if (has(a, "refusals") && !a["refusals"].empty()) {
      Family f(out, "modgate_policy_refusals_total", "counter",
               "Policies refused, by reason (bad_signature, unknown_key, rollback, ...).");
      for (const auto& [reason, n] : a["refusals"].items()) f.sample(n, {{"reason", reason}});
    }
  }
  // A trust store that could not be read has no mark to report (its status is dir and error);
  // the fallback metrics say why.
  if (has(s, "trust") && has(s["trust"], "high_water_version"))
    Family(out, "modgate_trust_high_water_version", "gauge",
           "Highest signed policy version ever applied on this host; older ones are refused.")
        .sample(s["trust"]["high_water_version"]);
  if (has(s, "pull")) {
    const auto& p = s["pull"];
    Family(out, "modgate_pull_attempts_total", "counter", "Policy pulls attempted.")
        .sample(p["attempts"]);
    Family(out, "modgate_pull_failures_total", "counter",
           "Policy pulls that failed (network, TLS, HTTP status, size or time limit).")
        .sample(p["failures_total"]);
    Family(out, "modgate_pull_consecutive_failures", "gauge",
           "Failed pulls since the last success; drives the backoff.")
        .sample(p["consecutive_failures"]);
    if (has(p, "last_success_unix"))
      Family(out, "modgate_pull_last_success_timestamp_seconds", "gauge",
             "When a pull last succeeded, 200 or 304 (Unix time).")
          .sample(p["last_success_unix"]);
    if (has(p, "last_failure_unix"))
      Family(out, "modgate_pull_last_failure_timestamp_seconds", "gauge",
             "When a pull last failed (Unix time).")
          .sample(p["last_failure_unix"]);
  }
  if (has(s, "new_read_ids"))
    Family(out, "modgate_new_read_ids_total", "counter",
           "File reads with an id this modgate does not know, outside finit_module (left to the "
           "kernel; a kernel newer than modgate).")
        .sample(s["new_read_ids"]);
  if (has(s, "agent") && has(s["agent"], "hooks_unattached"))
    Family(out, "modgate_hooks_unattached", "gauge",
           "Tamper-protection hooks this kernel has in a shape modgate has no program for.")
        .sample(s["agent"]["hooks_unattached"].size());
  if (has(s, "agent") && has(s["agent"], "start_unix"))
    Family(out, "modgate_agent_start_timestamp_seconds", "gauge",
           "When the running agent started (Unix time).")
        .sample(s["agent"]["start_unix"]);
  return out.str();
}

Result<Ok> write_textfile(const std::string& path, const std::string& text) {
  if (path.size() < 5 || path.compare(path.size() - 5, 5, ".prom") != 0)
    return Error{"metrics file " + path +
                 " must end in .prom (node_exporter's textfile collector reads only those)"};
  return write_atomically(path, text, 0644);
}

}  // namespace modgate::report
