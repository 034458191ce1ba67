/* One traced process: attaching to it (or starting it), following its
 * execs and its interpreter, and bringing its stacks and model up to date
 * once per interval.  A session (session.h) holds one or several. */
#ifndef LEAKTOP_TRACEE_H
#define LEAKTOP_TRACEE_H

#include <stdbool.h>
#include <stdint.h>
#include "allocator_scan.h"
#include "collector.h"
#include "model.h"
#include "options.h"
#include "python.h"
#include "slots.h"
#include "stacks.h"
#include "symbolizer.h"
#include "target.h"

/* A map filled up, stacks were evicted, a block was above 2^48: said once
 * (per session: all its processes share one). */
struct full_notes {
	bool allocs_full, stacks_full, evicted, high_address;
};

struct tracee {
	const struct options *opts;
	/* Set by the session before tracee_start: the allocations map shared
	 * with the session's other processes (-1: its own), and this process's
	 * index in it (the high bits of its keys). */
	int shared_allocs_fd;
	uint16_t index;
	struct full_notes *said; /* where a full map is noted (NULL: own_notes) */
	struct symbol_store *symbols; /* the objects' symbols, shared (NULL: its own) */
	struct frame_table *frames; /* the stacks' frames, shared (NULL: its own) */
	bool later;		/* found after the start (a child, a cgroup's newcomer) */
	uint32_t max_allocs;	/* the allocs map's size */
	struct target target;
	struct probes *probes;
	struct symbolizer *sym;
	struct stack_table *stacks;
	struct model *model;
	struct collection collection;
	struct slot_table *slots;	/* the stack of each kernel slot */
	uint32_t symbols_changes; /* the kernel's count of code changes at the last maps read */
	int nprobes;
	char cmdline[256];
	uint32_t generation;	/* target execs seen (spawn mode: its own exec is 1) */
	uint64_t last_hits;	/* probe hits at the previous update, for hits/s */
	struct python *python;	/* the target's CPython, once found */
	struct python_redirect *redirect; /* --pymalloc-redirect in effect */
	struct unwind_maps *unwind;	/* the kernel unwinder's tables; NULL: frame pointers */
	bool python_note_shown;	/* an unsupported interpreter was reported */
	struct full_notes own_notes; /* said's own, for a tracee alone */
	double last_update, hits_per_s;
	double scale;		/* figures per byte seen: 1 / measured on-share */
	struct exec_allocators {	/* looking for the allocators after an exec */
		uint32_t generation;	/* of the exec looked at */
		double since;		/* when it was noticed */
		bool scanning, warned;
		struct allocator_scan scan; /* files examined so far */
	} exec;
};

/* Finds the allocators of pid (0: spawn o->command), attaches the probes and,
 * in spawn mode, starts the command.  later: a process found after the start,
 * announced in one line, and quiet when it is gone before it is attached.
 * Returns 0, or 1 with the cause on stderr; tracee_finish either way. */
int tracee_start(struct tracee *s, const struct options *o, pid_t pid, bool later);
/* Between intervals: the unwinder's catch-up, allocators mapped since an
 * exec, naming new stacks while the process lives. */
void tracee_tick(struct tracee *s);
/* Reads its maps and brings its model up to date (figures times scale). */
void tracee_update(struct tracee *s, double scale);
void tracee_exit_message(const struct tracee *s);
/* Allocations not tracked: lost events, and the blocks of evicted stacks.
 * Adds each cause to by_reason[] (enum lost_reason; [LOST_COUNT]: blocks of
 * evicted stacks; [LOST_STACK_TRUNCATED]: walks cut short, not counted as
 * lost), when not NULL. */
uint64_t tracee_lost_events(const struct tracee *s, uint64_t by_reason[LOST_COUNT + 1]);
/* Detaches, and frees what it holds; its live allocations leave a shared
 * allocations map too. */
void tracee_finish(struct tracee *s);

#endif
