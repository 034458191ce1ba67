/* A program that exec's itself: each image ("generation") keeps 64 bytes
 * under each of 500 distinct stacks (100 depths under 5 callers), prints
 * "generation N", waits for SIGUSR1 and exec's generation N + 1, up to the
 * last, which waits for good.  Usage: regen N LAST [--wait] */
#include <stdlib.h>
#include "target.h"

#define DEPTHS 100

__attribute__((noinline)) static void *leaf(void)
{
	void *p = malloc(64); /* ALLOC:regen_leaf */

	KEEP(p);
	return p;
}

__attribute__((noinline)) static void *descend(int depth)
{
	void *p = depth ? descend(depth - 1) : leaf();

	KEEP(p); /* no tail call: one frame per level */
	return p;
}

#define CALLER(n)                                                  \
	__attribute__((noinline)) static void caller##n(void)      \
	{                                                          \
		for (int d = 0; d < DEPTHS; d++)                   \
			KEEP(descend(d));                          \
	}
CALLER(0) CALLER(1) CALLER(2) CALLER(3) CALLER(4)

int main(int argc, char **argv)
{
	char next[16];
	sigset_t set;
	int gen, last, sig;

	if (argc < 3)
		return 2;
	gen = atoi(argv[1]);
	last = atoi(argv[2]);
	if (gen == 0)
		wait_for_go(argc, argv);
	caller0();
	caller1();
	caller2();
	caller3();
	caller4();
	printf("generation %d\n", gen);
	fflush(stdout);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (gen == last)
		for (;;)
			pause();
	sigwait(&set, &sig);
	snprintf(next, sizeof(next), "%d", gen + 1);
	execl("/proc/self/exe", argv[0], next, argv[2], (char *)NULL);
	return 1;
}
