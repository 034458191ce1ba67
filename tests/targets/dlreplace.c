/* A plugin file rewritten in place between two loads: the same path, the
 * same inode, other code.  Usage: dlreplace PATH [--wait].  Loads PATH
 * (libswap_a.so's code) and allocates through a_outer every 20 ms (one block
 * of 1111 bytes kept at a time) until SIGUSR1, unloads it and prints
 * "closed"; at the next SIGUSR1 (PATH has libswap_b.so's code now) loads it
 * again and allocates through b_outer (2222 bytes, one block kept at a time)
 * every 20 ms until killed. */
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
#include "target.h"

__attribute__((noinline)) void allocate_through(void *lib, const char *entry, size_t size, void **block)
{
	void *(*fn)(size_t);

	*(void **)&fn = dlsym(lib, entry);
	free(*block);
	*block = fn(size);
	__asm__ volatile("" : : "r"(block) : "memory");
}

static void *load(const char *path)
{
	void *lib = dlopen(path, RTLD_NOW);

	if (!lib) {
		fprintf(stderr, "%s\n", dlerror());
		exit(1);
	}
	return lib;
}

int main(int argc, char **argv)
{
	struct timespec tick = { 0, 20 * 1000 * 1000 };
	void *lib, *block = NULL;
	sigset_t set;
	int sig;

	if (argc < 2)
		return 2;
	wait_for_go(argc, argv);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);

	lib = load(argv[1]);
	do
		allocate_through(lib, "a_outer", 1111, &block);
	while (sigtimedwait(&set, NULL, &tick) < 0);
	free(block);
	block = NULL;
	dlclose(lib);
	printf("closed\n");
	fflush(stdout);

	sigwait(&set, &sig);
	lib = load(argv[1]);
	printf("reloaded\n");
	fflush(stdout);
	for (;;) {
		allocate_through(lib, "b_outer", 2222, &block);
		nanosleep(&tick, NULL);
	}
}
