/* Per-stack history of outstanding bytes, growth over a sliding window, ranking.
 *
 * Growth estimator: the least-squares slope of outstanding bytes against time
 * over the samples of the last `window` seconds (at least two samples; zero
 * before that).  The slope follows a steady leak exactly and is far less
 * sensitive than a two-point difference to churn caught mid-flight at a
 * snapshot.  A stack first seen after the first snapshot gets an implicit zero
 * at the previous snapshot: it did not exist then. */
#ifndef LEAKTOP_MODEL_H
#define LEAKTOP_MODEL_H

#include <stddef.h>
#include <stdint.h>

struct model;

struct model_row {
	uint64_t id;
	int64_t bytes;
	int64_t allocs;
	double growth;		/* bytes per second */
	const void *stack;	/* caller's representative stack for this id */
};

enum model_sort { SORT_GROWTH, SORT_BYTES, SORT_ALLOCS };

struct model *model_new(double window_s);
void model_free(struct model *m);

/* One snapshot: begin, add each stack (several adds of one id are summed),
 * end.  Stacks not added in a snapshot are at zero in it.  An id's entry
 * keeps the `stack` of its first add (MODEL_NEW_ENTRY says when that was)
 * until it is dropped: at model_end, once it has been at zero through the
 * whole window (no bytes, no growth: nothing to show), or at model_reset. */
void model_begin(struct model *m, double time_s);
int model_add(struct model *m, uint64_t id, int64_t bytes, int64_t allocs, const void *stack);
void model_end(struct model *m);
#define MODEL_NEW_ENTRY 1

/* Called with the stack of each entry dropped (the caller may free it). */
void model_set_dropped(struct model *m, void (*dropped)(void *ctx, const void *stack), void *ctx);

/* Entries held (those of the latest snapshot, and those still in the window). */
size_t model_entries(const struct model *m);

/* model_add, for a caller that keeps where each id's entry was (in *hint,
 * starting at MODEL_NO_HINT): one cache miss less per stack and snapshot. */
#define MODEL_NO_HINT UINT32_MAX
int model_add_hinted(struct model *m, uint32_t *hint, uint64_t id, int64_t bytes, int64_t allocs,
		     const void *stack);

/* Forget all history (growth restarts from the next snapshot); every entry
 * is dropped. */
void model_reset(struct model *m);
/* Forgets the history of stack id (between model_begin and model_end, before
 * it is added): a stack no longer tracked (evicted) leaves at model_end,
 * rather than showing as falling; if added again it starts afresh. */
void model_forget(struct model *m, uint64_t id);

/* The rows of the latest snapshot that hold bytes or grew, best first; returns
 * how many were written to rows (at most max). */
size_t model_rank(const struct model *m, enum model_sort sort, struct model_row *rows, size_t max);
size_t model_count(const struct model *m);
/* model_rank's order: negative when a ranks before b. */
int model_row_compare(const struct model_row *a, const struct model_row *b, enum model_sort sort);	/* stacks in the latest snapshot */

int64_t model_total_bytes(const struct model *m);
int64_t model_total_allocs(const struct model *m);
double model_total_growth(const struct model *m);

/* The latest outstanding bytes of id, oldest first, at most max of them (from
 * the growth window); returns how many. */
size_t model_recent(const struct model *m, uint64_t id, double *bytes, size_t max);

/* Least-squares slope of (t[i], v[i]); 0 for fewer than two distinct times. */
double slope(const double *t, const double *v, size_t n);

#endif
