/* A high-rate allocator for benchmarks: balanced malloc/free of varied sizes
 * from several call sites, plus one small steady leak. Prints ops/s to stdout
 * every second when given -v. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

__attribute__((noinline)) static void churn_small(unsigned i)
{
	void *p = malloc(16 + i % 256);

	KEEP(p);
	free(p);
}

__attribute__((noinline)) static void churn_large(unsigned i)
{
	void *p = malloc(4096 + i % 8192);

	KEEP(p);
	free(p);
}

__attribute__((noinline)) static void leak_a_little(void)
{
	KEEP(malloc(64));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
	double start = now(), mark = start;
	unsigned long ops = 0;

	for (unsigned i = 0;; i++) {
		churn_small(i);
		if (i % 8 == 0)
			churn_large(i);
		if (i % 100000 == 0)
			leak_a_little();
		if (++ops % 4096 == 0 && now() - mark >= 1) {
			if (verbose)
				printf("%.0f\n", (double)ops / (now() - mark));
			fflush(stdout);
			mark = now();
			ops = 0;
		}
	}
}
