/* SPDX-License-Identifier: MIT */
/* The live-allocation table (layout: bpf/alloc_table.h), lock free.
 *
 * An entry is stored by a compare-and-swap of its key (from empty or gone
 * to the key), then its word; taken out by a compare-and-swap of its word
 * to 0 (of threads racing for one record, the one that zeroes the word has
 * it: a double free, a realloc and a free, userspace dropping a departed
 * process's records), then its key set to gone.  A block's record is
 * stored when its allocation returns and taken when it is freed, each
 * before the program goes on with the block: one address's record is never
 * stored and taken at once, so a search that finds the key finds its word,
 * and only one record per key is ever stored, the store checking the keys
 * within reach first (a free that went by unseen leaves one behind).
 * Included in leaktop.bpf.c. */
#include "alloc_table.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ALLOC_PROBE_BUCKETS + 1); /* resized by userspace (--max-allocs) */
	__uint(map_flags, BPF_F_MMAPABLE); /* userspace walks it (user/alloc_table_walk.c) */
	__type(key, __u32);
	__type(value, struct alloc_bucket);
} allocs SEC(".maps");

/* Set by userspace before load: buckets - 1, and --max-allocs. */
const volatile __u32 alloc_buckets_mask = ALLOC_PROBE_BUCKETS - 1;
const volatile __u64 alloc_records_max = 0;

static __always_inline struct alloc_bucket *alloc_bucket_at(__u32 home, __u32 probe)
{
	__u32 i = alloc_table_bucket(home, probe, alloc_buckets_mask);

	return bpf_map_lookup_elem(&allocs, &i);
}

/* Takes the record out of entry `way` of b, which has its key. */
static __always_inline bool table_take_entry(struct alloc_bucket *b, __u32 way, __u64 *word)
{
	__u32 header = alloc_buckets_mask + 1;
	struct alloc_bucket *h;
	__u64 w = *(volatile __u64 *)&b->words[way];

	if (!w || __sync_val_compare_and_swap(&b->words[way], w, 0) != w)
		return false; /* another thread is taking it */
	*(volatile __u64 *)&b->keys[way] = ALLOC_KEY_GONE;
	h = bpf_map_lookup_elem(&allocs, &header);
	if (h)
		__sync_fetch_and_add(&ALLOC_TABLE_COUNT(h), -1);
	*word = w;
	return true;
}

/* What table_scan() does in key's buckets. */
enum table_scan {
	SCAN_FIND,	/* is key there? (up to the first entry never used: */
	SCAN_TAKE,	/* no key is stored beyond it); take its record out */
	SCAN_CLAIM,	/* store key and *word in the first free entry it wins
			 * (another thread may take one first) */
};

/* True when key was found (and taken), or stored. */
static __always_inline bool table_scan(__u64 key, enum table_scan what, __u64 *word)
{
	__u32 home = alloc_table_home(key, alloc_buckets_mask);

	for (__u32 probe = 0; probe < ALLOC_PROBE_BUCKETS; probe++) {
		struct alloc_bucket *b = alloc_bucket_at(home, probe);

		if (!b)
			return false;
#pragma unroll
		for (__u32 way = 0; way < ALLOC_BUCKET_WAYS; way++) {
			__u64 k = *(volatile __u64 *)&b->keys[way];

			if (what == SCAN_CLAIM) {
				if ((k == ALLOC_KEY_EMPTY || k == ALLOC_KEY_GONE) &&
				    __sync_val_compare_and_swap(&b->keys[way], k, key) == k) {
					*(volatile __u64 *)&b->words[way] = *word;
					return true;
				}
				continue;
			}
			if (k == key)
				return what == SCAN_TAKE ? table_take_entry(b, way, word) : true;
			if (k == ALLOC_KEY_EMPTY)
				return false;
		}
	}
	return false;
}

/* Takes key's record out of the table into *word; false when it has none
 * (a block allocated before we attached, or not tracked).  A function of
 * its own (global: the verifier checks it once, not at each call). */
__noinline bool table_take(__u64 key, __u64 *word)
{
	return word && table_scan(key, SCAN_TAKE, word);
}

enum table_put_result {
	TABLE_PUT_DONE,
	TABLE_PUT_FULL,		/* --max-allocs records, or no free entry in reach */
	TABLE_PUT_THERE,	/* key has a record already: nothing stored */
};

/* Stores word as key's record (global, as table_take()): after checking
 * that key has none, in the first free entry, before any entry never used
 * (so that a search stopping there finds it). */
__noinline enum table_put_result table_put(__u64 key, __u64 word)
{
	__u32 header = alloc_buckets_mask + 1;
	struct alloc_bucket *h = bpf_map_lookup_elem(&allocs, &header);
	enum table_put_result r = TABLE_PUT_FULL;

	if (!h)
		return TABLE_PUT_FULL;
	/* A place among the --max-allocs records first, given back on failure. */
	if (__sync_fetch_and_add(&ALLOC_TABLE_COUNT(h), 1) >= alloc_records_max)
		goto out;
	if (table_scan(key, SCAN_FIND, NULL))
		r = TABLE_PUT_THERE;
	else if (table_scan(key, SCAN_CLAIM, &word))
		return TABLE_PUT_DONE;
out:
	__sync_fetch_and_add(&ALLOC_TABLE_COUNT(h), -1);
	return r;
}
