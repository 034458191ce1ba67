/* Interned frames: an open-addressing set of pointers into fixed-size chunks
 * (chunks never move, so the pointers handed out stay valid). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "frame_table.h"
#include "hash.h"

#define CHUNK_FRAMES 4096

struct frame_chunk {
	struct frame_chunk *next;
	size_t used;
	struct frame frames[CHUNK_FRAMES];
};

struct frame_table {
	struct frame_chunk *chunks;	/* newest first */
	const struct frame **slots;	/* at most half full; nslots a power of two */
	size_t nslots, count;
	char **strings;			/* the frames' strings, each once; same scheme */
	size_t nstrings_slots, nstrings;
};

struct frame_table *frame_table_new(void)
{
	return calloc(1, sizeof(struct frame_table));
}

void frame_table_free(struct frame_table *t)
{
	if (!t)
		return;
	while (t->chunks) {
		struct frame_chunk *next = t->chunks->next;

		free(t->chunks);
		t->chunks = next;
	}
	free(t->slots);
	for (size_t i = 0; i < t->nstrings_slots; i++)
		free(t->strings[i]);
	free(t->strings);
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

static const struct frame **slot_of(const struct frame **slots, size_t nslots, const struct frame *f)
{
	size_t i;

	for (i = frame_hash(f) & (nslots - 1); slots[i]; i = (i + 1) & (nslots - 1))
		if (same_frame(slots[i], f))
			break;
	return &slots[i];
}

static bool grow(struct frame_table *t)
{
	size_t n = t->nslots ? 2 * t->nslots : 1024;
	const struct frame **slots = calloc(n, sizeof(*slots));

	if (!slots)
		return false;
	for (size_t i = 0; i < t->nslots; i++)
		if (t->slots[i])
			*slot_of(slots, n, t->slots[i]) = t->slots[i];
	free(t->slots);
	t->slots = slots;
	t->nslots = n;
	return true;
}

static char **string_slot(char **slots, size_t nslots, const char *str)
{
	uint64_t h = FNV1A_INIT;
	size_t i;

	fnv1a_string(&h, str);
	for (i = h & (nslots - 1); slots[i]; i = (i + 1) & (nslots - 1))
		if (strcmp(slots[i], str) == 0)
			break;
	return &slots[i];
}

/* The table's own copy of str (NULL stays NULL); false when out of memory. */
static bool intern_string(struct frame_table *t, const char **str)
{
	char **slot;

	if (!*str)
		return true;
	if (2 * (t->nstrings + 1) > t->nstrings_slots) {
		size_t n = t->nstrings_slots ? 2 * t->nstrings_slots : 1024;
		char **slots = calloc(n, sizeof(*slots));

		if (!slots)
			return false;
		for (size_t i = 0; i < t->nstrings_slots; i++)
			if (t->strings[i])
				*string_slot(slots, n, t->strings[i]) = t->strings[i];
		free(t->strings);
		t->strings = slots;
		t->nstrings_slots = n;
	}
	slot = string_slot(t->strings, t->nstrings_slots, *str);
	if (!*slot) {
		*slot = strdup(*str);
		if (!*slot)
			return false;
		t->nstrings++;
	}
	*str = *slot;
	return true;
}

const struct frame *frame_table_intern(struct frame_table *t, const struct frame *f)
{
	const struct frame **slot;
	struct frame *copy;

	if (2 * (t->count + 1) > t->nslots && !grow(t))
		return NULL;
	slot = slot_of(t->slots, t->nslots, f);
	if (*slot)
		return *slot;
	if (!t->chunks || t->chunks->used == CHUNK_FRAMES) {
		struct frame_chunk *c = malloc(sizeof(*c));

		if (!c)
			return NULL;
		c->next = t->chunks;
		c->used = 0;
		t->chunks = c;
	}
	copy = &t->chunks->frames[t->chunks->used];
	*copy = *f;
	if (!intern_string(t, &copy->function) || !intern_string(t, &copy->file) ||
	    !intern_string(t, &copy->object))
		return NULL;
	t->chunks->used++;
	*slot = copy;
	t->count++;
	return copy;
}
