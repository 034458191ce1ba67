/* Stacks evicted while they hold blocks, whose blocks are freed once their
 * slots serve other stacks (run with a small --max-stacks).
 *
 * After --wait's signal: OLD_PATHS stacks each keep one block of OLD_SIZE
 * and say "held"; at the next SIGUSR1, NEW_PATHS other stacks each make a
 * block of NEW_SIZE every STEP_MS (all kept: while a stack has no slot its
 * blocks are lost, which makes leaktop evict still stacks); at the next,
 * it stops, frees every old block and says "freed", then holds still.
 * A new stack's figures are then NEW_SIZE bytes per allocation counted,
 * whatever slot it got: an old block's free must not take anything off a
 * slot its stack was evicted from.
 *
 * Usage: evicted_frees [--wait] */
#include <stdlib.h>
#include <time.h>
#include "target.h"

#define BITS 4			/* 16 paths of each kind */
#define OLD_PATHS (1 << BITS)
#define NEW_PATHS 8
#define OLD_SIZE 65536
#define NEW_SIZE 1000
#define STEP_MS 20
#define MAX_NEW 20000

static void *path(unsigned n, int depth, size_t size);

/* The two call sites of each level, as in turnover.c: path n takes bit
 * `depth` of n at each level, so each n is a stack of its own. */
__attribute__((noinline)) static void *zero(unsigned n, int depth, size_t size)
{
	void *p = path(n, depth + 1, size);

	KEEP(p);
	return p;
}

__attribute__((noinline)) static void *one(unsigned n, int depth, size_t size)
{
	void *p = path(n, depth + 1, size);

	KEEP(p);
	return p;
}

__attribute__((noinline)) static void *path(unsigned n, int depth, size_t size)
{
	if (depth == BITS)
		return malloc(size);
	return (n >> depth) & 1 ? one(n, depth, size) : zero(n, depth, size);
}

/* Old and new stacks differ by their outer frame. */
__attribute__((noinline)) static void *old_block(unsigned n)
{
	void *p = path(n, 0, OLD_SIZE);

	KEEP(p);
	return p;
}

__attribute__((noinline)) static void *new_block(unsigned n)
{
	void *p = path(n, 0, NEW_SIZE);

	KEEP(p);
	return p;
}

int main(int argc, char **argv)
{
	static void *old[OLD_PATHS], *made[MAX_NEW];
	struct timespec step = { 0, STEP_MS * 1000000L };
	size_t nmade = 0;
	sigset_t usr1;
	int sig;

	wait_for_go(argc, argv); /* SIGUSR1 stays blocked: taken by sigwait */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	for (unsigned n = 0; n < OLD_PATHS; n++)
		old[n] = old_block(n);
	printf("held\n");
	fflush(stdout);
	sigwait(&usr1, &sig);
	/* A round of new blocks every STEP_MS until the next signal. */
	do {
		for (unsigned n = 0; n < NEW_PATHS && nmade < MAX_NEW; n++)
			made[nmade++] = new_block(n);
	} while (sigtimedwait(&usr1, NULL, &step) != SIGUSR1);
	for (unsigned n = 0; n < OLD_PATHS; n++)
		free(old[n]);
	KEEP(made);
	printf("freed\n");
	fflush(stdout);
	for (;;)
		pause();
}
