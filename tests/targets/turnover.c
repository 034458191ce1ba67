/* Call paths that keep changing, as in a long-lived service: path n of
 * 2^bits (--bits, 16 by default) goes down `bits` levels of recursion, each
 * through one of two call sites picked by a bit of n, so every path is a
 * stack of its own.  --paths-per-s new paths a second (1600 by default) each
 * allocate a block, kept while --live newer ones are made (300)
 * (a few hundred stacks hold memory at any time; the stack slots of leaktop
 * are used up many times over).  After --leak-after SECONDS a thread leaks
 * LEAK_SIZE bytes every 100 ms on a stack of its own.  Every second it prints
 * "made PATHS" until the leak starts, then "leaked BYTES AT PATHS": the bytes
 * leaked so far, the time (CLOCK_REALTIME, as leaktop's JSON) and the paths
 * made so far.
 *
 * Usage: turnover [--wait] [--leak-after SECONDS] [--paths-per-s N] [--bits N]
 *                 [--live N] */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include "target.h"

#define MAX_BITS 24
#define MAX_LIVE 100000
#define BLOCK 64
#define LEAK_SIZE 8192
#define LEAK_PERIOD_NS (100 * 1000 * 1000)

static int bits = 16;

static void *descend(unsigned n, int depth);

/* The two call sites of each level.  Work after the call keeps it a call
 * (no tail jump): each level leaves its own return address on the stack. */
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
	if (depth == bits)
		return malloc(BLOCK); /* ALLOC:turnover */
	return (n >> depth) & 1 ? one(n, depth) : zero(n, depth);
}

static void add_ns(struct timespec *t, long ns)
{
	t->tv_nsec += ns;
	while (t->tv_nsec >= 1000000000L) {
		t->tv_nsec -= 1000000000L;
		t->tv_sec++;
	}
}

__attribute__((noinline)) static void leak_late(void)
{
	void *p = malloc(LEAK_SIZE); /* ALLOC:leak_late */

	KEEP(p);
}

static double leak_after_s = 10;
static volatile unsigned long paths_made;

/* Leaks on an absolute schedule: its rate holds however late a step runs. */
static void *leaker(void *arg)
{
	struct timespec next, now;
	long long leaked = 0;
	int steps = 0;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (double waited = 0; waited < leak_after_s; waited += 1) {
		add_ns(&next, (long)((leak_after_s - waited < 1 ? leak_after_s - waited : 1) * 1e9));
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		printf("made %lu\n", paths_made);
		fflush(stdout);
	}
	for (;;) {
		leak_late();
		leaked += LEAK_SIZE;
		if (++steps % 10 == 1) {
			clock_gettime(CLOCK_REALTIME, &now);
			printf("leaked %lld %.3f %lu\n", leaked,
			       (double)now.tv_sec + (double)now.tv_nsec / 1e9, paths_made);
			fflush(stdout);
		}
		add_ns(&next, LEAK_PERIOD_NS);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	return NULL;
}

static double arg_value(int argc, char **argv, const char *flag, double dflt)
{
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], flag) == 0)
			return atof(argv[i + 1]);
	return dflt;
}

int main(int argc, char **argv)
{
	static void *live[MAX_LIVE];
	unsigned nlive = (unsigned)arg_value(argc, argv, "--live", 300);
	double paths_per_s = arg_value(argc, argv, "--paths-per-s", 1600);
	long period_ns = (long)(1e9 / paths_per_s);
	struct timespec next;
	pthread_t thread;

	leak_after_s = arg_value(argc, argv, "--leak-after", 10);
	bits = (int)arg_value(argc, argv, "--bits", 16);
	if (bits < 1 || bits > MAX_BITS)
		bits = 16;
	if (nlive < 1 || nlive > MAX_LIVE)
		nlive = 300;
	wait_for_go(argc, argv);
	pthread_create(&thread, NULL, leaker, NULL);
	say_ready();
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (unsigned n = 0;; n++) {
		free(live[n % nlive]);
		live[n % nlive] = descend(n % (1u << bits), 0);
		paths_made = n + 1;
		/* Ten paths per wake-up: the rate holds on a loaded machine. */
		if (n % 10 == 9) {
			add_ns(&next, 10 * period_ns);
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		}
	}
}
