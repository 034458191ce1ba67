/* Threads allocating and freeing at the same time, on the same size classes:
 * the per-thread pending state, the slot handshake and the shared counters
 * under contention.  Each of THREADS threads starts at a barrier, makes
 * ROUNDS rounds of churn (malloc, calloc, posix_memalign, freed again soon,
 * often by the next round) and keeps KEPT_PER_ROUND blocks per round at one call site.
 * What is kept is known: THREADS * ROUNDS * KEPT_PER_ROUND blocks of KEEP_SIZE bytes. */
#include <pthread.h>
#include <stdlib.h>
#include "target.h"

#define THREADS 4
#define ROUNDS 2000
#define KEPT_PER_ROUND 2
#define KEEP_SIZE 96
#define RING 16

static pthread_barrier_t start;

__attribute__((noinline)) static void *keep_block(void)
{
	void *p = malloc(KEEP_SIZE); /* ALLOC:keep_block */

	KEEP(p);
	return p;
}

__attribute__((noinline)) static void *churn_block(unsigned i)
{
	void *p = NULL;

	switch (i % 3) {
	case 0:
		p = malloc(KEEP_SIZE + i % 64); /* ALLOC:churn_malloc */
		break;
	case 1:
		p = calloc(3, 32 + i % 16); /* ALLOC:churn_calloc */
		break;
	default:
		if (posix_memalign(&p, 64, KEEP_SIZE)) /* ALLOC:churn_memalign */
			p = NULL;
		break;
	}
	KEEP(p);
	return p;
}

static void *worker(void *arg)
{
	void **kept = arg;
	void *ring[RING] = { 0 };
	unsigned n = 0;

	pthread_barrier_wait(&start);
	for (unsigned round = 0; round < ROUNDS; round++) {
		for (unsigned j = 0; j < 8; j++, n++) {
			free(ring[n % RING]); /* another round's block, or NULL */
			ring[n % RING] = churn_block(n);
		}
		for (unsigned k = 0; k < KEPT_PER_ROUND; k++)
			kept[round * KEPT_PER_ROUND + k] = keep_block();
	}
	for (unsigned i = 0; i < RING; i++)
		free(ring[i]);
	return NULL;
}

int main(int argc, char **argv)
{
	static void *kept[THREADS][ROUNDS * KEPT_PER_ROUND];
	pthread_t threads[THREADS];

	wait_for_go(argc, argv);
	pthread_barrier_init(&start, NULL, THREADS);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&threads[i], NULL, worker, kept[i]);
	for (int i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	printf("kept %d blocks of %d bytes\n", THREADS * ROUNDS * KEPT_PER_ROUND, KEEP_SIZE);
	say_ready();
	for (;;)
		pause();
}
