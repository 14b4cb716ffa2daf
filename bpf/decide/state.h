/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The maps every decision reads or writes, and the per-task record that carries one finit_module
 * call from its entry to its verdict. Included by bpf/modgate_lsm.bpf.c and by the host test
 * object tests/bpf/progs/decide_test.bpf.c, which therefore gets maps of the same shape and
 * drives the same decision code through BPF_PROG_TYPE_SYSCALL programs.
 */
#ifndef MODGATE_BPF_DECIDE_STATE_H
#define MODGATE_BPF_DECIDE_STATE_H

#include "../modgate_abi.h"
#include "../lib/glob.h"
#include "../lib/sha256.h"

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
 * Where a module read stands after the first of the two post-read calls a compressed
 * finit_module makes on kernels with READING_MODULE_COMPRESSED (docs/design.md, "Compressed
 * modules").
 */
#define MG_PHASE_NONE 0
/* The compressed bytes were judged: the payload call that follows is the same load, already
 * decided (and reported) once. */
#define MG_PHASE_DECIDED 1
/* The compressed bytes are not listed: the payload call decides, with these flags. */
#define MG_PHASE_PAYLOAD 2

/* Per task, between finit_module's entry (or a file read's pre hook) and the post hook.
 * Kernel-internal, not ABI. */
struct mg_task {
	__u32 finit_flags;
	__u32 flags_seen;		 /* the fentry ran for the current finit_module call */
	__u32 phase;			 /* MG_PHASE_* */
	__u32 phase_flags;		 /* MG_EVF_* of the load, kept for the payload call */
	__u8 file_sha256[MG_SHA256_LEN]; /* MG_PHASE_PAYLOAD: the compressed file's hash */
	char path[MG_PATH_LEN];
};

/* Scratch space of one task's decision: the hash's chunk buffer and the glob matcher's state. */
struct mg_scratch {
	struct mg_sha_scratch sha;
	struct mg_glob_scratch glob;
};

/*
 * The calling task's own scratch, or NULL (decisions then fail closed). Defined by the file that
 * includes these headers: task storage in bpf/modgate_lsm.bpf.c, a plain map in the host tests.
 */
static __always_inline struct mg_scratch *mg_scratch(void);

/*
 * The flags of the finit_module call the current task is in, from its saved syscall registers,
 * for when the fentry could not leave its record; false when they cannot be read. Defined by the
 * includer too.
 */
static __always_inline bool mg_finit_flags_from_regs(__u32 *flags);

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

/* The config of the policy in this inner map, or NULL. */
static __always_inline const struct mg_config *policy_config(void *inner)
{
	return inner ? special_record(inner, MG_KEY_CONFIG, 0) : NULL;
}

#endif /* MODGATE_BPF_DECIDE_STATE_H */
