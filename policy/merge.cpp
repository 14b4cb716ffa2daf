// SPDX-License-Identifier: Apache-2.0

#include "policy/merge.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include "policy/diff.h"

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

Result<Policy> merge_policies(const std::vector<MergeInput>& inputs) {
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

}  // namespace modgate::policy
