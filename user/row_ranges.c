/* A first-fit free list of row ranges (see row_ranges.h). */
#include "grow.h"
#include "row_ranges.h"

bool row_ranges_init(struct row_ranges *r, uint32_t total)
{
	*r = (struct row_ranges){ 0 };
	return total == 0 || row_ranges_give(r, 0, total);
}

void row_ranges_release(struct row_ranges *r)
{
	free(r->free);
	*r = (struct row_ranges){ 0 };
}

bool row_ranges_take(struct row_ranges *r, uint32_t count, uint32_t *start)
{
	for (size_t i = 0; i < r->n; i++) {
		struct row_range *f = &r->free[i];

		if (f->count < count)
			continue;
		*start = f->start;
		f->start += count;
		f->count -= count;
		if (!f->count) {
			memmove(f, f + 1, (r->n - i - 1) * sizeof(*f));
			r->n--;
		}
		return true;
	}
	return false;
}

bool row_ranges_give(struct row_ranges *r, uint32_t start, uint32_t count)
{
	size_t i = 0;
	bool joins_prev, joins_next;
	struct row_range *grown;

	if (!count)
		return true;
	while (i < r->n && r->free[i].start < start)
		i++;
	joins_prev = i > 0 && r->free[i - 1].start + r->free[i - 1].count == start;
	joins_next = i < r->n && start + count == r->free[i].start;
	if (joins_prev && joins_next) {
		r->free[i - 1].count += count + r->free[i].count;
		memmove(&r->free[i], &r->free[i + 1], (r->n - i - 1) * sizeof(r->free[0]));
		r->n--;
	} else if (joins_prev) {
		r->free[i - 1].count += count;
	} else if (joins_next) {
		r->free[i].start = start;
		r->free[i].count += count;
	} else {
		grown = grow_array(r->free, &r->cap, r->n + 1, sizeof(*grown), 16);
		if (!grown)
			return false;
		r->free = grown;
		memmove(&r->free[i + 1], &r->free[i], (r->n - i) * sizeof(r->free[0]));
		r->free[i] = (struct row_range){ start, count };
		r->n++;
	}
	return true;
}
