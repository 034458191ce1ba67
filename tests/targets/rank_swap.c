/* A ranking that changes on request: first_leader leaks 100 KiB/s (10 calls a
 * second) until SIGUSR2, then stops; from then on second_leader leaks 200 KiB/s
 * (20 calls a second, so the probe hits double too).  By growth the first is
 * the top row, then the second. */
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include "target.h"

static volatile sig_atomic_t swapped;

static void on_swap(int sig)
{
	(void)sig;
	swapped = 1;
}

__attribute__((noinline)) static void first_leader(void)
{
	void *p = malloc(10240); /* ALLOC:first_leader */

	KEEP(p);
}

__attribute__((noinline)) static void second_leader(void)
{
	void *p = malloc(10240); /* ALLOC:second_leader */

	KEEP(p);
}

int main(int argc, char **argv)
{
	struct timespec next;

	signal(SIGUSR2, on_swap);
	wait_for_go(argc, argv);
	say_ready();
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		if (swapped)
			second_leader();
		else
			first_leader();
		/* One call site each, so one stack each: the second ticks twice as often. */
		next.tv_nsec += (swapped ? 50 : 100) * 1000 * 1000;
		if (next.tv_nsec >= 1000 * 1000 * 1000) {
			next.tv_nsec -= 1000 * 1000 * 1000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
}
