// SPDX-License-Identifier: Apache-2.0
// Who this process is to the hooks: its tgid in the initial pid namespace and its group leader's
// start time, read by a BPF syscall program (bpf/whoami.bpf.c) rather than from getpid() and
// /proc, which answer for the caller's own pid namespace (a pod without hostPID).
#pragma once

#include <cstdint>

#include "policy/result.h"

namespace modgate {

struct KernelIdentity {
  std::uint32_t tgid = 0;
  std::uint64_t start_boottime_ns = 0;
};

// Loads the program, runs it once in this thread and unloads it. Needs CAP_BPF (root).
Result<KernelIdentity> kernel_identity();

}  // namespace modgate
