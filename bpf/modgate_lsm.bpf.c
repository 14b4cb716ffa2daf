// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * modgate: only modules whose SHA-256 is on the policy's allowlist enter the kernel; with the
 * policy's firmware: and kexec: sections, the same holds for firmware files and kexec images.
 *
 * Hooks and their roles (docs/design.md explains the choice):
 *   fentry/__x64_sys_finit_module, fentry/__ia32_sys_finit_module
 *       record finit_module()'s flags for the calling task; no LSM hook is passed them, and the
 *       ia32 entry is a separate function, so both are covered.
 *   lsm.s/kernel_read_file (READING_MODULE, _FIRMWARE, _KEXEC_IMAGE, _KEXEC_INITRAMFS)
 *       finit_module, request_firmware, kexec_file_load before the read: record the file's path
 *       (bpf_d_path needs a sleepable hook). Decides nothing, because the bytes are not read
 *       yet, except that a partial read of an enforced kind is refused: the post hook only runs
 *       for whole files, so those bytes could never be judged.
 *   lsm/kernel_post_read_file (same ids)
 *       the whole file in a kernel buffer, write access to the file denied until the load is
 *       over: hash it and decide. Also refuses forced module loads.
 *   lsm/kernel_load_data (LOADING_MODULE, LOADING_KEXEC_IMAGE)
 *       init_module before the copy: refuses only when no policy is installed (fail closed).
 *       kexec_load (the legacy syscall): refused while kexec is enforced, because its segments
 *       are copied from user memory piecewise and never form one buffer to hash.
 *   lsm/kernel_post_load_data (LOADING_MODULE, LOADING_FIRMWARE)
 *       init_module, or a firmware blob written through the sysfs fallback or found in EFI
 *       (platform firmware), with the whole image in a kernel buffer: hash it and decide.
 *
 * Modules are always judged; firmware and kexec only while the policy in force has their
 * section (MG_CFG_FIRMWARE, MG_CFG_KEXEC). Without a policy they are left to the kernel: failing
 * closed on them would break every firmware load between boot and the agent's first policy.
 *   lsm/kernel_module_request
 *       request_module() autoload: deny globs, then allow globs, then the default.
 *
 * Tamper protection (policy `protect: true`; docs/threat-model.md says what each one stops). They
 * decide nothing while the policy in force does not protect, deny with EPERM in enforce mode and
 * report would-deny in dry-run, and let the agent recorded in `guard` through:
 *   lsm/bpf                  BPF_LINK_GET_FD_BY_ID of modgate's links; loading LSM and fmod_ret
 *                            programs (they run before modgate's and could return a false success)
 *   lsm/bpf_map, lsm/bpf_prog
 *                            any new fd to modgate's maps and programs: by id, by pin, at creation
 *   lsm/inode_permission     opening a pin (BPF_OBJ_GET of a pinned link has no other hook)
 *   lsm/inode_unlink, lsm/inode_rmdir, lsm/inode_rename
 *                            removing or moving the pins and their directories
 *   lsm/sb_umount            unmounting the pins' bpffs, or lazily a mount above it
 *   lsm/task_kill            signals to the agent other than 0 and SIGHUP
 *   lsm/ptrace_access_check  ptrace attach, /proc/PID/mem, process_vm_*, pidfd_getfd on the agent
 *   lsm/file_open            writing /proc/sys/kernel/modprobe, or a file mapped into the agent
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

/* Tamper protection: who the agent is, and the ids, pins and mounts that are modgate's. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mg_guard);
} guard SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct mg_guard_key);
	__type(value, __u32);
} guard_ids SEC(".maps");

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

/* Per task, between finit_module's entry (or a file read's pre hook) and the post hook.
 * Kernel-internal, not ABI. */
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
	__u32 event, hook, verdict, reason, flags, entry, kind;
	__u64 size;
};

/* Puts one record in the ring buffer; a full buffer is counted, never silent. */
static __always_inline void emit(const struct decision *d, __u32 mode, __u64 version,
				 const __u8 *sha256, const char *name, const struct mg_task *t)
{
	struct mg_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	__u64 id;

	if (!e) {
		count(MG_STAT_RINGBUF_LOST);
		return;
	}
	id = bpf_get_current_pid_tgid();
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->size = d->size;
	e->policy_version = version;
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
	e->kind = d->kind;
	e->_pad = 0;
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

/*
 * Reports a decision and turns it into the hook's return value. cfg may be NULL (no policy: the
 * decision was already made fail-closed as enforce).
 */
static __always_inline int finish(struct decision *d, const struct mg_config *cfg,
				  const __u8 *sha256, const char *name, const struct mg_task *t)
{
	__u32 mode = cfg ? cfg->mode : MG_MODE_ENFORCE;

	if (d->verdict != MG_VERDICT_ALLOW && mode != MG_MODE_ENFORCE)
		d->verdict = MG_VERDICT_WOULD_DENY;
	count(d->hook * MG_VERDICT_COUNT + d->verdict);
	if (d->event == MG_EVENT_MODULE_LOAD && d->kind < MG_KIND_COUNT)
		count(MG_STAT_KIND + d->kind * MG_VERDICT_COUNT + d->verdict);

	if (d->verdict != MG_VERDICT_ALLOW || (cfg && (cfg->flags & MG_CFG_LOG_ALLOWED)))
		emit(d, mode, cfg ? cfg->policy_version : 0, sha256, name, t);
	return d->verdict == MG_VERDICT_DENY ? -EPERM : 0;
}

/* The kind a file read is, or -1 for reads modgate leaves alone (policies, certificates). */
static __always_inline int read_kind(enum kernel_read_file_id id)
{
	switch (id) {
	case READING_MODULE:
		return MG_KIND_MODULE;
	case READING_FIRMWARE:
		return MG_KIND_FIRMWARE;
	case READING_KEXEC_IMAGE:
		return MG_KIND_KEXEC_IMAGE;
	case READING_KEXEC_INITRAMFS:
		return MG_KIND_KEXEC_INITRAMFS;
	default:
		return -1;
	}
}

/* The allowlist section that admits a kind (MG_ALLOW_*). */
static __always_inline __u32 kind_section(__u32 kind)
{
	if (kind == MG_KIND_FIRMWARE)
		return MG_ALLOW_FIRMWARE;
	if (kind == MG_KIND_KEXEC_IMAGE || kind == MG_KIND_KEXEC_INITRAMFS)
		return MG_ALLOW_KEXEC;
	return MG_ALLOW_MODULE;
}

/* Whether the policy with this config judges `kind`; modules are judged by every policy. */
static __always_inline bool kind_enforced(const struct mg_config *cfg, __u32 kind)
{
	if (kind == MG_KIND_MODULE)
		return true;
	if (kind == MG_KIND_FIRMWARE)
		return cfg->flags & MG_CFG_FIRMWARE;
	return cfg->flags & MG_CFG_KEXEC;
}

/*
 * The config of the policy in force when it judges `kind` (firmware, kexec), else NULL: no
 * policy, or a policy without that section, leaves those loads to the kernel.
 */
static __always_inline const struct mg_config *enforced_config(__u32 kind)
{
	const struct mg_config *cfg;
	void *inner = policy_map();

	if (!inner)
		return NULL;
	cfg = special_record(inner, MG_KEY_CONFIG, 0);
	return cfg && kind_enforced(cfg, kind) ? cfg : NULL;
}

/* The content decision shared by every load path: hash buf and look it up. */
static __always_inline int judge(__u32 kind, __u32 hook, __u64 buf, __u64 size, __u32 flags,
				 const char *name, const struct mg_task *t)
{
	struct decision d = {
		.event = MG_EVENT_MODULE_LOAD,
		.hook = hook,
		.verdict = MG_VERDICT_DENY,
		.flags = flags,
		.kind = kind,
		.size = size,
	};
	__u8 digest[MG_SHA256_LEN] = {};
	const union mg_policy_value *hit;
	const struct mg_config *cfg = NULL;
	__u32 section = kind_section(kind);
	void *inner = policy_map();

	/* One lookup of the policy for the whole decision: a swap in between must not mix the
	 * sections of one policy with the allowlist of another. */
	if (inner)
		cfg = special_record(inner, MG_KEY_CONFIG, 0);
	if (kind != MG_KIND_MODULE && !(cfg && kind_enforced(cfg, kind)))
		return 0;
	if (!inner || !cfg) {
		d.reason = MG_REASON_NO_POLICY;
		return finish(&d, NULL, NULL, name, t);
	}
	if (mg_sha256_kernel(buf, size, digest)) {
		count(MG_STAT_HASH_FAILED);
		d.reason = MG_REASON_HASH_FAILED;
		return finish(&d, cfg, NULL, name, t);
	}
	hit = bpf_map_lookup_elem(inner, digest);
	/* Listed in another section only: these bytes are approved as something else. No section
	 * at all: a record from before the sections existed (modgate_abi.h), a module. */
	if (hit && !((hit->allow.sections ?: MG_ALLOW_MODULE) & section))
		hit = NULL;
	if (hit) {
		d.flags |= MG_EVF_LISTED;
		if (section == MG_ALLOW_FIRMWARE)
			d.entry = hit->allow.firmware_entry;
		else if (section == MG_ALLOW_KEXEC)
			d.entry = hit->allow.kexec_entry;
		else
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
	const struct mg_config *cfg;
	struct mg_task *t;
	int kind;

	if (ret)
		return ret;
	kind = read_kind(id);
	if (kind < 0)
		return 0;
	if (kind == MG_KIND_MODULE) {
		t = bpf_task_storage_get(&task_state, bpf_get_current_task_btf(), 0, 0);
	} else {
		cfg = enforced_config(kind);
		if (!cfg)
			return 0;
		if (!contents) {
			struct decision d = {
				.event = MG_EVENT_MODULE_LOAD,
				.hook = MG_HOOK_KERNEL_READ_FILE,
				.verdict = MG_VERDICT_DENY,
				.reason = MG_REASON_NOT_HASHABLE,
				.kind = kind,
			};

			return finish(&d, cfg, NULL,
				      (const char *)BPF_CORE_READ(file, f_path.dentry, d_name.name),
				      NULL);
		}
		/* No finit_module entry made the record for these: make it here. */
		t = bpf_task_storage_get(&task_state, bpf_get_current_task_btf(), 0,
					 BPF_LOCAL_STORAGE_GET_F_CREATE);
	}
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
	int kind;

	if (ret)
		return ret;
	kind = read_kind(id);
	if (kind < 0)
		return 0;
	t = bpf_task_storage_get(&task_state, bpf_get_current_task_btf(), 0, 0);
	if (kind != MG_KIND_MODULE) {
		ret = judge(kind, MG_HOOK_KERNEL_POST_READ_FILE, (__u64)buf, size, 0,
			    (const char *)BPF_CORE_READ(file, f_path.dentry, d_name.name), t);
		/* The path belongs to this read only; a later read records its own. */
		if (t)
			t->path[0] = 0;
		return ret;
	}
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
	return judge(MG_KIND_MODULE, MG_HOOK_KERNEL_POST_READ_FILE, (__u64)buf, size, flags,
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
	const struct mg_config *cfg;
	void *inner;

	if (ret)
		return ret;
	if (id == LOADING_KEXEC_IMAGE) {
		cfg = enforced_config(MG_KIND_KEXEC_IMAGE);
		if (!cfg)
			return 0;
		d.kind = MG_KIND_KEXEC_IMAGE;
		d.reason = MG_REASON_NOT_HASHABLE;
		return finish(&d, cfg, NULL, NULL, NULL);
	}
	/* LOADING_FIRMWARE: the blob is judged in post_load_data once it is all in. */
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
	__u32 kind;

	if (ret)
		return ret;
	if (id == LOADING_MODULE)
		kind = MG_KIND_MODULE;
	else if (id == LOADING_FIRMWARE)
		kind = MG_KIND_FIRMWARE;
	else
		return 0;
	/* For firmware the description says where the blob came from: "blob" (sysfs fallback)
	 * or "platform" (EFI embedded firmware); init_module has none. */
	return judge(kind, MG_HOOK_KERNEL_POST_LOAD_DATA, (__u64)buf, size, 0,
		     kind == MG_KIND_FIRMWARE ? description : NULL, NULL);
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

/*
 * Tamper protection. Every program below first asks whether the policy in force protects (a
 * policy without `protect: true` leaves every operation to the kernel), then whether the target
 * is modgate's, and only then who is asking: the agent recorded in `guard` passes, anyone else is
 * refused (enforce) or reported (dry-run).
 */

/* The config of the policy in force when it asks for protection, else NULL. */
static __always_inline const struct mg_config *protect_config(void)
{
	const struct mg_config *cfg;
	void *inner = policy_map();

	if (!inner)
		return NULL;
	cfg = special_record(inner, MG_KEY_CONFIG, 0);
	if (!cfg || !(cfg->flags & MG_CFG_PROTECT))
		return NULL;
	return cfg;
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

SEC("lsm/bpf")
int BPF_PROG(guard_bpf, int cmd, union bpf_attr *attr, unsigned int size, int ret)
{
	const struct mg_config *cfg;
	__u32 id, type;

	if (ret)
		return ret;
	if (cmd != BPF_LINK_GET_FD_BY_ID && cmd != BPF_PROG_LOAD)
		return 0;
	cfg = protect_config();
	if (!cfg)
		return 0;
	if (cmd == BPF_LINK_GET_FD_BY_ID) {
		/* Map and program fds are refused in bpf_map/bpf_prog whatever the command; links
		 * have no such hook, and the attr is the kernel's copy, so the id is the one used.
		 */
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

SEC("lsm/bpf_map")
int BPF_PROG(guard_bpf_map, struct bpf_map *map, fmode_t fmode, int ret)
{
	const struct mg_config *cfg;
	__u32 id;

	if (ret)
		return ret;
	cfg = protect_config();
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

SEC("lsm/bpf_prog")
int BPF_PROG(guard_bpf_prog, struct bpf_prog *prog, int ret)
{
	const struct mg_config *cfg;
	__u32 id;

	if (ret)
		return ret;
	cfg = protect_config();
	if (!cfg)
		return 0;
	id = BPF_CORE_READ(prog, aux, id);
	if (!guarded(MG_GUARD_PROG, 0, id) || current_is_agent())
		return 0;
	return tamper(cfg, MG_TAMPER_PROG_FD, id, 0, (const char *)BPF_CORE_READ(prog, aux)->name);
}

static __always_inline int guard_inode(struct inode *inode, __u32 op, const char *name)
{
	const struct mg_config *cfg = protect_config();
	__u64 ino;
	__u32 dev;

	if (!cfg)
		return 0;
	dev = BPF_CORE_READ(inode, i_sb, s_dev);
	ino = BPF_CORE_READ(inode, i_ino);
	if (!guarded(MG_GUARD_INODE, dev, ino) || current_is_agent())
		return 0;
	return tamper(cfg, op, 0, ino, name);
}

static __always_inline int guard_dentry(struct dentry *dentry, __u32 op)
{
	struct inode *inode = BPF_CORE_READ(dentry, d_inode);

	if (!inode || BPF_CORE_READ(inode, i_sb, s_magic) != BPF_FS_MAGIC)
		return 0;
	return guard_inode(inode, op, (const char *)BPF_CORE_READ(dentry, d_name.name));
}

SEC("lsm/inode_permission")
int BPF_PROG(guard_inode_permission, struct inode *inode, int mask, int ret)
{
	if (ret)
		return ret;
	/* Path walks ask for MAY_EXEC only: this is the hot path, leave it at once. Directories
	 * stay listable; removing their entries is refused in inode_unlink/rmdir/rename. */
	if (!(mask & (MAY_READ | MAY_WRITE)))
		return 0;
	if (BPF_CORE_READ(inode, i_sb, s_magic) != BPF_FS_MAGIC)
		return 0;
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT) == S_IFDIR)
		return 0;
	return guard_inode(inode, MG_TAMPER_PIN_OPEN, NULL);
}

SEC("lsm/inode_unlink")
int BPF_PROG(guard_inode_unlink, struct inode *dir, struct dentry *dentry, int ret)
{
	if (ret)
		return ret;
	return guard_dentry(dentry, MG_TAMPER_PIN_UNLINK);
}

SEC("lsm/inode_rmdir")
int BPF_PROG(guard_inode_rmdir, struct inode *dir, struct dentry *dentry, int ret)
{
	if (ret)
		return ret;
	return guard_dentry(dentry, MG_TAMPER_PIN_RMDIR);
}

SEC("lsm/inode_rename")
int BPF_PROG(guard_inode_rename, struct inode *old_dir, struct dentry *old_dentry,
	     struct inode *new_dir, struct dentry *new_dentry, int ret)
{
	if (ret)
		return ret;
	/* Renaming over a pin drops it as surely as unlinking it. */
	ret = guard_dentry(old_dentry, MG_TAMPER_PIN_RENAME);
	if (ret)
		return ret;
	return guard_dentry(new_dentry, MG_TAMPER_PIN_RENAME);
}

SEC("lsm/sb_umount")
int BPF_PROG(guard_sb_umount, struct vfsmount *mnt, int flags, int ret)
{
	const struct mg_config *cfg;
	const struct mg_guard *g;
	struct mount *m;
	__u32 dev, id;

	if (ret)
		return ret;
	cfg = protect_config();
	g = guard_record();
	if (!cfg || !g)
		return 0;
	m = (struct mount *)((unsigned long)mnt - bpf_core_field_offset(struct mount, mnt));
	id = BPF_CORE_READ(m, mnt_id);
	dev = BPF_CORE_READ(mnt, mnt_sb, s_dev);
	/* A lazy umount of a mount above the pins detaches the whole subtree, bpffs included. */
	if (!(g->bpffs_dev && dev == g->bpffs_dev) &&
	    !((flags & MNT_DETACH) && guarded(MG_GUARD_MOUNT, 0, id)))
		return 0;
	if (current_is_agent())
		return 0;
	return tamper(cfg, MG_TAMPER_UMOUNT, id, 0,
		      (const char *)BPF_CORE_READ(mnt, mnt_sb, s_type, name));
}

SEC("lsm/task_kill")
int BPF_PROG(guard_task_kill, struct task_struct *p, struct kernel_siginfo *info, int sig,
	     const struct cred *cred, int ret)
{
	const struct mg_config *cfg;
	const struct mg_guard *g;

	if (ret)
		return ret;
	/* 0 only probes for existence; SIGHUP asks the agent to re-read its policy file, which
	 * goes through the same rules as any apply. */
	if (sig == 0 || sig == SIGHUP)
		return 0;
	g = guard_record();
	if (!g || !task_is_agent(p, g))
		return 0;
	cfg = protect_config();
	if (!cfg || current_is_agent())
		return 0;
	return tamper(cfg, MG_TAMPER_SIGNAL, sig, (__u32)BPF_CORE_READ(p, tgid), NULL);
}

SEC("lsm/ptrace_access_check")
int BPF_PROG(guard_ptrace, struct task_struct *child, unsigned int mode, int ret)
{
	const struct mg_config *cfg;
	const struct mg_guard *g;

	if (ret)
		return ret;
	/* ATTACH covers what can change the agent or take its fds; READ (ps, /proc/PID/status)
	 * reveals nothing that is not public anyway. */
	if (!(mode & PTRACE_MODE_ATTACH))
		return 0;
	g = guard_record();
	if (!g || !task_is_agent(child, g))
		return 0;
	cfg = protect_config();
	if (!cfg || current_is_agent())
		return 0;
	return tamper(cfg, MG_TAMPER_PTRACE, mode, (__u32)BPF_CORE_READ(child, tgid), NULL);
}

/* /proc/sys/kernel/modprobe in any procfs mount: the dentry names up to the procfs root. The
 * sysctl has no other name and procfs cannot rename or link it. */
static __always_inline bool is_modprobe_sysctl(struct file *file)
{
	struct dentry *d = BPF_CORE_READ(file, f_path.dentry);
	struct dentry *kernel, *sys;

	if (!name_is(BPF_CORE_READ(d, d_name.name), "modprobe", 9))
		return false;
	kernel = BPF_CORE_READ(d, d_parent);
	if (!name_is(BPF_CORE_READ(kernel, d_name.name), "kernel", 7))
		return false;
	sys = BPF_CORE_READ(kernel, d_parent);
	if (!name_is(BPF_CORE_READ(sys, d_name.name), "sys", 4))
		return false;
	return BPF_CORE_READ(sys, d_parent) == BPF_CORE_READ(file, f_inode, i_sb, s_root);
}

SEC("lsm/file_open")
int BPF_PROG(guard_file_open, struct file *file, int ret)
{
	const struct mg_config *cfg;
	struct inode *inode;
	__u64 ino;
	__u32 dev;

	if (ret)
		return ret;
	if (!(BPF_CORE_READ(file, f_mode) & FMODE_WRITE))
		return 0;
	inode = BPF_CORE_READ(file, f_inode);
	if (BPF_CORE_READ(inode, i_sb, s_magic) == PROC_SUPER_MAGIC) {
		/* Nobody writes it, the agent included: the kernel runs this path as root for every
		 * autoload, and modgate's autoload rules assume it is modprobe. */
		if (!is_modprobe_sysctl(file))
			return 0;
		cfg = protect_config();
		if (!cfg)
			return 0;
		return tamper(cfg, MG_TAMPER_MODPROBE_PATH, 0, BPF_CORE_READ(inode, i_ino),
			      "kernel/modprobe");
	}
	cfg = protect_config();
	if (!cfg)
		return 0;
	/* Page-cache writes to a file the agent maps (its binary, its libraries) would change the
	 * code it runs: writing them is becoming the agent. */
	dev = BPF_CORE_READ(inode, i_sb, s_dev);
	ino = BPF_CORE_READ(inode, i_ino);
	if (!guarded(MG_GUARD_AGENT_FILE, dev, ino) || current_is_agent())
		return 0;
	return tamper(cfg, MG_TAMPER_AGENT_FILE, 0, ino,
		      (const char *)BPF_CORE_READ(file, f_path.dentry, d_name.name));
}
