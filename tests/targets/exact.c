/* Known outstanding bytes per function, for every glibc allocation function.
 * Each allocation line carries an ALLOC marker the tests use to find its line. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include "target.h"

/* Not static: the compiler must assume someone reads the blocks. */
void *kept[256];
int nkept;

__attribute__((noinline)) static void keep_blocks(void)
{
	for (int i = 0; i < 100; i++)
		kept[nkept++] = malloc(1000); /* ALLOC:keep_blocks */
}

__attribute__((noinline)) static void grow_buffer(void)
{
	void *buf = NULL;

	for (size_t size = 4096; size <= 65536; size += 4096)
		buf = realloc(buf, size); /* ALLOC:grow_buffer */
	kept[nkept++] = buf;
}

__attribute__((noinline)) static void keep_calloc(void)
{
	for (int i = 0; i < 10; i++)
		kept[nkept++] = calloc(10, 100); /* ALLOC:keep_calloc */
}

__attribute__((noinline)) static void keep_aligned(void)
{
	for (int i = 0; i < 5; i++) {
		void *p = NULL;

		if (posix_memalign(&p, 64, 4096) == 0) /* ALLOC:keep_aligned */
			kept[nkept++] = p;
	}
}

__attribute__((noinline)) static void keep_aligned_alloc(void)
{
	kept[nkept++] = aligned_alloc(64, 2048); /* ALLOC:keep_aligned_alloc */
}

__attribute__((noinline)) static void keep_memalign(void)
{
	kept[nkept++] = memalign(64, 3000); /* ALLOC:keep_memalign */
}

__attribute__((noinline)) static void keep_valloc(void)
{
	kept[nkept++] = valloc(5000); /* ALLOC:keep_valloc */
}

__attribute__((noinline)) static void keep_pvalloc(void)
{
	kept[nkept++] = pvalloc(6000); /* ALLOC:keep_pvalloc */
}

__attribute__((noinline)) static void keep_reallocarray(void)
{
	void *p = reallocarray(NULL, 10, 700);

	kept[nkept++] = reallocarray(p, 10, 800); /* ALLOC:keep_reallocarray */
}

__attribute__((noinline)) static void realloc_to_zero(void)
{
	void *p = malloc(777); /* ALLOC:realloc_to_zero */

	KEEP(p);
	p = realloc(p, 0); /* frees: nothing stays */
	KEEP(p);
}

__attribute__((noinline)) static void keep_failed_realloc(void)
{
	void *p = malloc(4321); /* ALLOC:keep_failed_realloc */
	void *q = realloc(p, SIZE_MAX / 2); /* fails: p stays as it was */

	kept[nkept++] = q ? q : p;
}

__attribute__((noinline)) static void failed_malloc(void)
{
	void *p = malloc(SIZE_MAX / 2); /* ALLOC:failed_malloc */

	KEEP(p); /* NULL: counts nothing */
}

__attribute__((noinline)) static void churn(void)
{
	for (int i = 0; i < 50; i++) {
		void *p = malloc(256 + i); /* ALLOC:churn */

		KEEP(p);
		free(p);
	}
}

__attribute__((noinline)) static void *allocated_before_attach(void)
{
	return malloc(12345); /* ALLOC:allocated_before_attach */
}

int main(int argc, char **argv)
{
	void *early = allocated_before_attach();

	KEEP(early);
	wait_for_go(argc, argv);
	free(early); /* allocated before leaktop attached: must be ignored */
	keep_blocks();
	grow_buffer();
	keep_calloc();
	keep_aligned();
	keep_aligned_alloc();
	keep_memalign();
	keep_valloc();
	keep_pvalloc();
	keep_reallocarray();
	realloc_to_zero();
	keep_failed_realloc();
	failed_malloc();
	churn();
	say_ready();
	/* Exact figures need a quiet target: a report taken mid-churn rightly
	 * shows the one block between its malloc and its free. */
	while (has_flag(argc, argv, "--keep-churning")) {
		churn();
		usleep(2000);
	}
	for (;;)
		pause();
}
