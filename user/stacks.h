/* Symbolized stacks, one per distinct id (the kernel's slots of several keys
 * may name the same frames), counted: held by the slots that name them and
 * by the model's entry, freed with their last holder. */
#ifndef LEAKTOP_STACKS_H
#define LEAKTOP_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "leaktop_types.h"
#include "symbolizer.h"

struct stack {
	struct stack_key key;	/* the key it was first built from */
	uint64_t id;		/* hash of the symbolized frames: stable across runs */
	uint32_t model_hint;	/* where the model keeps its id (model_add_hinted) */
	uint32_t refs;
	int nframes;
	uint32_t frames[];	/* innermost first: frames[0] is the allocator; ids
				 * of frames shared in the table (frame_table.h) */
};

struct stack_table;
struct frame_table;

/* frames: the frame table the stacks' frames are kept in, shared with the
 * stack tables of a session's other processes (their workers' stacks name
 * the same frames). */
struct stack_table *stack_table_new(struct symbolizer *sym, struct frame_table *frames, int traces_fd);
/* Frees its stacks, putting their frames back (the frame table stays). */
void stack_table_free(struct stack_table *t);

struct python;
/* Python frames of stacks built from now on come from py (NULL: none). */
void stack_table_set_python(struct stack_table *t, struct python *py, int py_stacks_fd);

/* The symbolized stack of key, with a reference for the caller: the table's
 * stack of the same id when it has one.  *missing tells that a stack the key
 * names (native or Python) was not in the kernel's maps: the frames are
 * those the caller's address gives.  NULL only when out of memory. */
struct stack *stack_table_build(struct stack_table *t, const struct stack_key *key, bool *missing);

/* Another reference to s; putting back the last one frees it. */
void stack_table_hold(struct stack_table *t, struct stack *s);
void stack_table_put(struct stack_table *t, struct stack *s);

/* Stacks held, and distinct frames in them. */
size_t stack_table_count(const struct stack_table *t);
size_t stack_table_frames(const struct stack_table *t);

/* Frame i of a stack of t. */
const struct frame *stack_table_frame(const struct stack_table *t, const struct stack *s, int i);

/* FNV-1a over each frame's function, file, line and object (and the offset
 * where the function is unknown; only the name for frame 0, the allocator):
 * the same code path gets the same id in every run, whatever the load
 * addresses, and with or without the kernel's part of the stack. */
uint64_t stack_id_hash(const struct frame *const *frames, int nframes);

#endif
