/* Userspace side of the live-allocation table: its size, and the walk that
 * drops the records of a process gone or of an old program image.  It
 * races with the BPF programs storing and taking records, so it takes a
 * record out as they do (bpf/alloc_table.bpf.h). */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "alloc_table_walk.h"

uint32_t alloc_table_entries(uint32_t max_allocs)
{
	return alloc_table_buckets(max_allocs) + 1;
}

size_t alloc_table_drop(struct alloc_bucket *table, uint32_t nbuckets,
			bool (*drop)(void *ctx, __u64 key, __u64 word),
			void (*dropped)(void *ctx, __u64 key, __u64 word), void *ctx)
{
	size_t n = 0;

	for (uint32_t i = 0; i < nbuckets; i++) {
		struct alloc_bucket *b = &table[i];

		for (int way = 0; way < ALLOC_BUCKET_WAYS; way++) {
			__u64 key = __atomic_load_n(&b->keys[way], __ATOMIC_ACQUIRE), word;

			if (key == ALLOC_KEY_EMPTY || key == ALLOC_KEY_GONE)
				continue;
			word = __atomic_load_n(&b->words[way], __ATOMIC_ACQUIRE);
			/* 0: being stored or taken by the programs */
			if (!word || !drop(ctx, key, word))
				continue;
			if (!__atomic_compare_exchange_n(&b->words[way], &word, 0, false, __ATOMIC_SEQ_CST,
							 __ATOMIC_SEQ_CST))
				continue; /* taken meanwhile */
			__atomic_store_n(&b->keys[way], ALLOC_KEY_GONE, __ATOMIC_SEQ_CST);
			__atomic_fetch_sub(&ALLOC_TABLE_COUNT(&table[nbuckets]), 1, __ATOMIC_SEQ_CST);
			if (dropped)
				dropped(ctx, key, word);
			n++;
		}
	}
	return n;
}

long alloc_table_drop_fd(int fd, bool (*drop)(void *ctx, __u64 key, __u64 word),
			 void (*dropped)(void *ctx, __u64 key, __u64 word), void *ctx)
{
	struct bpf_map_info info = { 0 };
	__u32 info_len = sizeof(info);
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len;
	void *table;
	long n;

	if (bpf_obj_get_info_by_fd(fd, &info, &info_len))
		return -errno;
	if (info.value_size != sizeof(struct alloc_bucket) || info.max_entries < 2)
		return -EINVAL;
	len = ((size_t)info.max_entries * sizeof(struct alloc_bucket) + page - 1) / page * page;
	table = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (table == MAP_FAILED)
		return -errno;
	n = (long)alloc_table_drop(table, info.max_entries - 1, drop, dropped, ctx);
	munmap(table, len);
	return n;
}
