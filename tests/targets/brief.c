/* A program that is done in about a second, before a 5-second interval ends:
 * keeps 2,500 blocks, drips one block every 25 ms, churns, and makes one last
 * block right before it exits.  Known outstanding bytes per function. */
#include <stdlib.h>
#include <time.h>
#include "target.h"

#define KEPT_BLOCKS 2500
#define DRIPS 40

__attribute__((noinline)) static void keep_blocks(void)
{
	for (int i = 0; i < KEPT_BLOCKS; i++)
		KEEP(malloc(100)); /* ALLOC:brief_keep_blocks */
}

__attribute__((noinline)) static void drip(void)
{
	KEEP(malloc(64)); /* ALLOC:brief_drip */
}

__attribute__((noinline)) static void churn(void)
{
	for (int i = 0; i < 20; i++) {
		void *p = malloc(300 + i); /* ALLOC:brief_churn */

		KEEP(p);
		free(p);
	}
}

__attribute__((noinline)) static void last_block(void)
{
	KEEP(malloc(777)); /* ALLOC:brief_last_block */
}

int main(int argc, char **argv)
{
	const struct timespec step = { 0, 25 * 1000 * 1000 };

	wait_for_go(argc, argv);
	keep_blocks();
	for (int i = 0; i < DRIPS; i++) {
		drip();
		churn();
		nanosleep(&step, NULL);
	}
	last_block(); /* first seen after the last look at the process */
	return 0;
}
