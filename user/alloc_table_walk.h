/* Userspace side of the live-allocation table  (bpf/alloc_table.h). */
#ifndef LEAKTOP_ALLOC_TABLE_WALK_H
#define LEAKTOP_ALLOC_TABLE_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "alloc_table.h"

/* The allocs map's max_entries for --max-allocs max_allocs: the buckets and
 * the records counter after them. */
uint32_t alloc_table_entries(uint32_t max_allocs);

/* Takes out every record drop(ctx, key, word) says to, as the BPF programs
 * do (a compare-and-swap of the word, then the key marked gone, then the
 * count), from the nbuckets buckets at table (the counter follows them);
 * dropped(ctx, key, word) is told of each one taken.  Returns how many. */
size_t alloc_table_drop(struct alloc_bucket *table, uint32_t nbuckets,
			bool (*drop)(void *ctx, __u64 key, __u64 word),
			void (*dropped)(void *ctx, __u64 key, __u64 word), void *ctx);

/* The same on the allocs map behind fd (mmapped for the walk); a negative
 * errno when it cannot be mapped. */
long alloc_table_drop_fd(int fd, bool (*drop)(void *ctx, __u64 key, __u64 word),
			 void (*dropped)(void *ctx, __u64 key, __u64 word), void *ctx);

#endif
