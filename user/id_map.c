/* Open addressing with linear probing over a mix of the id's bits (ids are
 * often hashes already, but not always: trace ids are 31 bits). */
#include <errno.h>
#include <stdlib.h>
#include "id_map.h"

static size_t home(const struct id_map *m, uint64_t id)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return (size_t)id & (m->nslots - 1);
}

/* The slot holding id, or the empty one where it would go. */
static size_t find(const struct id_map *m, uint64_t id)
{
	size_t i = home(m, id);

	while (m->values[i] && m->ids[i] != id)
		i = (i + 1) & (m->nslots - 1);
	return i;
}

uint64_t id_map_get(const struct id_map *m, uint64_t id)
{
	return m->nslots ? m->values[find(m, id)] : 0;
}

static int grow(struct id_map *m)
{
	struct id_map bigger = { .nslots = m->nslots ? 2 * m->nslots : 256 };

	bigger.ids = malloc(bigger.nslots * sizeof(*bigger.ids));
	bigger.values = calloc(bigger.nslots, sizeof(*bigger.values));
	if (!bigger.ids || !bigger.values) {
		free(bigger.ids);
		free(bigger.values);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->nslots; i++)
		if (m->values[i]) {
			size_t j = find(&bigger, m->ids[i]);

			bigger.ids[j] = m->ids[i];
			bigger.values[j] = m->values[i];
		}
	bigger.count = m->count;
	id_map_free(m);
	*m = bigger;
	return 0;
}

/* Empties slot i, moving later entries of its probe run back into the hole
 * when their home slot allows it. */
static void remove_at(struct id_map *m, size_t i)
{
	size_t mask = m->nslots - 1, j = i;

	m->values[i] = 0;
	m->count--;
	for (;;) {
		j = (j + 1) & mask;
		if (!m->values[j])
			return;
		if (((j - home(m, m->ids[j])) & mask) >= ((j - i) & mask)) {
			m->ids[i] = m->ids[j];
			m->values[i] = m->values[j];
			m->values[j] = 0;
			i = j;
		}
	}
}

int id_map_set(struct id_map *m, uint64_t id, uint64_t value)
{
	size_t i;

	if (!value) {
		if (m->nslots && m->values[i = find(m, id)])
			remove_at(m, i);
		return 0;
	}
	if (2 * (m->count + 1) > m->nslots && grow(m))
		return -ENOMEM;
	i = find(m, id);
	if (!m->values[i]) {
		m->ids[i] = id;
		m->count++;
	}
	m->values[i] = value;
	return 0;
}

void id_map_each(const struct id_map *m, void (*fn)(void *ctx, uint64_t id, uint64_t value), void *ctx)
{
	for (size_t i = 0; i < m->nslots; i++)
		if (m->values[i])
			fn(ctx, m->ids[i], m->values[i]);
}

void id_map_free(struct id_map *m)
{
	free(m->ids);
	free(m->values);
	m->ids = m->values = NULL;
	m->nslots = m->count = 0;
}
