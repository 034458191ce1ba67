/* Linked with libjemalloc: malloc and free are jemalloc's, not glibc's. */
#include <jemalloc/jemalloc.h>
#include <stdint.h>
#include <stdlib.h>
#include "target.h"

__attribute__((noinline)) static void keep_jemalloc(void)
{
	for (int i = 0; i < 50; i++)
		KEEP(malloc(3000)); /* ALLOC:keep_jemalloc */
}

__attribute__((noinline)) static void churn_jemalloc(void)
{
	for (int i = 0; i < 200; i++) {
		void *p = calloc(1, 100 + i); /* ALLOC:churn_jemalloc */

		KEEP(p);
		free(p);
	}
}

/* jemalloc's extended API: mallocx, rallocx, xallocx, sdallocx, dallocx. */
__attribute__((noinline)) static void keep_extended(void)
{
	for (int i = 0; i < 8; i++) {
		void *p = mallocx(1000, 0); /* ALLOC:keep_extended */

		KEEP(p);
		p = rallocx(p, 4000, 0); /* ALLOC:grow_extended */
		KEEP(p);
	}
	for (int i = 0; i < 50; i++) {
		void *p = mallocx(700, MALLOCX_ZERO);

		KEEP(p);
		if (i % 2)
			sdallocx(p, 700, 0);
		else
			dallocx(p, 0);
	}
}

/* xallocx shrinks a large block in place (40000 B, size class 40960, to
 * 20000 B, class 20480) and returns its real size; growing one that far
 * fails (SIZE_MAX is never there): the block stays as it was. */
__attribute__((noinline)) static void resize_in_place(void)
{
	for (int i = 0; i < 6; i++) {
		void *p = mallocx(40000, 0); /* ALLOC:resize_mallocx */

		KEEP(p);
		if (xallocx(p, 20000, 0, 0) != 20480) /* ALLOC:resize_xallocx */
			abort();
		if (xallocx(p, SIZE_MAX / 2, 0, 0) != 20480)
			abort();
	}
}

int main(int argc, char **argv)
{
	wait_for_go(argc, argv);
	keep_jemalloc();
	churn_jemalloc();
	keep_extended();
	resize_in_place();
	say_ready();
	for (;;)
		pause();
}
