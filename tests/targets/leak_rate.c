/* A steady leak of 102400 B/s beside a larger block that does not grow. */
#include <stdlib.h>
#include <time.h>
#include "target.h"

__attribute__((noinline)) static void big_static(void)
{
	void *p = malloc(10 << 20); /* ALLOC:big_static */

	KEEP(p);
}

__attribute__((noinline)) static void leak_slowly(void)
{
	void *p = malloc(10240); /* ALLOC:leak_slowly */

	KEEP(p);
}

int main(int argc, char **argv)
{
	struct timespec next;

	wait_for_go(argc, argv);
	big_static();
	say_ready();
	/* Absolute deadlines: the rate stays exact however long each step takes. */
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		leak_slowly();
		next.tv_nsec += 100 * 1000 * 1000;
		if (next.tv_nsec >= 1000 * 1000 * 1000) {
			next.tv_nsec -= 1000 * 1000 * 1000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
}
