/* Keeps 4096 bytes, then exits with status 0 after about 1.5 s. */
#include <stdlib.h>
#include "target.h"

__attribute__((noinline)) static void keep_then_exit(void)
{
	void *p = malloc(4096); /* ALLOC:keep_then_exit */

	KEEP(p);
}

int main(int argc, char **argv)
{
	wait_for_go(argc, argv);
	keep_then_exit();
	say_ready();
	usleep(1500000);
	return 0;
}
