/* The model: history per stack id, windowed growth, ranking. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"

struct sample {
	double t;
	double bytes;
};

/* Samples of the last window, oldest first. */
struct history {
	struct sample *samples;
	size_t count, capacity;
};

struct entry {
	uint64_t id;
	int64_t bytes, allocs;	/* in the snapshot being built / the latest */
	double growth;
	const void *stack;
	uint64_t seen;		/* snapshot number this entry was last added in */
	struct history history;
};

struct model {
	double window;
	double now, previous;	/* times of the latest and the one before */
	uint64_t snapshot;	/* number of the current snapshot, from 1 */
	struct entry *entries;	/* sorted by id */
	size_t count, capacity;
	int64_t total_bytes, total_allocs;
	double total_growth;
	struct history total;
};

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
	if (h->count == h->capacity) {
		size_t cap = h->capacity ? 2 * h->capacity : 4;
		struct sample *grown = realloc(h->samples, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		h->samples = grown;
		h->capacity = cap;
	}
	h->samples[h->count++] = (struct sample){ t, bytes };
	return 0;
}

static double history_slope(const struct history *h)
{
	double t[h->count ? h->count : 1], v[h->count ? h->count : 1];

	for (size_t i = 0; i < h->count; i++) {
		/* Relative times keep the sums well conditioned. */
		t[i] = h->samples[i].t - h->samples[0].t;
		v[i] = h->samples[i].bytes;
	}
	return slope(t, v, h->count);
}

struct model *model_new(double window_s)
{
	struct model *m = calloc(1, sizeof(*m));

	if (m)
		m->window = window_s;
	return m;
}

void model_reset(struct model *m)
{
	double window = m->window;

	for (size_t i = 0; i < m->count; i++)
		free(m->entries[i].history.samples);
	free(m->entries);
	free(m->total.samples);
	memset(m, 0, sizeof(*m));
	m->window = window;
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

static struct entry *find(const struct model *m, uint64_t id, size_t *pos)
{
	size_t lo = 0, hi = m->count;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (m->entries[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return lo < m->count && m->entries[lo].id == id ? &m->entries[lo] : NULL;
}

int model_add(struct model *m, uint64_t id, int64_t bytes, int64_t allocs, const void *stack)
{
	size_t pos;
	struct entry *e = find(m, id, &pos);

	if (!e) {
		if (m->count == m->capacity) {
			size_t cap = m->capacity ? 2 * m->capacity : 256;
			struct entry *grown = realloc(m->entries, cap * sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			m->entries = grown;
			m->capacity = cap;
		}
		memmove(&m->entries[pos + 1], &m->entries[pos], (m->count - pos) * sizeof(*e));
		m->count++;
		e = &m->entries[pos];
		memset(e, 0, sizeof(*e));
		e->id = id;
		/* It was at zero in the previous snapshot. */
		if (m->snapshot > 1 && history_push(&e->history, m->previous, 0, m->window))
			return -ENOMEM;
	}
	if (e->seen != m->snapshot) {
		e->seen = m->snapshot;
		e->bytes = e->allocs = 0;
		e->stack = stack;
	}
	e->bytes += bytes;
	e->allocs += allocs;
	return 0;
}

void model_end(struct model *m)
{
	m->total_bytes = m->total_allocs = 0;
	for (size_t i = 0; i < m->count; i++) {
		struct entry *e = &m->entries[i];

		if (e->seen != m->snapshot)
			e->bytes = e->allocs = 0;
		history_push(&e->history, m->now, (double)e->bytes, m->window);
		e->growth = history_slope(&e->history);
		m->total_bytes += e->bytes;
		m->total_allocs += e->allocs;
	}
	history_push(&m->total, m->now, (double)m->total_bytes, m->window);
	m->total_growth = history_slope(&m->total);
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

size_t model_rank(const struct model *m, enum model_sort sort, struct model_row *rows, size_t max)
{
	struct model_row *all = malloc((m->count ? m->count : 1) * sizeof(*all));
	size_t n = 0;

	if (!all)
		return 0;
	for (size_t i = 0; i < m->count; i++) {
		const struct entry *e = &m->entries[i];

		if (e->bytes == 0 && e->allocs == 0 && e->growth == 0)
			continue;
		all[n++] = (struct model_row){ e->id, e->bytes, e->allocs, e->growth, e->stack };
	}
	qsort_r(all, n, sizeof(*all), compare_rows, &sort);
	if (n > max)
		n = max;
	memcpy(rows, all, n * sizeof(*rows));
	free(all);
	return n;
}

size_t model_recent(const struct model *m, uint64_t id, double *bytes, size_t max)
{
	size_t pos, first, n;
	const struct entry *e = find(m, id, &pos);

	if (!e)
		return 0;
	n = e->history.count < max ? e->history.count : max;
	first = e->history.count - n;
	for (size_t i = 0; i < n; i++)
		bytes[i] = e->history.samples[first + i].bytes;
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
