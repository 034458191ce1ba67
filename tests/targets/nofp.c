/* Built with -fomit-frame-pointer -O2: the immediate caller must be right, and
 * the callers above it too (unwound with the CFI). */
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

__attribute__((noinline, noclone)) static int nofp_middle(int n)
{
	int ok;

	/* rbp is an ordinary register here: garbage in it, as optimized code
	 * leaves, so a frame-pointer walk cannot get past this frame. */
	__asm__ volatile("mov $0x1234, %%rbp" : : : "rbp");
	ok = nofp_caller(n); /* ALLOC:nofp_middle */
	__asm__ volatile("" : : : "memory");
	return ok + 1;
}

__attribute__((noinline, noclone)) static int nofp_outer(int n)
{
	int ok = nofp_middle(n); /* ALLOC:nofp_outer */

	__asm__ volatile("" : : : "memory");
	return ok - 1;
}

int main(int argc, char **argv)
{
	wait_for_go(argc, argv);
	if (nofp_outer(20) != 20) /* ALLOC:nofp_main */
		return 1;
	say_ready();
	for (;;)
		pause();
}
