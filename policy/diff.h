// SPDX-License-Identifier: Apache-2.0
// What changes between two policies, for review before a reload: `modgate policy diff`.
#pragma once

#include <string>
#include <vector>

#include "policy/policy.h"

namespace modgate::policy {

struct PolicyDiff {
  // A policy-wide setting that differs, values as the file spells them ("enforce", "true").
  struct Setting {
    std::string key;  // "version", "mode", "log_allowed", "allow_forced", "allow_empty",
                      // "autoload.default", "firmware", "kexec", ...
    std::string from, to;
  };
  // An entry present in both (same name and hash) whose descriptive fields differ.
  struct Changed {
    ModuleEntry from, to;
    std::vector<std::string> fields;  // "version", "vermagic", "signer", "path", "note"
  };
  // The entries of one allowlist section. Entries are identified by (name, sha256); a hash moving
  // to another name is a removal and an addition. Sorted by name, then hash.
  struct Entries {
    std::vector<ModuleEntry> added, removed;
    std::vector<Changed> changed;
    bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
  };
  std::vector<Setting> settings;            // also "firmware" and "kexec": "absent" or "present"
  std::vector<ModuleEntry> added, removed;  // modules:
  std::vector<Changed> changed;
  Entries firmware, kexec;  // an absent section diffs as an empty one
  std::vector<std::string> kernels_added, kernels_removed;
  std::vector<std::string> autoload_allow_added, autoload_allow_removed;
  std::vector<std::string> autoload_deny_added, autoload_deny_removed;

  bool empty() const;
};

PolicyDiff diff_policies(const Policy& a, const Policy& b);

}  // namespace modgate::policy
