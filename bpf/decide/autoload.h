/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * request_module() autoload: deny globs, then allow globs, then the policy's default. Shared by
 * the kernel_module_request program and the host tests (tests/bpf/progs/decide_test.bpf.c).
 */
#ifndef MODGATE_BPF_DECIDE_AUTOLOAD_H
#define MODGATE_BPF_DECIDE_AUTOLOAD_H

#include "content.h"

struct autoload_loop {
	void *inner;
	struct mg_glob_scratch *s;
	__u32 n_deny, n_allow;
	__u32 reason; /* MG_REASON_AUTOLOAD_DENY or _ALLOW once a pattern decided; 0 before */
};

/*
 * One pattern per iteration, all deny patterns before any allow pattern, stopping at the first
 * that decides: deny wins. One bpf_loop instead of two unrolled loops keeps the verifier's work
 * small (6.12 gives up on the jump history of 64 inlined pattern matches).
 */
static long autoload_step(__u64 i, void *vctx)
{
	struct autoload_loop *c = vctx;
	struct mg_glob_scratch *s = c->s;
	bool deny = i < c->n_deny;
	const struct mg_glob *g;
	int m;

	if (!s || !c->inner)
		return 1;
	g = special_record(c->inner, deny ? MG_KEY_AUTOLOAD_DENY : MG_KEY_AUTOLOAD_ALLOW,
			   deny ? (__u32)i : (__u32)i - c->n_deny);
	if (!g) {
		/* A record the config promises is missing: only a deny can be trusted then. */
		if (deny) {
			c->reason = MG_REASON_AUTOLOAD_DENY;
			return 1;
		}
		return 0;
	}
	__builtin_memcpy(s->pat, g->pattern, sizeof(s->pat));
	m = mg_glob_match(s);
	if (deny && m != 0) {
		c->reason = MG_REASON_AUTOLOAD_DENY;
		return 1;
	}
	if (!deny && m == 1) {
		c->reason = MG_REASON_AUTOLOAD_ALLOW;
		return 1;
	}
	return 0;
}

/* The verdict on request_module(kmod_name), a kernel string; reported like any decision. */
static __always_inline int autoload_decide(const char *kmod_name)
{
	struct decision d = {
		.event = MG_EVENT_MODULE_REQUEST,
		.hook = MG_HOOK_KERNEL_MODULE_REQUEST,
		.verdict = MG_VERDICT_DENY,
		.reason = MG_REASON_NO_POLICY,
	};
	const struct mg_config *cfg;
	struct autoload_loop c = {};
	struct mg_scratch *scratch = mg_scratch();
	struct mg_glob_scratch *s;
	void *inner;

	if (!scratch)
		return finish(&d, NULL, NULL, kmod_name, NULL);
	s = &scratch->glob;
	if (bpf_probe_read_kernel_str(s->name, sizeof(s->name), kmod_name) < 0)
		s->name[0] = 0;
	inner = policy_map();
	cfg = policy_config(inner);
	if (!cfg)
		return finish(&d, NULL, NULL, kmod_name, NULL);

	c.inner = inner;
	c.s = s;
	c.n_deny = cfg->n_autoload_deny < MG_GLOB_MAX ? cfg->n_autoload_deny : MG_GLOB_MAX;
	c.n_allow = cfg->n_autoload_allow < MG_GLOB_MAX ? cfg->n_autoload_allow : MG_GLOB_MAX;
	bpf_loop(c.n_deny + c.n_allow, autoload_step, &c, 0);
	if (c.reason == MG_REASON_AUTOLOAD_DENY) {
		d.reason = MG_REASON_AUTOLOAD_DENY;
	} else if (c.reason == MG_REASON_AUTOLOAD_ALLOW) {
		d.verdict = MG_VERDICT_ALLOW;
		d.reason = MG_REASON_AUTOLOAD_ALLOW;
	} else {
		d.reason = MG_REASON_AUTOLOAD_DEFAULT;
		if (cfg->flags & MG_CFG_AUTOLOAD_DEFAULT_ALLOW)
			d.verdict = MG_VERDICT_ALLOW;
	}
	return finish(&d, cfg, NULL, kmod_name, NULL);
}

#endif /* MODGATE_BPF_DECIDE_AUTOLOAD_H */
