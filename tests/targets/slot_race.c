/* Threads making, leaking into and abandoning stacks while leaktop gives
 * idle stack slots back and hands them to new stacks.  Path n of 2^BITS goes
 * down BITS levels of recursion, each through one of two call sites picked
 * by a bit of n: a stack of its own.  THREADS threads pick paths from a
 * window of WINDOW consecutive paths that slides over all of them (and
 * around again: stacks come back after their slots were given back), on
 * paths shared by the threads.  Each block is freed soon, by its thread or
 * by another (a shared ring), except one in KEEP_ONE_IN, kept for good and
 * counted per path.  At the end: "kept PATH BLOCKS BYTES" for each path that
 * keeps blocks, then "done ALLOCATIONS PATHS_VISITED".
 *
 * Usage: slot_race [--wait] [--allocations N] (per thread, at most
 * 100 * PER_TICK a second) */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include "target.h"

#define BITS 13
#define PATHS (1u << BITS)
#define THREADS 4
#define WINDOW 256
#define ALLOCS_PER_STEP 8	/* the window moves one path per this many */
#define KEEP_ONE_IN 512
#define PER_TICK 60		/* allocations per thread every TICK_NS, at most */
#define TICK_NS (10 * 1000 * 1000)
#define OWN_RING 64
#define SHARED_RING 256

static void *descend(unsigned n, int depth, size_t size);

/* Work after the call keeps it a call: each level leaves its return address. */
__attribute__((noinline)) static void *zero(unsigned n, int depth, size_t size)
{
	void *p = descend(n, depth + 1, size);

	KEEP(p);
	return p;
}

__attribute__((noinline)) static void *one(unsigned n, int depth, size_t size)
{
	void *p = descend(n, depth + 1, size);

	KEEP(p);
	return p;
}

__attribute__((noinline)) static void *descend(unsigned n, int depth, size_t size)
{
	if (depth == BITS)
		return malloc(size); /* ALLOC:slot_race */
	return (n >> depth) & 1 ? one(n, depth, size) : zero(n, depth, size);
}

static size_t block_size(unsigned path)
{
	return 16 + (path % 61) * 8;
}

static atomic_ulong made;		/* allocations by all threads: moves the window */
static atomic_uint kept_blocks[PATHS];
static atomic_bool visited[PATHS];
static void *shared_ring[SHARED_RING];
static unsigned shared_next;
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static long allocations = 25000;

/* Puts p in the shared ring and frees the block it displaces (often another
 * thread's). */
static void share(void *p)
{
	void *old;

	pthread_mutex_lock(&shared_lock);
	old = shared_ring[shared_next % SHARED_RING];
	shared_ring[shared_next++ % SHARED_RING] = p;
	pthread_mutex_unlock(&shared_lock);
	free(old);
}

static void *worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1;
	void *own[OWN_RING] = { 0 };
	struct timespec next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (long i = 0; i < allocations; i++) {
		if (i % PER_TICK == 0) { /* a steady pace: leaktop gets its share of the CPU */
			next.tv_nsec += TICK_NS;
			if (next.tv_nsec >= 1000000000L) {
				next.tv_nsec -= 1000000000L;
				next.tv_sec++;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		}
		unsigned long base = atomic_fetch_add(&made, 1) / ALLOCS_PER_STEP;
		unsigned path = (unsigned)((base + (unsigned)rand_r(&seed) % WINDOW) % PATHS);
		void *p = descend(path, 0, block_size(path));

		atomic_store(&visited[path], 1);
		unsigned r = (unsigned)rand_r(&seed);

		if (r % KEEP_ONE_IN == 0) {
			atomic_fetch_add(&kept_blocks[path], 1);
		} else if (r % 4 == 0) {
			share(p);
		} else {
			free(own[i % OWN_RING]);
			own[i % OWN_RING] = p;
		}
	}
	for (int i = 0; i < OWN_RING; i++)
		free(own[i]);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t threads[THREADS];

	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--allocations") == 0)
			allocations = atol(argv[i + 1]);
	wait_for_go(argc, argv);
	say_ready();
	for (uintptr_t i = 0; i < THREADS; i++)
		pthread_create(&threads[i], NULL, worker, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	for (int i = 0; i < SHARED_RING; i++)
		free(shared_ring[i]);
	for (unsigned path = 0; path < PATHS; path++)
		if (kept_blocks[path])
			printf("kept %u %u %zu\n", path, kept_blocks[path], kept_blocks[path] * block_size(path));
	unsigned paths_visited = 0;

	for (unsigned path = 0; path < PATHS; path++)
		paths_visited += visited[path];
	printf("done %lu %u\n", (unsigned long)atomic_load(&made), paths_visited);
	fflush(stdout);
	for (;;)
		pause();
}
