// SPDX-License-Identifier: Apache-2.0
// Policy → map contents. The parser already refuses what cannot compile, but Policy values are also
// built in code (tests, the agent's fallbacks), so the map limits are checked again here.
#include <cstring>
#include <string>
#include <unordered_map>

#include "policy/policy.h"

namespace modgate::policy {
namespace {

Result<Ok> add_globs(const std::vector<std::string>& patterns, std::string_view list,
                     std::vector<mg_glob>& out) {
  if (patterns.size() > MG_GLOB_MAX)
    return Error{"autoload." + std::string(list) + " has " + std::to_string(patterns.size()) +
                 " patterns; the kernel's table holds " + std::to_string(MG_GLOB_MAX)};
  for (const auto& p : patterns) {
    if (p.empty() || p.size() >= MG_NAME_LEN)
      return Error{"autoload." + std::string(list) + " pattern '" + p + "' is " +
                   std::to_string(p.size()) + " bytes; it must be 1 to " +
                   std::to_string(MG_NAME_LEN - 1)};
    // The BPF side stops at the first NUL, so one inside would silently shorten the pattern.
    if (p.find('\0') != std::string::npos)
      return Error{"autoload." + std::string(list) + " pattern contains a NUL byte"};
    mg_glob g{};
    std::memcpy(g.pattern, p.data(), p.size());
    out.push_back(g);
  }
  return Ok{};
}

}  // namespace

bool kernel_matches(const Policy& policy, std::string_view release) {
  if (policy.kernels.empty()) return true;
  for (const auto& k : policy.kernels)
    if (glob_match(k, release)) return true;
  return false;
}

Result<CompiledPolicy> compile(const Policy& policy) {
  CompiledPolicy c;
  c.config.present = 1;
  c.config.policy_version = policy.version;
  // Recomputed rather than copied from policy.digest, so the digest the kernel reports always
  // describes exactly the entries written, even for a Policy built or edited in code.
  Sha256 digest = policy_digest(policy);
  static_assert(sizeof(c.config.policy_digest) == sizeof(digest));
  std::memcpy(c.config.policy_digest, digest.data(), digest.size());
  c.config.mode = policy.mode == Mode::kEnforce ? MG_MODE_ENFORCE : MG_MODE_DRY_RUN;
  if (policy.log_allowed) c.config.flags |= MG_CFG_LOG_ALLOWED;
  if (policy.allow_forced) c.config.flags |= MG_CFG_ALLOW_FORCED;
  if (policy.protect) c.config.flags |= MG_CFG_PROTECT;
  if (policy.autoload.default_action == AutoloadDefault::kAllow)
    c.config.flags |= MG_CFG_AUTOLOAD_DEFAULT_ALLOW;

  if (policy.firmware) c.config.flags |= MG_CFG_FIRMWARE;
  if (policy.kexec) c.config.flags |= MG_CFG_KEXEC;

  // One map record per hash, carrying every section that lists it: the same bytes may be a
  // module and a firmware file, but each section admits them only as its own kind.
  std::unordered_map<Sha256, std::size_t, Sha256Hash> slot;  // hash -> index in c.allow
  slot.reserve(policy.modules.size());
  auto add = [&](const std::vector<ModuleEntry>& entries, std::string_view what, std::uint32_t bit,
                 __u32 mg_allow_value::*entry) -> Result<Ok> {
    if (entries.size() > UINT32_MAX)
      return Error{"the policy has more " + std::string(what) +
                   " entries than an entry index can hold"};
    for (std::size_t i = 0; i < entries.size(); i++) {
      auto [s, fresh] = slot.emplace(entries[i].sha256, c.allow.size());
      if (fresh) {
        CompiledPolicy::AllowEntry e{};
        std::memcpy(e.key.sha256, entries[i].sha256.data(), MG_SHA256_LEN);
        c.allow.push_back(e);
      }
      mg_allow_value& v = c.allow[s->second].value;
      // The map is keyed by hash: a second entry with the same one in a section would silently
      // replace the first and events would name the wrong file. The parser refuses this;
      // code-built policies may not. The record already carrying this section's bit names the
      // earlier entry.
      if (v.sections & bit)
        return Error{std::string(what) + " entries " + std::to_string(v.*entry) + " ('" +
                     entries[v.*entry].name + "') and " + std::to_string(i) + " ('" +
                     entries[i].name + "') have the same sha256 " + to_hex(entries[i].sha256)};
      v.sections |= bit;
      v.*entry = static_cast<__u32>(i);
    }
    return Ok{};
  };
  c.allow.reserve(policy.modules.size());
  if (auto r = add(policy.modules, "module", MG_ALLOW_MODULE, &mg_allow_value::entry); !r)
    return r.error();
  if (policy.firmware)
    if (auto r =
            add(*policy.firmware, "firmware", MG_ALLOW_FIRMWARE, &mg_allow_value::firmware_entry);
        !r)
      return r.error();
  if (policy.kexec)
    if (auto r = add(*policy.kexec, "kexec", MG_ALLOW_KEXEC, &mg_allow_value::kexec_entry); !r)
      return r.error();
  if (auto r = add_globs(policy.autoload.allow, "allow", c.autoload_allow); !r) return r.error();
  if (auto r = add_globs(policy.autoload.deny, "deny", c.autoload_deny); !r) return r.error();
  c.config.n_autoload_allow = static_cast<__u32>(c.autoload_allow.size());
  c.config.n_autoload_deny = static_cast<__u32>(c.autoload_deny.size());
  return c;
}

}  // namespace modgate::policy
