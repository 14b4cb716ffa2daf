/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * SHA-256 (FIPS 180-4) over a kernel buffer, computed by BPF.
 *
 * Why by hand: the module hooks that see the bytes the kernel will load (kernel_post_read_file,
 * kernel_post_load_data) are not sleepable, so bpf_ima_file_hash is out of reach, and no kernel we
 * target has a hashing kfunc. The buffer is a plain scalar to the verifier, so it is read with
 * bpf_probe_read_kernel in chunks into the caller's scratch and compressed one block per bpf_loop
 * iteration; a 64 MiB module is 1 Mi iterations, well under BPF_MAX_LOOPS (8 Mi).
 *
 * The scratch must belong to the calling task alone. BPF programs run with migration disabled but
 * can be preempted (7.x kernels preempt kernel code), so with a per-CPU buffer another task's hash
 * could refill it between a chunk's read and its compression, and this hash would then cover the
 * other task's bytes: a listed module's chunk in place of an unlisted one's. The LSM programs pass
 * task storage (bpf/decide/state.h, mg_scratch()).
 *
 * Included by bpf/modgate_lsm.bpf.c and by tests/bpf/progs/sha256_test.bpf.c, so the code the host
 * tests run on the real verifier and JIT is exactly the code the LSM programs run.
 */
#ifndef MODGATE_BPF_SHA256_H
#define MODGATE_BPF_SHA256_H

#include "../modgate_abi.h"

#define MG_SHA_BLOCK 64
/* Bytes fetched per bpf_probe_read_kernel; a power of two so the slot index is a mask. */
#define MG_SHA_CHUNK 4096
#define MG_SHA_BLOCKS_PER_CHUNK (MG_SHA_CHUNK / MG_SHA_BLOCK)

struct mg_sha_scratch {
	__u8 buf[MG_SHA_CHUNK];
};

/* bpf_loop's context must live on the caller's stack (not in a map), so it stays small. */
struct mg_sha_loop {
	__u32 h[8];
	__u64 src;     /* kernel address of the message */
	__u64 nblocks; /* whole 64-byte blocks in the message */
	__s64 err;
	struct mg_sha_scratch *s; /* the calling task's own */
};

/*
 * BPF has no rotate, so a 32-bit rotate costs a copy, two shifts and an or. Doubling the word into
 * a 64-bit register, y = x:x, leaves ROR(x, n) in the low half of y >> n for any n <= 32, so a
 * Sigma's three rotates share one doubling and cost a shift each: a quarter fewer instructions
 * per block and about 25 % more throughput (docs/performance.md). clang emits the doubling as a
 * multiply by 0x100000001, which measured faster than a forced shift and or.
 */
static __always_inline __u64 mg_dbl(__u32 x)
{
	return ((__u64)x << 32) | x;
}

static __always_inline __u32 mg_bsig0(__u32 x)
{
	__u64 y = mg_dbl(x);

	return (__u32)((y >> 2) ^ (y >> 13) ^ (y >> 22));
}

static __always_inline __u32 mg_bsig1(__u32 x)
{
	__u64 y = mg_dbl(x);

	return (__u32)((y >> 6) ^ (y >> 11) ^ (y >> 25));
}

static __always_inline __u32 mg_ssig0(__u32 x)
{
	__u64 y = mg_dbl(x);

	return (__u32)((y >> 7) ^ (y >> 18)) ^ (x >> 3);
}

static __always_inline __u32 mg_ssig1(__u32 x)
{
	__u64 y = mg_dbl(x);

	return (__u32)((y >> 17) ^ (y >> 19)) ^ (x >> 10);
}

#define MG_BSIG0(x) mg_bsig0(x)
#define MG_BSIG1(x) mg_bsig1(x)
#define MG_SSIG0(x) mg_ssig0(x)
#define MG_SSIG1(x) mg_ssig1(x)
#define MG_CH(e, f, g) ((g) ^ ((e) & ((f) ^ (g))))
#define MG_MAJ(a, b, c) (((a) & (b)) | ((c) & ((a) | (b))))

/*
 * One round, with the eight working variables renamed instead of shifted. The closing barrier keeps
 * clang from loading later rounds' W early and spilling them (a few percent).
 */
#define MG_RND(a, b, c, d, e, f, g, h, k, w)                                                       \
	do {                                                                                       \
		__u32 t1 = (h) + MG_BSIG1(e) + MG_CH(e, f, g) + (k) + (w);                         \
		(d) += t1;                                                                         \
		(h) = t1 + MG_BSIG0(a) + MG_MAJ(a, b, c);                                          \
		asm volatile("" : : : "memory");                                                   \
	} while (0)

#define MG_SCHED(W, i)                                                                             \
	do {                                                                                       \
		(W)[(i)&15] += MG_SSIG1((W)[((i)-2) & 15]) + (W)[((i)-7) & 15] +                   \
			       MG_SSIG0((W)[((i)-15) & 15]);                                       \
		asm volatile("" : : : "memory");                                                   \
	} while (0)

#define MG_RND8(W, i, k0, k1, k2, k3, k4, k5, k6, k7)                                              \
	do {                                                                                       \
		MG_RND(a, b, c, d, e, f, g, h, k0, W[((i) + 0) & 15]);                             \
		MG_RND(h, a, b, c, d, e, f, g, k1, W[((i) + 1) & 15]);                             \
		MG_RND(g, h, a, b, c, d, e, f, k2, W[((i) + 2) & 15]);                             \
		MG_RND(f, g, h, a, b, c, d, e, k3, W[((i) + 3) & 15]);                             \
		MG_RND(e, f, g, h, a, b, c, d, k4, W[((i) + 4) & 15]);                             \
		MG_RND(d, e, f, g, h, a, b, c, k5, W[((i) + 5) & 15]);                             \
		MG_RND(c, d, e, f, g, h, a, b, k6, W[((i) + 6) & 15]);                             \
		MG_RND(b, c, d, e, f, g, h, a, k7, W[((i) + 7) & 15]);                             \
	} while (0)

#define MG_SCHED8(W, i)                                                                            \
	do {                                                                                       \
		MG_SCHED(W, (i) + 0);                                                              \
		MG_SCHED(W, (i) + 1);                                                              \
		MG_SCHED(W, (i) + 2);                                                              \
		MG_SCHED(W, (i) + 3);                                                              \
		MG_SCHED(W, (i) + 4);                                                              \
		MG_SCHED(W, (i) + 5);                                                              \
		MG_SCHED(W, (i) + 6);                                                              \
		MG_SCHED(W, (i) + 7);                                                              \
	} while (0)

/* Compress one block; p points at 64 bytes of message in big-endian word order. */
static __noinline void mg_sha256_compress(__u32 st[8], const __u8 *p)
{
	__u32 W[16];
	__u32 a = st[0], b = st[1], c = st[2], d = st[3];
	__u32 e = st[4], f = st[5], g = st[6], h = st[7];

#pragma clang loop unroll(full)
	for (int i = 0; i < 16; i++)
		W[i] = __builtin_bswap32(((const __u32 *)p)[i]);
	/* Make W escape: kept in memory, clang cannot hoist the whole message schedule into
	 * registers, which spills far past the 512-byte stack. The eight working variables then
	 * have the registers to themselves. */
	asm volatile("" : : "r"(W) : "memory");

	MG_RND8(W, 0, 0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
		0x923f82a4, 0xab1c5ed5);
	MG_RND8(W, 8, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
		0x9bdc06a7, 0xc19bf174);
	MG_SCHED8(W, 16);
	MG_RND8(W, 16, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
		0x5cb0a9dc, 0x76f988da);
	MG_SCHED8(W, 24);
	MG_RND8(W, 24, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
		0x06ca6351, 0x14292967);
	MG_SCHED8(W, 32);
	MG_RND8(W, 32, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb,
		0x81c2c92e, 0x92722c85);
	MG_SCHED8(W, 40);
	MG_RND8(W, 40, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624,
		0xf40e3585, 0x106aa070);
	MG_SCHED8(W, 48);
	MG_RND8(W, 48, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
		0x5b9cca4f, 0x682e6ff3);
	MG_SCHED8(W, 56);
	MG_RND8(W, 56, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb,
		0xbef9a3f7, 0xc67178f2);

	st[0] += a;
	st[1] += b;
	st[2] += c;
	st[3] += d;
	st[4] += e;
	st[5] += f;
	st[6] += g;
	st[7] += h;
}

static long mg_sha256_block_cb(__u64 i, void *vctx)
{
	struct mg_sha_loop *c = vctx;
	__u32 slot = i & (MG_SHA_BLOCKS_PER_CHUNK - 1);
	struct mg_sha_scratch *s = c->s;

	if (!s) {
		c->err = -2; /* -ENOENT: checked by the caller, but the verifier asks */
		return 1;
	}
	if (slot == 0) {
		__u64 left = c->nblocks - i;
		__u32 n =
			left >= MG_SHA_BLOCKS_PER_CHUNK ? MG_SHA_CHUNK : (__u32)left * MG_SHA_BLOCK;
		long ret;

		n &= MG_SHA_CHUNK * 2 - 1; /* bound for the verifier; n <= MG_SHA_CHUNK already */
		if (n > MG_SHA_CHUNK)
			n = MG_SHA_CHUNK;
		ret = bpf_probe_read_kernel(s->buf, n, (const void *)(c->src + i * MG_SHA_BLOCK));
		if (ret) {
			c->err = ret;
			return 1;
		}
	}
	mg_sha256_compress(c->h, s->buf + slot * MG_SHA_BLOCK);
	return 0;
}

/*
 * Hash len bytes at kernel address src into out, using s (the calling task's own scratch; see
 * above) for the bytes. Returns 0, or a negative errno when the buffer could not be read, is
 * larger than MG_HASH_MAX_LEN or no scratch was given; callers must then fail closed.
 */
static __always_inline long mg_sha256_kernel(__u64 src, __u64 len, __u8 out[MG_SHA256_LEN],
					     struct mg_sha_scratch *s)
{
	struct mg_sha_loop c = {
		.h = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c,
		      0x1f83d9ab, 0x5be0cd19},
		.src = src,
		.nblocks = len / MG_SHA_BLOCK,
		.s = s,
	};
	__u32 tail, padlen;
	__u64 bits = len * 8;
	long ret;

	if (!s)
		return -2; /* -ENOENT */
	if (len > MG_HASH_MAX_LEN)
		return -27; /* -EFBIG */
	if (c.nblocks) {
		ret = bpf_loop(c.nblocks, mg_sha256_block_cb, &c, 0);
		if (ret < 0)
			return ret;
		if (c.err)
			return c.err;
		if ((__u64)ret != c.nblocks)
			return -5; /* -EIO: the loop stopped early without saying why */
	}

	/* The last partial block plus padding: one or two blocks built in scratch. */
#pragma clang loop unroll(full)
	for (int i = 0; i < 2 * MG_SHA_BLOCK / 8; i++)
		((__u64 *)s->buf)[i] = 0;
	tail = len & (MG_SHA_BLOCK - 1);
	if (tail) {
		ret = bpf_probe_read_kernel(s->buf, tail & (MG_SHA_BLOCK - 1),
					    (const void *)(src + c.nblocks * MG_SHA_BLOCK));
		if (ret)
			return ret;
	}
	s->buf[tail & (MG_SHA_BLOCK - 1)] = 0x80;
	padlen = tail < 56 ? MG_SHA_BLOCK : 2 * MG_SHA_BLOCK;
	if (padlen == MG_SHA_BLOCK)
		*(__u64 *)(s->buf + MG_SHA_BLOCK - 8) = __builtin_bswap64(bits);
	else
		*(__u64 *)(s->buf + 2 * MG_SHA_BLOCK - 8) = __builtin_bswap64(bits);

	mg_sha256_compress(c.h, s->buf);
	if (padlen > MG_SHA_BLOCK)
		mg_sha256_compress(c.h, s->buf + MG_SHA_BLOCK);

#pragma clang loop unroll(full)
	for (int i = 0; i < 8; i++)
		((__u32 *)out)[i] = __builtin_bswap32(c.h[i]);
	return 0;
}

#endif /* MODGATE_BPF_SHA256_H */
