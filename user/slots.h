/* The kernel's stack slots as userspace sees them: which stack holds each,
 * its figures each interval, and giving back the slots of stacks that hold
 * nothing (bpf/leaktop.h, struct slot_ref), with the native and Python
 * stacks in the kernel's maps that no slot names any more. */
#ifndef LEAKTOP_SLOTS_H
#define LEAKTOP_SLOTS_H

#include <stdint.h>
#include "collector.h"
#include "stacks.h"

/* The maps a slot is given back through. */
struct slot_maps {
	int index_fd;		/* stack_index */
	int free_fd;		/* free_slots */
	int traces_fd;		/* stack_traces */
	int py_stacks_fd;	/* py_stacks */
	/* The kernel's traces_seq (bpf/unwind.bpf.h): odd while stacks are
	 * being deleted from stack_traces. */
	__u32 *traces_seq;
};

/* A slot whose stack has held nothing for this long is given back; sooner
 * (after two readings at zero) when free slots are scarce: fewer than a
 * quarter of them, or than new stacks would take in four readings. */
#define SLOT_IDLE_S 5.0

struct slot_table;

/* c: the mapped slot arrays; stacks: where the slots' stacks are built. */
struct slot_table *slot_table_new(const struct collection *c, struct stack_table *stacks,
				  const struct slot_maps *maps);
/* Frees the table (the stacks it holds are the stack table's to free). */
void slot_table_free(struct slot_table *t);

typedef void (*slot_stack_fn)(void *ctx, struct stack *st, int64_t bytes, int64_t allocs);

/* When live stacks outnumber the slots (stacks_lost, the kernel's count of
 * allocations that found no slot, rose while none was free), the least
 * useful held stacks are evicted: those that did not rise to a new peak in
 * EVICT_STILL readings, fewest bytes first, up to 1/EVICT_SHARE of the
 * slots a reading. */
#define EVICT_STILL 2
#define EVICT_SHARE 16

/* One reading of the slots: hands the figures of each slot that holds
 * something, with its stack, to fn (several slots may have one stack), and
 * gives back slots idle long enough.  used: slots taken so far from those
 * never used (probes_stack_slots_used); exec_gen: the generation of the
 * program image traced (slots of older ones are given back at once: their
 * live allocations were dropped with drop_other_generations; slots of newer
 * ones wait for the caller to follow the exec). */
void slot_table_update(struct slot_table *t, uint32_t used, uint16_t exec_gen, double interval_s,
		       uint64_t stacks_lost, slot_stack_fn fn, void *ctx);

/* Claims the slots the kernel handed out since the last look and builds
 * their stacks (those of the program image exec_gen), whether they hold
 * anything or not: for a caller that names stacks while the target lives,
 * between readings (its mappings and Python code objects can no longer be
 * read once it has exited).  Memory reads only, but for the symbolizing.
 * before(ctx), when given, is called once before the first stack is named. */
void slot_table_name_new(struct slot_table *t, uint32_t used, uint16_t exec_gen,
			 void (*before)(void *ctx), void *ctx);

/* Slots that have a stack now, and slots given back so far. */
uint32_t slot_table_held(const struct slot_table *t);
uint64_t slot_table_given_back(const struct slot_table *t);

/* fn(ctx, stack) is called for each stack evicted, before its slot is let
 * go (at the start of a reading: its figures will be missing from it). */
void slot_table_on_eviction(struct slot_table *t, void (*fn)(void *ctx, struct stack *st), void *ctx);

/* Stacks evicted so far, and the allocations and bytes they held then
 * (not tracked from then on: their frees take nothing off). */
uint64_t slot_table_evicted(const struct slot_table *t, uint64_t *allocs, int64_t *bytes);

#endif
