/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Content decisions: which loads are judged, how a buffer's hash becomes a verdict, and how the
 * verdict is reported. The hook programs in bpf/modgate_lsm.bpf.c only gather their arguments and
 * call in here; tests/bpf/progs/decide_test.bpf.c calls the same functions from syscall programs
 * (tests/bpf/bpf_decide_test.cpp), so every rule below runs on the host's verifier too.
 */
#ifndef MODGATE_BPF_DECIDE_CONTENT_H
#define MODGATE_BPF_DECIDE_CONTENT_H

#include "../modgate_abi.h"
#include "../lib/sha256.h"
#include "state.h"

#ifndef EPERM
#define EPERM 1
#endif
/* include/uapi/linux/module.h */
#define MODULE_INIT_IGNORE_MODVERSIONS 1
#define MODULE_INIT_IGNORE_VERMAGIC 2
#define MODULE_INIT_COMPRESSED_FILE 4

/* judge() with defer_unlisted: the bytes are not listed and nothing was decided or reported. */
#define MG_JUDGE_DEFER 1

struct decision {
	__u32 event, hook, verdict, reason, flags, entry, kind;
	__u64 size;
	const __u8 *payload_sha256; /* MG_EVF_PAYLOAD: the payload's hash, which decided */
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
	if (d->payload_sha256)
		__builtin_memcpy(e->payload_sha256, d->payload_sha256, MG_SHA256_LEN);
	else
		__builtin_memset(e->payload_sha256, 0, MG_SHA256_LEN);
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

/*
 * What a kernel_read_file id means to modgate. The ids come from the running kernel's BTF
 * (CO-RE), not from the vmlinux.h this object was compiled against, because kernels add ids:
 * 7.x reads a compressed module with READING_MODULE_COMPRESSED.
 */
#define MG_READ_IGNORED 0	    /* READING_UNKNOWN, _POLICY, _X509_CERTIFICATE: no code */
#define MG_READ_MODULE 1	    /* the module file, or the decompressed payload (7.x) */
#define MG_READ_MODULE_COMPRESSED 2 /* 7.x: the compressed file of a compressed finit_module */
#define MG_READ_FIRMWARE 3
#define MG_READ_KEXEC_IMAGE 4
#define MG_READ_KEXEC_INITRAMFS 5
#define MG_READ_NEW 6 /* an id this object does not know: a kernel newer than modgate */

/* Only in 7.x kernels' BTF; the flavour suffix keeps it apart from vmlinux.h's enum. */
enum kernel_read_file_id___mg7 {
	READING_MODULE_COMPRESSED___mg7 = 7,
};

static __always_inline __u32 read_class(__u32 id)
{
	if (id == bpf_core_enum_value(enum kernel_read_file_id, READING_MODULE))
		return MG_READ_MODULE;
	if (id == bpf_core_enum_value(enum kernel_read_file_id, READING_FIRMWARE))
		return MG_READ_FIRMWARE;
	if (id == bpf_core_enum_value(enum kernel_read_file_id, READING_KEXEC_IMAGE))
		return MG_READ_KEXEC_IMAGE;
	if (id == bpf_core_enum_value(enum kernel_read_file_id, READING_KEXEC_INITRAMFS))
		return MG_READ_KEXEC_INITRAMFS;
	if (bpf_core_enum_value_exists(enum kernel_read_file_id___mg7,
				       READING_MODULE_COMPRESSED___mg7) &&
	    id == bpf_core_enum_value(enum kernel_read_file_id___mg7,
				      READING_MODULE_COMPRESSED___mg7))
		return MG_READ_MODULE_COMPRESSED;
	if (id == bpf_core_enum_value(enum kernel_read_file_id, READING_UNKNOWN) ||
	    id == bpf_core_enum_value(enum kernel_read_file_id, READING_POLICY) ||
	    id == bpf_core_enum_value(enum kernel_read_file_id, READING_X509_CERTIFICATE))
		return MG_READ_IGNORED;
	return MG_READ_NEW;
}

/*
 * The kind a read is judged as, or -1 for reads modgate leaves to the kernel. An id modgate does
 * not know is judged as a module while the task is inside finit_module (in_finit: the fentry
 * made its record), because that is a module's code whatever the kernel calls the read; outside
 * it the read is left alone and counted (MG_STAT_NEW_READ_ID, by the post hook), since refusing
 * every unknown read could stop a boot on a kernel newer than modgate.
 */
static __always_inline int read_kind(__u32 cls, bool in_finit)
{
	switch (cls) {
	case MG_READ_MODULE:
	case MG_READ_MODULE_COMPRESSED:
		return MG_KIND_MODULE;
	case MG_READ_FIRMWARE:
		return MG_KIND_FIRMWARE;
	case MG_READ_KEXEC_IMAGE:
		return MG_KIND_KEXEC_IMAGE;
	case MG_READ_KEXEC_INITRAMFS:
		return MG_KIND_KEXEC_INITRAMFS;
	case MG_READ_NEW:
		return in_finit ? MG_KIND_MODULE : -1;
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
	const struct mg_config *cfg = policy_config(policy_map());

	return cfg && kind_enforced(cfg, kind) ? cfg : NULL;
}

/*
 * The content decision shared by every load path: hash buf and look it up. With defer_unlisted,
 * bytes that are simply not listed are neither decided nor reported (MG_JUDGE_DEFER; their hash
 * is kept in t->file_sha256): another buffer of the same load decides (module_post_read). With
 * MG_EVF_PAYLOAD in flags, buf is that buffer, and the event names the file's hash in sha256,
 * as on every other kernel and path, and the payload's in payload_sha256.
 */
static __always_inline int judge(__u32 kind, __u32 hook, __u64 buf, __u64 size, __u32 flags,
				 const char *name, struct mg_task *t, bool defer_unlisted)
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
	struct mg_scratch *scratch;
	const union mg_policy_value *hit;
	const struct mg_config *cfg;
	__u32 section = kind_section(kind);
	void *inner = policy_map();
	/* A payload decision names the file its event is about even when it ends early. */
	const __u8 *file_sha256 = (flags & MG_EVF_PAYLOAD) && t ? t->file_sha256 : NULL;

	/* One lookup of the policy for the whole decision: a swap in between must not mix the
	 * sections of one policy with the allowlist of another. */
	cfg = policy_config(inner);
	if (kind != MG_KIND_MODULE && !(cfg && kind_enforced(cfg, kind)))
		return 0;
	if (!cfg) {
		d.reason = MG_REASON_NO_POLICY;
		return finish(&d, NULL, file_sha256, name, t);
	}
	scratch = mg_scratch();
	if (!scratch || mg_sha256_kernel(buf, size, digest, &scratch->sha)) {
		count(MG_STAT_HASH_FAILED);
		d.reason = MG_REASON_HASH_FAILED;
		return finish(&d, cfg, file_sha256, name, t);
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
	} else if (defer_unlisted && t) {
		__builtin_memcpy(t->file_sha256, digest, MG_SHA256_LEN);
		return MG_JUDGE_DEFER;
	} else {
		d.reason = MG_REASON_NOT_LISTED;
	}
	if (file_sha256) {
		d.payload_sha256 = digest;
		return finish(&d, cfg, file_sha256, name, t);
	}
	return finish(&d, cfg, digest, name, t);
}

/*
 * The finit_module flags of the load now being read, from the fentry's record (consumed), else
 * from the task's saved syscall registers. Unknown flags are judged as a forced load.
 */
static __always_inline __u32 take_finit_flags(struct mg_task *t)
{
	__u32 flags = 0, finit;

	if (t && t->flags_seen) {
		finit = t->finit_flags;
		t->flags_seen = 0;
	} else if (!mg_finit_flags_from_regs(&finit)) {
		/* The fentry can fail to make its record (task storage busy on this CPU); the same
		 * registers it reads are still saved. Neither: unknown, judged as forced. */
		return MG_EVF_FORCED;
	}
	if (finit & (MODULE_INIT_IGNORE_MODVERSIONS | MODULE_INIT_IGNORE_VERMAGIC))
		flags |= MG_EVF_FORCED;
	if (finit & MODULE_INIT_COMPRESSED_FILE)
		flags |= MG_EVF_COMPRESSED;
	return flags;
}

/*
 * kernel_post_read_file of a module: exactly one decision and one event per load.
 *
 * Up to 6.18 (no READING_MODULE_COMPRESSED) every finit_module makes one call, with the file's
 * bytes, compressed or not: those decide. From 7.x a compressed finit_module makes two: first
 * READING_MODULE_COMPRESSED with the file's bytes, then, once the kernel has decompressed them,
 * READING_MODULE with the payload (kernel/module/main.c, init_module_from_file). The first
 * decides whenever it can: listed admits, and forced, unhashable or no policy refuse; the payload
 * call is then the same load and is passed over (MG_PHASE_DECIDED). Only bytes that are merely
 * not listed are left to the payload (MG_PHASE_PAYLOAD), so a policy that lists either hash
 * admits the load, and the payload's verdict is the one reported (with both hashes). Every
 * kernel_read_file pre hook and finit_module entry resets the phase, so it never outlives the load
 * that set it.
 */
static __always_inline int module_post_read(struct mg_task *t, bool compressed, __u64 buf,
					    __u64 size, const char *name)
{
	bool defer = false;
	__u32 flags;
	int ret;

	if (t && !compressed && t->phase != MG_PHASE_NONE) {
		if (t->phase == MG_PHASE_DECIDED) {
			t->phase = MG_PHASE_NONE;
			return 0;
		}
		t->phase = MG_PHASE_NONE;
		flags = t->phase_flags | MG_EVF_PAYLOAD;
	} else {
		flags = take_finit_flags(t);
		/* Without a task record nothing can be deferred: the compressed bytes decide
		 * alone. */
		if (compressed) {
			flags |= MG_EVF_COMPRESSED;
			defer = t != NULL;
		}
	}
	/* One judge() for every path keeps this hook's program small for the verifier. */
	ret = judge(MG_KIND_MODULE, MG_HOOK_KERNEL_POST_READ_FILE, buf, size, flags, name, t,
		    defer);
	if (!compressed || !t)
		return ret;
	if (ret == MG_JUDGE_DEFER) {
		t->phase = MG_PHASE_PAYLOAD;
		t->phase_flags = flags;
		return 0;
	}
	t->phase = MG_PHASE_DECIDED;
	return ret;
}

/*
 * kernel_load_data: init_module before its copy is refused only when no policy is installed
 * (fail closed); the contents are judged in kernel_post_load_data. The legacy kexec_load is
 * refused while kexec is judged: its segments never form one buffer to hash.
 */
static __always_inline int load_data_decide(__u32 id)
{
	struct decision d = {
		.event = MG_EVENT_MODULE_LOAD,
		.hook = MG_HOOK_KERNEL_LOAD_DATA,
		.verdict = MG_VERDICT_DENY,
		.reason = MG_REASON_NO_POLICY,
	};
	const struct mg_config *cfg;

	if (id == bpf_core_enum_value(enum kernel_load_data_id, LOADING_KEXEC_IMAGE)) {
		cfg = enforced_config(MG_KIND_KEXEC_IMAGE);
		if (!cfg)
			return 0;
		d.kind = MG_KIND_KEXEC_IMAGE;
		d.reason = MG_REASON_NOT_HASHABLE;
		return finish(&d, cfg, NULL, NULL, NULL);
	}
	/* LOADING_FIRMWARE: the blob is judged in post_load_data once it is all in. */
	if (id != bpf_core_enum_value(enum kernel_load_data_id, LOADING_MODULE))
		return 0;
	if (policy_config(policy_map()))
		return 0;
	return finish(&d, NULL, NULL, NULL, NULL);
}

/* kernel_post_load_data: init_module's image, or a firmware blob from the sysfs fallback or EFI. */
static __always_inline int post_load_data_decide(__u64 buf, __u64 size, __u32 id,
						 const char *description)
{
	__u32 kind;

	if (id == bpf_core_enum_value(enum kernel_load_data_id, LOADING_MODULE))
		kind = MG_KIND_MODULE;
	else if (id == bpf_core_enum_value(enum kernel_load_data_id, LOADING_FIRMWARE))
		kind = MG_KIND_FIRMWARE;
	else
		return 0;
	/* For firmware the description says where the blob came from: "blob" (sysfs fallback)
	 * or "platform" (EFI embedded firmware); init_module has none. */
	return judge(kind, MG_HOOK_KERNEL_POST_LOAD_DATA, buf, size, 0,
		     kind == MG_KIND_FIRMWARE ? description : NULL, NULL, false);
}

#endif /* MODGATE_BPF_DECIDE_CONTENT_H */
