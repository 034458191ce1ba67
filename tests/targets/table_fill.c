/* Fills the allocation table past --max-allocs, then empties and refills
 * it.  After --wait's signal: FIRST blocks of SIZE bytes held at fill_block,
 * then "ready"; after a second SIGUSR1 all of them freed and SECOND blocks
 * made at refill_block, then "ready" again.
 *
 * Usage: table_fill --wait FIRST SECOND */
#include <stdlib.h>
#include "target.h"

#define SIZE 48

__attribute__((noinline)) static void *fill_block(void)
{
	void *p = malloc(SIZE); /* ALLOC:fill_block */

	KEEP(p);
	return p;
}

__attribute__((noinline)) static void *refill_block(void)
{
	void *p = malloc(SIZE); /* ALLOC:refill_block */

	KEEP(p);
	return p;
}

int main(int argc, char **argv)
{
	int first = argc > 2 ? atoi(argv[2]) : 1000, second = argc > 3 ? atoi(argv[3]) : 100;
	void **blocks = calloc((size_t)(first > second ? first : second), sizeof(*blocks));
	sigset_t set;
	int sig;

	wait_for_go(argc, argv); /* (leaves SIGUSR1 blocked) */
	for (int i = 0; i < first; i++)
		blocks[i] = fill_block();
	say_ready();
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigwait(&set, &sig);
	for (int i = 0; i < first; i++)
		free(blocks[i]);
	for (int i = 0; i < second; i++)
		blocks[i] = refill_block();
	KEEP(blocks);
	say_ready();
	for (;;)
		pause();
}
