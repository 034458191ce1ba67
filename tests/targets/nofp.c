/* Built with -fomit-frame-pointer -O2: the immediate caller must still be right. */
#include <stdlib.h>
#include "target.h"

void *kept[20]; /* not static: must not be optimized away */

__attribute__((noinline, noclone)) static int nofp_caller(int n)
{
	int ok = 0;

	for (int i = 0; i < n; i++) {
		kept[i] = malloc(300); /* ALLOC:nofp_caller */
		ok += kept[i] != NULL;
	}
	return ok;
}

int main(int argc, char **argv)
{
	wait_for_go(argc, argv);
	if (nofp_caller(20) != 20)
		return 1;
	say_ready();
	for (;;)
		pause();
}
