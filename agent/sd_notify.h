// SPDX-License-Identifier: Apache-2.0
// systemd's readiness protocol (sd_notify(3)) without libsystemd: one datagram to $NOTIFY_SOCKET.
// With Type=notify, units ordered after modgate.service (udev, systemd-modules-load) start only
// once enforcement is live, not merely once the process exists.
#pragma once

#include <string>

namespace modgate {

// Sends `state` (e.g. "READY=1\nSTATUS=...") when started by systemd; does nothing otherwise.
void sd_notify(const std::string& state);

}  // namespace modgate
