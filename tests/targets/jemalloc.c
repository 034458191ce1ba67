/* Linked with libjemalloc: malloc and free are jemalloc's, not glibc's. */
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

int main(int argc, char **argv)
{
	wait_for_go(argc, argv);
	keep_jemalloc();
	churn_jemalloc();
	say_ready();
	for (;;)
		pause();
}
