/* Rounds of 2,000 x malloc(1000), each block realloc'd to 3000, then all
 * freed: nothing is outstanding after a round.  The mallocs and the reallocs
 * are spread over about half a second each, so that a --duty-cycle run
 * (1 s periods) switches phases in the middle of them.  Rounds: the first
 * argument (default 4); then "ready" and a pause. */
#include <stdlib.h>
#include "target.h"

#define BLOCKS 2000

void *blocks[BLOCKS];

__attribute__((noinline)) static void make_blocks(void)
{
	for (int i = 0; i < BLOCKS; i++) {
		blocks[i] = malloc(1000); /* ALLOC:make_blocks */
		if (i % 8 == 0)
			usleep(2000);
	}
}

__attribute__((noinline)) static void grow_blocks(void)
{
	for (int i = 0; i < BLOCKS; i++) {
		void *p = realloc(blocks[i], 3000); /* ALLOC:grow_blocks */

		if (p)
			blocks[i] = p;
		if (i % 8 == 0)
			usleep(2000);
	}
}

__attribute__((noinline)) static void free_blocks(void)
{
	for (int i = 0; i < BLOCKS; i++)
		free(blocks[i]);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 && argv[1][0] != '-' ? atoi(argv[1]) : 4;

	wait_for_go(argc, argv);
	for (int r = 0; r < rounds; r++) {
		make_blocks();
		grow_blocks();
		free_blocks();
	}
	say_ready();
	for (;;)
		pause();
}
