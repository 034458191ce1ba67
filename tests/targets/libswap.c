/* Two plugins from one source for the dlswap target (Makefile: libswap_a.so
 * with -DSWAP_A, libswap_b.so without): the same code layout, but A's
 * functions keep big frames and B's smaller ones, so A's unwind rows applied to
 * B's code read the wrong stack slots.  Both frame sizes take a 32-bit
 * immediate, so the return addresses are at the same offsets in both: what
 * the unwinder remembers of A's (its rule cache) must not be used for B's.
 * Built without frame pointers and with garbage in rbp: only the right CFI
 * gets past them. */
#include <stdlib.h>

#ifdef SWAP_A
#define NAME(f) a_##f
#define PAD 3000
#else
#define NAME(f) b_##f
#define PAD 256
#endif

/* A frame of PAD bytes the compiler cannot drop; no tail call after it. */
#define FRAME() volatile char pad[PAD]; pad[0] = 1; (void)pad[0]

__attribute__((noinline)) void *NAME(leaf)(size_t size)
{
	FRAME();
	void *p;

	__asm__ volatile("mov $0x5678, %%rbp" : : : "rbp");
	p = malloc(size); /* ALLOC:swap_leaf */
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

__attribute__((noinline)) void *NAME(mid)(size_t size)
{
	FRAME();
	void *p = NAME(leaf)(size);

	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

__attribute__((noinline)) void *NAME(outer)(size_t size)
{
	FRAME();
	void *p = NAME(mid)(size);

	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}
