/* Free space in the unwind_rows array: objects' rows come and go (plugins
 * loaded and unloaded), each in one contiguous range. */
#ifndef LEAKTOP_ROW_RANGES_H
#define LEAKTOP_ROW_RANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct row_range {
	uint32_t start, count;
};

struct row_ranges {
	struct row_range *free;	/* sorted by start, never adjacent */
	size_t n, cap;
};

/* All of [0, total) free; false when out of memory. */
bool row_ranges_init(struct row_ranges *r, uint32_t total);
void row_ranges_release(struct row_ranges *r);

/* Takes `count` rows from the lowest free range that holds them; false when
 * none does. */
bool row_ranges_take(struct row_ranges *r, uint32_t count, uint32_t *start);

/* Gives [start, start + count) back, merged with free neighbours; false when
 * out of memory (the rows are then lost). */
bool row_ranges_give(struct row_ranges *r, uint32_t start, uint32_t count);

#endif
