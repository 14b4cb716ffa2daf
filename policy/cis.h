// SPDX-License-Identifier: Apache-2.0
// Kernel modules the CIS Debian Linux 12 Benchmark (v1.1.0) says to disable: data, so a newer
// benchmark edition is a table edit. Sections as the benchmark numbers them:
//   1.1.1.1-1.1.1.9  "Configure Filesystem Kernel Modules" (cramfs ... usb-storage)
//   1.1.1.10         "Ensure unused filesystems kernel modules are not available" (a manual
//                    recommendation; of its candidates, those a server rarely mounts)
//   3.1.3            "Ensure bluetooth services are not in use" (about the service; listed here
//                    through the module the service needs)
//   3.2.1-3.2.4      "Configure Network Kernel Modules" (dccp, tipc, rds, sctp)
// The benchmark's audit for each: the module is not loaded, and if it is in the module tree,
// modprobe.d has "install NAME /bin/false" (or /bin/true) and "blacklist NAME".
#pragma once

#include <span>
#include <string_view>

namespace modgate::policy {

struct CisModule {
  std::string_view name;     // as modprobe spells it; '-' and '_' are equivalent
  std::string_view section;  // benchmark recommendation number
  std::string_view title;
};

std::span<const CisModule> cis_disabled_modules();

}  // namespace modgate::policy
