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

/* Called for each stack read; the stack is only valid during the call. */
typedef void (*raw_stack_fn)(void *ctx, const struct raw_stack *stack);

/* The counters of one reading. */
struct collection {
	size_t count;		/* stacks read */
	uint64_t lost[LOST_COUNT];
	uint64_t hits;		/* probe hits since attaching */
};

/* Reads the stacks map, handing each stack to fn as it comes (the stacks
 * are not kept: with 100 k stacks a copy would be megabytes), then the
 * counters into *c. */
int collect(int stacks_fd, int lost_fd, int hits_fd, struct collection *c, raw_stack_fn fn, void *ctx);

/* After an exec: deletes the live allocations and stacks of older program
 * images (generations other than gen), which are gone with them. */
void drop_other_generations(int allocs_fd, int stacks_fd, uint16_t gen);

/* The native stack stored under id (bpf/unwind.bpf.h); returns its frames. */
int read_stack_trace(int traces_fd, int32_t id, uint64_t ips[MAX_STACK_DEPTH]);

#endif
