/* Plugin churn: loads, uses and unloads in turn each copy of libleaky.so
 * named on the command line (distinct files: distinct objects for the
 * unwinder), each for 150 ms, allocating through it every 10 ms (blocks
 * freed); then loads the last one for good and keeps a block (2222 bytes)
 * through it every 20 ms.  Prints "last" when it gets there.  With --wait,
 * that comes first. */
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
#include "target.h"

typedef void *(*entry_fn)(void);

static entry_fn load(const char *path)
{
	void *lib = dlopen(path, RTLD_NOW);
	entry_fn entry;

	if (!lib) {
		fprintf(stderr, "%s\n", dlerror());
		exit(1);
	}
	*(void **)&entry = dlsym(lib, "plugin_cache_entry");
	return entry;
}

__attribute__((noinline)) static void *use_plugin(entry_fn entry)
{
	void *p = entry();

	KEEP(p);
	return p;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	int first = has_flag(argc, argv, "--wait") ? 2 : 1;

	wait_for_go(argc, argv);
	for (int i = first; i < argc - 1; i++) {
		entry_fn entry = load(argv[i]);
		void *lib = dlopen(argv[i], RTLD_NOLOAD | RTLD_NOW);

		for (int n = 0; n < 15; n++) {
			free(use_plugin(entry));
			sleep_ms(10);
		}
		dlclose(lib); /* the NOLOAD reference */
		dlclose(lib);
	}
	entry_fn last = load(argv[argc - 1]);

	printf("last\n");
	fflush(stdout);
	for (;;) {
		use_plugin(last); /* the 2222 bytes of plugin_cache_entry, kept */
		sleep_ms(20);
	}
}
