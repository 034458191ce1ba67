/* Where C++ operator new returns.
 *
 * A uretprobe replaces the return address on the stack with the kernel's
 * trampoline, which has no unwind information: when operator new throws
 * (std::bad_alloc), the C++ unwinder cannot get past it and the program ends
 * in std::terminate.  So operator new gets no return probe.  Its result is
 * read by plain uprobes on its `ret` instructions instead, and on those of
 * the code it jumps to (a tail call, a cold part); at a `ret`, the stack
 * pointer is the one the call started with, which ties it to its entry. */
#ifndef LEAKTOP_RETURN_SITES_H
#define LEAKTOP_RETURN_SITES_H

#include <gelf.h>
#include <stddef.h>
#include <stdint.h>
#include "allocators.h"

/* The ret instructions through which the function at vaddr returns, as
 * virtual addresses (at most max).  `entries` are the other functions
 * whose own returns are found anyway (a jump to one needs no following).
 * Returns how many were found, or -1 when the code leaves through a jump
 * that cannot be followed (indirect, or out of the object): then some of
 * its returns would go unseen. */
int return_sites_find(Elf *elf, uint64_t vaddr, const uint64_t *entries, int nentries,
		      uint64_t *sites, int max);

/* Adds an ALLOC_NEW_RETURN probe for every return of obj's operator new
 * probes, and drops those operators whose returns cannot all be found
 * (their names go to `dropped`, comma-separated).  Returns how many were
 * dropped. */
int return_sites_add(struct allocator_object *obj, Elf *elf, char *dropped, size_t len);

#endif
