// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test only (vm.*.whole_tree): ends every module load right after modgate's verdict, so a VM can
 * put thousands of real drivers through the real decision path without running any of them.
 *
 * BPF LSM programs on an int hook run as fmod_ret programs of one trampoline: newest attachment
 * first (kernel/bpf/trampoline.c adds each link at the head of the list), each sees the return
 * value so far as its last argument, and a non-zero return ends the chain. Attached BEFORE
 * modgate's agent starts, this program therefore runs after modgate's: a load modgate denies fails
 * with EPERM and never gets here, and one it admits arrives with ret == 0 and fails here with
 * ENOKEY, which modgate never returns. So loadmod's 126 means "modgate allowed it" and 1 means
 * "modgate denied it" (attached after the agent instead, this program would run first and
 * modgate would see nothing: verified on 6.1 and 6.12). Both post hooks come before the kernel
 * parses, decompresses or runs the module.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define ENOKEY 126

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("lsm/kernel_post_read_file")
int BPF_PROG(stop_post_read_file, struct file *file, char *buf, loff_t size,
	     enum kernel_read_file_id id, int ret)
{
	if (ret)
		return ret;
	if (id != READING_MODULE)
		return 0;
	return -ENOKEY;
}

SEC("lsm/kernel_post_load_data")
int BPF_PROG(stop_post_load_data, char *buf, loff_t size, enum kernel_load_data_id id,
	     char *description, int ret)
{
	if (ret)
		return ret;
	if (id != LOADING_MODULE)
		return 0;
	return -ENOKEY;
}
