// Turns kernel event records into the JSON lines operators and scripts read (docs/events.md).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "modgate_abi.h"
#include "policy/policy.h"

namespace modgate {

const char* hook_name(std::uint32_t hook);
const char* verdict_name(std::uint32_t verdict);
const char* reason_name(std::uint32_t reason);

class EventWriter {
 public:
  // out must outlive the writer; policy names listed modules in events.
  EventWriter(std::ostream& out, const policy::Policy& policy);

  void write(const mg_event& e);
  // A line that says the kernel dropped count records since the last report.
  void write_lost(std::uint64_t count);

 private:
  std::string timestamp(std::uint64_t boot_ns) const;

  std::ostream& out_;
  const policy::Policy& policy_;
  std::int64_t realtime_minus_boot_ns_;
};

}  // namespace modgate
