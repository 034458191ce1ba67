/* Building symbolized stacks from the kernel's stack keys. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "allocators.h"
#include "collector.h"
#include "frame_table.h"
#include "grow.h"
#include "hash.h"
#include "id_map.h"
#include "model.h"
#include "python.h"
#include "stacks.h"

struct stack_table {
	struct symbolizer *sym;
	struct frame_table *frames;	/* the session's */
	int traces_fd;
	struct python *python;	/* the target's interpreter, when it has one */
	int py_stacks_fd;
	struct id_map by_id;	/* id -> struct stack * */
};

struct stack_table *stack_table_new(struct symbolizer *sym, struct frame_table *frames, int traces_fd)
{
	struct stack_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->frames = frames;
	t->sym = sym;
	t->traces_fd = traces_fd;
	return t;
}

void stack_table_set_python(struct stack_table *t, struct python *py, int py_stacks_fd)
{
	t->python = py;
	t->py_stacks_fd = py_stacks_fd;
}

/* A stack no one holds: its frames given back, then itself. */
static void release_stack(struct stack_table *t, struct stack *s)
{
	for (int i = 0; i < s->nframes; i++)
		frame_table_put(t->frames, s->frames[i]);
	free(s);
}

static void free_stack(void *ctx, uint64_t id, uint64_t stack)
{
	(void)id;
	release_stack(ctx, (struct stack *)(uintptr_t)stack);
}

void stack_table_free(struct stack_table *t)
{
	if (!t)
		return;
	id_map_each(&t->by_id, free_stack, t);
	id_map_free(&t->by_id);
	free(t);
}

uint64_t stack_id_hash(const struct frame *const *frames, int nframes)
{
	uint64_t h = FNV1A_INIT;

	for (int i = 0; i < nframes; i++) {
		const struct frame *f = frames[i];
		int64_t line = f->line;

		fnv1a_string(&h, f->function);
		if (i == 0)
			continue; /* the allocator is named by its probe; its location
				   * is unknown when the kernel's stack was lost */
		fnv1a_string(&h, f->file);
		fnv1a(&h, &line, sizeof(line));
		fnv1a_string(&h, f->object);
		if (!f->function)
			fnv1a(&h, &f->offset, sizeof(f->offset));
	}
	return h;
}

/* A native frame of the interpreter itself (eval loop, object code): folded
 * away when the Python frames say more. */
static bool in_interpreter(const struct stack_table *t, const struct frame *f)
{
	return f->object && strcmp(f->object, python_object_path(t->python)) == 0;
}

#define MAX_FRAMES (MAX_STACK_DEPTH + 2 + MAX_PY_FRAMES + 1)

/* A stack being built: every frame it can have. */
struct frames_scratch {
	struct frame frames[MAX_FRAMES];
	int n;
};

/* Appends the Python frames of the stack, innermost first (one whose code
 * object is gone is unknown); a stack cut at MAX_PY_FRAMES ends with a frame
 * named "[truncated]".  *missing: the Python stack is no longer stored. */
static void add_python_frames(struct stack_table *t, const struct stack_key *key, struct frames_scratch *out,
			      bool *missing)
{
	static struct py_stack py; /* too big for the stack; one builder at a time */
	struct frame f;

	if (bpf_map_lookup_elem(t->py_stacks_fd, &key->py_stack, &py)) {
		*missing = true;
		return;
	}
	for (__u32 i = 0; i < py.depth && i < MAX_PY_FRAMES; i++) {
		python_frame(t->python, py.frames[i].code, py.frames[i].offset, py.frames[i].identity, &f);
		out->frames[out->n++] = f;
	}
	if (py.truncated) {
		memset(&f, 0, sizeof(f));
		f.kind = FRAME_PYTHON;
		f.function = "[truncated]";
		out->frames[out->n++] = f;
	}
}

/* frames[0]: the allocator, named by the probe that fired (aliases such as
 * __libc_malloc would be as true, but less telling); frames[1]: the caller
 * read at the stack pointer; then the kernel's unwind (CFI, else frame
 * pointers), cut at the first address that is not a plausible return address.  With Python frames, the
 * native ones stop at the first frame of the interpreter and the Python
 * stack follows. */
static int build(struct stack_table *t, const struct stack_key *key, uint32_t *frames, bool *missing)
{
	static struct frames_scratch out; /* one builder at a time */
	uint64_t ips[MAX_STACK_DEPTH];
	int n = read_stack_trace(t->traces_fd, key->stack_id, ips), nframes = 0;
	bool python = key->py_stack && t->python;
	struct frame f;

	*missing = key->stack_id >= 0 && n == 0;
	symbolizer_trim(t->sym); /* before any frame of this stack is resolved */
	out.n = 0;
	memset(&f, 0, sizeof(f));
	if (n > 0)
		symbolizer_resolve(t->sym, ips[0], false, &f);
	f.function = key->fn < FN_COUNT ? alloc_fn_names[key->fn] : NULL;
	out.frames[out.n++] = f;

	for (int i = 0; i < n || i == 0; i++) {
		uint64_t ip = i == 0 ? key->caller : ips[i];

		if (i == 1 && ips[i] == key->caller)
			continue;
		/* The caller read at [sp] is a true frame: if it resolves to
		 * nothing, the mappings may be from before the code came (a
		 * stack named within 50 ms of an exec or dlopen): read again. */
		if (!symbolizer_resolve(t->sym, ip, true, &f) &&
		    !(i == 0 && symbolizer_refresh(t->sym) && symbolizer_resolve(t->sym, ip, true, &f))) {
			/* Code no file covers (a JIT's, an ffi closure): shown by
			 * address. */
			if (i == 0) {
				memset(&f, 0, sizeof(f));
				f.offset = ip;
				out.frames[out.n++] = f;
			}
			break;
		}
		if (python && in_interpreter(t, &f))
			break;
		out.frames[out.n++] = f;
	}
	if (python)
		add_python_frames(t, key, &out, missing);

	for (int i = 0; i < out.n; i++) {
		frames[nframes] = frame_table_intern(t->frames, &out.frames[i]);
		if (frames[nframes] == FRAME_ID_NONE)
			break; /* out of memory: the frames so far */
		nframes++;
	}
	return nframes;
}

struct stack *stack_table_build(struct stack_table *t, const struct stack_key *key, bool *missing)
{
	static uint32_t frames[MAX_FRAMES];
	static const struct frame *resolved[MAX_FRAMES];
	struct stack *s;
	uint64_t id;
	int n;

	n = build(t, key, frames, missing);
	for (int i = 0; i < n; i++)
		resolved[i] = frame_table_get(t->frames, frames[i]);
	id = stack_id_hash(resolved, n);
	s = (struct stack *)(uintptr_t)id_map_get(&t->by_id, id);
	if (!s) {
		s = malloc(sizeof(*s) + (size_t)n * sizeof(s->frames[0]));
		if (s && id_map_set(&t->by_id, id, (uintptr_t)s)) {
			free(s);
			s = NULL;
		}
		if (s) {
			s->key = *key;
			s->id = id;
			s->model_hint = MODEL_NO_HINT;
			s->refs = 1;
			s->nframes = n;
			memcpy(s->frames, frames, (size_t)n * sizeof(s->frames[0]));
			return s;
		}
	} else {
		s->refs++;
	}
	/* The table's stack of this id holds its own references to the
	 * frames (or there is no stack: out of memory). */
	for (int i = 0; i < n; i++)
		frame_table_put(t->frames, frames[i]);
	return s;
}

void stack_table_hold(struct stack_table *t, struct stack *s)
{
	(void)t;
	s->refs++;
}

void stack_table_put(struct stack_table *t, struct stack *s)
{
	if (--s->refs)
		return;
	id_map_set(&t->by_id, s->id, 0);
	release_stack(t, s);
}

size_t stack_table_count(const struct stack_table *t)
{
	return t->by_id.count;
}

size_t stack_table_frames(const struct stack_table *t)
{
	return frame_table_count(t->frames);
}

const struct frame *stack_table_frame(const struct stack_table *t, const struct stack *s, int i)
{
	return frame_table_get(t->frames, s->frames[i]);
}
