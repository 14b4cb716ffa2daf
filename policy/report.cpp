// SPDX-License-Identifier: Apache-2.0

#include "policy/report.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "policy/rollout.h"

namespace modgate::policy {
namespace {

using Json = nlohmann::ordered_json;

std::string dump(const Json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Json module_json(const ModuleEntry& m) {
  Json j;
  j["name"] = m.name;
  j["sha256"] = to_hex(m.sha256);
  auto opt = [&](const char* key, const std::optional<std::string>& v) {
    if (v) j[key] = *v;
  };
  opt("version", m.version);
  opt("vermagic", m.vermagic);
  opt("signer", m.signer);
  opt("path", m.path);
  opt("note", m.note);
  if (m.line > 0) j["line"] = m.line;
  return j;
}

std::string list(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// "3 entries" for a section, or what its absence means.
std::string section_summary(const std::optional<std::vector<ModuleEntry>>& s) {
  if (!s) return "not judged (no section)";
  return std::to_string(s->size()) + " entries";
}

Json section_json(const std::optional<std::vector<ModuleEntry>>& s) {
  if (!s) return nullptr;
  Json a = Json::array();
  for (const auto& m : *s) a.push_back(module_json(m));
  return a;
}

std::size_t distinct_names(const Policy& p) {
  std::set<std::string> names;
  for (const auto& m : p.modules) names.insert(m.name);
  return names.size();
}

std::string module_line(const ModuleEntry& m) {
  std::string s = m.name + "  " + to_hex(m.sha256);
  if (m.version) s += "  version " + *m.version;
  if (m.note) s += "  (" + *m.note + ")";
  return s;
}

}  // namespace

std::string show_text(const Policy& p, const std::string& file, bool list_modules) {
  std::ostringstream o;
  o << "policy:       " << file << "\n"
    << "digest:       " << to_hex(p.digest) << "\n"
    << "version:      " << p.version << "\n"
    << "mode:         " << mode_name(p.mode) << "\n";
  if (p.rollout)
    o << "rollout:      enforce on " << percent_string(p.rollout->enforce_basis_points)
      << "% of hosts (salt '" << p.rollout->salt << "'), dry-run on the others\n";
  o << "kernels:      " << (p.kernels.empty() ? "any" : list(p.kernels))
    << "\n"
    // The one key longer than the column: its value starts a column later, which keeps the
    // digest line within 80 columns (the demo indents it by two).
    << "other_kernels: " << other_kernels_name(p.other_kernels) << "\n"
    << "modules:      " << p.modules.size() << " entries, " << distinct_names(p) << " names\n"
    << "firmware:     " << section_summary(p.firmware) << "\n"
    << "kexec:        " << section_summary(p.kexec) << "\n"
    << "autoload:     default " << autoload_default_name(p.autoload.default_action) << "; allow "
    << (p.autoload.allow.empty() ? "none" : list(p.autoload.allow)) << "; deny "
    << (p.autoload.deny.empty() ? "none" : list(p.autoload.deny)) << "\n"
    << "log_allowed:  " << (p.log_allowed ? "true" : "false") << "\n"
    << "allow_forced: " << (p.allow_forced ? "true" : "false") << "\n"
    << "allow_empty:  " << (p.allow_empty ? "true" : "false") << "\n"
    << "protect:      " << (p.protect ? "true" : "false") << "\n";
  if (list_modules) {
    for (const auto& m : p.modules) o << "  " << module_line(m) << "\n";
    if (p.firmware)
      for (const auto& m : *p.firmware) o << "  firmware: " << module_line(m) << "\n";
    if (p.kexec)
      for (const auto& m : *p.kexec) o << "  kexec: " << module_line(m) << "\n";
  }
  return o.str();
}

std::string show_json(const Policy& p, const std::string& file) {
  Json j;
  j["file"] = file;
  j["digest"] = to_hex(p.digest);
  j["version"] = p.version;
  j["mode"] = mode_name(p.mode);
  // enforce_percent as the canonical decimal string ("12.5"): exact, unlike a JSON float.
  if (p.rollout)
    j["rollout"] = {{"enforce_percent", percent_string(p.rollout->enforce_basis_points)},
                    {"enforce_basis_points", p.rollout->enforce_basis_points},
                    {"salt", p.rollout->salt}};
  else
    j["rollout"] = nullptr;
  j["kernels"] = p.kernels;
  j["other_kernels"] = other_kernels_name(p.other_kernels);
  j["log_allowed"] = p.log_allowed;
  j["allow_forced"] = p.allow_forced;
  j["allow_empty"] = p.allow_empty;
  j["protect"] = p.protect;
  j["autoload"] = {{"default", autoload_default_name(p.autoload.default_action)},
                   {"allow", p.autoload.allow},
                   {"deny", p.autoload.deny}};
  j["module_names"] = distinct_names(p);
  Json mods = Json::array();
  for (const auto& m : p.modules) mods.push_back(module_json(m));
  j["modules"] = std::move(mods);
  // null: the section is absent and the kind is left to the kernel; [] denies every such load.
  j["firmware"] = section_json(p.firmware);
  j["kexec"] = section_json(p.kexec);
  return dump(j);
}

std::string diff_text(const PolicyDiff& d, const Policy& from, const Policy& to) {
  std::ostringstream o;
  o << "--- digest " << to_hex(from.digest) << "\n+++ digest " << to_hex(to.digest) << "\n";
  if (d.empty()) {
    o << "no differences\n";
    return o.str();
  }
  for (const auto& s : d.settings) o << s.key << ": " << s.from << " -> " << s.to << "\n";
  auto strings = [&](const char* what, const std::vector<std::string>& removed,
                     const std::vector<std::string>& added) {
    for (const auto& s : removed) o << what << ": - " << s << "\n";
    for (const auto& s : added) o << what << ": + " << s << "\n";
  };
  strings("kernels", d.kernels_removed, d.kernels_added);
  strings("autoload.allow", d.autoload_allow_removed, d.autoload_allow_added);
  strings("autoload.deny", d.autoload_deny_removed, d.autoload_deny_added);
  for (const auto& m : d.removed) o << "- " << module_line(m) << "\n";
  for (const auto& m : d.added) o << "+ " << module_line(m) << "\n";
  for (const auto& c : d.changed)
    o << "~ " << c.to.name << "  " << to_hex(c.to.sha256) << "  " << list(c.fields) << "\n";
  // Sections other than modules carry their name, as the setting lists do.
  auto section = [&](const char* what, const PolicyDiff::Entries& e) {
    for (const auto& m : e.removed) o << what << ": - " << module_line(m) << "\n";
    for (const auto& m : e.added) o << what << ": + " << module_line(m) << "\n";
    for (const auto& c : e.changed)
      o << what << ": ~ " << c.to.name << "  " << to_hex(c.to.sha256) << "  " << list(c.fields)
        << "\n";
  };
  section("firmware", d.firmware);
  section("kexec", d.kexec);
  o << d.added.size() + d.firmware.added.size() + d.kexec.added.size() << " added, "
    << d.removed.size() + d.firmware.removed.size() + d.kexec.removed.size() << " removed, "
    << d.changed.size() + d.firmware.changed.size() + d.kexec.changed.size() << " changed\n";
  return o.str();
}

std::string diff_json(const PolicyDiff& d, const Policy& from, const Policy& to) {
  Json j;
  j["from_digest"] = to_hex(from.digest);
  j["to_digest"] = to_hex(to.digest);
  j["identical"] = d.empty();
  Json settings = Json::array();
  for (const auto& s : d.settings)
    settings.push_back({{"key", s.key}, {"from", s.from}, {"to", s.to}});
  j["settings"] = std::move(settings);
  j["kernels"] = {{"added", d.kernels_added}, {"removed", d.kernels_removed}};
  j["autoload"] = {
      {"allow", {{"added", d.autoload_allow_added}, {"removed", d.autoload_allow_removed}}},
      {"deny", {{"added", d.autoload_deny_added}, {"removed", d.autoload_deny_removed}}}};
  auto mods = [](const std::vector<ModuleEntry>& v) {
    Json a = Json::array();
    for (const auto& m : v) a.push_back(module_json(m));
    return a;
  };
  j["modules"] = {{"added", mods(d.added)}, {"removed", mods(d.removed)}};
  Json changed = Json::array();
  for (const auto& c : d.changed)
    changed.push_back(
        {{"from", module_json(c.from)}, {"to", module_json(c.to)}, {"fields", c.fields}});
  j["modules"]["changed"] = std::move(changed);
  auto entries = [&](const PolicyDiff::Entries& e) {
    Json ch = Json::array();
    for (const auto& c : e.changed)
      ch.push_back(
          {{"from", module_json(c.from)}, {"to", module_json(c.to)}, {"fields", c.fields}});
    return Json{{"added", mods(e.added)}, {"removed", mods(e.removed)}, {"changed", ch}};
  };
  j["firmware"] = entries(d.firmware);
  j["kexec"] = entries(d.kexec);
  return dump(j);
}

}  // namespace modgate::policy
