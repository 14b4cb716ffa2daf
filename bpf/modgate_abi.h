/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one description of every structure that crosses the kernel/userspace boundary.
 *
 * Included by the BPF programs (after vmlinux.h) and by the C++ agent (after <linux/types.h>).
 * Only fixed-width types, explicit padding, and no enums as field types (an enum's width is the
 * compiler's choice); tests/unit/abi_layout_test.cpp pins every size and offset.
 */
#ifndef MODGATE_ABI_H
#define MODGATE_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define MG_SHA256_LEN 32
#define MG_COMM_LEN 16
/* MODULE_NAME_LEN in the kernel is 64 - sizeof(unsigned long); request_module names fit as well. */
#define MG_NAME_LEN 64
#define MG_GLOB_MAX 32 /* autoload patterns per list */
#define MG_PATH_LEN 256

/* Where a decision was taken. */
#define MG_HOOK_NONE 0
#define MG_HOOK_KERNEL_READ_FILE 1	/* finit_module, before the read */
#define MG_HOOK_KERNEL_POST_READ_FILE 2 /* finit_module, whole file in a kernel buffer */
#define MG_HOOK_KERNEL_LOAD_DATA 3	/* init_module, before the copy */
#define MG_HOOK_KERNEL_POST_LOAD_DATA 4 /* init_module, whole image in a kernel buffer */
#define MG_HOOK_KERNEL_MODULE_REQUEST 5 /* request_module() autoload */
#define MG_HOOK_COUNT 6

#define MG_VERDICT_ALLOW 0
#define MG_VERDICT_DENY 1
#define MG_VERDICT_WOULD_DENY 2 /* dry-run: enforce would have denied */
#define MG_VERDICT_COUNT 3

#define MG_MODE_DRY_RUN 0
#define MG_MODE_ENFORCE 1

#define MG_EVENT_MODULE_LOAD 1 /* any content decision: module, firmware or kexec (see kind) */
#define MG_EVENT_MODULE_REQUEST 2
#define MG_EVENT_TAMPER 3 /* an operation against modgate itself (docs/threat-model.md) */

/* Why a verdict was reached; reported with every event. */
#define MG_REASON_LISTED 0	   /* hash on the allowlist */
#define MG_REASON_NOT_LISTED 1	   /* hash not on the allowlist */
#define MG_REASON_FORCED 2	   /* finit_module with MODULE_INIT_IGNORE_* and allow_forced off */
#define MG_REASON_HASH_FAILED 3	   /* buffer could not be read or was too large; fail closed */
#define MG_REASON_NO_POLICY 4	   /* no policy in the map; fail closed */
#define MG_REASON_AUTOLOAD_ALLOW 5 /* request name matched autoload.allow */
#define MG_REASON_AUTOLOAD_DENY 6  /* request name matched autoload.deny */
#define MG_REASON_AUTOLOAD_DEFAULT 7 /* no pattern matched; autoload.default applied */
/* The kernel never holds the whole content in one buffer: a partial firmware read, or the legacy
 * kexec_load() whose segments come from user memory. Nothing to hash, so refused. */
#define MG_REASON_NOT_HASHABLE 8

/*
 * What a content decision (MG_EVENT_MODULE_LOAD) was about, in mg_event.kind. The same hooks see
 * all four (kernel_read_file_id / kernel_load_data_id tell them apart); docs/policy.md says which
 * policy section admits each.
 */
#define MG_KIND_MODULE 0
#define MG_KIND_FIRMWARE 1
#define MG_KIND_KEXEC_IMAGE 2
#define MG_KIND_KEXEC_INITRAMFS 3
#define MG_KIND_COUNT 4

/* Largest buffer the in-kernel hash accepts; the kernel itself refuses files above INT_MAX. */
#define MG_HASH_MAX_LEN (1ULL << 31)

/* Allowlist map: key is the SHA-256 of the exact bytes the kernel loads. */
struct mg_allow_key {
	__u8 sha256[MG_SHA256_LEN];
};

/*
 * The policy sections that list a hash. A hash admits a file only as a kind whose section lists
 * it: a firmware blob's hash in firmware: does not let the same bytes load as a module. Both
 * kexec kinds (image and initramfs) are admitted by the one kexec: section.
 * A record with no bit set was written by an agent older than the sections (the field was
 * reserved, 0), whose policy map an upgraded agent adopts as it is: it lists a module.
 */
#define MG_ALLOW_MODULE (1u << 0)
#define MG_ALLOW_FIRMWARE (1u << 1)
#define MG_ALLOW_KEXEC (1u << 2)

struct mg_allow_value {
	__u32 entry;	      /* index in modules: when MG_ALLOW_MODULE, so events can name it */
	__u32 sections;	      /* MG_ALLOW_* */
	__u32 firmware_entry; /* index in firmware: when MG_ALLOW_FIRMWARE */
	__u32 kexec_entry;    /* index in kexec: when MG_ALLOW_KEXEC */
};

/* Policy-wide settings, one element, swapped together with the allowlist. */
#define MG_CFG_LOG_ALLOWED (1u << 0)
#define MG_CFG_ALLOW_FORCED (1u << 1)
#define MG_CFG_AUTOLOAD_DEFAULT_ALLOW (1u << 2)
/* Tamper protection: denied in enforce mode, reported as would-deny in dry-run. */
#define MG_CFG_PROTECT (1u << 3)
/* The policy has a firmware: / kexec: section, so those loads are judged against the allowlist;
 * without one they are left to the kernel. */
#define MG_CFG_FIRMWARE (1u << 4)
#define MG_CFG_KEXEC (1u << 5)

struct mg_config {
	__u64 policy_version;
	__u8 policy_digest[MG_SHA256_LEN];
	__u32 mode;    /* MG_MODE_* */
	__u32 flags;   /* MG_CFG_* */
	__u32 present; /* 1 once userspace has written a policy; 0 means fail closed */
	__u32 _pad;
	__u32 n_autoload_allow; /* mg_glob records under MG_KEY_AUTOLOAD_ALLOW, 0..MG_GLOB_MAX */
	__u32 n_autoload_deny;
};

/*
 * One policy is one BPF hash map (the "inner" map), installed in slot 0 of an array-of-maps by a
 * single atomic update, so a program sees either the old policy or the new one, never a mix.
 * The map holds three kinds of record under 32-byte keys:
 *   - allowlist entries, keyed by the module's SHA-256, value mg_allow_value;
 *   - the config, under the special key (MG_KEY_CONFIG, 0), value mg_config;
 *   - autoload globs, under (MG_KEY_AUTOLOAD_ALLOW|DENY, index), value mg_glob.
 * A special key starts with the 8 bytes of MG_KEY_MAGIC; a module whose SHA-256 equals one would
 * need a 2^-64 prefix collision, and even then it could only be mistaken for a non-allow record.
 */
#define MG_KEY_MAGIC "\xffmodgate"
#define MG_KEY_CONFIG 1
#define MG_KEY_AUTOLOAD_ALLOW 2
#define MG_KEY_AUTOLOAD_DENY 3

struct mg_special_key {
	char magic[8];
	__u32 kind;
	__u32 index;
	__u8 zero[16];
};

/* One autoload pattern: NUL-terminated glob over request_module names ('*' and '?'). */
struct mg_glob {
	char pattern[MG_NAME_LEN];
};

/* Every record of the policy map has this size; the union exists only to fix it. */
union mg_policy_value {
	struct mg_allow_value allow;
	struct mg_config config;
	struct mg_glob glob;
};

/* Event flags. */
#define MG_EVF_FORCED (1u << 0)	    /* finit_module flags asked to ignore modversions/vermagic */
#define MG_EVF_COMPRESSED (1u << 1) /* finit_module with MODULE_INIT_COMPRESSED_FILE */
#define MG_EVF_LISTED (1u << 2)	    /* the hash is on the allowlist (entry valid) */
/* 7.x compressed finit_module: the compressed file was not listed, so its decompressed payload
 * decided: sha256 is still the file's, payload_sha256 and size are the payload's
 * (docs/design.md, "Compressed modules"). */
#define MG_EVF_PAYLOAD (1u << 3)

/* Ring-buffer record: one per decision worth reporting. */
struct mg_event {
	__u64 ts_ns; /* bpf_ktime_get_boot_ns() */
	__u64 size;  /* bytes hashed */
	__u64 policy_version;
	__u32 event;   /* MG_EVENT_* */
	__u32 hook;    /* MG_HOOK_* */
	__u32 verdict; /* MG_VERDICT_* */
	__u32 reason;  /* MG_REASON_* */
	__u32 mode;    /* MG_MODE_* in force */
	__u32 flags;   /* MG_EVF_* */
	__u32 pid;     /* tgid */
	__u32 tid;
	__u32 uid;
	__u32 entry; /* allowlist entry when MG_EVF_LISTED */
	__u8 sha256[MG_SHA256_LEN];
	char comm[MG_COMM_LEN];
	char name[MG_NAME_LEN]; /* request_module name, the file's basename on a file path, or the
				 * loader's description (kernel_post_load_data firmware) */
	char path[MG_PATH_LEN]; /* the file's path as bpf_d_path saw it (finit_module, firmware
				 * and kexec files), else empty */
	__u32 kind;		/* MG_KIND_* for MG_EVENT_MODULE_LOAD, else 0 */
	__u32 _pad;
	__u8 payload_sha256[MG_SHA256_LEN]; /* MG_EVF_PAYLOAD: the hash that decided; else 0 */
};

/*
 * Tamper protection (docs/threat-model.md). A tamper event (MG_EVENT_TAMPER) carries the operation
 * in `reason` (MG_TAMPER_*), and reuses the other fields:
 *   entry  the object id (map, prog, link fd), the program type (prog load), the signal number
 *          (signal; sigio: F_SETSIG's, 0 for the default SIGIO), the ptrace mode (ptrace), the
 *          mount id (umount), the running kernel's enum lockdown_reason value (lockdown)
 *   size   the target process (signal, sigio, ptrace) or the inode number (pins, agent files,
 *          sysctls)
 *   name   the map or program name, or the name of the file or mount concerned
 */
#define MG_TAMPER_MAP_FD 0	   /* an fd to one of modgate's maps (by id, by pin, or creation) */
#define MG_TAMPER_PROG_FD 1	   /* an fd to one of modgate's programs */
#define MG_TAMPER_LINK_FD 2	   /* BPF_LINK_GET_FD_BY_ID of one of modgate's links */
#define MG_TAMPER_PROG_LOAD 3	   /* loading an LSM or fmod_ret program */
#define MG_TAMPER_PIN_OPEN 4	   /* BPF_OBJ_GET (or open) of one of modgate's pins */
#define MG_TAMPER_PIN_UNLINK 5	   /* unlinking a pin */
#define MG_TAMPER_PIN_RENAME 6	   /* renaming a pin or pin directory, or renaming over one */
#define MG_TAMPER_PIN_RMDIR 7	   /* removing a pin directory */
#define MG_TAMPER_UMOUNT 8	   /* unmounting the pins' bpffs, or lazily one of its parents */
#define MG_TAMPER_SIGNAL 9	   /* a signal to the agent */
#define MG_TAMPER_PTRACE 10	   /* ptrace attach, /proc/PID/mem, process_vm_*, pidfd_getfd */
#define MG_TAMPER_MODPROBE_PATH 11 /* opening /proc/sys/kernel/modprobe for writing */
#define MG_TAMPER_AGENT_FILE 12	   /* opening a file mapped into the agent for writing */
#define MG_TAMPER_FTRACE 13	   /* opening /proc/sys/kernel/ftrace_enabled for writing */
#define MG_TAMPER_SIGIO 14    /* a signal to the agent through an fd's owner (F_SETOWN, O_ASYNC) */
#define MG_TAMPER_LOCKDOWN 15 /* an integrity-class lockdown reason (entry: the kernel's value) */
#define MG_TAMPER_RLIMIT 16   /* changing the agent's resource limits (prlimit; entry: RLIMIT_*) */
#define MG_TAMPER_COUNT 17

/* Who the agent is and where its pins live; one element, written by the agent. */
struct mg_guard {
	__u32 agent_tgid; /* 0: no agent recorded, nobody passes as the agent */
	__u32 bpffs_dev;  /* kernel s_dev of the bpffs holding the pins */
	/* The agent's thread-group leader's start_boottime divided by tick_ns, as bpf/whoami.bpf.c
	 * reads it (field 22 of /proc/PID/stat outside a time namespace). A recycled pid cannot
	 * come with the same start. */
	__u64 agent_start;
	__u64 tick_ns; /* nanoseconds per clock tick (1e9 / sysconf(_SC_CLK_TCK)) */
};

/*
 * What bpf/whoami.bpf.c reports of the task that runs it (a BPF_PROG_TYPE_SYSCALL program, run
 * with BPF_PROG_TEST_RUN): the ids and start time the hooks compare, as the kernel counts them.
 * getpid() and /proc are those of the caller's pid namespace, which in a pod without hostPID are
 * not the ones the hooks see.
 */
struct mg_whoami {
	__u32 tgid; /* the thread group, in the initial pid namespace */
	__u32 _pad;
	__u64 start_boottime; /* the group leader's start_boottime, ns */
};

/* Keys of the guard_ids set: what belongs to modgate. */
#define MG_GUARD_MAP 1	      /* id = map id */
#define MG_GUARD_PROG 2	      /* id = program id */
#define MG_GUARD_LINK 3	      /* id = link id */
#define MG_GUARD_INODE 4      /* a pin or pin directory: dev = s_dev, id = i_ino */
#define MG_GUARD_MOUNT 5      /* a mount whose lazy umount would detach the pins: id = mnt_id */
#define MG_GUARD_AGENT_FILE 6 /* a file mapped into the agent: dev = s_dev, id = i_ino */

struct mg_guard_key {
	__u32 kind; /* MG_GUARD_* */
	__u32 dev;
	__u64 id;
};

/*
 * Per-CPU counters, indexed [hook][verdict]; then losses; then tamper attempts by operation; then
 * content decisions (MG_EVENT_MODULE_LOAD) again by [kind][verdict], so the firmware and kexec
 * decisions counted under the shared hooks can be told apart; then file reads with an id this
 * object does not know, outside finit_module (left to the kernel, bpf/decide/content.h).
 */
#define MG_STAT_RINGBUF_LOST (MG_HOOK_COUNT * MG_VERDICT_COUNT)
#define MG_STAT_HASH_FAILED (MG_STAT_RINGBUF_LOST + 1)
#define MG_STAT_TAMPER (MG_STAT_HASH_FAILED + 1)	/* + MG_TAMPER_* */
#define MG_STAT_KIND (MG_STAT_TAMPER + MG_TAMPER_COUNT) /* + kind * MG_VERDICT_COUNT + verdict */
#define MG_STAT_NEW_READ_ID (MG_STAT_KIND + MG_KIND_COUNT * MG_VERDICT_COUNT)
#define MG_STAT_COUNT (MG_STAT_NEW_READ_ID + 1)

#endif /* MODGATE_ABI_H */
