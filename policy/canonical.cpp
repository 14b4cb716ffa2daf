// SPDX-License-Identifier: Apache-2.0
// The canonical form the policy digest is computed over. docs/policy.md specifies it byte for byte;
// a change here changes every deployed policy's digest, so it carries a format tag.
#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "policy/policy.h"

namespace modgate::policy {
namespace {

// Length-prefixed, so no byte a string may hold (newlines in a note included) can be mistaken for
// structure, and no escaping rules need specifying.
void put_string(std::string& out, std::string_view s) {
  out += std::to_string(s.size());
  out += ':';
  out += s;
}

void put_optional(std::string& out, const std::optional<std::string>& s) {
  out += ' ';
  if (s)
    put_string(out, *s);
  else
    out += '-';
}

void put_list(std::string& out, std::string_view key, std::vector<std::string> items) {
  std::sort(items.begin(), items.end());
  out += key;
  out += ' ';
  out += std::to_string(items.size());
  out += '\n';
  for (const auto& s : items) {
    put_string(out, s);
    out += '\n';
  }
}

std::string_view flag(bool b) { return b ? "true" : "false"; }

// Where the digest is computed, the text goes into the hash as it is written rather than being
// kept whole: a 100 k-entry policy's canonical form is about 10 MB, a second copy of the policy.
void drain(std::string& out, Sha256Stream* hash) {
  if (hash && out.size() >= (64u << 10)) {
    hash->update(out);
    out.clear();
  }
}

void put_entries(std::string& out, std::string_view key, const std::vector<ModuleEntry>& entries,
                 Sha256Stream* hash) {
  std::vector<const ModuleEntry*> sorted;
  sorted.reserve(entries.size());
  for (const auto& m : entries) sorted.push_back(&m);
  // (name, sha256) is unique in a valid section, so this order is total.
  std::sort(sorted.begin(), sorted.end(), [](const ModuleEntry* a, const ModuleEntry* b) {
    return std::tie(a->name, a->sha256) < std::tie(b->name, b->sha256);
  });
  out += key;
  out += ' ' + std::to_string(sorted.size()) + "\n";
  for (const auto* m : sorted) {
    put_string(out, m->name);
    out += ' ';
    out += to_hex(m->sha256);
    put_optional(out, m->version);
    put_optional(out, m->vermagic);
    put_optional(out, m->signer);
    put_optional(out, m->path);
    put_optional(out, m->note);
    out += '\n';
    drain(out, hash);
  }
}

}  // namespace

std::string_view mode_name(Mode m) { return m == Mode::kEnforce ? "enforce" : "dry-run"; }
std::string_view other_kernels_name(OtherKernels o) {
  return o == OtherKernels::kEnforce ? "enforce" : "report";
}

std::string_view autoload_default_name(AutoloadDefault d) {
  return d == AutoloadDefault::kDeny ? "deny" : "allow";
}

namespace {

void write_canonical(const Policy& p, std::string& out, Sha256Stream* hash) {
  out += "modgate-policy-canonical 1\n";
  out += "version " + std::to_string(p.version) + "\n";
  out += "mode " + std::string(mode_name(p.mode)) + "\n";
  // Only when present, so that the digests of policies without a rollout are those of before.
  if (p.rollout) {
    out += "rollout " + std::to_string(p.rollout->enforce_basis_points) + " ";
    put_string(out, p.rollout->salt);
    out += "\n";
  }
  out += "log_allowed " + std::string(flag(p.log_allowed)) + "\n";
  out += "allow_forced " + std::string(flag(p.allow_forced)) + "\n";
  out += "allow_empty " + std::string(flag(p.allow_empty)) + "\n";
  // Keys added after format 1 are written only when they differ from their default, so a policy
  // that does not use them keeps the digest it always had (an upgraded agent still recognises
  // the policy in force as "already in force").
  if (p.protect) out += "protect true\n";
  if (p.other_kernels != OtherKernels::kReport)
    out += "other_kernels " + std::string(other_kernels_name(p.other_kernels)) + "\n";
  put_list(out, "kernels", p.kernels);
  out += "autoload.default " + std::string(autoload_default_name(p.autoload.default_action)) + "\n";
  put_list(out, "autoload.allow", p.autoload.allow);
  put_list(out, "autoload.deny", p.autoload.deny);
  put_entries(out, "modules", p.modules, hash);
  // After the modules and only when present, like every later key: a policy without these
  // sections keeps its digest, and an empty section (deny them all) differs from none.
  if (p.firmware) put_entries(out, "firmware", *p.firmware, hash);
  if (p.kexec) put_entries(out, "kexec", *p.kexec, hash);
}

}  // namespace

std::string canonical_form(const Policy& p) {
  std::string out;
  write_canonical(p, out, nullptr);
  return out;
}

Sha256 policy_digest(const Policy& p) {
  Sha256Stream hash;
  std::string out;
  write_canonical(p, out, &hash);
  hash.update(out);
  return hash.finish();
}

}  // namespace modgate::policy
