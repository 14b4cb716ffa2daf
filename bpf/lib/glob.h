/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Glob matching of request_module() names against autoload patterns: '*' matches any run of
 * characters (also empty), '?' exactly one, anything else itself. The same semantics as
 * policy::glob_match in userspace (docs/policy.md), tested against it in tests/bpf.
 *
 * The classic single-backtrack matcher, one step per bpf_loop iteration. With names and patterns
 * under MG_NAME_LEN bytes it needs at most MG_NAME_LEN * (MG_NAME_LEN + 1) steps.
 */
#ifndef MODGATE_BPF_GLOB_H
#define MODGATE_BPF_GLOB_H

#include "../modgate_abi.h"

struct mg_glob_scratch {
	char name[MG_NAME_LEN];
	char pat[MG_NAME_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mg_glob_scratch);
} mg_glob_scratch SEC(".maps");

struct mg_glob_loop {
	struct mg_glob_scratch *s;
	__u32 p, n, star, mark; /* star == MG_NAME_LEN: no '*' seen yet */
	__u32 plen, nlen;
	int result; /* -1 running, 0 no match, 1 match */
};

#define MG_GLOB_MASK (MG_NAME_LEN - 1)

static long mg_glob_step(__u64 i, void *vctx)
{
	struct mg_glob_loop *c = vctx;
	struct mg_glob_scratch *s = c->s;
	__u32 p = c->p, n = c->n;

	if (!s) {
		c->result = 0;
		return 1;
	}
	if (n >= c->nlen) {
		/* Name consumed: only trailing stars may remain. */
		if (p < c->plen && s->pat[p & MG_GLOB_MASK] == '*') {
			c->p = p + 1;
			return 0;
		}
		c->result = p >= c->plen;
		return 1;
	}
	if (p < c->plen) {
		char pc = s->pat[p & MG_GLOB_MASK];

		if (pc == '*') {
			c->star = p;
			c->mark = n;
			c->p = p + 1;
			return 0;
		}
		if (pc == '?' || pc == s->name[n & MG_GLOB_MASK]) {
			c->p = p + 1;
			c->n = n + 1;
			return 0;
		}
	}
	if (c->star < MG_NAME_LEN) {
		/* Mismatch after a star: let the star swallow one more character and retry. */
		c->p = c->star + 1;
		c->mark++;
		c->n = c->mark;
		return 0;
	}
	c->result = 0;
	return 1;
}

static __always_inline __u32 mg_strnlen(const char *s)
{
	__u32 i;

	for (i = 0; i < MG_NAME_LEN; i++)
		if (!s[i])
			break;
	return i;
}

/*
 * Matches s->pat against s->name (both NUL-terminated within MG_NAME_LEN): 1 match, 0 no match,
 * -1 if the step budget ran out, which the bound makes impossible; callers resolve -1 towards the
 * restrictive side (a deny pattern matches, an allow pattern does not).
 */
static __always_inline int mg_glob_match(struct mg_glob_scratch *s)
{
	struct mg_glob_loop c = {
		.s = s,
		.star = MG_NAME_LEN,
		.result = -1,
	};

	c.plen = mg_strnlen(s->pat);
	c.nlen = mg_strnlen(s->name);
	bpf_loop(MG_NAME_LEN * (MG_NAME_LEN + 2), mg_glob_step, &c, 0);
	return c.result;
}

#endif /* MODGATE_BPF_GLOB_H */
