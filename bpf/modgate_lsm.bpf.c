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
 *   lsm/file_send_sigiotask  any signal queued to the agent through an fd's owner (SIGIO)
 *   lsm/task_setrlimit       changing the agent's resource limits (prlimit)
 *   lsm/ptrace_access_check  ptrace attach, /proc/PID/mem, process_vm_*, pidfd_getfd on the agent
 *   lsm/file_open            writing /proc/sys/kernel/modprobe or ftrace_enabled, or a file
 *                            mapped into the agent
 *   lsm/locked_down          lockdown's integrity reasons (/dev/mem, iopl, MSRs, unsafe module
 *                            parameters, ...) but module signatures and kexec, which the policy
 *                            judges
 *
 * Every LSM program starts with "if (ret) return ret;" so an earlier BPF denial stands, returns
 * only 0 or -EPERM (6.12 rejects programs that may return outside [-MAX_ERRNO, 0]), and fails
 * closed: a missing policy or a hash that cannot be computed is treated as "not listed".
 *
 * This file holds only the programs: each reads its hook's arguments and calls the decision code
 * in bpf/decide/ (content.h, autoload.h, guard.h), which the host tests run too. A hook whose
 * prototype differs between kernels has one program per prototype (guard_bpf, guard_bpf_kernel);
 * the loader reads the running kernel's BTF and loads the one written for it
 * (agent/bpf/hook_protos.cpp).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "modgate_abi.h"
#include "decide/state.h"
#include "decide/content.h"
#include "decide/autoload.h"
#include "decide/guard.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#ifndef MODGATE_BUILD_ID
#define MODGATE_BUILD_ID "dev"
#endif
/* Which build this object is; it also makes each release's object, and so its pin tag, unique. */
const volatile char mg_build_id[] = MODGATE_BUILD_ID;

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

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mg_task);
} task_state SEC(".maps");

static __always_inline struct mg_task *task_record(bool create)
{
	return bpf_task_storage_get(&task_state, bpf_get_current_task_btf(), 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* Per task, not per CPU: a preempted program must find its bytes where it left them
 * (bpf/lib/sha256.h). Made on a task's first judged load and freed with the task. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mg_scratch);
} scratch SEC(".maps");

static __always_inline struct mg_scratch *mg_scratch(void)
{
	return bpf_task_storage_get(&scratch, bpf_get_current_task_btf(), 0,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
}

/* x86-64 syscall numbers of finit_module: the 64-bit one (x32 adds its marker bit), the ia32 one.
 */
#define MG_NR_FINIT_MODULE 313
#define MG_NR_FINIT_MODULE_IA32 350
#define MG_X32_SYSCALL_BIT 0x40000000

static __always_inline bool mg_finit_flags_from_regs(__u32 *flags)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	long nr;

	if (!regs)
		return false;
	nr = BPF_CORE_READ(regs, orig_ax);
	if (nr != MG_NR_FINIT_MODULE && nr != MG_NR_FINIT_MODULE_IA32 &&
	    nr != (MG_NR_FINIT_MODULE | MG_X32_SYSCALL_BIT))
		return false;
	/* finit_module(fd, uargs, flags): dx in both ABIs, as the fentry reads it. */
	*flags = (__u32)BPF_CORE_READ(regs, dx);
	return true;
}

static __always_inline void record_finit_flags(struct pt_regs *regs)
{
	struct mg_task *t = task_record(true);

	if (!t)
		return; /* no flags_seen: the post hook then fails closed */
	/* finit_module(fd, uargs, flags): the third argument is in dx for both ABIs. */
	t->finit_flags = (__u32)BPF_CORE_READ(regs, dx);
	t->flags_seen = 1;
	t->phase = MG_PHASE_NONE;
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

static __always_inline const char *file_name(struct file *file)
{
	return (const char *)BPF_CORE_READ(file, f_path.dentry, d_name.name);
}

SEC("lsm.s/kernel_read_file")
int BPF_PROG(read_file, struct file *file, enum kernel_read_file_id id, bool contents, int ret)
{
	const struct mg_config *cfg;
	struct mg_task *t;
	__u32 flags;
	int kind;

	if (ret)
		return ret;
	t = task_record(false);
	kind = read_kind(read_class(id), (t && t->flags_seen) || mg_finit_flags_from_regs(&flags));
	if (kind < 0)
		return 0;
	if (kind == MG_KIND_MODULE) {
		/* The fentry may have failed to make the record (task storage busy on this CPU);
		 * this hook can sleep, so it can. A new read also ends whatever an earlier read
		 * left for a payload call. */
		if (!t)
			t = task_record(true);
		if (t)
			t->phase = MG_PHASE_NONE;
	} else {
		cfg = enforced_config(kind);
		if (!cfg)
			return 0;
		if (!contents) {
			/* The post hook runs only for whole files: these bytes could never be
			 * judged. */
			struct decision d = {
				.event = MG_EVENT_MODULE_LOAD,
				.hook = MG_HOOK_KERNEL_READ_FILE,
				.verdict = MG_VERDICT_DENY,
				.reason = MG_REASON_NOT_HASHABLE,
				.kind = kind,
			};

			return finish(&d, cfg, NULL, file_name(file), NULL);
		}
		/* No finit_module entry made the record for these: make it here. */
		t = task_record(true);
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
	struct mg_task *t;
	__u32 cls, flags;
	int kind;

	if (ret)
		return ret;
	t = task_record(false);
	cls = read_class(id);
	kind = read_kind(cls, (t && (t->flags_seen || t->phase != MG_PHASE_NONE)) ||
				      mg_finit_flags_from_regs(&flags));
	if (kind < 0) {
		if (cls == MG_READ_NEW)
			count(MG_STAT_NEW_READ_ID);
		return 0;
	}
	if (kind == MG_KIND_MODULE)
		return module_post_read(t, cls == MG_READ_MODULE_COMPRESSED, (__u64)buf, size,
					file_name(file));
	ret = judge(kind, MG_HOOK_KERNEL_POST_READ_FILE, (__u64)buf, size, 0, file_name(file), t,
		    false);
	/* The path belongs to this read only; a later read records its own. */
	if (t)
		t->path[0] = 0;
	return ret;
}

SEC("lsm/kernel_load_data")
int BPF_PROG(load_data, enum kernel_load_data_id id, bool contents, int ret)
{
	if (ret)
		return ret;
	return load_data_decide(id);
}

SEC("lsm/kernel_post_load_data")
int BPF_PROG(post_load_data, char *buf, loff_t size, enum kernel_load_data_id id, char *description,
	     int ret)
{
	if (ret)
		return ret;
	return post_load_data_decide((__u64)buf, size, id, description);
}

SEC("lsm/kernel_module_request")
int BPF_PROG(module_request, char *kmod_name, int ret)
{
	if (ret)
		return ret;
	return autoload_decide(kmod_name);
}

/* Tamper protection: the rules are in decide/guard.h. */

/* 6.1 to 6.18: bpf(cmd, attr, size). */
SEC("lsm/bpf")
int BPF_PROG(guard_bpf, int cmd, union bpf_attr *attr, unsigned int size, int ret)
{
	if (ret)
		return ret;
	return guard_bpf_cmd(cmd, attr);
}

/* 7.x: bpf(cmd, attr, size, kernel); read by position, so `ret` moves one slot on. */
SEC("lsm/bpf")
int BPF_PROG(guard_bpf_kernel, int cmd, union bpf_attr *attr, unsigned int size, bool kernel,
	     int ret)
{
	if (ret)
		return ret;
	return guard_bpf_cmd(cmd, attr);
}

SEC("lsm/bpf_map")
int BPF_PROG(guard_bpf_map, struct bpf_map *map, fmode_t fmode, int ret)
{
	if (ret)
		return ret;
	return guard_map(map);
}

SEC("lsm/bpf_prog")
int BPF_PROG(guard_bpf_prog, struct bpf_prog *prog, int ret)
{
	__u32 id;

	if (ret)
		return ret;
	id = BPF_CORE_READ(prog, aux, id);
	return guard_object(MG_GUARD_PROG, 0, id, MG_TAMPER_PROG_FD, id, 0,
			    (const char *)BPF_CORE_READ(prog, aux)->name);
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
	if (ret)
		return ret;
	return guard_task(p, sig == 0 || sig == SIGHUP, true, MG_TAMPER_SIGNAL, sig);
}

/*
 * A signal queued through an fd's owner (fcntl F_SETOWN, F_SETSIG, O_ASYNC) does not pass
 * task_kill. sig is F_SETSIG's number, 0 for the default SIGIO, which ends a process that does
 * not handle it; the agent sets no owner on any fd, so none of these is its own.
 */
SEC("lsm/file_send_sigiotask")
int BPF_PROG(guard_file_send_sigiotask, struct task_struct *tsk, struct fown_struct *fown, int sig,
	     int ret)
{
	if (ret)
		return ret;
	return guard_task(tsk, false, false, MG_TAMPER_SIGIO, sig);
}

/*
 * prlimit(2) on the agent: a low RLIMIT_NOFILE starves its control socket and event files,
 * RLIMIT_FSIZE, RLIMIT_CPU or RLIMIT_AS end it with a signal that never passes task_kill. The agent
 * may set its own (by_current).
 */
SEC("lsm/task_setrlimit")
int BPF_PROG(guard_task_setrlimit, struct task_struct *p, unsigned int resource,
	     struct rlimit *new_rlim, int ret)
{
	if (ret)
		return ret;
	return guard_task(p, false, true, MG_TAMPER_RLIMIT, resource);
}

SEC("lsm/locked_down")
int BPF_PROG(guard_locked_down, enum lockdown_reason what, int ret)
{
	if (ret)
		return ret;
	return guard_lockdown((__u32)what);
}

SEC("lsm/ptrace_access_check")
int BPF_PROG(guard_ptrace, struct task_struct *child, unsigned int mode, int ret)
{
	if (ret)
		return ret;
	/* ATTACH covers what can change the agent or take its fds. */
	return guard_task(child, !(mode & PTRACE_MODE_ATTACH), true, MG_TAMPER_PTRACE, mode);
}

/* A file directly in /proc/sys/kernel/ of any procfs mount: the dentry names up to the procfs
 * root. Sysctls have no other name, and procfs cannot rename or link them. */
static __always_inline bool in_proc_sys_kernel(struct file *file, struct dentry *d)
{
	struct dentry *kernel = BPF_CORE_READ(d, d_parent);
	struct dentry *sys;

	if (!name_is(BPF_CORE_READ(kernel, d_name.name), "kernel", 7))
		return false;
	sys = BPF_CORE_READ(kernel, d_parent);
	if (!name_is(BPF_CORE_READ(sys, d_name.name), "sys", 4))
		return false;
	return BPF_CORE_READ(sys, d_parent) == BPF_CORE_READ(file, f_inode, i_sb, s_root);
}

/*
 * Opening for writing one of the sysctls that would switch modgate off, with its tamper operation
 * and name; else 0. Nobody writes them while protected, the agent included:
 * - kernel/modprobe: the kernel runs this path as root for every autoload, and modgate's
 *   autoload rules assume it is modprobe;
 * - kernel/ftrace_enabled: 0 turns every ftrace call site into a NOP, BPF trampolines included,
 *   so no modgate program would run again until it is 1.
 */
static __always_inline int guarded_sysctl(struct file *file, __u32 *op, const char **name)
{
	struct dentry *d = BPF_CORE_READ(file, f_path.dentry);
	const void *leaf = BPF_CORE_READ(d, d_name.name);

	if (name_is(leaf, "modprobe", 9)) {
		*op = MG_TAMPER_MODPROBE_PATH;
		*name = "kernel/modprobe";
	} else if (name_is(leaf, "ftrace_enabled", 15)) {
		*op = MG_TAMPER_FTRACE;
		*name = "kernel/ftrace_enabled";
	} else {
		return 0;
	}
	return in_proc_sys_kernel(file, d);
}

SEC("lsm/file_open")
int BPF_PROG(guard_file_open, struct file *file, int ret)
{
	const struct mg_config *cfg;
	const char *name = NULL;
	struct inode *inode;
	__u32 op = 0;
	__u64 ino;

	if (ret)
		return ret;
	if (!(BPF_CORE_READ(file, f_mode) & FMODE_WRITE))
		return 0;
	inode = BPF_CORE_READ(file, f_inode);
	ino = BPF_CORE_READ(inode, i_ino);
	if (BPF_CORE_READ(inode, i_sb, s_magic) == PROC_SUPER_MAGIC) {
		if (!guarded_sysctl(file, &op, &name))
			return 0;
		cfg = protect_config();
		if (!cfg)
			return 0;
		return tamper(cfg, op, 0, ino, name);
	}
	/* Page-cache writes to a file the agent maps (its binary, its libraries) would change the
	 * code it runs: writing them is becoming the agent. */
	return guard_object(MG_GUARD_AGENT_FILE, BPF_CORE_READ(inode, i_sb, s_dev), ino,
			    MG_TAMPER_AGENT_FILE, 0, ino, file_name(file));
}
