// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * whoami: the caller as the hooks see it (struct mg_whoami). The agent runs it once with
 * BPF_PROG_TEST_RUN before it records itself as the agent (agent/bpf/whoami.cpp): inside a pid
 * namespace getpid() is not the tgid the hooks compare, and a record made from it would lock the
 * agent out of its own objects. A separate object, so that an agent that adopts pinned programs
 * can run it without loading the hooks.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "modgate_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("syscall")
int whoami(struct mg_whoami *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();

	ctx->tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	ctx->start_boottime = BPF_CORE_READ(task, group_leader, start_boottime);
	return 0;
}
