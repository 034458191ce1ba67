/* A hash map from 64-bit ids to non-zero 64-bit values (counts, pointers):
 * open addressing, deletions by moving the rest of a probe run back. */
#ifndef LEAKTOP_ID_MAP_H
#define LEAKTOP_ID_MAP_H

#include <stddef.h>
#include <stdint.h>

struct id_map {
	uint64_t *ids, *values;	/* values[i] == 0: slot i is empty */
	size_t nslots, count;	/* nslots: a power of two, at least twice count */
};

/* The value of id; 0 when it has none.  A zeroed struct is an empty map. */
uint64_t id_map_get(const struct id_map *m, uint64_t id);
/* Sets the value of id; 0 removes it.  0 or -ENOMEM. */
int id_map_set(struct id_map *m, uint64_t id, uint64_t value);
/* Calls fn for each (id, value), in no order; the map must not change meanwhile. */
void id_map_each(const struct id_map *m, void (*fn)(void *ctx, uint64_t id, uint64_t value), void *ctx);
void id_map_free(struct id_map *m);

#endif
