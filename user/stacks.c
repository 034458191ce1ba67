/* Building symbolized stacks from the kernel's stack keys. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "allocators.h"
#include "collector.h"
#include "frame_table.h"
#include "python.h"
#include "stacks.h"

struct stack_table {
	struct symbolizer *sym;
	struct frame_table *frames;
	int traces_fd;
	struct python *python;	/* the target's interpreter, when it has one */
	int py_stacks_fd;
	/* Every stack seen, by key: open addressing, at most half full.  Looked
	 * up for each stack each interval (a tree cost a tenth of a core with
	 * 100 k stacks). */
	struct stack **slots;
	size_t nslots, count;
};

struct stack_table *stack_table_new(struct symbolizer *sym, int traces_fd)
{
	struct stack_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->frames = frame_table_new();
	if (!t->frames) {
		free(t);
		return NULL;
	}
	t->sym = sym;
	t->traces_fd = traces_fd;
	return t;
}

static void free_stack(struct stack *s)
{
	free(s->frames); /* the frames themselves are the frame table's */
	free(s);
}

void stack_table_set_python(struct stack_table *t, struct python *py, int py_stacks_fd)
{
	t->python = py;
	t->py_stacks_fd = py_stacks_fd;
}

void stack_table_free(struct stack_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nslots; i++)
		if (t->slots[i])
			free_stack(t->slots[i]);
	free(t->slots);
	frame_table_free(t->frames);
	free(t);
}

static void hash_bytes(uint64_t *h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		*h ^= p[i];
		*h *= 0x100000001b3ULL;
	}
}

static void hash_string(uint64_t *h, const char *s)
{
	/* The terminating NUL separates fields; a missing one hashes as "\1". */
	if (s)
		hash_bytes(h, s, strlen(s) + 1);
	else
		hash_bytes(h, "\1", 1);
}

uint64_t stack_id_hash(const struct frame *const *frames, int nframes)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (int i = 0; i < nframes; i++) {
		const struct frame *f = frames[i];
		int64_t line = f->line;

		hash_string(&h, f->function);
		if (i == 0)
			continue; /* the allocator is named by its probe; its location
				   * is unknown when the kernel's stack was lost */
		hash_string(&h, f->file);
		hash_bytes(&h, &line, sizeof(line));
		hash_string(&h, f->object);
		if (!f->function)
			hash_bytes(&h, &f->offset, sizeof(f->offset));
	}
	return h;
}

/* A native frame of the interpreter itself (eval loop, object code): folded
 * away when the Python frames say more. */
static bool in_interpreter(const struct stack_table *t, const struct frame *f)
{
	return f->object && strcmp(f->object, python_object_path(t->python)) == 0;
}

/* A stack being built: every frame it can have. */
struct frames_scratch {
	struct frame frames[MAX_STACK_DEPTH + 2 + MAX_PY_FRAMES + 1];
	int n;
};

/* Appends the Python frames of the stack, innermost first; a stack cut at
 * MAX_PY_FRAMES ends with a frame named "[truncated]". */
static void add_python_frames(struct stack_table *t, const struct stack *s, struct frames_scratch *out)
{
	static struct py_stack py; /* too big for the stack; one builder at a time */
	struct frame f;

	if (bpf_map_lookup_elem(t->py_stacks_fd, &s->key.py_stack, &py))
		return;
	for (__u32 i = 0; i < py.depth && i < MAX_PY_FRAMES; i++)
		if (python_frame(t->python, py.frames[i].code, py.frames[i].offset, &f))
			out->frames[out->n++] = f;
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
static void build(struct stack_table *t, struct stack *s)
{
	static struct frames_scratch out; /* one builder at a time */
	uint64_t ips[MAX_STACK_DEPTH];
	int n = read_stack_trace(t->traces_fd, s->key.stack_id, ips);
	bool python = s->key.py_stack && t->python;
	struct frame f;

	out.n = 0;
	memset(&f, 0, sizeof(f));
	if (n > 0)
		symbolizer_resolve(t->sym, ips[0], false, &f);
	f.function = s->key.fn < FN_COUNT ? alloc_fn_names[s->key.fn] : NULL;
	out.frames[out.n++] = f;

	for (int i = 0; i < n || i == 0; i++) {
		uint64_t ip = i == 0 ? s->key.caller : ips[i];

		if (i == 1 && ips[i] == s->key.caller)
			continue;
		if (!symbolizer_resolve(t->sym, ip, true, &f) || (python && in_interpreter(t, &f)))
			break;
		out.frames[out.n++] = f;
	}
	if (python)
		add_python_frames(t, s, &out);

	s->frames = calloc((size_t)out.n, sizeof(*s->frames));
	if (!s->frames)
		return;
	for (int i = 0; i < out.n; i++) {
		s->frames[s->nframes] = frame_table_intern(t->frames, &out.frames[i]);
		if (!s->frames[s->nframes])
			break; /* out of memory: the frames so far */
		s->nframes++;
	}
}

/* The slot of key in slots[nslots] (a power of two): its stack or the empty
 * slot where it belongs. */
static struct stack **slot_of(struct stack **slots, size_t nslots, const struct stack_key *key)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	hash_bytes(&h, key, sizeof(*key));
	for (i = h & (nslots - 1); slots[i]; i = (i + 1) & (nslots - 1))
		if (memcmp(&slots[i]->key, key, sizeof(*key)) == 0)
			break;
	return &slots[i];
}

static bool grow(struct stack_table *t)
{
	size_t n = t->nslots ? 2 * t->nslots : 1024;
	struct stack **slots = calloc(n, sizeof(*slots));

	if (!slots)
		return false;
	for (size_t i = 0; i < t->nslots; i++)
		if (t->slots[i])
			*slot_of(slots, n, &t->slots[i]->key) = t->slots[i];
	free(t->slots);
	t->slots = slots;
	t->nslots = n;
	return true;
}

const struct stack *stack_table_get(struct stack_table *t, const struct stack_key *key)
{
	struct stack **slot, *s;

	if (2 * (t->count + 1) > t->nslots && !grow(t))
		return NULL;
	slot = slot_of(t->slots, t->nslots, key);
	if (*slot)
		return *slot;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->key = *key;
	build(t, s);
	s->id = stack_id_hash(s->frames, s->nframes);
	*slot = s;
	t->count++;
	return s;
}
