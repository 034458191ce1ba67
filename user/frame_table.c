/* Interned frames: fixed-size chunks of frames (they never move, so the
 * pointers frame_table_get hands out stay valid), found by content through
 * an open-addressing set of ids. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "frame_table.h"
#include "hash.h"
#include "string_set.h"

#define CHUNK_FRAMES 4096

struct frame_table {
	struct frame **chunks;		/* frame id = chunk * CHUNK_FRAMES + index */
	size_t nchunks;
	uint32_t *slots;		/* id + 1, 0 when empty; at most half full;
					 * nslots a power of two */
	size_t nslots, count;
	void *strings;			/* the frames' strings, each once (string_set.h) */
};

struct frame_table *frame_table_new(void)
{
	return calloc(1, sizeof(struct frame_table));
}

void frame_table_free(struct frame_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nchunks; i++)
		free(t->chunks[i]);
	free(t->chunks);
	free(t->slots);
	string_set_free(&t->strings);
	free(t);
}

size_t frame_table_count(const struct frame_table *t)
{
	return t->count;
}

static uint64_t frame_hash(const struct frame *f)
{
	uint64_t h = FNV1A_INIT;
	int64_t line = f->line, kind = f->kind;

	fnv1a_string(&h, f->function);
	fnv1a_string(&h, f->file);
	fnv1a_string(&h, f->object);
	fnv1a(&h, &line, sizeof(line));
	fnv1a(&h, &kind, sizeof(kind));
	fnv1a(&h, &f->offset, sizeof(f->offset));
	return h;
}

static bool same_text(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_frame(const struct frame *a, const struct frame *b)
{
	return a->line == b->line && a->kind == b->kind && a->offset == b->offset &&
	       same_text(a->function, b->function) && same_text(a->file, b->file) &&
	       same_text(a->object, b->object);
}

const struct frame *frame_table_get(const struct frame_table *t, uint32_t id)
{
	return &t->chunks[id / CHUNK_FRAMES][id % CHUNK_FRAMES];
}

static uint32_t *slot_of(const struct frame_table *t, uint32_t *slots, size_t nslots,
			 const struct frame *f)
{
	size_t i;

	for (i = frame_hash(f) & (nslots - 1); slots[i]; i = (i + 1) & (nslots - 1))
		if (same_frame(frame_table_get(t, slots[i] - 1), f))
			break;
	return &slots[i];
}

static bool grow(struct frame_table *t)
{
	size_t n = t->nslots ? 2 * t->nslots : 1024;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return false;
	for (size_t i = 0; i < t->nslots; i++)
		if (t->slots[i])
			*slot_of(t, slots, n, frame_table_get(t, t->slots[i] - 1)) = t->slots[i];
	free(t->slots);
	t->slots = slots;
	t->nslots = n;
	return true;
}

/* The table's own copy of str (NULL stays NULL); false when out of memory. */
static bool intern_string(struct frame_table *t, const char **str)
{
	const char *copy = string_set_intern(&t->strings, *str);

	if (*str && !copy)
		return false;
	*str = copy;
	return true;
}

uint32_t frame_table_intern(struct frame_table *t, const struct frame *f)
{
	uint32_t *slot, id = (uint32_t)t->count;
	struct frame *copy;

	if (t->count >= FRAME_ID_NONE - 1 || (2 * (t->count + 1) > t->nslots && !grow(t)))
		return FRAME_ID_NONE;
	slot = slot_of(t, t->slots, t->nslots, f);
	if (*slot)
		return *slot - 1;
	if (id / CHUNK_FRAMES == t->nchunks) { /* a new chunk */
		struct frame **chunks = realloc(t->chunks, (t->nchunks + 1) * sizeof(*chunks));

		if (!chunks)
			return FRAME_ID_NONE;
		t->chunks = chunks;
		t->chunks[t->nchunks] = malloc(CHUNK_FRAMES * sizeof(struct frame));
		if (!t->chunks[t->nchunks])
			return FRAME_ID_NONE;
		t->nchunks++;
	}
	copy = &t->chunks[id / CHUNK_FRAMES][id % CHUNK_FRAMES];
	*copy = *f;
	if (!intern_string(t, &copy->function) || !intern_string(t, &copy->file) ||
	    !intern_string(t, &copy->object))
		return FRAME_ID_NONE;
	*slot = id + 1;
	t->count++;
	return id;
}
