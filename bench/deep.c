/* Allocations at a chosen stack depth, for the cost of unwinding per frame:
 * `deep DEPTH [-v]` makes malloc+free pairs from under DEPTH nested calls,
 * printing ops/s every second with -v.  Built with and without frame
 * pointers (Makefile: deep, deep_nofp). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A batch of pairs at the bottom: the descent costs nothing per allocation. */
__attribute__((noinline)) static unsigned long descend(int depth)
{
	unsigned long n = 0;

	if (depth > 0) {
		n = descend(depth - 1);
		KEEP(n); /* not a tail call: every level stays a frame */
		return n;
	}
	for (int i = 0; i < 4096; i++) {
		void *p = malloc(32 + (unsigned)i % 64);

		KEEP(p);
		free(p);
		n++;
	}
	return n;
}

int main(int argc, char **argv)
{
	int depth = argc > 1 ? atoi(argv[1]) : 8;
	int verbose = argc > 2 && strcmp(argv[2], "-v") == 0;
	double mark = now();
	unsigned long ops = 0;

	for (;;) {
		ops += descend(depth);
		if (now() - mark >= 1) {
			if (verbose)
				printf("%.0f\n", (double)ops / (now() - mark));
			fflush(stdout);
			mark = now();
			ops = 0;
		}
	}
}
