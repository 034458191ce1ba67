/* Threads handing blocks to each other through a shared ring: a block made
 * by one thread is freed (or realloc'd) by another, and its address comes
 * back from malloc on yet another, while the others are storing and taking
 * records next to it in the allocation table.  One block in KEEP_ONE_IN is
 * kept for good, at keep_block; at the end (the ring emptied) the target
 * says "kept BLOCKS BYTES", then "ready".
 *
 * Usage: table_race [--wait] */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include "target.h"

#define THREADS 8
#define ROUNDS 60000
#define RING 16
#define KEEP_ONE_IN 15000

static _Atomic(void *) ring[RING];
static atomic_ulong kept_blocks, kept_bytes;
static pthread_barrier_t start;

__attribute__((noinline)) static void *keep_block(size_t size)
{
	void *p = malloc(size); /* ALLOC:keep_block */

	KEEP(p);
	return p;
}

__attribute__((noinline)) static void *churn_block(size_t size)
{
	void *p = malloc(size); /* ALLOC:churn_block */

	KEEP(p);
	return p;
}

__attribute__((noinline)) static void *grow_block(void *p, size_t size)
{
	void *q = realloc(p, size); /* ALLOC:grow_block */

	KEEP(q);
	return q;
}

static void *run(void *arg)
{
	unsigned seed = (unsigned)(size_t)arg * 7919u + 1;

	pthread_barrier_wait(&start);
	for (int i = 0; i < ROUNDS; i++) {
		size_t size = 16 + (rand_r(&seed) % 8) * 16; /* a few size classes: addresses reused */
		void *p = churn_block(size), *old;

		if (rand_r(&seed) % KEEP_ONE_IN == 0) {
			size_t kept = 24 + (size_t)(rand_r(&seed) % 100);

			KEEP(keep_block(kept));
			atomic_fetch_add(&kept_blocks, 1);
			atomic_fetch_add(&kept_bytes, kept);
		}
		old = atomic_exchange(&ring[rand_r(&seed) % RING], p);
		if (old && rand_r(&seed) % 4 == 0) {
			/* Another thread's block, resized here and handed on. */
			old = grow_block(old, 16 + (rand_r(&seed) % 8) * 16);
			old = atomic_exchange(&ring[rand_r(&seed) % RING], old);
		}
		free(old);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t threads[THREADS];

	wait_for_go(argc, argv);
	pthread_barrier_init(&start, NULL, THREADS);
	for (long t = 0; t < THREADS; t++)
		pthread_create(&threads[t], NULL, run, (void *)t);
	for (int t = 0; t < THREADS; t++)
		pthread_join(threads[t], NULL);
	for (int i = 0; i < RING; i++)
		free(atomic_exchange(&ring[i], NULL));
	printf("kept %lu %lu\n", atomic_load(&kept_blocks), atomic_load(&kept_bytes));
	say_ready();
	for (;;)
		pause();
}
