// Turns kernel event records into the JSON lines operators and scripts read (docs/events.md).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>

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

class EventWriter {
 public:
  // out must outlive the writer.
  explicit EventWriter(std::ostream& out);

  // The policy whose names listed modules get in events; null when unknown (an adopted policy
  // whose file is not at hand). Must outlive its use here.
  void set_policy(const policy::Policy* policy) { policy_ = policy; }

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
  const policy::Policy* policy_ = nullptr;
  std::int64_t realtime_minus_boot_ns_;
  std::map<std::string, std::optional<std::string>> names_;  // (path, sha256) -> .modinfo name
};

}  // namespace modgate
