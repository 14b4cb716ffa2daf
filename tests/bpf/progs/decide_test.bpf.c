// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The decision code of the LSM programs (bpf/decide/), run by BPF_PROG_TYPE_SYSCALL programs so
 * the host, where LSM programs cannot load, tests every verdict rule on its real verifier and JIT
 * (tests/bpf/bpf_decide_test.cpp). The headers bring the same maps as bpf/modgate_lsm.bpf.c
 * (policy, events, stats, guard, guard_ids); each program only gathers what a hook would pass and
 * calls the header's function. What the LSM object keeps per task in task storage lives here in a
 * plain array the harness reads and writes.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "decide/state.h"
#include "decide/content.h"
#include "decide/autoload.h"
#include "decide/guard.h"
#include "decide_test.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ENOENT 2

/* The scratch the LSM object keeps in task storage: one test process, so one plain element. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mg_scratch);
} scratch SEC(".maps");

static __always_inline struct mg_scratch *mg_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

/* A syscall program has no finit_module registers: without the task record, flags are unknown
 * (judged as forced), which is what the cases without a record check. */
static __always_inline bool mg_finit_flags_from_regs(__u32 *flags)
{
	return false;
}

#define MG_DT_SAME_FIELD(f)                                                                        \
	_Static_assert(__builtin_offsetof(struct mg_task, f) ==                                    \
				       __builtin_offsetof(struct mg_dt_task, f) &&                 \
			       sizeof(((struct mg_task *)0)->f) ==                                 \
				       sizeof(((struct mg_dt_task *)0)->f),                        \
		       "mg_dt_task." #f " differs from mg_task")
_Static_assert(sizeof(struct mg_task) == sizeof(struct mg_dt_task), "mg_dt_task differs");
MG_DT_SAME_FIELD(finit_flags);
MG_DT_SAME_FIELD(flags_seen);
MG_DT_SAME_FIELD(phase);
MG_DT_SAME_FIELD(phase_flags);
MG_DT_SAME_FIELD(file_sha256);
MG_DT_SAME_FIELD(path);
_Static_assert(MG_DT_PHASE_NONE == MG_PHASE_NONE && MG_DT_PHASE_DECIDED == MG_PHASE_DECIDED &&
		       MG_DT_PHASE_PAYLOAD == MG_PHASE_PAYLOAD,
	       "phases differ");
_Static_assert(MG_DT_JUDGE_DEFER == MG_JUDGE_DEFER, "judge's defer result differs");
_Static_assert(MG_DT_READ_IGNORED == MG_READ_IGNORED && MG_DT_READ_MODULE == MG_READ_MODULE &&
		       MG_DT_READ_MODULE_COMPRESSED == MG_READ_MODULE_COMPRESSED &&
		       MG_DT_READ_FIRMWARE == MG_READ_FIRMWARE &&
		       MG_DT_READ_KEXEC_IMAGE == MG_READ_KEXEC_IMAGE &&
		       MG_DT_READ_KEXEC_INITRAMFS == MG_READ_KEXEC_INITRAMFS &&
		       MG_DT_READ_NEW == MG_READ_NEW,
	       "read classes differ");

struct mg_dt_page {
	__u8 b[MG_DT_PAGE];
};

/* The bytes a hook would see, in one flat vmalloc area (see sha256_test.bpf.c). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MG_DT_PAGES);
	__type(key, __u32);
	__type(value, struct mg_dt_page);
} msg SEC(".maps");

/* The one task's record, as the fentry and the pre hook leave it in task storage. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mg_task);
} task_rec SEC(".maps");

/*
 * A map or buffer pointer as the hooks get one: a plain scalar. A helper's output is unknown data
 * to the verifier, so the decision code sees the same types it sees in the LSM programs.
 */
static __always_inline __u64 launder(void *p)
{
	__u64 addr = 0;

	bpf_probe_read_kernel(&addr, sizeof(addr), &p);
	return addr;
}

/* The buffer argument: the message map's start, or an address that faults (hash failure). */
static __always_inline __u64 buffer(const struct mg_decide_args *a)
{
	__u32 zero = 0;
	void *base;

	if (a->bad_buf)
		return 0;
	base = bpf_map_lookup_elem(&msg, &zero);
	return base ? launder(base) : 0;
}

static __always_inline struct mg_task *task(const struct mg_decide_args *a)
{
	__u32 zero = 0;

	return a->no_task ? NULL : bpf_map_lookup_elem(&task_rec, &zero);
}

SEC("syscall")
int judge_test(struct mg_decide_args *a)
{
	a->ret = judge(a->kind, a->hook, buffer(a), a->size, a->flags, a->name, task(a),
		       a->defer != 0);
	return 0;
}

/* kernel_post_read_file of a module: READING_MODULE (6.x, or the 7.x payload call), or
 * READING_MODULE_COMPRESSED (7.x, first call). */
SEC("syscall")
int module_read_test(struct mg_decide_args *a)
{
	struct mg_task *t = task(a);

	if (!a->no_task && !t) {
		a->ret = -ENOENT;
		return 0;
	}
	a->ret = module_post_read(t, a->compressed != 0, buffer(a), a->size, a->name);
	return 0;
}

SEC("syscall")
int read_class_test(struct mg_decide_args *a)
{
	__u32 cls = read_class(a->id);

	a->cls = cls;
	a->kind_in_finit = read_kind(cls, true);
	a->kind_outside = read_kind(cls, false);
	return 0;
}

SEC("syscall")
int load_data_test(struct mg_decide_args *a)
{
	a->ret = load_data_decide(a->id);
	return 0;
}

SEC("syscall")
int post_load_data_test(struct mg_decide_args *a)
{
	a->ret = post_load_data_decide(buffer(a), a->size, a->id, a->name);
	return 0;
}

SEC("syscall")
int autoload_test(struct mg_decide_args *a)
{
	a->ret = autoload_decide(a->name);
	return 0;
}

static __always_inline void *guard_map_target(__u32 sel)
{
	__u32 zero = 0;

	if (sel == MG_DT_MAP_POLICY_INNER)
		return bpf_map_lookup_elem(&policy, &zero);
	if (sel == MG_DT_MAP_EVENTS)
		return &events;
	return &task_rec;
}

SEC("syscall")
int guard_test(struct mg_guard_args *a)
{
	const struct mg_config *cfg;
	struct task_struct *cur;
	void *m;

	switch (a->which) {
	case MG_DT_GUARD_BPF_CMD:
		a->ret = guard_bpf_cmd(a->cmd, (union bpf_attr *)a->attr);
		break;
	case MG_DT_GUARD_OBJECT:
		a->ret = guard_object(a->kind, a->dev, a->id, a->op, a->entry, a->size, a->name);
		break;
	case MG_DT_TAMPER:
		cfg = policy_config(policy_map());
		a->ret = cfg ? tamper(cfg, a->op, a->entry, a->size, a->name) : -ENOENT;
		break;
	case MG_DT_IS_AGENT:
		cur = bpf_get_current_task_btf();
		a->ret = current_is_agent();
		a->agent_self = task_is_agent(cur, guard_record());
		break;
	case MG_DT_GUARD_TASK:
		/* Another process the harness knows: its parent, alive while it runs; or itself. */
		cur = bpf_get_current_task_btf();
		a->ret = guard_task(a->target_self ? cur : BPF_CORE_READ(cur, real_parent),
				    a->allowed != 0, a->by_current != 0, a->op, a->entry);
		break;
	case MG_DT_GUARD_LOCKDOWN:
		a->ret = guard_lockdown(a->entry);
		break;
	case MG_DT_GUARD_MAP:
		m = guard_map_target(a->map_sel);
		a->ret = m ? guard_map((struct bpf_map *)launder(m)) : -ENOENT;
		break;
	default:
		a->ret = -ENOENT;
	}
	return 0;
}
