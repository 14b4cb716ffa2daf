// SPDX-License-Identifier: Apache-2.0
// `modgate audit`: an inventory of the modules in the running kernel, judged (docs/audit.md). The
// exit status is the gate: 0 nothing found, 1 findings, 2 the audit could not run.
#include "policy/audit.h"

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "agent/cli/commands.h"
#include "policy/policy.h"

namespace modgate::cli {
namespace {

constexpr int kExitAuditError = 2;

struct AuditCliOptions {
  std::string policy_file, modules_dir, certs_dir, root = "/", preloaded;
  bool json = false;
};

int run_audit(const AuditCliOptions& o) {
  policy::AuditOptions ao;
  ao.root = o.root;
  if (!o.modules_dir.empty()) ao.modules_dir = o.modules_dir;
  if (!o.certs_dir.empty()) ao.certs_dir = o.certs_dir;
  ao.preloaded_file = !o.preloaded.empty() ? o.preloaded
                                           : (o.root == "/" ? std::string() : o.root) +
                                                 "/run/modgate/" + policy::kPreloadedFileName;
  std::optional<policy::Policy> pol;
  if (!o.policy_file.empty()) {
    auto p = policy::load_policy_file(o.policy_file);
    if (!p) {
      std::cerr << p.error().message << "\n";
      return kExitAuditError;
    }
    pol = std::move(*p);
    ao.policy = &*pol;
  }
  auto r = policy::run_audit(ao);
  if (!r) {
    std::cerr << "modgate audit: " << r.error().message << "\n";
    return kExitAuditError;
  }
  if (!o.json)
    for (const auto& w : r->warnings) std::cerr << "modgate audit: warning: " << w << "\n";
  std::cout << (o.json ? policy::audit_json(*r) : policy::audit_text(*r));
  return r->findings.empty() ? kExitOk : kExitFailure;
}

}  // namespace

Runner register_audit(CLI::App& app) {
  auto o = std::make_shared<AuditCliOptions>();
  auto* cmd = app.add_subcommand(
      "audit", "Inventory loaded modules: files, hashes, signatures, taint, policy, CIS list");
  cmd->add_option("--policy", o->policy_file, "Check each loaded module against this policy");
  cmd->add_option("--modules", o->modules_dir,
                  "Module tree (default ROOT/lib/modules/$(uname -r) as /proc says)");
  cmd->add_option("--root", o->root,
                  "Read /proc, /sys, modprobe.d and /lib/modules under this directory");
  cmd->add_option("--certs", o->certs_dir,
                  "Signing certificates (X.509 PEM or DER): validity, and which modules each "
                  "signed");
  cmd->add_option("--preloaded-record", o->preloaded,
                  "The running agent's record of the modules loaded before enforcement began "
                  "(default ROOT/run/modgate/loaded-before-enforcement.json; docs/boot.md)");
  cmd->add_flag("--json", o->json, "One JSON object (schema modgate-audit/1, docs/audit.md)");
  cmd->footer(
      "Exit status: 0 no findings, 1 findings, 2 the audit could not run (bad policy, no "
      "/proc/modules).\n\nExample:\n  modgate audit --policy /etc/modgate/policy.yaml --json");
  return [o]() -> int { return run_audit(*o); };
}

}  // namespace modgate::cli
