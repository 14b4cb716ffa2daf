// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * modgate: only modules whose SHA-256 is on the policy's allowlist enter the kernel.
 *
 * Hooks and their roles (docs/design.md explains the choice):
 *   fentry/__x64_sys_finit_module, fentry/__ia32_sys_finit_module
 *       record finit_module()'s flags for the calling task; no LSM hook is passed them, and the
 *       ia32 entry is a separate function, so both are covered.
 *   lsm.s/kernel_read_file (READING_MODULE)
 *       finit_module before the read: record the file's path (bpf_d_path needs a sleepable hook).
 *       Decides nothing, because the bytes are not read yet.
 *   lsm/kernel_post_read_file (READING_MODULE)
 *       finit_module with the whole file in a kernel buffer, write access to the file denied
 *       until the load is over: hash it and decide. Also refuses forced loads.
 *   lsm/kernel_load_data (LOADING_MODULE)
 *       init_module before the copy: refuses only when no policy is installed (fail closed).
 *   lsm/kernel_post_load_data (LOADING_MODULE)
 *       init_module with the whole image in a kernel buffer: hash it and decide.
 *   lsm/kernel_module_request
 *       request_module() autoload: deny globs, then allow globs, then the default.
 *
 * Every LSM program starts with "if (ret) return ret;" so an earlier BPF denial stands, returns
 * only 0 or -EPERM (6.12 rejects programs that may return outside [-MAX_ERRNO, 0]), and fails
 * closed: a missing policy or a hash that cannot be computed is treated as "not listed".
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "modgate_abi.h"
#include "lib/glob.h"
#include "lib/sha256.h"

#define EPERM 1
/* include/uapi/linux/module.h */
#define MODULE_INIT_IGNORE_MODVERSIONS 1
#define MODULE_INIT_IGNORE_VERMAGIC 2
#define MODULE_INIT_COMPRESSED_FILE 4

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#ifndef MODGATE_BUILD_ID
#define MODGATE_BUILD_ID "dev"
#endif
/* Which build this object is; it also makes each release's object, and so its pin tag, unique. */
const volatile char mg_build_id[] = MODGATE_BUILD_ID;

/* One policy = one hash map (see modgate_abi.h); slot 0 of this array holds the one in force. */
/* Sizes, not types: libbpf 1.1 cannot size BTF key types of an inner map definition. */
struct policy_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(struct mg_allow_key));
	__uint(value_size, sizeof(union mg_policy_value));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct policy_inner);
} policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MG_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/*
 * BTF only describes types that maps, globals and program signatures reach; the event and the
 * policy records travel through pointers. This read-only anchor puts them in the object's BTF so
 * tests/bpf/abi_btf_test.cpp can compare the BPF compiler's layout with the C++ compiler's.
 */
const volatile struct {
	struct mg_event event;
	struct mg_special_key key;
	union mg_policy_value value;
} mg_abi_anchor;

/* Per task, between finit_module's entry and its LSM hooks. Kernel-internal, not ABI. */
struct mg_task {
	__u32 finit_flags;
	__u32 flags_seen; /* the fentry ran for the current finit_module call */
	char path[MG_PATH_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mg_task);
} task_state SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &slot);

	if (v)
		*v += 1;
}

static __always_inline void *policy_map(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&policy, &zero);
}

static __always_inline void *special_record(void *inner, __u32 kind, __u32 index)
{
	struct mg_special_key k = {
		.magic = MG_KEY_MAGIC,
		.kind = kind,
		.index = index,
	};

	return bpf_map_lookup_elem(inner, &k);
}

struct decision {
	__u32 event, hook, verdict, reason, flags, entry;
	__u64 size;
};

/*
 * Reports a decision and turns it into the hook's return value. cfg may be NULL (no policy: the
 * decision was already made fail-closed as enforce).
 */
static __always_inline int finish(struct decision *d, const struct mg_config *cfg,
				  const __u8 *sha256, const char *name, const struct mg_task *t)
{
	__u32 mode = cfg ? cfg->mode : MG_MODE_ENFORCE;
	struct mg_event *e;

	if (d->verdict != MG_VERDICT_ALLOW && mode != MG_MODE_ENFORCE)
		d->verdict = MG_VERDICT_WOULD_DENY;
	count(d->hook * MG_VERDICT_COUNT + d->verdict);

	if (d->verdict != MG_VERDICT_ALLOW || (cfg && (cfg->flags & MG_CFG_LOG_ALLOWED))) {
		e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (!e) {
			count(MG_STAT_RINGBUF_LOST);
		} else {
			__u64 id = bpf_get_current_pid_tgid();

			e->ts_ns = bpf_ktime_get_boot_ns();
			e->size = d->size;
			e->policy_version = cfg ? cfg->policy_version : 0;
			e->event = d->event;
			e->hook = d->hook;
			e->verdict = d->verdict;
			e->reason = d->reason;
			e->mode = mode;
			e->flags = d->flags;
			e->pid = id >> 32;
			e->tid = (__u32)id;
			e->uid = (__u32)bpf_get_current_uid_gid();
			e->entry = d->entry;
			if (sha256)
				__builtin_memcpy(e->sha256, sha256, MG_SHA256_LEN);
			else
				__builtin_memset(e->sha256, 0, MG_SHA256_LEN);
			bpf_get_current_comm(e->comm, sizeof(e->comm));
			e->name[0] = 0;
			if (name)
				bpf_probe_read_kernel_str(e->name, sizeof(e->name), name);
			e->path[0] = 0;
			if (t)
				bpf_probe_read_kernel_str(e->path, sizeof(e->path), t->path);
			bpf_ringbuf_submit(e, 0);
		}
	}
	return d->verdict == MG_VERDICT_DENY ? -EPERM : 0;
}

/* The content decision shared by both load paths: hash buf and look it up. */
static __always_inline int judge_module(__u32 hook, __u64 buf, __u64 size, __u32 flags,
					const char *name, const struct mg_task *t)
{
	struct decision d = {
		.event = MG_EVENT_MODULE_LOAD,
		.hook = hook,
		.verdict = MG_VERDICT_DENY,
		.flags = flags,
		.size = size,
	};
	__u8 digest[MG_SHA256_LEN] = {};
	const union mg_policy_value *hit;
	const struct mg_config *cfg;
	void *inner = policy_map();

	if (!inner) {
		d.reason = MG_REASON_NO_POLICY;
		return finish(&d, NULL, NULL, name, t);
	}
	cfg = special_record(inner, MG_KEY_CONFIG, 0);
	if (!cfg) {
		d.reason = MG_REASON_NO_POLICY;
		return finish(&d, NULL, NULL, name, t);
	}
	if (mg_sha256_kernel(buf, size, digest)) {
		count(MG_STAT_HASH_FAILED);
		d.reason = MG_REASON_HASH_FAILED;
		return finish(&d, cfg, NULL, name, t);
	}
	hit = bpf_map_lookup_elem(inner, digest);
	if (hit) {
		d.flags |= MG_EVF_LISTED;
		d.entry = hit->allow.entry;
	}
	if ((flags & MG_EVF_FORCED) && !(cfg->flags & MG_CFG_ALLOW_FORCED)) {
		d.reason = MG_REASON_FORCED;
	} else if (hit) {
		d.verdict = MG_VERDICT_ALLOW;
		d.reason = MG_REASON_LISTED;
	} else {
		d.reason = MG_REASON_NOT_LISTED;
	}
	return finish(&d, cfg, digest, name, t);
}

static __always_inline void record_finit_flags(struct pt_regs *regs)
{
	struct mg_task *t = bpf_task_storage_get(&task_state, bpf_get_current_task_btf(), 0,
						 BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!t)
		return; /* no flags_seen: the post hook then fails closed */
	/* finit_module(fd, uargs, flags): the third argument is in dx for both ABIs. */
	t->finit_flags = (__u32)BPF_CORE_READ(regs, dx);
	t->flags_seen = 1;
	t->path[0] = 0;
}

SEC("fentry/__x64_sys_finit_module")
int BPF_PROG(finit_enter, struct pt_regs *regs)
{
	record_finit_flags(regs);
	return 0;
}

SEC("fentry/__ia32_sys_finit_module")
int BPF_PROG(finit_enter_ia32, struct pt_regs *regs)
{
	record_finit_flags(regs);
	return 0;
}

SEC("lsm.s/kernel_read_file")
int BPF_PROG(read_file, struct file *file, enum kernel_read_file_id id, bool contents, int ret)
{
	struct mg_task *t;

	if (ret)
		return ret;
	if (id != READING_MODULE)
		return 0;
	t = bpf_task_storage_get(&task_state, bpf_get_current_task_btf(), 0, 0);
	/* Only for the event: a path that does not fit is reported empty, not truncated. */
	if (t && bpf_d_path(&file->f_path, t->path, sizeof(t->path)) < 0)
		t->path[0] = 0;
	return 0;
}

SEC("lsm/kernel_post_read_file")
int BPF_PROG(post_read_file, struct file *file, char *buf, loff_t size, enum kernel_read_file_id id,
	     int ret)
{
	__u32 flags = 0;
	struct mg_task *t;

	if (ret)
		return ret;
	if (id != READING_MODULE)
		return 0;
	t = bpf_task_storage_get(&task_state, bpf_get_current_task_btf(), 0, 0);
	if (t && t->flags_seen) {
		if (t->finit_flags & (MODULE_INIT_IGNORE_MODVERSIONS | MODULE_INIT_IGNORE_VERMAGIC))
			flags |= MG_EVF_FORCED;
		if (t->finit_flags & MODULE_INIT_COMPRESSED_FILE)
			flags |= MG_EVF_COMPRESSED;
		t->flags_seen = 0;
	} else {
		/* The fentry always runs first; without its record the flags are unknown, and
		 * an unknown load is judged as a forced one. */
		flags |= MG_EVF_FORCED;
	}
	return judge_module(MG_HOOK_KERNEL_POST_READ_FILE, (__u64)buf, size, flags,
			    (const char *)BPF_CORE_READ(file, f_path.dentry, d_name.name), t);
}

SEC("lsm/kernel_load_data")
int BPF_PROG(load_data, enum kernel_load_data_id id, bool contents, int ret)
{
	struct decision d = {
		.event = MG_EVENT_MODULE_LOAD,
		.hook = MG_HOOK_KERNEL_LOAD_DATA,
		.verdict = MG_VERDICT_DENY,
		.reason = MG_REASON_NO_POLICY,
	};
	void *inner;

	if (ret)
		return ret;
	if (id != LOADING_MODULE)
		return 0;
	inner = policy_map();
	if (inner && special_record(inner, MG_KEY_CONFIG, 0))
		return 0; /* the decision on contents is taken in post_load_data */
	return finish(&d, NULL, NULL, NULL, NULL);
}

SEC("lsm/kernel_post_load_data")
int BPF_PROG(post_load_data, char *buf, loff_t size, enum kernel_load_data_id id, char *description,
	     int ret)
{
	if (ret)
		return ret;
	if (id != LOADING_MODULE)
		return 0;
	return judge_module(MG_HOOK_KERNEL_POST_LOAD_DATA, (__u64)buf, size, 0, NULL, NULL);
}

struct autoload_loop {
	void *inner;
	struct mg_glob_scratch *s;
	__u32 n_deny, n_allow;
	__u32 reason; /* MG_REASON_AUTOLOAD_DENY or _ALLOW once a pattern decided; 0 before */
};

/*
 * One pattern per iteration, all deny patterns before any allow pattern, stopping at the first
 * that decides: deny wins. One bpf_loop instead of two unrolled loops keeps the verifier's work
 * small (6.12 gives up on the jump history of 64 inlined pattern matches).
 */
static long autoload_step(__u64 i, void *vctx)
{
	struct autoload_loop *c = vctx;
	struct mg_glob_scratch *s = c->s;
	bool deny = i < c->n_deny;
	const struct mg_glob *g;
	int m;

	if (!s || !c->inner)
		return 1;
	g = special_record(c->inner, deny ? MG_KEY_AUTOLOAD_DENY : MG_KEY_AUTOLOAD_ALLOW,
			   deny ? (__u32)i : (__u32)i - c->n_deny);
	if (!g) {
		/* A record the config promises is missing: only a deny can be trusted then. */
		if (deny) {
			c->reason = MG_REASON_AUTOLOAD_DENY;
			return 1;
		}
		return 0;
	}
	__builtin_memcpy(s->pat, g->pattern, sizeof(s->pat));
	m = mg_glob_match(s);
	if (deny && m != 0) {
		c->reason = MG_REASON_AUTOLOAD_DENY;
		return 1;
	}
	if (!deny && m == 1) {
		c->reason = MG_REASON_AUTOLOAD_ALLOW;
		return 1;
	}
	return 0;
}

SEC("lsm/kernel_module_request")
int BPF_PROG(module_request, char *kmod_name, int ret)
{
	struct decision d = {
		.event = MG_EVENT_MODULE_REQUEST,
		.hook = MG_HOOK_KERNEL_MODULE_REQUEST,
		.verdict = MG_VERDICT_DENY,
		.reason = MG_REASON_NO_POLICY,
	};
	const struct mg_config *cfg = NULL;
	struct autoload_loop c = {};
	struct mg_glob_scratch *s;
	__u32 zero = 0;
	void *inner;

	if (ret)
		return ret;
	s = bpf_map_lookup_elem(&mg_glob_scratch, &zero);
	if (!s)
		return finish(&d, NULL, NULL, kmod_name, NULL);
	if (bpf_probe_read_kernel_str(s->name, sizeof(s->name), kmod_name) < 0)
		s->name[0] = 0;
	inner = policy_map();
	if (inner)
		cfg = special_record(inner, MG_KEY_CONFIG, 0);
	if (!cfg)
		return finish(&d, NULL, NULL, kmod_name, NULL);

	c.inner = inner;
	c.s = s;
	c.n_deny = cfg->n_autoload_deny < MG_GLOB_MAX ? cfg->n_autoload_deny : MG_GLOB_MAX;
	c.n_allow = cfg->n_autoload_allow < MG_GLOB_MAX ? cfg->n_autoload_allow : MG_GLOB_MAX;
	bpf_loop(c.n_deny + c.n_allow, autoload_step, &c, 0);
	if (c.reason == MG_REASON_AUTOLOAD_DENY) {
		d.reason = MG_REASON_AUTOLOAD_DENY;
	} else if (c.reason == MG_REASON_AUTOLOAD_ALLOW) {
		d.verdict = MG_VERDICT_ALLOW;
		d.reason = MG_REASON_AUTOLOAD_ALLOW;
	} else {
		d.reason = MG_REASON_AUTOLOAD_DEFAULT;
		if (cfg->flags & MG_CFG_AUTOLOAD_DEFAULT_ALLOW)
			d.verdict = MG_VERDICT_ALLOW;
	}
	return finish(&d, cfg, NULL, kmod_name, NULL);
}
