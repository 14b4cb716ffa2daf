/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Context shared by tests/bpf/sha256_test.bpf.c and the C++ harness that runs it. */
#ifndef MODGATE_SHA256_TEST_H
#define MODGATE_SHA256_TEST_H

#include "modgate_abi.h"

/* The message map is an mmapable array of these; its elements are contiguous in one vmalloc area,
 * so element 0's address is the start of one flat kernel buffer, as in the LSM hooks. */
#define MG_TEST_PAGE 4096

struct mg_sha_test_args {
	__u64 len; /* bytes of the message map to hash */
	__s64 ret; /* mg_sha256_kernel's result */
	__u8 digest[MG_SHA256_LEN];
};

#endif
