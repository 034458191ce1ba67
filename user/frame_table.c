/* Interned frames: fixed-size chunks of frames (they never move, so the
 * pointers frame_table_get hands out stay valid), found by content through
 * an open-addressing set of ids.  Freed ids are handed out again. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "frame_table.h"
#include "grow.h"
#include "hash.h"
#include "string_set.h"

#define CHUNK_FRAMES 4096

/* A frame and the stacks' references to it (0: the id is free). */
struct entry {
	struct frame frame;
	uint32_t refs;
};

struct frame_table {
	struct entry **chunks;		/* frame id = chunk * CHUNK_FRAMES + index */
	size_t nchunks;
	uint32_t *slots;		/* id + 1, 0 when empty; at most half full;
					 * nslots a power of two */
	size_t nslots, count;		/* count: frames held */
	uint32_t next_id;		/* ids below were handed out */
	uint32_t *free_ids;		/* freed ids, to hand out again */
	size_t nfree, free_capacity;
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
	free(t->free_ids);
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
	fnv1a_string(&h, f->build_id);
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
	       same_text(a->object, b->object) && same_text(a->build_id, b->build_id);
}

static struct entry *entry(const struct frame_table *t, uint32_t id)
{
	return &t->chunks[id / CHUNK_FRAMES][id % CHUNK_FRAMES];
}

const struct frame *frame_table_get(const struct frame_table *t, uint32_t id)
{
	return &entry(t, id)->frame;
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

static void put_strings(struct frame_table *t, struct frame *f)
{
	string_set_put(&t->strings, f->function);
	string_set_put(&t->strings, f->file);
	string_set_put(&t->strings, f->object);
	string_set_put(&t->strings, f->build_id);
}

/* An unused id, its chunk allocated; FRAME_ID_NONE when out of memory. */
static uint32_t take_id(struct frame_table *t)
{
	uint32_t id;

	if (t->nfree)
		return t->free_ids[--t->nfree];
	id = t->next_id;
	if (id >= FRAME_ID_NONE - 1)
		return FRAME_ID_NONE;
	if (id / CHUNK_FRAMES == t->nchunks) { /* a new chunk */
		struct entry **chunks = realloc(t->chunks, (t->nchunks + 1) * sizeof(*chunks));

		if (!chunks)
			return FRAME_ID_NONE;
		t->chunks = chunks;
		t->chunks[t->nchunks] = malloc(CHUNK_FRAMES * sizeof(struct entry));
		if (!t->chunks[t->nchunks])
			return FRAME_ID_NONE;
		t->nchunks++;
	}
	t->next_id++;
	return id;
}

static void give_back_id(struct frame_table *t, uint32_t id)
{
	uint32_t *grown = grow_array(t->free_ids, &t->free_capacity, t->nfree + 1, sizeof(*grown), 256);

	if (!grown)
		return; /* out of memory: the id is not used again */
	t->free_ids = grown;
	t->free_ids[t->nfree++] = id;
}

uint32_t frame_table_intern(struct frame_table *t, const struct frame *f)
{
	uint32_t *slot, id;
	struct entry *e;

	if (2 * (t->count + 1) > t->nslots && !grow(t))
		return FRAME_ID_NONE;
	slot = slot_of(t, t->slots, t->nslots, f);
	if (*slot) {
		entry(t, *slot - 1)->refs++;
		return *slot - 1;
	}
	id = take_id(t);
	if (id == FRAME_ID_NONE)
		return FRAME_ID_NONE;
	e = entry(t, id);
	e->frame = *f;
	e->frame.function = string_set_intern(&t->strings, f->function);
	e->frame.file = string_set_intern(&t->strings, f->file);
	e->frame.object = string_set_intern(&t->strings, f->object);
	e->frame.build_id = string_set_intern(&t->strings, f->build_id);
	if ((f->function && !e->frame.function) || (f->file && !e->frame.file) ||
	    (f->object && !e->frame.object) || (f->build_id && !e->frame.build_id)) /* out of memory */
		goto fail;
	e->refs = 1;
	*slot = id + 1;
	t->count++;
	return id;
fail:
	put_strings(t, &e->frame);
	give_back_id(t, id);
	return FRAME_ID_NONE;
}

/* Empties slot i of the index, moving later ones of its probe run back so
 * that every frame stays reachable from its home slot. */
static void unindex(struct frame_table *t, size_t i)
{
	size_t mask = t->nslots - 1, j = i;

	t->slots[i] = 0;
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!t->slots[j])
			return;
		home = frame_hash(frame_table_get(t, t->slots[j] - 1)) & mask;
		/* It may fill the hole unless its home lies after the hole
		 * (cyclically) and at or before j. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->slots[i] = t->slots[j];
			t->slots[j] = 0;
			i = j;
		}
	}
}

void frame_table_put(struct frame_table *t, uint32_t id)
{
	struct entry *e = entry(t, id);

	if (!e->refs || --e->refs)
		return;
	unindex(t, (size_t)(slot_of(t, t->slots, t->nslots, &e->frame) - t->slots));
	put_strings(t, &e->frame);
	memset(&e->frame, 0, sizeof(e->frame));
	t->count--;
	give_back_id(t, id);
}
