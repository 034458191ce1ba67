/* Many small allocations: every millisecond 2 blocks of 500 B kept (a leak of
 * 1,000,000 B/s) and 10 blocks of 64 B made and freed.  For --duty-cycle, whose
 * estimates need many events; few enough that the target keeps its pace while
 * every call is traced. */
#include <stdlib.h>
#include <time.h>
#include "target.h"

__attribute__((noinline)) static void leak_small(void)
{
	void *p = malloc(500); /* ALLOC:leak_small */

	KEEP(p);
}

__attribute__((noinline)) static void churn_small(void)
{
	void *p = malloc(64); /* ALLOC:churn_small */

	KEEP(p);
	free(p);
}

int main(int argc, char **argv)
{
	struct timespec next;

	wait_for_go(argc, argv);
	say_ready();
	/* Absolute deadlines: the rate holds however long each step takes. */
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		for (int i = 0; i < 2; i++)
			leak_small();
		for (int i = 0; i < 10; i++)
			churn_small();
		next.tv_nsec += 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
}
