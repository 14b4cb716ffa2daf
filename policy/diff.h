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
                      // "autoload.default"
    std::string from, to;
  };
  // An entry present in both (same name and hash) whose descriptive fields differ.
  struct Changed {
    ModuleEntry from, to;
    std::vector<std::string> fields;  // "version", "vermagic", "signer", "path", "note"
  };
  std::vector<Setting> settings;
  // Entries are identified by (name, sha256); a hash moving to another name is a removal and an
  // addition. Sorted by name, then hash.
  std::vector<ModuleEntry> added, removed;
  std::vector<Changed> changed;
  std::vector<std::string> kernels_added, kernels_removed;
  std::vector<std::string> autoload_allow_added, autoload_allow_removed;
  std::vector<std::string> autoload_deny_added, autoload_deny_removed;

  bool empty() const;
};

PolicyDiff diff_policies(const Policy& a, const Policy& b);

}  // namespace modgate::policy
