/* Statically linked: its own malloc, found in its own symbol table. */
#include <stdlib.h>
#include "target.h"

__attribute__((noinline)) static void keep_static(void)
{
	for (int i = 0; i < 10; i++) {
		void *p = malloc(4321); /* ALLOC:keep_static */

		KEEP(p);
	}
}

int main(int argc, char **argv)
{
	wait_for_go(argc, argv);
	keep_static();
	say_ready();
	for (;;)
		pause();
}
