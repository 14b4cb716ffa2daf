/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Tamper protection rules (docs/threat-model.md). Every rule first asks whether the policy in
 * force protects (a policy without `protect: true` leaves every operation to the kernel), then
 * whether the target is modgate's, and only then who is asking: the agent recorded in `guard`
 * passes, anyone else is refused (enforce) or reported (dry-run). The hook programs in
 * bpf/modgate_lsm.bpf.c read their kernel arguments and call these; the host tests call them from
 * syscall programs.
 */
#ifndef MODGATE_BPF_DECIDE_GUARD_H
#define MODGATE_BPF_DECIDE_GUARD_H

#include "content.h"

/* Kernel constants that are macros, so not in vmlinux.h. */
#define BPF_FS_MAGIC 0xcafe4a11
#define PROC_SUPER_MAGIC 0x9fa0
#define MAY_WRITE 0x2
#define MAY_READ 0x4
#define FMODE_WRITE 0x2
#define PTRACE_MODE_ATTACH 0x2
#define MNT_DETACH 0x2
#define SIGHUP 1
#define S_IFMT 00170000
#define S_IFDIR 0040000

/* The config of the policy in force when it asks for protection, else NULL. */
static __always_inline const struct mg_config *protect_config(void)
{
	const struct mg_config *cfg = policy_config(policy_map());

	return cfg && (cfg->flags & MG_CFG_PROTECT) ? cfg : NULL;
}

static __always_inline const struct mg_guard *guard_record(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&guard, &zero);
}

static __always_inline bool guarded(__u32 kind, __u32 dev, __u64 id)
{
	struct mg_guard_key k = {
		.kind = kind,
		.dev = dev,
		.id = id,
	};

	return bpf_map_lookup_elem(&guard_ids, &k) != NULL;
}

/*
 * The agent is its thread group (tgid) together with the group leader's start time: root can make
 * a process with any comm or exe, and a pid comes back after the agent dies, but no process
 * started later can have the agent's start time. The start time is compared in clock ticks
 * because that is what the agent can read about itself (/proc/self/stat).
 */
static __always_inline bool task_is_agent(struct task_struct *task, const struct mg_guard *g)
{
	__u64 start;

	if (!g || !g->agent_tgid || !g->tick_ns)
		return false;
	if ((__u32)BPF_CORE_READ(task, tgid) != g->agent_tgid)
		return false;
	start = BPF_CORE_READ(task, group_leader, start_boottime);
	return start / g->tick_ns == g->agent_start;
}

static __always_inline bool current_is_agent(void)
{
	return task_is_agent(bpf_get_current_task_btf(), guard_record());
}

/* Reports one attempt and gives the hook's answer: EPERM in enforce mode, 0 in dry-run. */
static __always_inline int tamper(const struct mg_config *cfg, __u32 op, __u32 entry, __u64 size,
				  const char *name)
{
	struct decision d = {
		.event = MG_EVENT_TAMPER,
		.hook = MG_HOOK_NONE,
		.verdict = cfg->mode == MG_MODE_ENFORCE ? MG_VERDICT_DENY : MG_VERDICT_WOULD_DENY,
		.reason = op,
		.entry = entry,
		.size = size,
	};

	if (op < MG_TAMPER_COUNT)
		count(MG_STAT_TAMPER + op);
	emit(&d, cfg->mode, cfg->policy_version, NULL, name, NULL);
	return d.verdict == MG_VERDICT_DENY ? -EPERM : 0;
}

/* want includes its NUL; names longer than the buffer never match. */
static __always_inline bool name_is(const void *kname, const char *want, int len)
{
	char buf[16] = {};

	if (bpf_probe_read_kernel_str(buf, sizeof(buf), kname) != len)
		return false;
	for (int i = 0; i < len && i < (int)sizeof(buf); i++)
		if (buf[i] != want[i])
			return false;
	return true;
}

/* An operation on something recorded as modgate's (kind, dev, id) by anyone but the agent. */
static __always_inline int guard_object(__u32 kind, __u32 dev, __u64 id, __u32 op, __u32 entry,
					__u64 size, const char *name)
{
	const struct mg_config *cfg = protect_config();

	if (!cfg || !guarded(kind, dev, id) || current_is_agent())
		return 0;
	return tamper(cfg, op, entry, size, name);
}

/*
 * bpf(cmd, attr): BPF_LINK_GET_FD_BY_ID of modgate's links, and loading LSM or fmod_ret programs.
 * attr is the kernel's copy, so the id checked is the one used. The same rule for every
 * prototype of the hook (7.x adds `bool kernel`: a syscall program's bpf_sys_bpf is refused
 * alike, for it runs on behalf of the task that ran it).
 */
static __always_inline int guard_bpf_cmd(int cmd, union bpf_attr *attr)
{
	const struct mg_config *cfg;
	__u32 id, type;

	if (cmd != BPF_LINK_GET_FD_BY_ID && cmd != BPF_PROG_LOAD)
		return 0;
	cfg = protect_config();
	if (!cfg)
		return 0;
	if (cmd == BPF_LINK_GET_FD_BY_ID) {
		/* Map and program fds are refused in bpf_map/bpf_prog whatever the command; links
		 * have no such hook. */
		id = BPF_CORE_READ(attr, link_id);
		if (!guarded(MG_GUARD_LINK, 0, id) || current_is_agent())
			return 0;
		return tamper(cfg, MG_TAMPER_LINK_FD, id, 0, NULL);
	}
	/*
	 * LSM programs and fmod_ret programs on security_* functions share one trampoline chain
	 * per hook in which the newest runs first and the first non-zero return ends the chain. A
	 * positive return is not an error to the callers of kernel_post_read_file: returning the
	 * file's size there makes finit_module load the module without modgate's program ever
	 * running (docs/threat-model.md). No such program may be loaded while protected.
	 */
	type = BPF_CORE_READ(attr, prog_type);
	if (type != BPF_PROG_TYPE_LSM &&
	    !(type == BPF_PROG_TYPE_TRACING &&
	      BPF_CORE_READ(attr, expected_attach_type) == BPF_MODIFY_RETURN))
		return 0;
	if (current_is_agent())
		return 0;
	return tamper(cfg, MG_TAMPER_PROG_LOAD, type, 0, (const char *)attr->prog_name);
}

/* A new fd to a map: modgate's by id, or any policy map by name. */
static __always_inline int guard_map(struct bpf_map *map)
{
	const struct mg_config *cfg = protect_config();
	__u32 id;

	if (!cfg)
		return 0;
	id = BPF_CORE_READ(map, id);
	/* Policy maps go by name: a new one is reachable by id from its creation, before the
	 * agent could record it and before it is frozen. The name is fixed at creation. */
	if (!guarded(MG_GUARD_MAP, 0, id) && !name_is(map->name, "mg_policy", 10))
		return 0;
	if (current_is_agent())
		return 0;
	return tamper(cfg, MG_TAMPER_MAP_FD, id, 0, (const char *)map->name);
}

/* A pin or pin directory, by its inode. */
static __always_inline int guard_inode(struct inode *inode, __u32 op, const char *name)
{
	__u64 ino = BPF_CORE_READ(inode, i_ino);

	return guard_object(MG_GUARD_INODE, BPF_CORE_READ(inode, i_sb, s_dev), ino, op, 0, ino,
			    name);
}

static __always_inline int guard_dentry(struct dentry *dentry, __u32 op)
{
	struct inode *inode = BPF_CORE_READ(dentry, d_inode);

	if (!inode || BPF_CORE_READ(inode, i_sb, s_magic) != BPF_FS_MAGIC)
		return 0;
	return guard_inode(inode, op, (const char *)BPF_CORE_READ(dentry, d_name.name));
}

/*
 * A signal or a ptrace attach aimed at the agent: `allowed` is what needs no protection (signal 0
 * only probes, SIGHUP asks for a reload that goes through the rules of any apply; ptrace READ
 * reveals only what is public). `by_current` says whether the current task is the one asking, so
 * that the agent itself may: a signal queued through an fd's owner (SIGIO) is sent by whoever
 * writes to the fd, which can be the agent answering on a socket whose other end an attacker
 * set O_ASYNC on with F_SETOWN pointing at the agent.
 */
static __always_inline int guard_task(struct task_struct *target, bool allowed, bool by_current,
				      __u32 op, __u32 entry)
{
	const struct mg_config *cfg;
	const struct mg_guard *g;

	if (allowed)
		return 0;
	g = guard_record();
	if (!g || !task_is_agent(target, g))
		return 0;
	cfg = protect_config();
	if (!cfg || (by_current && current_is_agent()))
		return 0;
	return tamper(cfg, op, entry, (__u32)BPF_CORE_READ(target, tgid), NULL);
}

/*
 * Kernel lockdown's integrity reasons (enum lockdown_reason below LOCKDOWN_INTEGRITY_MAX): the
 * ways root changes the running kernel without loading a module (/dev/mem and /dev/port, iopl
 * and ioperm, MSR writes, unsafe hardware-address module parameters, ACPI table overrides,
 * hibernation images, bpf_probe_write_user, ...). The kernel asks the LSMs whether each is locked
 * down even when the lockdown LSM is off. Two stay with the policy: MODULE_SIGNATURE (an unsigned
 * module the allowlist admitted) and KEXEC (an unsigned image the kexec: section judges). The
 * values differ between kernels, so they are the running kernel's (CO-RE); a reason added later
 * below INTEGRITY_MAX is covered as it comes.
 */
static __always_inline int guard_lockdown(__u32 what)
{
	const struct mg_config *cfg;

	if (what == 0 || what >= bpf_core_enum_value(enum lockdown_reason, LOCKDOWN_INTEGRITY_MAX))
		return 0;
	if (what == bpf_core_enum_value(enum lockdown_reason, LOCKDOWN_MODULE_SIGNATURE) ||
	    what == bpf_core_enum_value(enum lockdown_reason, LOCKDOWN_KEXEC))
		return 0;
	cfg = protect_config();
	if (!cfg)
		return 0;
	return tamper(cfg, MG_TAMPER_LOCKDOWN, what, 0, NULL);
}

#endif /* MODGATE_BPF_DECIDE_GUARD_H */
