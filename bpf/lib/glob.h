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
	/*
	 * The matcher's state lives here, not in bpf_loop's stack context: values loaded from a map
	 * are unknown to the verifier, so the callback's states converge at once. Kept on the
	 * stack, 6.12's verifier follows the indices concretely, iteration by iteration, and gives
	 * up. The map value must be the calling task's own (task storage), not per CPU: a preempted
	 * match would otherwise resume on another task's name (bpf/lib/sha256.h says more).
	 */
	__u32 p, n, star, mark; /* star == MG_NAME_LEN: no '*' seen yet */
	__s32 result;		/* -1 running, 0 no match, 1 match */
	__u32 _pad;
};

#define MG_GLOB_MASK (MG_NAME_LEN - 1)

/* Both strings end at their NUL (the caller guarantees one at MG_NAME_LEN - 1). */
static long mg_glob_step(__u64 i, void *vctx)
{
	struct mg_glob_scratch *s = *(struct mg_glob_scratch **)vctx;
	__u32 p, n;
	char pc, nc;

	if (!s)
		return 1;
	p = s->p;
	n = s->n;
	pc = s->pat[p & MG_GLOB_MASK];
	nc = s->name[n & MG_GLOB_MASK];
	if (!nc) {
		/* Name consumed: only trailing stars may remain. */
		if (pc == '*') {
			s->p = p + 1;
			return 0;
		}
		s->result = !pc;
		return 1;
	}
	if (pc == '*') {
		s->star = p;
		s->mark = n;
		s->p = p + 1;
		return 0;
	}
	if (pc && (pc == '?' || pc == nc)) {
		s->p = p + 1;
		s->n = n + 1;
		return 0;
	}
	if (s->star < MG_NAME_LEN) {
		/* Mismatch after a star: let the star swallow one more character and retry. */
		s->p = s->star + 1;
		s->mark++;
		s->n = s->mark;
		return 0;
	}
	s->result = 0;
	return 1;
}

/*
 * Matches s->pat against s->name (both NUL-terminated within MG_NAME_LEN): 1 match, 0 no match,
 * -1 if the step budget ran out, which the bound makes impossible; callers resolve -1 towards the
 * restrictive side (a deny pattern matches, an allow pattern does not).
 */
static __always_inline int mg_glob_match(struct mg_glob_scratch *s)
{
	struct mg_glob_scratch *ctx = s;

	s->pat[MG_NAME_LEN - 1] = 0;
	s->name[MG_NAME_LEN - 1] = 0;
	s->p = 0;
	s->n = 0;
	s->star = MG_NAME_LEN;
	s->mark = 0;
	s->result = -1;
	bpf_loop(MG_NAME_LEN * (MG_NAME_LEN + 2), mg_glob_step, &ctx, 0);
	return s->result;
}

#endif /* MODGATE_BPF_GLOB_H */
