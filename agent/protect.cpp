// SPDX-License-Identifier: Apache-2.0

#include "agent/protect.h"

#include "modgate_abi.h"

namespace modgate::protect {

bool effective(std::uint32_t mode, std::uint32_t config_flags) {
  return mode == MG_MODE_ENFORCE && (config_flags & MG_CFG_PROTECT) != 0;
}

bool effective(const policy::Policy& p) { return p.protect && p.mode == policy::Mode::kEnforce; }

std::optional<std::string> apply_refusal(bool in_force_protected, const policy::Policy& next,
                                         const std::string& file, const std::string& source,
                                         bool trusted,
                                         const std::optional<std::string>& unavailable) {
  if (in_force_protected && !effective(next) && !trusted) {
    // dry-run counts as switching protection off: the kernel then only reports.
    const std::string how = next.protect ? "mode: dry-run" : "protect: false";
    return "refused: the policy in force has protect: true, and " + file + " (" + source +
           ") would switch tamper protection off (" + how +
           "). Only a policy whose signature has been verified may do that, and this one was "
           "not signed; --force does not change that. The policy in force is unchanged; a "
           "reboot also ends protection.";
  }
  if (effective(next) && unavailable)
    return "refused: " + file + " asks for protect: true, but " + *unavailable +
           "; the policy in force is unchanged";
  return std::nullopt;
}

std::optional<std::string> disarm_refusal(bool in_force_protected) {
  if (!in_force_protected) return std::nullopt;
  return "disarm refused: tamper protection is on (the policy in force has protect: true), so "
         "modgate can only be switched off by a signed policy with protect: false, or by a "
         "reboot; enforcement continues";
}

}  // namespace modgate::protect
