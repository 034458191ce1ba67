/* Reading the kernel maps once per interval. */
#ifndef LEAKTOP_COLLECTOR_H
#define LEAKTOP_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "leaktop_types.h"

/* The counters of one reading, and the mappings of the per-stack maps. */
struct collection {
	uint64_t lost[LOST_COUNT];
	uint64_t hits;		/* probe hits since attaching */
	/* The per-stack figures (written too: giving a slot back bumps its
	 * generation) and keys, mmapped. */
	volatile struct stack_stats *stats;
	const volatile struct stack_slot_key *keys;
	size_t stats_len, keys_len;
	uint32_t nslots;
};

/* Maps stack_stats and stack_keys (nslots entries each); 0 or a negative errno. */
int collection_open(struct collection *c, int keys_fd, int stats_fd, uint32_t nslots);
void collection_close(struct collection *c);

/* Reads the loss and hit counters into *c; 0 or a negative errno. */
int collect_counters(struct collection *c, int lost_fd, int hits_fd);

/* The key written in a slot for slot generation gen; false while the
 * kernel is writing it, or when it was written for another generation. */
bool collection_slot_key(const struct collection *c, uint32_t slot, uint16_t gen, struct stack_key *key);

/* The kernel maps an exec makes stale. */
struct generation_maps {
	int allocs_fd, index_fd, traces_fd, py_stacks_fd, big_sizes_fd;
	uint64_t process_key;	/* the process's allocs keys (bpf alloc_key()) */
	const struct collection *c;	/* the process's slots, which its records name */
};

/* After an exec: deletes the live allocations, stack index entries, native
 * and Python stacks of older program images (generations before gen), which
 * are gone with them; a newer image (the target exec'd again meanwhile)
 * keeps its own.  (Their slots stay taken; userspace ignores them.) */
void drop_other_generations(const struct generation_maps *maps, uint16_t gen);
/* Deletes the live allocations of one process from the allocations map its
 * session shares (it is gone, or no longer traced), and their big_sizes
 * entries when big_sizes_fd >= 0 (-1: that map went with its BPF object). */
void drop_process_allocs(int allocs_fd, int big_sizes_fd, uint64_t process_key);

/* The native stack stored under id (bpf/unwind.bpf.h); returns its frames. */
int read_stack_trace(int traces_fd, int32_t id, uint64_t ips[MAX_STACK_DEPTH]);

#endif
