/* Loads libleaky.so (next to the executable) at run time, keeps 8 blocks from
 * it, unloads it a while later, then loads it again and keeps 8 more. */
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include "target.h"

static void use_plugin(const char *path, int blocks)
{
	void *lib = dlopen(path, RTLD_NOW);
	void *(*entry)(void);

	if (!lib) {
		fprintf(stderr, "%s\n", dlerror());
		exit(1);
	}
	*(void **)&entry = dlsym(lib, "plugin_cache_entry");
	for (int i = 0; i < blocks; i++)
		KEEP(entry());
	usleep(700000); /* loaded for a while, as plugins are */
	dlclose(lib);
}

int main(int argc, char **argv)
{
	char exe[PATH_MAX], lib[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return 1;
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(lib, sizeof(lib), "%s/libleaky.so", exe);
	wait_for_go(argc, argv);
	use_plugin(lib, 8);
	use_plugin(lib, 8);
	say_ready();
	for (;;)
		pause();
}
