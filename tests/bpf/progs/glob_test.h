/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Context shared by tests/bpf/progs/glob_test.bpf.c and its C++ harness. */
#ifndef MODGATE_GLOB_TEST_H
#define MODGATE_GLOB_TEST_H

#include "modgate_abi.h"

struct mg_glob_test_args {
	char name[MG_NAME_LEN];
	char pattern[MG_NAME_LEN];
	__s32 result; /* mg_glob_match's: 1 match, 0 no match, -1 out of steps */
	__u32 _pad;
};

#endif
