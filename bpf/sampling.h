/* SPDX-License-Identifier: MIT */
/* Byte sampling arithmetic, in fixed point (BPF has no floating point).
 * Shared by bpf/leaktop.bpf.c and the unit tests, which run it in userspace
 * against the tables of user/sampling.c.  Types: __u32/__u64 from vmlinux.h
 * or linux/types.h; the includer defines __always_inline. */
#ifndef LEAKTOP_SAMPLING_H
#define LEAKTOP_SAMPLING_H

#include "leaktop.h"

/* One step of an exponential draw (1/BYTE_PARTS bytes) from a uniform
 * 32-bit random number: its top 12 bits pick the table interval, the other
 * 20 interpolate in it.  The lowest interval (u < 1/EXP_STEPS) has no finite
 * end; it returns 0 and sets *again: the caller adds table[1] (that is,
 * mean * ln EXP_STEPS) and draws again (the exponential forgets). */
static __always_inline __u64 exp_step(const volatile __u64 *table, __u32 r, int *again)
{
	__u32 i = r >> 20, frac = r & 0xfffff;
	__u64 a, b;

	*again = i == 0;
	if (i == 0)
		return 0;
	a = table[i];
	b = table[i + 1];
	return a - (a - b) / (1 << 20) * frac - (a - b) % (1 << 20) * frac / (1 << 20);
}

/* An exponential interval: mean table[1] / ln EXP_STEPS, in 1/BYTE_PARTS
 * bytes.  Random numbers from SAMPLING_RANDOM() (the unit tests bring their
 * own). */
#ifndef SAMPLING_RANDOM
#define SAMPLING_RANDOM() bpf_get_prandom_u32()
#endif
static __always_inline __u64 exp_interval(const volatile __u64 *table)
{
	__u64 x = 0;
	int again = 0;

	for (int i = 0; i < 4; i++) {
		x += exp_step(table, SAMPLING_RANDOM(), &again);
		if (!again)
			break;
		x += table[1];
	}
	return x;
}

/* What a sampled allocation of `size` bytes stands for, with a mean of
 * `mean` bytes between samples: *bytes and *count (in 1/COUNT_UNIT). */
static __always_inline void sample_weight(const volatile __u32 *table, __u64 size, __u64 mean,
					  __u64 *bytes, __u64 *count)
{
	const __u64 step = SAMPLE_ONE / WEIGHT_PER_UNIT;
	__u64 x, i, frac, f;

	if (size >= WEIGHT_MAX_X * mean) { /* sure to be sampled: itself */
		*bytes = size;
		*count = COUNT_UNIT;
		return;
	}
	x = size * SAMPLE_ONE / mean; /* < 2^61: size < 32 * mean <= 2^45 */
	i = x / step;
	frac = x % step;
	if (i >= WEIGHT_STEPS) /* cannot happen; keeps the verifier sure */
		i = WEIGHT_STEPS - 1;
	f = table[i] + (table[i + 1] - table[i]) * frac / step;
	*bytes = f * mean / SAMPLE_ONE;
	*count = size ? *bytes * COUNT_UNIT / size : COUNT_UNIT;
}

#endif
