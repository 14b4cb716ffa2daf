// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Runs bpf/lib/glob.h, the autoload matcher of the LSM program, as a syscall program. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/glob.h"
#include "glob_test.h"

/* One test process: one element stands for the LSM object's per-task scratch. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mg_glob_scratch);
} mg_glob_scratch SEC(".maps");

SEC("syscall")
int glob_test(struct mg_glob_test_args *args)
{
	struct mg_glob_scratch *s;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&mg_glob_scratch, &zero);
	if (!s)
		return 1;
	__builtin_memcpy(s->name, args->name, sizeof(s->name));
	__builtin_memcpy(s->pat, args->pattern, sizeof(s->pat));
	args->result = mg_glob_match(s);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
