/* A bounded, downsampled history of the total outstanding bytes. */
#include <string.h>
#include "heap_history.h"

void heap_history_init(struct heap_history *h)
{
	memset(h, 0, sizeof(*h));
}

/* Room is full: each pair of neighbours becomes one point. */
static void merge_pairs(struct heap_history *h)
{
	for (size_t i = 0; i < h->count / 2; i++) {
		const struct heap_point *a = &h->points[2 * i], *b = &h->points[2 * i + 1];

		h->points[i] = (struct heap_point){ b->elapsed_s, b->bytes,
			a->min_bytes < b->min_bytes ? a->min_bytes : b->min_bytes,
			a->max_bytes > b->max_bytes ? a->max_bytes : b->max_bytes };
	}
	h->count /= 2;
	h->stride *= 2;
}

void heap_history_add(struct heap_history *h, double elapsed_s, int64_t bytes)
{
	struct heap_point *p;

	if (!h->stride)
		h->stride = 1;
	h->intervals++;
	if (h->pending) { /* the last point takes this interval too */
		p = &h->points[h->count - 1];
		*p = (struct heap_point){ elapsed_s, bytes, bytes < p->min_bytes ? bytes : p->min_bytes,
					  bytes > p->max_bytes ? bytes : p->max_bytes };
	} else {
		if (h->count == HEAP_HISTORY_POINTS)
			merge_pairs(h); /* every point is complete here */
		h->points[h->count++] = (struct heap_point){ elapsed_s, bytes, bytes, bytes };
	}
	h->pending = (h->pending + 1) % h->stride;
}
