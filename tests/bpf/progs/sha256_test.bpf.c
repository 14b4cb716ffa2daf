// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Runs bpf/lib/sha256.h, the same code the LSM programs run, as a BPF_PROG_TYPE_SYSCALL program so
 * the host (where LSM programs cannot load) tests it on the real verifier and JIT.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/sha256.h"
#include "sha256_test.h"

struct mg_test_page {
	__u8 b[MG_TEST_PAGE];
};

/* max_entries is set by the harness before load, to the largest message it will hash. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mg_test_page);
} msg SEC(".maps");

const volatile __u64 msg_capacity = MG_TEST_PAGE;

/* One test process: one element stands for the LSM object's per-task scratch. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mg_sha_scratch);
} sha_scratch SEC(".maps");

SEC("syscall")
int sha256_test(struct mg_sha_test_args *args)
{
	__u8 digest[MG_SHA256_LEN] = {};
	__u32 zero = 0;
	__u64 addr;
	void *base;
	__u64 len = args->len;

	base = bpf_map_lookup_elem(&msg, &zero);
	if (!base) {
		args->ret = -2;
		return 0;
	}
	if (len > msg_capacity) {
		args->ret = -22;
		return 0;
	}
	/* In the LSM hooks the buffer is a plain scalar; turn the map pointer into one the same way
	 * (a helper's output is unknown data to the verifier) so the hash sees identical types. */
	if (bpf_probe_read_kernel(&addr, sizeof(addr), &base)) {
		args->ret = -14;
		return 0;
	}
	args->ret = mg_sha256_kernel(addr, len, digest, bpf_map_lookup_elem(&sha_scratch, &zero));
	__builtin_memcpy(args->digest, digest, sizeof(digest));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
