// SPDX-License-Identifier: Apache-2.0

#include "policy/merge.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include "policy/diff.h"
#include "policy/glob.h"

namespace modgate::policy {
namespace {

using Key = std::tuple<std::string, Sha256>;

// Appends what `from` has that `into` does not, by (name, hash). A hash under two names cannot
// be one file in both, and the parser would refuse the result: say so with both files.
Result<Ok> add_entries(std::vector<ModuleEntry>& into, std::set<Key>& seen,
                       std::map<Sha256, std::string>& owner, const std::vector<ModuleEntry>& from,
                       const std::string& file, const char* section) {
  for (const auto& e : from) {
    auto [it, fresh] = owner.emplace(e.sha256, e.name);
    if (!fresh && it->second != e.name)
      return Error{file + ": " + section + " entry " + e.name + " has sha256 " + to_hex(e.sha256) +
                   ", which an earlier input lists under " + it->second +
                   "; one file cannot be two modules"};
    if (!seen.insert(Key{e.name, e.sha256}).second) continue;
    ModuleEntry copy = e;
    copy.line = 0;
    into.push_back(std::move(copy));
  }
  return Ok{};
}

}  // namespace

Result<Policy> merge_policies(const std::vector<MergeInput>& inputs, MergeOptions options) {
  if (inputs.empty()) return Error{"nothing to merge: give at least one policy"};
  const Policy& first = inputs.front().policy;
  Policy out = first;
  out.modules.clear();
  if (out.firmware) out.firmware->clear();
  if (out.kexec) out.kexec->clear();
  out.kernels.clear();

  bool every_kernel = false;
  std::set<std::string> kernels;
  std::uint64_t highest = 0;
  struct Section {
    std::set<Key> seen;
    std::map<Sha256, std::string> owner;
  } modules, firmware, kexec;
  for (const auto& in : inputs) {
    const Policy& p = in.policy;
    // Every setting but the version must agree; the diff already names each one.
    std::string differ;
    if (!options.settings_from_first)
      for (const auto& s : diff_policies(first, p).settings)
        if (s.key != "version")
          differ += (differ.empty() ? "" : ", ") + s.key + " " + s.from + " in " +
                    inputs.front().file + " but " + s.to + " in " + in.file;
    if (!differ.empty())
      return Error{"cannot merge policies whose settings differ: " + differ +
                   "; make them agree first (merge only unites entries and kernels)"};
    highest = std::max(highest, p.version);
    if (p.kernels.empty()) every_kernel = true;
    for (const auto& k : p.kernels)
      if (kernels.insert(k).second) out.kernels.push_back(k);
    if (auto r =
            add_entries(out.modules, modules.seen, modules.owner, p.modules, in.file, "module");
        !r)
      return r.error();
    // Only reachable with settings_from_first, where the first input decides which sections
    // exist: entries for a section it leaves to the kernel would otherwise vanish unseen.
    for (auto [theirs, ours, section] :
         {std::tuple{p.firmware.has_value(), out.firmware.has_value(), "firmware"},
          std::tuple{p.kexec.has_value(), out.kexec.has_value(), "kexec"}})
      if (theirs && !ours)
        return Error{in.file + " has a " + section + ": section, which " + inputs.front().file +
                     " (whose settings are kept) does not have; add one there first"};
    if (p.firmware)
      if (auto r = add_entries(*out.firmware, firmware.seen, firmware.owner, *p.firmware, in.file,
                               "firmware");
          !r)
        return r.error();
    if (p.kexec)
      if (auto r = add_entries(*out.kexec, kexec.seen, kexec.owner, *p.kexec, in.file, "kexec"); !r)
        return r.error();
  }
  if (every_kernel) out.kernels.clear();
  if (highest == std::numeric_limits<std::uint64_t>::max())
    return Error{
        "cannot merge: an input has the highest possible version, so no version is above "
        "it"};
  out.version = highest + 1;
  out.digest = policy_digest(out);
  return out;
}

Result<PruneResult> prune_kernels(const Policy& policy, const std::vector<std::string>& releases) {
  if (releases.empty()) return Error{"nothing to prune: name at least one kernel"};
  auto matches = [&](std::string_view release) {
    return std::any_of(releases.begin(), releases.end(),
                       [&](const std::string& g) { return glob_match(g, release); });
  };
  PruneResult r;
  r.policy = policy;
  r.policy.modules.clear();
  for (const auto& e : policy.modules) {
    // vermagic starts with the release the module was built for: "6.1.0-57-amd64 SMP ...".
    std::string_view release;
    if (e.vermagic) release = std::string_view(*e.vermagic).substr(0, e.vermagic->find(' '));
    if (!release.empty() && matches(release)) {
      r.entries_removed++;
      continue;
    }
    r.policy.modules.push_back(e);
  }
  r.policy.kernels.clear();
  for (const auto& k : policy.kernels) {
    // A glob item is removed only when named exactly: a release falling under it says nothing
    // about the other kernels it covers.
    bool named = std::find(releases.begin(), releases.end(), k) != releases.end();
    if (named || (k.find_first_of("*?[") == std::string::npos && matches(k)))
      r.kernels_removed.push_back(k);
    else
      r.policy.kernels.push_back(k);
  }
  std::string named;
  for (const auto& g : releases) named += (named.empty() ? "" : ", ") + g;
  if (r.entries_removed == 0 && r.kernels_removed.empty())
    return Error{"nothing to prune: no module entry's vermagic and no kernels: item matches " +
                 named};
  if (!policy.kernels.empty() && r.policy.kernels.empty())
    return Error{"pruning " + named +
                 " would leave kernels: empty, which means every kernel; keep at least one "
                 "kernel or write kernels: by hand"};
  if (policy.version == std::numeric_limits<std::uint64_t>::max())
    return Error{
        "cannot prune: the policy has the highest possible version, so no version is "
        "above it"};
  r.policy.version = policy.version + 1;
  r.policy.digest = policy_digest(r.policy);
  return r;
}

}  // namespace modgate::policy
