// SPDX-License-Identifier: Apache-2.0

#include "policy/diff.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "policy/rollout.h"

namespace modgate::policy {
namespace {

std::string flag(bool b) { return b ? "true" : "false"; }

void set_difference(const std::vector<std::string>& a, const std::vector<std::string>& b,
                    std::vector<std::string>& only_a, std::vector<std::string>& only_b) {
  std::set<std::string> sa(a.begin(), a.end()), sb(b.begin(), b.end());
  std::set_difference(sa.begin(), sa.end(), sb.begin(), sb.end(), std::back_inserter(only_a));
  std::set_difference(sb.begin(), sb.end(), sa.begin(), sa.end(), std::back_inserter(only_b));
}

void diff_entries(const std::vector<ModuleEntry>& a, const std::vector<ModuleEntry>& b,
                  std::vector<ModuleEntry>& added, std::vector<ModuleEntry>& removed,
                  std::vector<PolicyDiff::Changed>& changed) {
  using Key = std::tuple<std::string, Sha256>;
  std::map<Key, const ModuleEntry*> ma, mb;
  for (const auto& m : a) ma.emplace(Key{m.name, m.sha256}, &m);
  for (const auto& m : b) mb.emplace(Key{m.name, m.sha256}, &m);
  for (const auto& [k, m] : ma) {
    auto it = mb.find(k);
    if (it == mb.end()) {
      removed.push_back(*m);
      continue;
    }
    const ModuleEntry& n = *it->second;
    PolicyDiff::Changed c{*m, n, {}};
    if (m->version != n.version) c.fields.emplace_back("version");
    if (m->vermagic != n.vermagic) c.fields.emplace_back("vermagic");
    if (m->signer != n.signer) c.fields.emplace_back("signer");
    if (m->path != n.path) c.fields.emplace_back("path");
    if (m->note != n.note) c.fields.emplace_back("note");
    if (!c.fields.empty()) changed.push_back(std::move(c));
  }
  for (const auto& [k, m] : mb)
    if (!ma.count(k)) added.push_back(*m);
}

const std::vector<ModuleEntry>& or_empty(const std::optional<std::vector<ModuleEntry>>& v) {
  static const std::vector<ModuleEntry> kNone;
  return v ? *v : kNone;
}

}  // namespace

bool PolicyDiff::empty() const {
  return settings.empty() && added.empty() && removed.empty() && changed.empty() &&
         firmware.empty() && kexec.empty() && kernels_added.empty() && kernels_removed.empty() &&
         autoload_allow_added.empty() && autoload_allow_removed.empty() &&
         autoload_deny_added.empty() && autoload_deny_removed.empty();
}

PolicyDiff diff_policies(const Policy& a, const Policy& b) {
  PolicyDiff d;
  auto setting = [&](std::string key, std::string from, std::string to) {
    if (from != to) d.settings.push_back({std::move(key), std::move(from), std::move(to)});
  };
  setting("version", std::to_string(a.version), std::to_string(b.version));
  setting("mode", std::string(mode_name(a.mode)), std::string(mode_name(b.mode)));
  // "none" when absent; both keys are shown so a changed salt (new cohorts) is never missed.
  setting("rollout.enforce_percent",
          a.rollout ? percent_string(a.rollout->enforce_basis_points) : "none",
          b.rollout ? percent_string(b.rollout->enforce_basis_points) : "none");
  setting("rollout.salt", a.rollout ? a.rollout->salt : "none",
          b.rollout ? b.rollout->salt : "none");
  setting("autoload.default", std::string(autoload_default_name(a.autoload.default_action)),
          std::string(autoload_default_name(b.autoload.default_action)));
  setting("log_allowed", flag(a.log_allowed), flag(b.log_allowed));
  setting("allow_forced", flag(a.allow_forced), flag(b.allow_forced));
  setting("allow_empty", flag(a.allow_empty), flag(b.allow_empty));
  setting("protect", flag(a.protect), flag(b.protect));
  setting("other_kernels", std::string(other_kernels_name(a.other_kernels)),
          std::string(other_kernels_name(b.other_kernels)));
  // Whether the kind is judged at all: absent and empty differ (an empty section denies all).
  auto presence = [](const auto& v) { return std::string(v ? "present" : "absent"); };
  setting("firmware", presence(a.firmware), presence(b.firmware));
  setting("kexec", presence(a.kexec), presence(b.kexec));

  diff_entries(a.modules, b.modules, d.added, d.removed, d.changed);
  diff_entries(or_empty(a.firmware), or_empty(b.firmware), d.firmware.added, d.firmware.removed,
               d.firmware.changed);
  diff_entries(or_empty(a.kexec), or_empty(b.kexec), d.kexec.added, d.kexec.removed,
               d.kexec.changed);

  set_difference(a.kernels, b.kernels, d.kernels_removed, d.kernels_added);
  set_difference(a.autoload.allow, b.autoload.allow, d.autoload_allow_removed,
                 d.autoload_allow_added);
  set_difference(a.autoload.deny, b.autoload.deny, d.autoload_deny_removed, d.autoload_deny_added);
  return d;
}

}  // namespace modgate::policy
