/* Reading the kernel maps: walk the per-stack map, sum per-CPU loss counters. */
#include <errno.h>
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

int collect(int stacks_fd, int lost_fd, int hits_fd, struct collection *c)
{
	struct stack_key key, next;
	struct stack_stats stats;
	void *prev = NULL;

	c->count = 0;
	while (bpf_map_get_next_key(stacks_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(stacks_fd, &key, &stats))
			continue; /* deleted meanwhile */
		if (c->count == c->capacity) {
			size_t cap = c->capacity ? 2 * c->capacity : 1024;
			struct raw_stack *grown = realloc(c->stacks, cap * sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			c->stacks = grown;
			c->capacity = cap;
		}
		/* Counts are kept in 1/COUNT_UNIT (sampled estimates): round. */
		c->stacks[c->count++] = (struct raw_stack){ key, stats.bytes,
			(stats.allocs + COUNT_UNIT / 2) / COUNT_UNIT };
	}
	return read_counters(lost_fd, c->lost, LOST_COUNT) ?: read_counters(hits_fd, &c->hits, 1);
}

void collection_free(struct collection *c)
{
	free(c->stacks);
	memset(c, 0, sizeof(*c));
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
