// SPDX-License-Identifier: Apache-2.0
// Turns kernel event records into the JSON lines operators and scripts read (docs/events.md).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "modgate_abi.h"
#include "policy/policy.h"

namespace modgate {

const char* hook_name(std::uint32_t hook);
// What a module_load event judged (MG_KIND_*): "module", "firmware", "kexec_image", ...
const char* kind_name(std::uint32_t kind);
const char* verdict_name(std::uint32_t verdict);
const char* reason_name(std::uint32_t reason);
// The operation of a tamper event (MG_TAMPER_*), as events and status name it.
const char* tamper_op_name(std::uint32_t op);

// What events need of the policy in force to name the entries it lists: its version, and each
// section's names by entry index (the index the kernel reports), packed into one buffer. The
// agent keeps this instead of the parsed policy: at 100 k entries that copy was ~26 MiB of
// ModuleEntry values (a name and five optional strings each), this is ~1.5 MiB
// (docs/performance.md).
class PolicyNames {
 public:
  PolicyNames() = default;
  explicit PolicyNames(const policy::Policy& p);

  std::uint64_t version() const { return version_; }
  // The name of entry `entry` of the section that lists kind (MG_KIND_*), or nothing when the
  // policy has no such section or no such entry.
  std::optional<std::string_view> name(std::uint32_t kind, std::uint32_t entry) const;
  // Bytes held, for the memory figures.
  std::size_t bytes() const;

 private:
  // Names of one section back to back; ends[i] is where entry i's name ends.
  struct Section {
    bool present = false;
    std::string names;
    std::vector<std::uint32_t> ends;
  };
  static Section pack(const std::vector<policy::ModuleEntry>* entries);
  const Section* section(std::uint32_t kind) const;

  std::uint64_t version_ = 0;
  Section modules_, firmware_, kexec_;
};

class EventWriter {
 public:
  // out must outlive the writer.
  explicit EventWriter(std::ostream& out);

  // The names of the policy in force, which listed modules get in events; null when unknown (an
  // adopted policy whose file is not at hand). Must outlive its use here.
  void set_policy(const PolicyNames* names) { policy_ = names; }

  // Returns the line written, without its newline (response hooks get it on stdin).
  std::string write(const mg_event& e);
  // Any other record (hook results, loaded_before_enforcement): written with "ts" first.
  void write_record(const nlohmann::ordered_json& record);
  // A line that says the kernel dropped count records since the last report.
  void write_lost(std::uint64_t count);
  // A policy change attempt: result "ok" or "refused", with what was applied or why not.
  void write_apply(const std::string& result, const std::string& source, const std::string& file,
                   bool forced, const std::string& message, const nlohmann::ordered_json& details);

 private:
  std::string timestamp(std::uint64_t boot_ns) const;
  void module_fields(nlohmann::ordered_json& j, const mg_event& e);
  std::string emit(const nlohmann::ordered_json& j);
  std::optional<std::string> cached_name(const std::string& path, const std::uint8_t* sha);

  std::ostream& out_;
  const PolicyNames* policy_ = nullptr;
  std::int64_t realtime_minus_boot_ns_;
  std::map<std::string, std::optional<std::string>> names_;  // (path, sha256) -> .modinfo name
};

}  // namespace modgate
