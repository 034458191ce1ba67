/* Byte sampling: the kernel's fixed-point arithmetic (bpf/sampling.h) run
 * here over the tables of user/sampling.c, as the BPF program runs it
 * (glibc's sys/cdefs.h defines the __always_inline it needs). */
#include <math.h>
#include <stdlib.h>
#include "sampling.h"

/* A deterministic xorshift, standing in for bpf_get_prandom_u32(). */
static uint32_t rng_state = 2463534242u;

static uint32_t next_random(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

#define SAMPLING_RANDOM() next_random()
#include "../../bpf/sampling.h"
#include "unit.h"

static __u64 exp_table[EXP_STEPS + 1];
static uint32_t weight_table[WEIGHT_STEPS + 1];

/* In 1/BYTE_PARTS bytes, as the kernel's countdown. */
static uint64_t interval(void)
{
	return exp_interval(exp_table);
}

TEST(sampling_tables_hold_their_functions)
{
	const uint64_t mean = 1000;

	sampling_tables(mean, (uint64_t *)exp_table, weight_table);
	CHECK_INT(exp_table[EXP_STEPS], 0);
	CHECK(fabs(exp_table[1] / (double)BYTE_PARTS / mean - log(EXP_STEPS)) < 1e-4);
	CHECK_INT(weight_table[0], SAMPLE_ONE);
	/* x / (1 - e^-x) at x = 1 is 1.58198 */
	CHECK(fabs(weight_table[WEIGHT_PER_UNIT] / (double)SAMPLE_ONE - 1.58198) < 1e-4);
	CHECK(fabs(weight_table[WEIGHT_STEPS] / (double)SAMPLE_ONE - WEIGHT_MAX_X) < 1e-4);
}

TEST(sampling_intervals_average_the_mean)
{
	const uint64_t mean = 65536;
	const int n = 200000;
	double sum = 0, above = 0;

	sampling_tables(mean, (uint64_t *)exp_table, weight_table);
	for (int i = 0; i < n; i++) {
		uint64_t x = interval() / BYTE_PARTS;

		sum += (double)x;
		above += x > 3 * mean;
	}
	CHECK(fabs(sum / n / mean - 1) < 0.01);
	/* An exponential's tail: P(X > 3 mean) = e^-3 = 0.0498 */
	CHECK(fabs(above / n - exp(-3)) < 0.003);
}

TEST(sampling_weights_are_the_sizes_for_big_blocks_and_bigger_for_small)
{
	__u64 bytes, count;

	sampling_tables(4096, (uint64_t *)exp_table, weight_table);
	sample_weight(weight_table, 1 << 20, 4096, &bytes, &count);
	CHECK_INT(bytes, 1 << 20);
	CHECK_INT(count, COUNT_UNIT);
	sample_weight(weight_table, 4096, 4096, &bytes, &count); /* x = 1 */
	CHECK(fabs(bytes / 4096.0 - 1.58198) < 1e-3);
	sample_weight(weight_table, 16, 65536, &bytes, &count); /* x tiny: one mean */
	CHECK(fabs(bytes / 65536.0 - 1) < 1e-3);
	CHECK(fabs(count / (double)COUNT_UNIT - 4096) < 5);
}

/* The whole scheme: a thread's countdown over a stream of allocations of
 * mixed sizes; the scaled samples estimate each size class's bytes and
 * count without bias. */
TEST(sampling_estimates_bytes_and_counts_without_bias)
{
	static const uint64_t sizes[] = { 16, 200, 4096, 30000, 1 << 20 };
	/* ~6000 samples of even the smallest: 5% is 4 standard deviations. */
	const int nsizes = sizeof(sizes) / sizeof(sizes[0]), rounds = 200000;
	const uint64_t mean = 512;
	double est_bytes[5] = { 0 }, est_count[5] = { 0 };
	int64_t countdown;

	sampling_tables(mean, (uint64_t *)exp_table, weight_table);
	countdown = (int64_t)interval();
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < nsizes; k++) {
			__u64 bytes, count;

			countdown -= (int64_t)(sizes[k] * BYTE_PARTS); /* as take_sample() */
			if (countdown >= 0)
				continue;
			countdown = (int64_t)interval();
			sample_weight(weight_table, sizes[k], mean, &bytes, &count);
			est_bytes[k] += (double)bytes;
			est_count[k] += (double)count / COUNT_UNIT;
		}
	}
	for (int k = 0; k < nsizes; k++) {
		double exact = (double)sizes[k] * rounds;

		CHECK(fabs(est_bytes[k] / exact - 1) < 0.05);
		CHECK(fabs(est_count[k] / rounds - 1) < 0.05);
	}
}
