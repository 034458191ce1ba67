/* A library the dlopen target loads at run time. */
#include <stdlib.h>

__attribute__((noinline)) void *plugin_cache_entry(void)
{
	void *p = malloc(2222); /* ALLOC:plugin_cache_entry */

	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}
