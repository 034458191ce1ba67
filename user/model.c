/* The model: history per stack id, windowed growth, ranking.
 *
 * Entries live in an append-only array, found by id through an open-addressing
 * hash index of array positions: with 100 000 stacks a binary search over a
 * sorted array cost a cache miss per step, and each new id a memmove.
 *
 * Every entry is sampled at the same snapshots, so their times are kept once,
 * in the history of the total.  An entry keeps only its change points: the
 * value from a snapshot on, appended when it differs from the one before.
 * Most stacks hold still, so one point, stored inside the entry, is their whole
 * history.  Snapshot times are assumed to increase (CLOCK_MONOTONIC). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "grow.h"
#include "model.h"

/* A sample of the total: one per snapshot in the window. */
struct sample {
	double t;
	double bytes;
};

/* Samples of the last window, oldest first. */
struct history {
	struct sample *samples;
	size_t count, capacity;
};

/* An entry's value from snapshot time t on (until its next point). */
struct point {
	double t;
	int64_t bytes;
};

struct entry {
	uint64_t id;
	int64_t bytes, allocs;	/* in the snapshot being built / the latest */
	double growth;
	const void *stack;
	uint32_t npoints;	/* change points kept, oldest first */
	bool added;		/* added in the snapshot being built */
	union {
		struct point one;	/* npoints <= 1: no allocation */
		struct point *many;	/* npoints >= 2 */
	} points;
};

struct model {
	double window;
	double now, previous;	/* times of the latest and the one before */
	uint64_t snapshot;	/* number of the current snapshot, from 1 */
	struct entry *entries;	/* in order of arrival but for dropped ones, whose
				 * place the last entry takes */
	size_t count, capacity;
	uint32_t *slots;	/* hash index: entry position + 1, 0 when empty */
	size_t nslots;		/* a power of two, at least twice count */
	int64_t total_bytes, total_allocs;
	double total_growth;
	struct history total;	/* also the snapshot times of the window */
	double *scratch_t, *scratch_v;	/* a series for slope(): the window can hold */
	size_t scratch_cap;		/* millions of samples, too many for the stack */
	void (*dropped)(void *ctx, const void *stack);
	void *dropped_ctx;
};

/* Room for a series of n points in m->scratch_t/v. */
static bool scratch_fit(struct model *m, size_t n)
{
	size_t cap_t = m->scratch_cap, cap_v = m->scratch_cap;
	double *t = grow_array(m->scratch_t, &cap_t, n, sizeof(*t), 64);
	double *v = t ? grow_array(m->scratch_v, &cap_v, n, sizeof(*v), 64) : NULL;

	if (t)
		m->scratch_t = t;
	if (v)
		m->scratch_v = v;
	if (!v)
		return false;
	m->scratch_cap = cap_v;
	return true;
}

double slope(const double *t, const double *v, size_t n)
{
	double mt = 0, mv = 0, num = 0, den = 0;

	if (n < 2)
		return 0;
	for (size_t i = 0; i < n; i++) {
		mt += t[i];
		mv += v[i];
	}
	mt /= (double)n;
	mv /= (double)n;
	for (size_t i = 0; i < n; i++) {
		num += (t[i] - mt) * (v[i] - mv);
		den += (t[i] - mt) * (t[i] - mt);
	}
	return den > 0 ? num / den : 0;
}

static int history_push(struct history *h, double t, double bytes, double window)
{
	size_t drop = 0;

	/* Keep samples within the window (a little slack for timer jitter). */
	while (drop < h->count && h->samples[drop].t < t - window * 1.001)
		drop++;
	if (drop) {
		memmove(h->samples, h->samples + drop, (h->count - drop) * sizeof(*h->samples));
		h->count -= drop;
	}
	struct sample *grown = grow_array(h->samples, &h->capacity, h->count + 1, sizeof(*grown), 4);

	if (!grown)
		return -ENOMEM;
	h->samples = grown;
	h->samples[h->count++] = (struct sample){ t, bytes };
	return 0;
}

static double history_slope(struct model *m, const struct history *h)
{
	double *t, *v;

	if (!scratch_fit(m, h->count))
		return 0;
	t = m->scratch_t;
	v = m->scratch_v;
	for (size_t i = 0; i < h->count; i++) {
		/* Relative times keep the sums well conditioned. */
		t[i] = h->samples[i].t - h->samples[0].t;
		v[i] = h->samples[i].bytes;
	}
	return slope(t, v, h->count);
}

static const struct point *points(const struct entry *e)
{
	return e->npoints <= 1 ? &e->points.one : e->points.many;
}

/* Room for one more point.  The capacity of a heap array follows from the
 * count (powers of two from 4), so it need not be stored. */
static int points_reserve(struct entry *e)
{
	uint32_t n = e->npoints;
	struct point *grown;

	if (n == 1) {
		grown = malloc(4 * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		grown[0] = e->points.one;
		e->points.many = grown;
	} else if (n >= 4 && (n & (n - 1)) == 0) {
		grown = realloc(e->points.many, 2 * (size_t)n * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		e->points.many = grown;
	}
	return 0;
}

static int points_append(struct entry *e, double t, int64_t bytes)
{
	if (e->npoints == 0) {
		e->points.one = (struct point){ t, bytes };
	} else {
		if (points_reserve(e))
			return -ENOMEM;
		e->points.many[e->npoints] = (struct point){ t, bytes };
	}
	e->npoints++;
	return 0;
}

/* Drop the points before the window's start but the latest of them: it gives
 * the value at the start. */
static void points_trim(struct entry *e, double start)
{
	struct point *p;
	uint32_t drop = 0;

	if (e->npoints < 2)
		return;	/* nothing before the only point */
	p = e->points.many;
	while (drop + 1 < e->npoints && p[drop + 1].t <= start)
		drop++;
	if (!drop)
		return;
	e->npoints -= drop;
	if (e->npoints == 1) {
		struct point last = p[drop];

		free(p);
		e->points.one = last;
	} else {
		memmove(p, p + drop, e->npoints * sizeof(*p));
	}
}

/* Position in the total's history of the first snapshot of e's series: the
 * snapshots before its first point were before it existed. */
static size_t series_start(const struct model *m, const struct entry *e)
{
	double born = points(e)[0].t;
	size_t lo = 0, hi = m->total.count;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (m->total.samples[mid].t < born)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* e's values at the window's snapshots from position first on: at each, the
 * value of its last point at or before it. */
static void series_values(const struct model *m, const struct entry *e, size_t first, double *v)
{
	const struct point *p = points(e);
	uint32_t j = 0;

	for (size_t i = first; i < m->total.count; i++) {
		while (j + 1 < e->npoints && p[j + 1].t <= m->total.samples[i].t)
			j++;
		v[i - first] = (double)p[j].bytes;
	}
}

/* The least-squares slope of e's series in the window. */
static double entry_growth(struct model *m, const struct entry *e)
{
	size_t first, n;
	double *t, *v;

	if (e->npoints <= 1)
		return 0;	/* constant over the window: slope() would say 0 too */
	first = series_start(m, e);
	n = m->total.count - first;
	if (n < 2 || !scratch_fit(m, n))
		return 0;
	t = m->scratch_t;
	v = m->scratch_v;
	for (size_t i = 0; i < n; i++) {
		/* Relative times keep the sums well conditioned. */
		t[i] = m->total.samples[first + i].t - m->total.samples[first].t;
	}
	series_values(m, e, first, v);
	return slope(t, v, n);
}

struct model *model_new(double window_s)
{
	struct model *m = calloc(1, sizeof(*m));

	if (m)
		m->window = window_s;
	return m;
}

void model_set_dropped(struct model *m, void (*dropped)(void *ctx, const void *stack), void *ctx)
{
	m->dropped = dropped;
	m->dropped_ctx = ctx;
}

size_t model_entries(const struct model *m)
{
	return m->count;
}

void model_reset(struct model *m)
{
	double window = m->window;
	void (*dropped)(void *, const void *) = m->dropped;
	void *dropped_ctx = m->dropped_ctx;

	for (size_t i = 0; i < m->count; i++) {
		if (m->entries[i].npoints > 1)
			free(m->entries[i].points.many);
		if (dropped)
			dropped(dropped_ctx, m->entries[i].stack);
	}
	free(m->entries);
	free(m->slots);
	free(m->total.samples);
	free(m->scratch_t);
	free(m->scratch_v);
	memset(m, 0, sizeof(*m));
	m->window = window;
	m->dropped = dropped;
	m->dropped_ctx = dropped_ctx;
}

void model_free(struct model *m)
{
	if (!m)
		return;
	model_reset(m);
	free(m);
}

void model_begin(struct model *m, double time_s)
{
	m->previous = m->now;
	m->now = time_s;
	m->snapshot++;
}

/* The slot that holds id, or the empty one where it would go.  Ids are
 * already hashes (FNV-1a of the frames): their low bits index the table. */
static size_t probe(const struct model *m, uint64_t id)
{
	size_t mask = m->nslots - 1, i = (size_t)id & mask;

	while (m->slots[i] && m->entries[m->slots[i] - 1].id != id)
		i = (i + 1) & mask;
	return i;
}

static struct entry *find(const struct model *m, uint64_t id)
{
	size_t i;

	if (!m->nslots)
		return NULL;
	i = probe(m, id);
	return m->slots[i] ? &m->entries[m->slots[i] - 1] : NULL;
}

/* Double the index and place every entry again. */
static int index_grow(struct model *m)
{
	size_t nslots = m->nslots ? 2 * m->nslots : 512;
	uint32_t *slots = calloc(nslots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	free(m->slots);
	m->slots = slots;
	m->nslots = nslots;
	for (size_t i = 0; i < m->count; i++)
		m->slots[probe(m, m->entries[i].id)] = (uint32_t)(i + 1);
	return 0;
}

/* A new, empty entry for id at the end of the array. */
/* Empties slot i of the index, moving later entries of its probe run back
 * into the hole when their home slot allows it. */
static void unindex(struct model *m, size_t i)
{
	size_t mask = m->nslots - 1, j = i;

	m->slots[i] = 0;
	for (;;) {
		j = (j + 1) & mask;
		if (!m->slots[j])
			return;
		if (((j - (size_t)m->entries[m->slots[j] - 1].id) & mask) >= ((j - i) & mask)) {
			m->slots[i] = m->slots[j];
			m->slots[j] = 0;
			i = j;
		}
	}
}

/* Drops entry e (at zero, with one point): the last entry takes its place. */
static void drop(struct model *m, struct entry *e)
{
	size_t pos = (size_t)(e - m->entries), last = m->count - 1;

	if (m->dropped)
		m->dropped(m->dropped_ctx, e->stack);
	unindex(m, probe(m, e->id));
	if (pos != last) {
		*e = m->entries[last];
		m->slots[probe(m, e->id)] = (uint32_t)(pos + 1);
	}
	m->count--;
}

static struct entry *insert(struct model *m, uint64_t id)
{
	struct entry *e;

	if (m->count == UINT32_MAX)
		return NULL;	/* slots hold positions + 1 in 32 bits */
	/* At most half full keeps probe sequences short. */
	if (2 * (m->count + 1) > m->nslots && index_grow(m))
		return NULL;
	struct entry *grown = grow_array(m->entries, &m->capacity, m->count + 1, sizeof(*grown), 256);

	if (!grown)
		return NULL;
	m->entries = grown;
	m->slots[probe(m, id)] = (uint32_t)(m->count + 1);
	e = &m->entries[m->count++];
	memset(e, 0, sizeof(*e));
	e->id = id;
	return e;
}

int model_add(struct model *m, uint64_t id, int64_t bytes, int64_t allocs, const void *stack)
{
	uint32_t hint = MODEL_NO_HINT;

	return model_add_hinted(m, &hint, id, bytes, allocs, stack);
}

int model_add_hinted(struct model *m, uint32_t *hint, uint64_t id, int64_t bytes, int64_t allocs,
		     const void *stack)
{
	struct entry *e = *hint < m->count && m->entries[*hint].id == id ? &m->entries[*hint] : find(m, id);

	bool created = !e;

	if (!e) {
		e = insert(m, id);
		if (!e)
			return -ENOMEM;
		e->stack = stack;
		/* It was at zero in the previous snapshot. */
		if (m->snapshot > 1)
			points_append(e, m->previous, 0); /* no room: it starts now */
	}
	*hint = (uint32_t)(e - m->entries);
	if (!e->added) {
		e->added = true;
		e->bytes = e->allocs = 0;
	}
	e->bytes += bytes;
	e->allocs += allocs;
	return created ? MODEL_NEW_ENTRY : 0;
}

void model_forget(struct model *m, uint64_t id)
{
	struct entry *e = find(m, id);

	if (!e)
		return;
	if (e->npoints > 1)
		free(e->points.many);
	e->npoints = 0;
}

/* Close e's snapshot: record its value, forget what is older than the window
 * (starting at time start), update its growth. */
static void entry_end(struct model *m, struct entry *e, double start)
{
	if (!e->added)
		e->bytes = e->allocs = 0;
	e->added = false;
	if (e->npoints == 0 || points(e)[e->npoints - 1].bytes != e->bytes)
		points_append(e, m->now, e->bytes);
	points_trim(e, start);
	e->growth = entry_growth(m, e);
}

void model_end(struct model *m)
{
	/* The total's sample goes in first, so that the window's snapshot
	 * times are known to the entries; its bytes are known last. */
	bool pushed = history_push(&m->total, m->now, 0, m->window) == 0;
	double start = m->total.count ? m->total.samples[0].t : m->now;

	m->total_bytes = m->total_allocs = 0;
	for (size_t i = 0; i < m->count;) {
		struct entry *e = &m->entries[i];
		bool added = e->added;

		entry_end(m, e, start);
		if (!added && e->npoints <= 1 && (!e->npoints || points(e)[0].bytes == 0)) {
			drop(m, e); /* the last entry, not yet ended, is here now */
			continue;
		}
		m->total_bytes += e->bytes;
		m->total_allocs += e->allocs;
		i++;
	}
	if (pushed)
		m->total.samples[m->total.count - 1].bytes = (double)m->total_bytes;
	m->total_growth = history_slope(m, &m->total);
}

static int compare_rows(const void *a, const void *b, void *sort)
{
	const struct model_row *x = a, *y = b;
	double kx, ky;

	switch (*(enum model_sort *)sort) {
	case SORT_BYTES:
		kx = (double)x->bytes, ky = (double)y->bytes;
		break;
	case SORT_ALLOCS:
		kx = (double)x->allocs, ky = (double)y->allocs;
		break;
	default:
		kx = x->growth, ky = y->growth;
		break;
	}
	if (kx != ky)
		return kx > ky ? -1 : 1;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

int model_row_compare(const struct model_row *a, const struct model_row *b, enum model_sort sort)
{
	return compare_rows(a, b, &sort);
}

/* rows[0..n) as a heap whose root is the worst row (the first to go). */
static void sift_down(struct model_row *rows, size_t n, size_t i, enum model_sort *sort)
{
	for (;;) {
		size_t worst = i, l = 2 * i + 1, r = l + 1;
		struct model_row tmp;

		if (l < n && compare_rows(&rows[l], &rows[worst], sort) > 0)
			worst = l;
		if (r < n && compare_rows(&rows[r], &rows[worst], sort) > 0)
			worst = r;
		if (worst == i)
			return;
		tmp = rows[i];
		rows[i] = rows[worst];
		rows[worst] = tmp;
		i = worst;
	}
}

static void sift_up(struct model_row *rows, size_t i, enum model_sort *sort)
{
	while (i > 0 && compare_rows(&rows[i], &rows[(i - 1) / 2], sort) > 0) {
		struct model_row tmp = rows[i];

		rows[i] = rows[(i - 1) / 2];
		rows[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
}

/* The best `max` rows are kept in a heap in rows[] itself, then sorted: no
 * copy and no sort of every stack (with 100 k stacks, sorting them all for a
 * top 20 was a fifth of leaktop's CPU). */
size_t model_rank(const struct model *m, enum model_sort sort, struct model_row *rows, size_t max)
{
	size_t n = 0;

	if (max == 0)
		return 0;
	for (size_t i = 0; i < m->count; i++) {
		const struct entry *e = &m->entries[i];
		struct model_row row;

		if (e->bytes == 0 && e->allocs == 0 && e->growth == 0)
			continue;
		row = (struct model_row){ e->id, e->bytes, e->allocs, e->growth, e->stack };
		if (n < max) {
			rows[n] = row;
			sift_up(rows, n++, &sort);
		} else if (compare_rows(&row, &rows[0], &sort) < 0) {
			rows[0] = row;
			sift_down(rows, n, 0, &sort);
		}
	}
	/* The order is total (ties end on the id): arrival order does not show. */
	qsort_r(rows, n, sizeof(*rows), compare_rows, &sort);
	return n;
}

size_t model_recent(const struct model *m, uint64_t id, double *bytes, size_t max)
{
	const struct entry *e = find(m, id);
	size_t first, n;

	if (!e || !e->npoints)
		return 0;
	first = series_start(m, e);
	n = m->total.count - first;
	if (n > max) {
		first += n - max;
		n = max;
	}
	series_values(m, e, first, bytes);
	return n;
}

size_t model_count(const struct model *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->count; i++)
		n += m->entries[i].bytes != 0 || m->entries[i].allocs != 0;
	return n;
}

int64_t model_total_bytes(const struct model *m)
{
	return m->total_bytes;
}

int64_t model_total_allocs(const struct model *m)
{
	return m->total_allocs;
}

double model_total_growth(const struct model *m)
{
	return m->total_growth;
}
