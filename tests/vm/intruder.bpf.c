// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test only (vm.*.tamper*): what a root attacker would load to get around modgate without touching
 * any of its objects. fmod_ret programs on security_* functions are allowed
 * (check_attach_modify_return) and run before the function; a non-zero return skips it, and with
 * it every LSM, modgate's program included. kernel_read_file() treats a positive value from
 * security_kernel_post_read_file as the number of bytes read, so returning the file's size makes
 * finit_module load the file as if every LSM had approved it. tamper protection refuses to load
 * such programs; without it, this one lets any module in (tests/vm/scenarios/tamper_off.sh).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("fmod_ret/security_kernel_post_read_file")
int BPF_PROG(intrude, struct file *file, char *buf, loff_t size, enum kernel_read_file_id id)
{
	if (id != READING_MODULE)
		return 0;
	return (int)size;
}
