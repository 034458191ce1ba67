/* Threads racing for the addresses realloc frees.  Movers realloc a small
 * block to a bigger size (realloc moves it and frees the old address) and
 * free the result; keepers malloc blocks of the same small size class at the
 * same time and keep most of them, so the old address of a mover's realloc
 * is often a keeper's next block.  The test runs it in one arena without
 * tcache (GLIBC_TUNABLES) so freed blocks go straight to the next malloc.
 * At the end: "kept COUNT BYTES" (requested sizes of what is still
 * allocated), then "ready".  Operations in all: the first argument (default
 * 1,000,000). */
#include <pthread.h>
#include <stdlib.h>
#include "target.h"

#define MOVERS 2
#define KEEPERS 2
#define KEEP_MAX 50000	/* per keeper: the allocs map holds them all */

struct worker {
	pthread_t thread;
	long ops;
	void **kept;
	long nkept, kept_bytes;
};

/* Each allocation of the test is made by one of these (frames[1]). */
__attribute__((noinline)) static void *small_block(size_t size)
{
	return malloc(size); /* ALLOC:small_block */
}

__attribute__((noinline)) static void *moved_block(void *p, size_t size)
{
	return realloc(p, size); /* ALLOC:moved_block */
}

__attribute__((noinline)) static void *kept_block(size_t size)
{
	return malloc(size); /* ALLOC:kept_block */
}

static void *mover(void *arg)
{
	struct worker *w = arg;

	for (long i = 0; i < w->ops; i += 3) {
		void *p = small_block(24 + i % 3 * 8), *q;

		if (!p)
			continue;
		q = moved_block(p, 200 + i % 5);
		free(q ? q : p);
		if (i % 1000 == 0) {
			/* realloc(p, 0) frees p too (glibc returns NULL) */
			p = small_block(24);
			KEEP(moved_block(p, 0));
		}
	}
	return NULL;
}

static void *keeper(void *arg)
{
	struct worker *w = arg;

	for (long i = 0; i < w->ops; i++) {
		size_t size = 24 + i % 3 * 8;
		void *p = kept_block(size);

		if (!p)
			continue;
		if (w->nkept < KEEP_MAX && i % 4 != 0) {
			w->kept[w->nkept++] = p;
			w->kept_bytes += (long)size;
		} else {
			free(p);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long ops = argc > 1 && argv[1][0] != '-' ? atol(argv[1]) : 1000000;
	static struct worker workers[MOVERS + KEEPERS];
	long kept = 0, kept_bytes = 0;

	wait_for_go(argc, argv);
	for (int i = 0; i < MOVERS + KEEPERS; i++) {
		struct worker *w = &workers[i];

		w->ops = ops / (MOVERS + KEEPERS);
		w->kept = i < MOVERS ? NULL : calloc(KEEP_MAX, sizeof(void *));
		if ((i >= MOVERS && !w->kept) ||
		    pthread_create(&w->thread, NULL, i < MOVERS ? mover : keeper, w))
			return 1;
	}
	for (int i = 0; i < MOVERS + KEEPERS; i++) {
		pthread_join(workers[i].thread, NULL);
		kept += workers[i].nkept;
		kept_bytes += workers[i].kept_bytes;
	}
	printf("kept %ld %ld\n", kept, kept_bytes);
	say_ready();
	for (;;)
		pause();
}
