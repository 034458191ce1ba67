/* A library the dlopen target loads at run time; built without frame
 * pointers (Makefile), as distribution libraries are. */
#include <stdlib.h>

__attribute__((noinline)) void *plugin_cache_entry(void)
{
	void *p;

	/* Garbage in rbp, as optimized code leaves it: a frame-pointer walk
	 * cannot get past this frame, the CFI can. */
	__asm__ volatile("mov $0x5678, %%rbp" : : : "rbp");
	p = malloc(2222); /* ALLOC:plugin_cache_entry */
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}
