/* Symbolized frames stored once: stacks share most of their frames (main,
 * the request loop, the handler...), so each stack keeps 4-byte ids of frames
 * held here instead of copies (100 k stacks of ~24 frames: ~10 MiB instead
 * of ~110 MiB).  Frames are counted: the last stack to let go of one frees
 * it, so the table holds only what live stacks use. */
#ifndef LEAKTOP_FRAME_TABLE_H
#define LEAKTOP_FRAME_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include "symbolizer.h"

#define FRAME_ID_NONE UINT32_MAX

struct frame_table;

struct frame_table *frame_table_new(void);
void frame_table_free(struct frame_table *t);

/* The id of the table's copy of f, with one more reference to it: equal in
 * every field, strings compared by content and copied into the table (a
 * Python code object's names are freed when the object goes away; the stacks
 * that named it stay).  FRAME_ID_NONE only when out of memory. */
uint32_t frame_table_intern(struct frame_table *t, const struct frame *f);

/* Puts back a reference frame_table_intern gave; the last one frees the
 * frame (its id may then be handed out for another). */
void frame_table_put(struct frame_table *t, uint32_t id);

/* The frame of an id frame_table_intern returned; valid until the id's last
 * reference is put back. */
const struct frame *frame_table_get(const struct frame_table *t, uint32_t id);

/* Distinct frames held. */
size_t frame_table_count(const struct frame_table *t);

#endif
