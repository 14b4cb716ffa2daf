// SPDX-License-Identifier: Apache-2.0

#include "policy/suggest.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

#include "modgate_abi.h"

namespace modgate::policy {
namespace {

using Json = nlohmann::json;

// What parse_policy accepts (parse.cpp): letters, digits, '_' and '-', at most this many bytes.
constexpr std::size_t kMaxName = MG_NAME_LEN - 8 - 1;

std::string policy_name(const std::string& raw, const Sha256& hash) {
  std::string s;
  for (char c : raw)
    s += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
  if (s.size() > kMaxName) s.resize(kMaxName);
  // An init_module image of an unlisted module has no name in its event.
  if (s.empty()) s = "unnamed-" + to_hex(hash).substr(0, 12);
  return s;
}

std::optional<std::string> string_field(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

SuggestReport suggest_from_events(std::string_view text, const Policy* old) {
  SuggestReport r;
  std::set<Sha256> listed;
  if (old)
    for (const auto& e : old->modules) listed.insert(e.sha256);
  std::map<Sha256, Suggestion> by_hash;
  std::size_t lineno = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    ++r.lines;
    auto bad = [&](const std::string& why) {
      r.malformed.push_back(std::to_string(lineno) + ": " + why);
    };
    Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      bad("not JSON");
      continue;
    }
    if (!j.is_object()) {
      bad("not a JSON object");
      continue;
    }
    auto event = string_field(j, "event");
    if (!event) {
      bad("no \"event\" string");
      continue;
    }
    if (*event != "module_load") continue;
    auto verdict = string_field(j, "verdict");
    if (!verdict) {
      bad("module_load without a \"verdict\" string");
      continue;
    }
    if (*verdict != "deny" && *verdict != "would-deny") continue;
    auto hash_it = j.find("sha256");
    if (hash_it == j.end() || hash_it->is_null()) continue;  // hash-failed, no-policy
    if (!hash_it->is_string()) {
      bad("\"sha256\" is not a string");
      continue;
    }
    auto hash = sha256_from_hex(hash_it->get<std::string>());
    if (!hash) {
      bad("\"sha256\" is not 64 hex digits");
      continue;
    }
    ++r.denials;
    auto listed_it = j.find("listed");
    // A listed hash denied (forced loads) gains nothing from another entry.
    if (listed.count(*hash) || (listed_it != j.end() && listed_it->is_boolean() && *listed_it)) {
      ++r.already_listed;
      continue;
    }
    Suggestion& s = by_hash[*hash];
    if (s.count == 0) {
      s.sha256 = *hash;
      s.name = policy_name(string_field(j, "name").value_or(""), *hash);
      s.path = string_field(j, "path");
    }
    ++s.count;
    ++s.hosts[string_field(j, "host").value_or("unknown")];
  }

  for (auto& [h, s] : by_hash) r.suggestions.push_back(std::move(s));
  std::sort(r.suggestions.begin(), r.suggestions.end(), [](const auto& a, const auto& b) {
    return a.name != b.name ? a.name < b.name : a.sha256 < b.sha256;
  });

  r.proposed = old ? *old : Policy{};
  r.proposed.version = old ? old->version + 1 : 1;
  for (const auto& s : r.suggestions) {
    ModuleEntry e;
    e.name = s.name;
    e.sha256 = s.sha256;
    e.path = s.path;
    std::string hosts;
    for (const auto& [host, n] : s.hosts)
      hosts += (hosts.empty() ? "" : ", ") + host + " (" + std::to_string(n) + ")";
    e.note = "suggested from " + std::to_string(s.count) + " denied load" +
             (s.count == 1 ? "" : "s") + " on " + hosts;
    r.proposed.modules.push_back(std::move(e));
  }
  r.proposed.digest = policy_digest(r.proposed);
  return r;
}

}  // namespace modgate::policy
