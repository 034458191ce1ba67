/* Many stacks and many live blocks, for leaktop's own memory and CPU:
 * `stacks PATHS PER_PATH` walks PATHS distinct call paths (17 levels of two
 * call sites each), keeps PER_PATH blocks of 32 bytes at the end of each,
 * prints "ready" and then keeps a slow churn going until killed. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define LEVELS 17 /* 2^17 = 131072 paths at most */

static void **kept;
static size_t nkept;

__attribute__((noinline)) static void keep(int n)
{
	for (int i = 0; i < n; i++)
		kept[nkept++] = malloc(32);
}

/* The branch picks one of two call sites: each path is its own stack.  The
 * asm after each call keeps them apart (no tail call, no merging). */
__attribute__((noinline)) static void level(int depth, unsigned path, int n)
{
	if (depth == 0) {
		keep(n);
		return;
	}
	if (path & 1) {
		level(depth - 1, path >> 1, n);
		__asm__ volatile("nop" ::: "memory");
	} else {
		level(depth - 1, path >> 1, n);
		__asm__ volatile("nop; nop" ::: "memory");
	}
}

int main(int argc, char **argv)
{
	unsigned paths = argc > 1 ? (unsigned)atoi(argv[1]) : 100000;
	int per_path = argc > 2 ? atoi(argv[2]) : 10;

	if (paths > 1u << LEVELS || per_path < 1) {
		fprintf(stderr, "usage: stacks [PATHS <= %u] [PER_PATH >= 1]\n", 1u << LEVELS);
		return 2;
	}
	kept = calloc((size_t)paths * per_path, sizeof(*kept));
	if (!kept)
		return 1;
	for (unsigned p = 0; p < paths; p++)
		level(LEVELS, p, per_path);
	printf("ready\n");
	fflush(stdout);
	for (;;) { /* a little steady work for the intervals to see */
		free(malloc(100));
		usleep(1000);
	}
}
