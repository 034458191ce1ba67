/* Reading the kernel maps: walk the per-stack map, sum per-CPU loss counters. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collector.h"

/* Sums the per-CPU values of counters[0..n) of a per-CPU array. */
static int read_counters(int fd, uint64_t *counters, __u32 n)
{
	int ncpus = libbpf_num_possible_cpus();
	uint64_t *per_cpu;

	if (ncpus <= 0)
		return -EINVAL;
	per_cpu = calloc((size_t)ncpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	for (__u32 i = 0; i < n; i++) {
		counters[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, per_cpu))
			continue;
		for (int cpu = 0; cpu < ncpus; cpu++)
			counters[i] += per_cpu[cpu];
	}
	free(per_cpu);
	return 0;
}

/* Counts are kept in 1/COUNT_UNIT (sampled estimates): round. */
static void deliver(struct collection *c, const struct stack_key *key, const struct stack_stats *stats,
		    raw_stack_fn fn, void *ctx)
{
	struct raw_stack r = { *key, stats->bytes, (stats->allocs + COUNT_UNIT / 2) / COUNT_UNIT };

	c->count++;
	fn(ctx, &r);
}

/* One key at a time: two system calls per stack. */
static int collect_each(int stacks_fd, struct collection *c, raw_stack_fn fn, void *ctx)
{
	struct stack_key key, next;
	struct stack_stats stats;
	void *prev = NULL;

	while (bpf_map_get_next_key(stacks_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(stacks_fd, &key, &stats))
			continue; /* deleted meanwhile */
		deliver(c, &key, &stats, fn, ctx);
	}
	return 0;
}

/* Thousands of stacks per system call (with 100 k stacks the one-at-a-time
 * walk costs a quarter of a core).  -EOPNOTSUPP etc. when the kernel has no
 * batch lookup for the map: the caller walks instead. */
static int collect_batch(int stacks_fd, struct collection *c, raw_stack_fn fn, void *ctx)
{
	__u32 chunk = 4096, batch, n;
	struct stack_key *keys = NULL;
	struct stack_stats *stats = NULL;
	void *in = NULL;
	bool last = false;
	int err = 0;

	while (!last && !err) {
		if (!keys) {
			keys = calloc(chunk, sizeof(*keys));
			stats = calloc(chunk, sizeof(*stats));
			if (!keys || !stats) {
				err = -ENOMEM;
				break;
			}
		}
		n = chunk;
		if (bpf_map_lookup_batch(stacks_fd, in, &batch, keys, stats, &n, NULL)) {
			if (errno == ENOSPC && n == 0) {
				/* A hash bucket holds more than a chunk: bigger buffers. */
				chunk *= 2;
				free(keys);
				free(stats);
				keys = NULL;
				stats = NULL;
				continue;
			}
			if (errno != ENOENT) {
				err = -errno;
				break;
			}
			last = true; /* ENOENT: these were the last */
		}
		for (__u32 i = 0; i < n; i++)
			deliver(c, &keys[i], &stats[i], fn, ctx);
		in = &batch;
	}
	free(keys);
	free(stats);
	return err;
}

int collect(int stacks_fd, int lost_fd, int hits_fd, struct collection *c, raw_stack_fn fn, void *ctx)
{
	int err;

	c->count = 0;
	err = collect_batch(stacks_fd, c, fn, ctx);
	if (err && err != -ENOMEM && c->count == 0) /* no batch lookup here */
		err = collect_each(stacks_fd, c, fn, ctx);
	if (err)
		return err;
	return read_counters(lost_fd, c->lost, LOST_COUNT) ?: read_counters(hits_fd, &c->hits, 1);
}

void drop_other_generations(int allocs_fd, int stacks_fd, uint16_t gen)
{
	struct stack_key key, next;
	struct alloc_info info;
	__u64 addr, next_addr;
	void *prev = NULL;

	/* Deleting the current key would restart the walk: delete behind it. */
	while (bpf_map_get_next_key(stacks_fd, prev, &next) == 0) {
		if (prev && key.generation != gen)
			bpf_map_delete_elem(stacks_fd, &key);
		key = next;
		prev = &key;
	}
	if (prev && key.generation != gen)
		bpf_map_delete_elem(stacks_fd, &key);

	prev = NULL;
	bool drop = false;
	while (bpf_map_get_next_key(allocs_fd, prev, &next_addr) == 0) {
		if (drop)
			bpf_map_delete_elem(allocs_fd, &addr);
		addr = next_addr;
		prev = &addr;
		drop = bpf_map_lookup_elem(allocs_fd, &addr, &info) == 0 && info.key.generation != gen;
	}
	if (drop)
		bpf_map_delete_elem(allocs_fd, &addr);
}

int read_stack_trace(int traces_fd, int32_t id, uint64_t ips[MAX_STACK_DEPTH])
{
	static struct stack_trace trace; /* 1 KiB: not on the stack */
	__u32 key = (__u32)id;
	int n = 0;

	memset(ips, 0, MAX_STACK_DEPTH * sizeof(ips[0]));
	if (id < 0 || bpf_map_lookup_elem(traces_fd, &key, &trace))
		return 0;
	while (n < MAX_STACK_DEPTH && trace.ips[n]) {
		ips[n] = trace.ips[n];
		n++;
	}
	return n;
}
