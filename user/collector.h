/* Reading the kernel maps once per interval. */
#ifndef LEAKTOP_COLLECTOR_H
#define LEAKTOP_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "leaktop_types.h"

/* The counters of one reading, and the mapping of the per-stack figures. */
struct collection {
	uint64_t lost[LOST_COUNT];
	uint64_t hits;		/* probe hits since attaching */
	/* private */
	const volatile struct stack_stats *stats; /* stack_stats, mmapped */
	size_t stats_len;
	uint32_t nslots;
	int keys_fd;
};

/* Maps stack_stats (nslots entries) for reading; 0 or a negative errno. */
int collection_open(struct collection *c, int keys_fd, int stats_fd, uint32_t nslots);
void collection_close(struct collection *c);

/* Called for each stack slot that holds something. */
typedef void (*stack_slot_fn)(void *ctx, uint32_t slot, int64_t bytes, int64_t allocs);

/* Hands the figures of slots [0, used) to fn (those at zero are skipped),
 * then reads the counters into *c. */
int collect(struct collection *c, uint32_t used, int lost_fd, int hits_fd, stack_slot_fn fn, void *ctx);

/* The stack key of a slot; false while the kernel is still writing it. */
bool collection_slot_key(const struct collection *c, uint32_t slot, struct stack_key *key);

/* The kernel maps an exec makes stale. */
struct generation_maps {
	int allocs_fd, index_fd, traces_fd, py_stacks_fd;
};

/* After an exec: deletes the live allocations, stack index entries, native
 * and Python stacks of older program images (generations before gen), which
 * are gone with them; a newer image (the target exec'd again meanwhile)
 * keeps its own.  (Their slots stay taken; userspace ignores them.) */
void drop_other_generations(const struct generation_maps *maps, uint16_t gen);

/* The native stack stored under id (bpf/unwind.bpf.h); returns its frames. */
int read_stack_trace(int traces_fd, int32_t id, uint64_t ips[MAX_STACK_DEPTH]);

#endif
