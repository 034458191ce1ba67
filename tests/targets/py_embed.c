/* A program that embeds CPython by dlopen()ing libpython (as plugins and
 * application servers do), for leaktop's tests: its thread-locals are then in
 * a TLS block allocated per thread, reached through the thread's DTV.
 *     py_embed LIBPYTHON ARGS...   runs Python with ARGS as its command line
 * (set PYTHONHOME: the interpreter's prefix is not beside this program). */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	int (*bytes_main)(int, char **);
	void *lib;

	if (argc < 3) {
		fprintf(stderr, "usage: %s LIBPYTHON SCRIPT [ARGS...]\n", argv[0]);
		return 2;
	}
	lib = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
	if (!lib || !(bytes_main = (int (*)(int, char **))dlsym(lib, "Py_BytesMain"))) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	/* argv[1] stands for the program name Python sees. */
	return bytes_main(argc - 1, argv + 1);
}
