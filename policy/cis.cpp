// SPDX-License-Identifier: Apache-2.0

#include "policy/cis.h"

#include <array>

namespace modgate::policy {
namespace {

// Source: CIS Debian Linux 12 Benchmark v1.1.0, sections named in cis.h.
constexpr std::array kCisModules = {
    CisModule{"cramfs", "1.1.1.1", "Ensure cramfs kernel module is not available"},
    CisModule{"freevxfs", "1.1.1.2", "Ensure freevxfs kernel module is not available"},
    CisModule{"hfs", "1.1.1.3", "Ensure hfs kernel module is not available"},
    CisModule{"hfsplus", "1.1.1.4", "Ensure hfsplus kernel module is not available"},
    CisModule{"jffs2", "1.1.1.5", "Ensure jffs2 kernel module is not available"},
    CisModule{"overlay", "1.1.1.6", "Ensure overlayfs kernel module is not available"},
    CisModule{"squashfs", "1.1.1.7", "Ensure squashfs kernel module is not available"},
    CisModule{"udf", "1.1.1.8", "Ensure udf kernel module is not available"},
    CisModule{"usb-storage", "1.1.1.9", "Ensure usb-storage kernel module is not available"},
    CisModule{"afs", "1.1.1.10", "Ensure unused filesystems kernel modules are not available"},
    CisModule{"ceph", "1.1.1.10", "Ensure unused filesystems kernel modules are not available"},
    CisModule{"exfat", "1.1.1.10", "Ensure unused filesystems kernel modules are not available"},
    CisModule{"gfs2", "1.1.1.10", "Ensure unused filesystems kernel modules are not available"},
    CisModule{"bluetooth", "3.1.3", "Ensure bluetooth services are not in use"},
    CisModule{"dccp", "3.2.1", "Ensure dccp kernel module is not available"},
    CisModule{"tipc", "3.2.2", "Ensure tipc kernel module is not available"},
    CisModule{"rds", "3.2.3", "Ensure rds kernel module is not available"},
    CisModule{"sctp", "3.2.4", "Ensure sctp kernel module is not available"},
};

}  // namespace

std::span<const CisModule> cis_disabled_modules() { return kCisModules; }

}  // namespace modgate::policy
