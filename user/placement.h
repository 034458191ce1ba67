/* Where to put an entry uprobe in an allocator function.
 *
 * A uprobe on an instruction the kernel emulates (push reg, jcc, jmp rel,
 * nop) costs a fraction of one it must single-step out of line (test, mov,
 * cmp, lea...).  So each probe moves from the function's first instruction to
 * the first emulated one, when every call passes it with the arguments still
 * in their registers and the stack pointer unchanged (the uretprobe shares the
 * place and takes the return address at [sp]). */
#ifndef LEAKTOP_PLACEMENT_H
#define LEAKTOP_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>
#include "allocators.h"

/* Argument registers the BPF programs read, as a mask of these. */
enum {
	ARG_RDI = 1 << 0,
	ARG_RSI = 1 << 1,
	ARG_RDX = 1 << 2,
};

/* The argument registers BPF reads for a probe of `fn` (enum alloc_fn,
 * ALLOC_FREE or ALLOC_PY_FREE). */
unsigned placement_args(int fn);

/* Offset from the function's start where its entry probe goes: 0 or the
 * first emulated instruction of its straight-line prologue.  code holds the
 * whole function (len bytes, loaded at vaddr).  A branch anywhere in it to
 * a place between the entry and the chosen instruction (a join the probe
 * would see twice, or with other register contents) keeps the entry. */
uint64_t placement_choose(const uint8_t *code, size_t len, uint64_t vaddr, unsigned args);

/* Sets probe->at for every probe of obj (from the ELF file it names) and
 * returns how many moved past their function's entry. */
int placement_apply(struct allocator_object *obj);

#endif
