/* The target's total outstanding bytes over the whole session, one point per
 * interval, in bounded memory: when the points fill their room, neighbours
 * are merged in pairs and each point then stands for twice as many
 * intervals (its last value, and the least and most seen over them). */
#ifndef LEAKTOP_HEAP_HISTORY_H
#define LEAKTOP_HEAP_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#define HEAP_HISTORY_POINTS 1024	/* even: points merge in pairs */

struct heap_point {
	double elapsed_s;	/* of the last interval merged into the point */
	int64_t bytes;		/* outstanding then */
	int64_t min_bytes, max_bytes; /* over the intervals of the point */
};

struct heap_history {
	struct heap_point points[HEAP_HISTORY_POINTS];
	size_t count;		/* points used */
	uint64_t stride;	/* intervals per complete point: 1, 2, 4... */
	uint64_t pending;	/* intervals in the last point, when not complete */
	uint64_t intervals;	/* added in all */
};

/* A zeroed struct is empty; heap_history_init makes it so. */
void heap_history_init(struct heap_history *h);
void heap_history_add(struct heap_history *h, double elapsed_s, int64_t bytes);

#endif
