/* SPDX-License-Identifier: MIT */
/* The live-allocation table (the allocs map): its layout and index math,
 * shared by the BPF programs (bpf/alloc_table.bpf.h) and userspace (sizing,
 * the walk that drops a departed process's records: user/alloc_table_walk.c).
 *
 * An open-addressed hash table in a BPF array, 16 bytes an entry (the key,
 * the record word): a hash map element costs 48 bytes of header besides
 * (and 96 of slab), and its update and delete are much of the cost of a
 * malloc+free.  Entries come in buckets of ALLOC_BUCKET_WAYS, the keys
 * together (one cache line), then the words; a key lives in its home
 * bucket or one of the ALLOC_PROBE_BUCKETS - 1 after it (wrapping), in the
 * first entry free when it was stored.  The last element of the array is
 * not a bucket: its first word counts the records, which --max-allocs
 * bounds, so that the table is never more than half full and a key almost
 * always finds a free entry within reach. */
#ifndef LEAKTOP_ALLOC_TABLE_H
#define LEAKTOP_ALLOC_TABLE_H

#define ALLOC_BUCKET_WAYS 8
#define ALLOC_PROBE_BUCKETS 4	/* buckets a key may live in: 32 entries */

/* Keys of entries holding no record: never used (a search for a key stops
 * there: no key was stored beyond it), or used and given back (a search
 * goes on past it; a new key may take it).  No allocs key is either: an
 * address is never 0 or 1 (bpf alloc_key()). */
#define ALLOC_KEY_EMPTY 0ULL
#define ALLOC_KEY_GONE 1ULL

struct alloc_bucket {
	__u64 keys[ALLOC_BUCKET_WAYS];
	__u64 words[ALLOC_BUCKET_WAYS];	/* the record words (alloc_pack()); 0
					 * while being stored or taken out */
};

/* The records counter: the first word of the element after the buckets. */
#define ALLOC_TABLE_COUNT(header) ((header)->keys[0])

/* Buckets for max_allocs records: at least twice as many entries, a power
 * of two, and at least a probe sequence's worth (no bucket is visited
 * twice by one search). */
static inline __u32 alloc_table_buckets(__u32 max_allocs)
{
	__u64 n = ALLOC_PROBE_BUCKETS;

	while (n * ALLOC_BUCKET_WAYS < 2ULL * max_allocs)
		n *= 2;
	return (__u32)n;
}

/* Home bucket of key in a table of mask + 1 buckets: Fibonacci hashing
 * (the multiply carries the address bits, low ones all zero for aligned
 * blocks, and the process index into the high half, which is kept). */
static inline __u32 alloc_table_home(__u64 key, __u32 mask)
{
	return (__u32)((key * 0x9e3779b97f4a7c15ULL) >> 32) & mask;
}

/* The probe-th bucket (0 <= probe < ALLOC_PROBE_BUCKETS) key may live in. */
static inline __u32 alloc_table_bucket(__u32 home, __u32 probe, __u32 mask)
{
	return (home + probe) & mask;
}

#endif /* LEAKTOP_ALLOC_TABLE_H */
