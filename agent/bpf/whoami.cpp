// SPDX-License-Identifier: Apache-2.0
#include "agent/bpf/whoami.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstring>
#include <memory>
#include <string>

#include "modgate_abi.h"
#include "whoami.skel.h"

namespace modgate {

Result<KernelIdentity> kernel_identity() {
  auto fail = [](const std::string& step, int err) {
    return Error{"cannot ask the kernel who the agent is (" + step +
                 " of bpf/whoami.bpf.c): " + std::strerror(err < 0 ? -err : err)};
  };
  std::unique_ptr<whoami, void (*)(whoami*)> skel(whoami__open_and_load(), whoami__destroy);
  if (!skel) return fail("loading", errno);
  mg_whoami out{};
  LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &out, .ctx_size_in = sizeof(out));
  // A syscall program's context is copied back into ctx_in when it returns.
  if (int err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.whoami), &opts))
    return fail("running", err);
  if (out.tgid == 0 || out.start_boottime == 0)
    return Error{"the kernel reported no identity for the agent (bpf/whoami.bpf.c)"};
  return KernelIdentity{out.tgid, out.start_boottime};
}

}  // namespace modgate
