/* Reading the kernel maps: the per-stack figures, the per-CPU loss counters. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "alloc_table_walk.h"
#include "collector.h"
#include "grow.h"

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

static void *map_array(int fd, size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

int collection_open(struct collection *c, int keys_fd, int stats_fd, uint32_t nslots)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	memset(c, 0, sizeof(*c));
	c->stats_len = ((size_t)nslots * sizeof(struct stack_stats) + page - 1) / page * page;
	c->keys_len = ((size_t)nslots * sizeof(struct stack_slot_key) + page - 1) / page * page;
	c->stats = map_array(stats_fd, c->stats_len, PROT_READ | PROT_WRITE);
	c->keys = map_array(keys_fd, c->keys_len, PROT_READ);
	if (!c->stats || !c->keys) {
		int err = -errno;

		collection_close(c);
		return err;
	}
	c->nslots = nslots;
	return 0;
}

void collection_close(struct collection *c)
{
	if (c->stats)
		munmap((void *)c->stats, c->stats_len);
	if (c->keys)
		munmap((void *)c->keys, c->keys_len);
	memset(c, 0, sizeof(*c));
}

int collect_counters(struct collection *c, int lost_fd, int hits_fd)
{
	return read_counters(lost_fd, c->lost, LOST_COUNT) ?: read_counters(hits_fd, &c->hits, 1);
}

bool collection_slot_key(const struct collection *c, uint32_t slot, uint16_t gen, struct stack_key *key)
{
	const volatile struct stack_slot_key *k = &c->keys[slot];

	/* The kernel zeroes `written`, writes the key, then sets `written`
	 * (x86 keeps stores in order): a key read between two equal readings
	 * of `written` is whole. */
	if (__atomic_load_n(&k->written, __ATOMIC_ACQUIRE) != (uint32_t)gen + 1)
		return false;
	*key = *(const struct stack_key *)&k->key;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&k->written, __ATOMIC_ACQUIRE) == (uint32_t)gen + 1;
}

/* Generation g is older than gen (16-bit counters that wrap). */
static bool older(uint16_t g, uint16_t gen)
{
	return (int16_t)(uint16_t)(g - gen) < 0;
}

/* Stack ids or Python stack keys named by stack keys. */
struct refs {
	uint64_t *ids;
	size_t n, cap;
};

static void add_ref(struct refs *r, uint64_t id)
{
	uint64_t *grown = grow_array(r->ids, &r->cap, r->n + 1, sizeof(*grown), 256);

	if (grown) {
		r->ids = grown;
		r->ids[r->n++] = id;
	}
}

static int compare_ids(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Deletes a dropped key from the index; notes what it named. */
static void drop_key(int index_fd, const struct stack_key *key, struct refs *traces, struct refs *py)
{
	bpf_map_delete_elem(index_fd, key);
	if (key->stack_id >= 0)
		add_ref(traces, (uint64_t)key->stack_id);
	if (key->py_stack)
		add_ref(py, key->py_stack);
}

/* The process part of an allocs key. */
static uint64_t process_of(uint64_t key)
{
	return key & ~((1ULL << ALLOC_ADDRESS_BITS) - 1);
}

/* Was the record (word) made by an older program image than gen?  Its slot
 * says: a record holds its slot until it is released, so the slot's key is
 * the record's stack's, unless the slot was reset since (then the record is
 * stale too). */
static bool alloc_of_other_image(const struct collection *c, __u64 word, uint16_t gen)
{
	struct alloc_info info;
	struct stack_key key;
	uint16_t slot_generation;

	alloc_unpack(word, &info);
	if (!word || info.slot >= c->nslots)
		return false;
	slot_generation = slot_gen(c->stats[info.slot].allocs_gen);
	if ((slot_generation ^ info.slot_gen) & ((1u << ALLOC_GEN_BITS) - 1))
		return true;
	return collection_slot_key(c, info.slot, slot_generation, &key) && older(key.generation, gen);
}

static void drop_allocs(int allocs_fd, int big_sizes_fd, uint64_t process_key, const struct collection *c,
			uint16_t gen);

void drop_other_generations(const struct generation_maps *maps, uint16_t gen)
{
	int index_fd = maps->index_fd, allocs_fd = maps->allocs_fd;
	struct refs traces = { 0 }, py = { 0 }, kept_py = { 0 };
	struct stack_key key, next;
	void *prev = NULL;

	/* Deleting the current key would restart the walk: delete behind it. */
	while (bpf_map_get_next_key(index_fd, prev, &next) == 0) {
		if (prev && older(key.generation, gen))
			drop_key(index_fd, &key, &traces, &py);
		else if (prev && key.py_stack)
			add_ref(&kept_py, key.py_stack);
		key = next;
		prev = &key;
	}
	if (prev && older(key.generation, gen))
		drop_key(index_fd, &key, &traces, &py);
	else if (prev && key.py_stack)
		add_ref(&kept_py, key.py_stack);

	/* A native stack's id hashes its image's generation too: only keys of
	 * that image name it. */
	for (size_t i = 0; i < traces.n; i++) {
		__u32 id = (__u32)traces.ids[i];

		bpf_map_delete_elem(maps->traces_fd, &id);
	}
	/* Python stacks are keyed by their frames alone: one a newer image made
	 * with the same code addresses stays. */
	if (kept_py.n)
		qsort(kept_py.ids, kept_py.n, sizeof(*kept_py.ids), compare_ids);
	for (size_t i = 0; i < py.n; i++)
		if (!kept_py.n || !bsearch(&py.ids[i], kept_py.ids, kept_py.n, sizeof(*kept_py.ids), compare_ids))
			bpf_map_delete_elem(maps->py_stacks_fd, &py.ids[i]);
	free(traces.ids);
	free(py.ids);
	free(kept_py.ids);

	drop_allocs(allocs_fd, maps->big_sizes_fd, maps->process_key, maps->c, gen);
}

/* Which records drop_allocs() drops, and where their big sizes are. */
struct drop_filter {
	uint64_t process_key;
	const struct collection *c;
	uint16_t gen;
	int big_sizes_fd;
};

static bool drop_this(void *ctx, __u64 key, __u64 word)
{
	const struct drop_filter *f = ctx;

	return process_of(key) == f->process_key && (!f->c || alloc_of_other_image(f->c, word, f->gen));
}

static void dropped(void *ctx, __u64 key, __u64 word)
{
	const struct drop_filter *f = ctx;

	if (f->big_sizes_fd >= 0 && (word & ALLOC_SIZE_BIG) == ALLOC_SIZE_BIG)
		bpf_map_delete_elem(f->big_sizes_fd, &key);
}

/* Takes out the records of one process (keys with process_key above the
 * address), with their big_sizes entries (big_sizes_fd >= 0): all of them
 * (c NULL), or those of program images older than gen (by c's slots). */
static void drop_allocs(int allocs_fd, int big_sizes_fd, uint64_t process_key, const struct collection *c,
			uint16_t gen)
{
	struct drop_filter f = { process_key, c, gen, big_sizes_fd };

	alloc_table_drop_fd(allocs_fd, drop_this, dropped, &f);
}

void drop_process_allocs(int allocs_fd, int big_sizes_fd, uint64_t process_key)
{
	drop_allocs(allocs_fd, big_sizes_fd, process_key, NULL, 0);
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
