/* Keeps a block on each of STACKS stacks (paths down BITS levels of
 * recursion, as turnover.c), then exec's itself; a second after the exec the
 * new image does the same, on its own stacks (a new image, new stacks), and
 * prints "kept BYTES" (what the new image holds).  With fewer stack slots
 * than both images' stacks, the new one fits only if the old image's slots
 * came back. */
#include <stdlib.h>
#include <unistd.h>
#include "target.h"

#define BITS 10
#define STACKS 600
#define BLOCK 100

static void *descend(unsigned n, int depth);

__attribute__((noinline)) static void *zero(unsigned n, int depth)
{
	void *p = descend(n, depth + 1);

	KEEP(p);
	return p;
}

__attribute__((noinline)) static void *one(unsigned n, int depth)
{
	void *p = descend(n, depth + 1);

	KEEP(p);
	return p;
}

__attribute__((noinline)) static void *descend(unsigned n, int depth)
{
	if (depth == BITS)
		return malloc(BLOCK); /* ALLOC:exec_stacks */
	return (n >> depth) & 1 ? one(n, depth) : zero(n, depth);
}

static void keep_stacks(void)
{
	for (unsigned n = 0; n < STACKS; n++)
		KEEP(descend(n, 0));
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--after") == 0) {
		sleep(1); /* leaktop follows the exec at its next interval */
		keep_stacks();
		printf("kept %d\n", STACKS * BLOCK);
		fflush(stdout);
		for (;;)
			pause();
	}
	wait_for_go(argc, argv);
	keep_stacks();
	say_ready();
	sleep(1); /* leaktop sees the stacks held */
	execl("/proc/self/exe", argv[0], "--after", (char *)NULL);
	return 1;
}
