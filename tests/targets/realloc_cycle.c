/* Rounds of 2,000 x malloc(1000), each block realloc'd to 3000, then all
 * freed: nothing is outstanding after a round.  The mallocs and the reallocs
 * are spread over about half a second each, so that a --duty-cycle run
 * (1 s periods) switches phases in the middle of them.  Rounds go on until
 * SIGUSR2; then "ready" and a pause. */
#include <signal.h>
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

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	stop = sig;
}

int main(int argc, char **argv)
{
	signal(SIGUSR2, on_stop);
	wait_for_go(argc, argv);
	while (!stop) {
		make_blocks();
		grow_blocks();
		free_blocks();
	}
	say_ready();
	for (;;)
		pause();
}
