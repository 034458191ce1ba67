/* The live-allocation table (bpf/alloc_table.h, user/alloc_table_walk.c):
 * its size for --max-allocs, where keys land (the same placement as the BPF
 * programs: the first free entry in reach), and the userspace walk that
 * drops a process's records. */
#include <stdint.h>
#include <stdlib.h>
#include <linux/types.h>
#include "alloc_table_walk.h"
#include "leaktop.h"
#include "unit.h"

TEST(alloc_table_is_twice_max_allocs_at_most_64_bytes_a_record)
{
	for (__u32 max = 1; max <= (1u << 22); max = max * 3 / 2 + 1) {
		__u32 n = alloc_table_buckets(max);
		__u64 entries = (__u64)n * ALLOC_BUCKET_WAYS;

		CHECK((n & (n - 1)) == 0);	/* the programs mask with n - 1 */
		CHECK(n >= ALLOC_PROBE_BUCKETS);	/* no bucket searched twice */
		CHECK(entries >= 2ULL * max);	/* at most half full */
		if (max >= 16) /* 16 bytes an entry: at most 64 a record */
			CHECK(entries * sizeof(__u64) * 2 <= 64ULL * max);
	}
	CHECK_INT(sizeof(struct alloc_bucket), 16 * ALLOC_BUCKET_WAYS);
	CHECK_INT(alloc_table_entries(131072), 262144 / ALLOC_BUCKET_WAYS + 1);
	CHECK_INT(alloc_table_entries(16), ALLOC_PROBE_BUCKETS + 1);
}

/* Places keys as the BPF programs do (bpf/alloc_table.bpf.h): in the first
 * entry free within the key's buckets; how many found none. */
static int place(__u64 *keys, __u32 mask, const __u64 *add, int n)
{
	int failed = 0;

	for (int i = 0; i < n; i++) {
		__u32 home = alloc_table_home(add[i], mask);
		int placed = 0;

		CHECK(home <= mask);
		for (__u32 probe = 0; probe < ALLOC_PROBE_BUCKETS && !placed; probe++) {
			__u64 *b = &keys[alloc_table_bucket(home, probe, mask) * ALLOC_BUCKET_WAYS];

			for (int way = 0; way < ALLOC_BUCKET_WAYS && !placed; way++)
				if (b[way] == ALLOC_KEY_EMPTY || b[way] == ALLOC_KEY_GONE) {
					b[way] = add[i];
					placed = 1;
				}
		}
		failed += !placed;
	}
	return failed;
}

/* Blocks in the ways allocators hand them out: one after another (a bump
 * allocator, 16 and 64 bytes apart), pages apart, and the same addresses in
 * four processes sharing the table (the process index above bit 48). */
TEST(alloc_table_keys_of_a_full_table_all_find_room)
{
	const int max = 1 << 14;
	__u32 n = alloc_table_buckets(max), mask = n - 1;
	__u64 *keys = calloc((size_t)n * ALLOC_BUCKET_WAYS, sizeof(*keys)), *add = calloc(max, sizeof(*add));
	const __u64 strides[] = { 16, 64, 4096 };

	for (unsigned s = 0; s < sizeof(strides) / sizeof(strides[0]); s++) {
		for (int i = 0; i < max; i++)
			add[i] = 0x5555000010ULL + (__u64)i * strides[s];
		memset(keys, 0, (size_t)n * ALLOC_BUCKET_WAYS * sizeof(*keys));
		CHECK_INT(place(keys, mask, add, max), 0);
	}
	for (int i = 0; i < max; i++)
		add[i] = 0x7f0000001000ULL + (__u64)(i / 4) * 32 + ((__u64)(i % 4) << ALLOC_ADDRESS_BITS);
	memset(keys, 0, (size_t)n * ALLOC_BUCKET_WAYS * sizeof(*keys));
	CHECK_INT(place(keys, mask, add, max), 0);
	free(keys);
	free(add);
}

struct dropping {
	__u64 process;
	int told;
	__u64 last_word;
};

static bool of_process(void *ctx, __u64 key, __u64 word)
{
	(void)word;
	return (key >> ALLOC_ADDRESS_BITS) == ((struct dropping *)ctx)->process;
}

static void told(void *ctx, __u64 key, __u64 word)
{
	struct dropping *d = ctx;

	CHECK_INT(key >> ALLOC_ADDRESS_BITS, d->process);
	d->told++;
	d->last_word = word;
}

TEST(alloc_table_walk_drops_one_processes_records)
{
	struct alloc_bucket t[ALLOC_PROBE_BUCKETS + 1] = { 0 };
	struct dropping d = { .process = 2 };
	const __u64 p1 = 1ULL << ALLOC_ADDRESS_BITS, p2 = 2ULL << ALLOC_ADDRESS_BITS;

	t[0].keys[0] = p1 | 0x1000, t[0].words[0] = ALLOC_PRESENT | 10;
	t[0].keys[1] = p2 | 0x2000, t[0].words[1] = ALLOC_PRESENT | 20;
	t[0].keys[2] = ALLOC_KEY_GONE;
	t[1].keys[7] = p2 | 0x3000, t[1].words[7] = 0; /* being stored: left */
	t[3].keys[7] = p2 | 0x4000, t[3].words[7] = ALLOC_PRESENT | 40;
	ALLOC_TABLE_COUNT(&t[ALLOC_PROBE_BUCKETS]) = 4;

	CHECK_INT(alloc_table_drop(t, ALLOC_PROBE_BUCKETS, of_process, told, &d), 2);
	CHECK_INT(d.told, 2);
	CHECK_INT(d.last_word, ALLOC_PRESENT | 40);
	CHECK_INT(ALLOC_TABLE_COUNT(&t[ALLOC_PROBE_BUCKETS]), 2);
	CHECK(t[0].keys[0] == (p1 | 0x1000) && t[0].words[0] == (ALLOC_PRESENT | 10));
	CHECK(t[0].keys[1] == ALLOC_KEY_GONE && t[0].words[1] == 0);
	CHECK(t[3].keys[7] == ALLOC_KEY_GONE && t[3].words[7] == 0);
	CHECK(t[1].keys[7] == (p2 | 0x3000));
	CHECK(t[0].keys[2] == ALLOC_KEY_GONE && t[0].keys[3] == ALLOC_KEY_EMPTY);
}
