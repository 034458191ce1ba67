/* dlclose(A) then dlopen(B) puts B where A was: B's first allocations must
 * not be unwound with A's tables.  Each phase waits for SIGUSR1 (the test
 * sends it once leaktop has seen what it needs):
 *   1. loads libswap_b.so (next to the executable) and allocates through it
 *      (1111 bytes, one block kept at a time) until the signal, then frees
 *      and unloads it: its tables can be known before it comes back;
 *   2. the same with libswap_a.so (2222 bytes), so that A is indexed;
 *   3. unloads A, loads B again and at once keeps 16 blocks of 3333 bytes
 *      through b_outer -> b_mid -> b_leaf; prints "same address" or "moved"
 *      (where B landed), then "ready". */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <time.h>
#include "target.h"

static char dir[PATH_MAX];

static void *load(const char *name, const char *entry, void **base)
{
	char path[PATH_MAX + 32];
	Dl_info info;
	void *lib;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	lib = dlopen(path, RTLD_NOW);
	if (!lib) {
		fprintf(stderr, "%s\n", dlerror());
		exit(1);
	}
	if (!dladdr(dlsym(lib, entry), &info))
		exit(1);
	*base = info.dli_fbase;
	return lib;
}

__attribute__((noinline)) void allocate_through(void *lib, const char *entry, int n, size_t size,
						 void **kept)
{
	void *(*fn)(size_t);

	*(void **)&fn = dlsym(lib, entry);
	for (int i = 0; i < n; i++)
		kept[i] = fn(size);
	__asm__ volatile("" : : "r"(kept) : "memory");
}

/* Allocates through lib every 20 ms, one block kept at a time, until SIGUSR1
 * (blocked since wait_for_go). */
static void churn_until_signal(void *lib, const char *entry, size_t size)
{
	struct timespec tick = { 0, 20 * 1000 * 1000 };
	sigset_t set;
	void *block = NULL;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	do {
		free(block);
		allocate_through(lib, entry, 1, size, &block);
	} while (sigtimedwait(&set, NULL, &tick) < 0);
	free(block);
}

int main(int argc, char **argv)
{
	static void *blocks[16];
	void *lib, *base_a, *base_b;
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);

	if (n <= 0)
		return 1;
	dir[n] = '\0';
	*strrchr(dir, '/') = '\0';
	wait_for_go(argc, argv);

	lib = load("libswap_b.so", "b_outer", &base_b);
	printf("phase b\n");
	fflush(stdout);
	churn_until_signal(lib, "b_outer", 1111);
	dlclose(lib);

	lib = load("libswap_a.so", "a_outer", &base_a);
	printf("phase a\n");
	fflush(stdout);
	churn_until_signal(lib, "a_outer", 2222);
	dlclose(lib);

	/* B again, in A's place, allocating at once. */
	lib = load("libswap_b.so", "b_outer", &base_b);
	allocate_through(lib, "b_outer", 16, 3333, blocks);
	printf("%s\n", base_a == base_b ? "same address" : "moved");
	say_ready();
	for (;;)
		pause();
}
