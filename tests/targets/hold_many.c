/* Holds 100000 blocks of 32 bytes, made after --wait's signal. */
#include <stdlib.h>
#include "target.h"

#define BLOCKS 100000

int main(int argc, char **argv)
{
	static void *blocks[BLOCKS];

	wait_for_go(argc, argv);
	for (int i = 0; i < BLOCKS; i++)
		blocks[i] = malloc(32); /* ALLOC:hold_many */
	KEEP(blocks);
	say_ready();
	for (;;)
		pause();
}
