// SPDX-License-Identifier: Apache-2.0
// Modules that were already in the kernel when enforcement began (docs/boot.md): nothing checked
// them as they loaded, so the agent that first arms modgate in a boot lists them, checks what it
// can (the module's file, found through modules.dep, against the policy), and leaves the record
// under the runtime directory, where the agents that adopt its pins later in the same boot — the
// one systemd starts after the initramfs, a restarted one — and `modgate audit` read it. One model
// and one JSON form serve the status object, the event and the audit.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "policy/policy.h"
#include "policy/result.h"

namespace modgate::policy {

struct AuditReport;

inline constexpr const char* kPreloadedFileName = "loaded-before-enforcement.json";

struct PreloadedModule {
  std::string name;
  std::optional<std::string> file;    // found through modules.dep
  std::optional<std::string> sha256;  // of the file as on disk
  std::optional<bool> listed;         // unset: no file to check, or no policy text to check with
  std::optional<std::string> error;   // why it could not be checked
  std::string taint;
};

struct PreloadedRecord {
  std::string boot_id;  // /proc/sys/kernel/random/boot_id: a record speaks for one boot only
  std::string recorded_at;
  std::string kernel_release;
  std::uint64_t policy_version = 0;
  std::string policy_digest;
  std::vector<PreloadedModule> modules;

  std::size_t not_listed() const;
  std::size_t unchecked() const;
};

// Every loaded (not built-in) module of an audit of the running kernel.
PreloadedRecord preloaded_from_audit(const AuditReport& report);

nlohmann::ordered_json preloaded_json(const PreloadedRecord& r);
// Reads what preloaded_json wrote; anything else is an error naming the file.
Result<PreloadedRecord> parse_preloaded(const std::string& text, const std::string& file);

// The kernel's id of this boot, read under root; empty when unreadable.
std::string read_boot_id(const std::string& root = "/");

// What an agent knows at start. fresh: it armed enforcement itself just now, so it audits the
// loaded modules against `policy` (may be null) and writes `file`; otherwise it adopted pins and
// reads the record their first agent left, if it is for this boot.
struct PreloadedAtStart {
  std::optional<PreloadedRecord> record;
  std::string note;  // why there is no record, or a warning (e.g. the file could not be written)
};
PreloadedAtStart preloaded_at_start(bool fresh, const std::string& file, const Policy* policy,
                                    std::uint64_t policy_version, const std::string& digest);

// The "loaded_before_enforcement" object of status and of the event: {"known": false, "reason"}
// without a record.
nlohmann::ordered_json preloaded_status(const PreloadedAtStart& p);

}  // namespace modgate::policy
