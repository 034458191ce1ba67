/* Known bytes and counts per call site for the sampling test (-s): many
 * small blocks, fewer medium and large ones kept, and a churn of blocks that
 * are all freed (their samples must leave nothing behind). */
#include <stdlib.h>
#include "target.h"

#define SMALL_COUNT 100000	/* x 64 B */
#define MEDIUM_COUNT 5000	/* x 1000 B */
#define LARGE_COUNT 50		/* x 100000 B */
#define CHURN_COUNT 100000	/* x 128 B, all freed */
#define ROUNDS 10

void **kept;
int nkept;

__attribute__((noinline)) static void keep_small(int n)
{
	for (int i = 0; i < n; i++)
		kept[nkept++] = malloc(64);
}

__attribute__((noinline)) static void keep_medium(int n)
{
	for (int i = 0; i < n; i++)
		kept[nkept++] = malloc(1000);
}

__attribute__((noinline)) static void keep_large(int n)
{
	for (int i = 0; i < n; i++)
		kept[nkept++] = malloc(100000);
}

__attribute__((noinline)) static void churn(int n)
{
	for (int i = 0; i < n; i++) {
		void *p = malloc(128);

		KEEP(p);
		free(p);
	}
}

int main(int argc, char **argv)
{
	kept = calloc(SMALL_COUNT + MEDIUM_COUNT + LARGE_COUNT, sizeof(*kept));
	wait_for_go(argc, argv);
	/* Interleaved, so that each site's samples come from the same stream. */
	for (int round = 0; round < ROUNDS; round++) {
		keep_small(SMALL_COUNT / ROUNDS);
		keep_medium(MEDIUM_COUNT / ROUNDS);
		churn(CHURN_COUNT / ROUNDS);
	}
	keep_large(LARGE_COUNT);
	say_ready();
	pause();
	return 0;
}
