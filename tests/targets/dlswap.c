/* dlclose(A) then dlopen(B) puts B where A was: B's first allocations must
 * not be unwound with A's tables.  Loads libswap_b.so (next to the
 * executable) and frees what it allocated, loads libswap_a.so for a while
 * (keeps 4 blocks of 2222 bytes), unloads it, loads libswap_b.so again and at
 * once keeps 16 blocks of 3333 bytes through b_outer -> b_mid -> b_leaf.
 * Prints "same address" or "moved" (where B landed), then "ready". */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
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

	/* B once, so that its tables can be known before it comes back. */
	lib = load("libswap_b.so", "b_outer", &base_b);
	allocate_through(lib, "b_outer", 8, 1111, blocks);
	usleep(700000);
	for (int i = 0; i < 8; i++)
		free(blocks[i]);
	dlclose(lib);

	/* A, long enough to be indexed. */
	lib = load("libswap_a.so", "a_outer", &base_a);
	allocate_through(lib, "a_outer", 4, 2222, blocks);
	usleep(1500000);
	dlclose(lib);

	/* B again, in A's place, allocating at once. */
	lib = load("libswap_b.so", "b_outer", &base_b);
	allocate_through(lib, "b_outer", 16, 3333, blocks);
	printf("%s\n", base_a == base_b ? "same address" : "moved");
	say_ready();
	for (;;)
		pause();
}
