/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Contexts shared by tests/bpf/progs/decide_test.bpf.c and its C++ harness
 * (tests/bpf/decide_runner.cpp). Fixed-width fields only: both compilers lay them out alike.
 */
#ifndef MODGATE_DECIDE_TEST_H
#define MODGATE_DECIDE_TEST_H

#include "modgate_abi.h"

/*
 * What the harness must know of bpf/decide/'s internals, which are not ABI: the per-task record
 * (struct mg_task, bpf/decide/state.h), the phases, judge()'s defer result and the read classes
 * (bpf/decide/content.h). decide_test.bpf.c asserts at compile time that these copies agree.
 */
#define MG_DT_PHASE_NONE 0
#define MG_DT_PHASE_DECIDED 1
#define MG_DT_PHASE_PAYLOAD 2
#define MG_DT_JUDGE_DEFER 1
#define MG_DT_READ_IGNORED 0
#define MG_DT_READ_MODULE 1
#define MG_DT_READ_MODULE_COMPRESSED 2
#define MG_DT_READ_FIRMWARE 3
#define MG_DT_READ_KEXEC_IMAGE 4
#define MG_DT_READ_KEXEC_INITRAMFS 5
#define MG_DT_READ_NEW 6

struct mg_dt_task {
	__u32 finit_flags;
	__u32 flags_seen;
	__u32 phase;
	__u32 phase_flags;
	__u8 file_sha256[MG_SHA256_LEN];
	char path[MG_PATH_LEN];
};

/* The buffer map is an mmapable array of these pages (see sha256_test.h). */
#define MG_DT_PAGE 4096
#define MG_DT_PAGES 4

/* Content decisions: judge_test, module_read_test, read_class_test, load_data_test,
 * post_load_data_test, autoload_test. Each program reads the fields it names. */
struct mg_decide_args {
	__u64 size;		/* the buffer's size as the hook would pass it */
	__u32 kind;		/* judge: MG_KIND_* */
	__u32 hook;		/* judge: MG_HOOK_* */
	__u32 flags;		/* judge: MG_EVF_* */
	__u32 defer;		/* judge: defer_unlisted */
	__u32 id;		/* read_class: raw kernel_read_file id; (post_)load_data: load id */
	__u32 compressed;	/* module_read: the READING_MODULE_COMPRESSED call (7.x) */
	__u32 no_task;		/* module_read, judge: pass no task record (t == NULL) */
	__u32 bad_buf;		/* pass an address no probe read can read instead of the buffer */
	__s32 ret;		/* out: the decision function's return value */
	__u32 cls;		/* out, read_class: MG_READ_* */
	__s32 kind_in_finit;	/* out, read_class: read_kind(cls, true) */
	__s32 kind_outside;	/* out, read_class: read_kind(cls, false) */
	char name[MG_NAME_LEN]; /* the file name, description or request name passed along */
};

/* Which guard rule guard_test runs. */
#define MG_DT_GUARD_BPF_CMD 0 /* guard_bpf_cmd(cmd, attr) */
#define MG_DT_GUARD_OBJECT 1  /* guard_object(kind, dev, id, op, entry, size, name) */
#define MG_DT_TAMPER 2	      /* tamper(policy config, op, entry, size, name) */
#define MG_DT_IS_AGENT 3      /* ret = current_is_agent(), agent_self = task_is_agent(current) */
#define MG_DT_GUARD_TASK                                                                           \
	4		       /* guard_task(parent of the caller, or the caller with target_self, \
				* allowed, by_current, op, entry) */
#define MG_DT_GUARD_MAP 5      /* guard_map(one of this object's maps, by map_sel) */
#define MG_DT_GUARD_LOCKDOWN 6 /* guard_lockdown(entry) */

/* guard_map's target. */
#define MG_DT_MAP_POLICY_INNER 0 /* the inner map in policy slot 0 */
#define MG_DT_MAP_EVENTS 1
#define MG_DT_MAP_TASK_REC 2

/* Room for the kernel's union bpf_attr (144 bytes on 6.18); fields sit at their uapi offsets. */
#define MG_DT_ATTR_LEN 256

struct mg_guard_args {
	__u32 which; /* MG_DT_* */
	__s32 cmd;   /* guard_bpf_cmd: BPF_* command */
	__u32 kind;  /* guard_object: MG_GUARD_* */
	__u32 dev;
	__u64 id;
	__u32 op;	   /* guard_object, tamper, guard_task: MG_TAMPER_* */
	__u32 entry;	   /* guard_object, tamper, guard_task */
	__u64 size;	   /* guard_object, tamper */
	__u32 allowed;	   /* guard_task */
	__u32 by_current;  /* guard_task: the current task is the one asking */
	__u32 target_self; /* guard_task: the target is the caller, not its parent */
	__u32 map_sel;	   /* guard_map: MG_DT_MAP_* */
	__s32 ret;	   /* out */
	__s32 agent_self;  /* out, MG_DT_IS_AGENT */
	char name[16];
	__u8 attr[MG_DT_ATTR_LEN] __attribute__((aligned(8)));
};

#endif
