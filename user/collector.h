/* Reading the kernel maps once per interval. */
#ifndef LEAKTOP_COLLECTOR_H
#define LEAKTOP_COLLECTOR_H

#include <stddef.h>
#include <stdint.h>
#include "leaktop_types.h"

struct raw_stack {
	struct stack_key key;
	int64_t bytes;
	int64_t allocs;
};

/* One reading of the per-stack map and the loss counters. */
struct collection {
	struct raw_stack *stacks;
	size_t count, capacity;
	uint64_t lost[LOST_COUNT];
	uint64_t hits;		/* probe hits since attaching */
};

/* Fills *c (reusing its buffer) from the stacks map and the counters. */
int collect(int stacks_fd, int lost_fd, int hits_fd, struct collection *c);
void collection_free(struct collection *c);

/* After an exec: deletes the live allocations and stacks of older program
 * images (generations other than gen), which are gone with them. */
void drop_other_generations(int allocs_fd, int stacks_fd, uint16_t gen);

/* The native stack stored under id (bpf/unwind.bpf.h); returns its frames. */
int read_stack_trace(int traces_fd, int32_t id, uint64_t ips[MAX_STACK_DEPTH]);

#endif
