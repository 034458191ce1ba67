/* SPDX-License-Identifier: MIT */
/* The Python stack of the calling thread, walked in the kernel at an
 * allocation probe (included by leaktop.bpf.c, after hash_mix()).
 *
 * CPython 3.11: _PyRuntime.gilstate.tstate_current is the thread state of the
 * thread holding the GIL; when that is the calling thread, its cframe's
 * current_frame starts a chain of _PyInterpreterFrame linked by `previous`.
 * Each frame gives its code object and its last instruction; userspace turns
 * them into file:line and function later, from /proc/PID/mem.  Stacks are
 * stored once, keyed by a hash of their frames. */
#ifndef PYTHON_STACK_BPF_H
#define PYTHON_STACK_BPF_H

/* Set by userspace once it has found the interpreter in the target. */
struct python_config python = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* resized by userspace (--max-stacks) */
	__type(key, __u64);
	__type(value, struct py_stack);
} py_stacks SEC(".maps");

/* Too big for the BPF stack: one scratch stack per thread (not per CPU: uprobe
 * programs can be preempted by another thread's on the same CPU), and the
 * code object fields read at each frame (picked at offsets known only at
 * run time, which the verifier allows in a map value, not on the stack). */
struct py_scratch {
	struct py_stack st;
	__u32 code_window[PY_CODE_WINDOW / 4];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct py_scratch);
} py_scratch SEC(".maps");

static __always_inline __u64 read_pointer(__u64 base, __u32 offset)
{
	__u64 value = 0;

	if (bpf_probe_read_user(&value, sizeof(value), (void *)(base + offset)))
		return 0;
	return value;
}

struct py_walk {
	struct py_scratch *scratch; /* the thread's */
	__u64 frame;	/* next _PyInterpreterFrame to read */
	__u64 hash;
	__u64 last_code;	/* the code object of the last frame and its */
	__u32 last_identity;	/* identity: recursion reads it once */
	__u32 depth;
};

/* The 32-bit word at byte `at` of a code window (4-aligned). */
static __always_inline __u64 code_word(const __u32 *window, __u32 at)
{
	return window[(at / 4) & (PY_CODE_WINDOW / 4 - 1)];
}

/* The code object's identity (py_code_identity), from one read of its
 * first line, file and name fields; 0 when unreadable. */
static __always_inline __u32 code_identity(struct py_scratch *scratch, __u64 code)
{
	__u32 *window = scratch->code_window, base = python.code_window;
	__u32 file = python.code_filename - base, name = python.code_name - base;
	__u32 size = python.code_window_size;

	/* Just the fields: a code object can end a mapping. */
	if (size > PY_CODE_WINDOW || bpf_probe_read_user(window, size, (void *)(code + base)))
		return 0;
	return py_code_identity(code_word(window, python.code_first_line - base),
				code_word(window, file) | code_word(window, file + 4) << 32,
				code_word(window, name) | code_word(window, name + 4) << 32);
}

/* One frame of the walk (a bpf_loop callback, so that the verifier checks
 * it once, not once per frame and path). */
static long walk_frame(__u32 index, struct py_walk *w)
{
	__u32 base = python.frame_window;
	struct py_stack *st = &w->scratch->st;
	__u64 window[PY_FRAME_WINDOW / 8], code, instr, frame = w->frame;

	/* One read for the three fields: each read of user memory costs about
	 * as much as the rest of the step. */
	if (!frame || bpf_probe_read_user(window, sizeof(window), (void *)(frame + base)))
		return 1;
	code = window[((python.frame_code - base) / 8) & (PY_FRAME_WINDOW / 8 - 1)];
	instr = window[((python.frame_prev_instr - base) / 8) & (PY_FRAME_WINDOW / 8 - 1)];
	w->frame = window[((python.frame_previous - base) / 8) & (PY_FRAME_WINDOW / 8 - 1)];
	if (code) {
		struct py_frame *f = &st->frames[w->depth & (MAX_PY_FRAMES - 1)];

		f->code = code;
		f->offset = (__s32)(instr - (code + python.code_bytecode));
		/* A code object freed and another made at its address (exec,
		 * templates) must not fall into the old one's stacks. */
		if (code != w->last_code) {
			w->last_code = code;
			w->last_identity = code_identity(w->scratch, code);
		}
		f->identity = w->last_identity;
		w->hash = hash_mix(hash_mix(hash_mix(w->hash, code), instr - code), f->identity);
		w->depth++;
	}
	return 0;
}

/* Returns the py_stacks key of this thread's Python stack, 0 when it is
 * running no Python code (or does not hold the GIL). */
static __always_inline __u64 python_stack(__u32 tid)
{
	struct py_walk w = { .hash = 0xcbf29ce484222325ULL };
	__u64 runtime = python.runtime, tstate;
	__u32 native_tid = 0;
	struct py_scratch *scratch;
	struct py_stack *st;

	if (!runtime)
		return 0;
	tstate = read_pointer(runtime, python.tstate_current);
	if (!tstate)
		return 0;
	if (bpf_probe_read_user(&native_tid, sizeof(native_tid),
				(void *)(tstate + python.tstate_native_thread_id)) ||
	    native_tid != tid)
		return 0;
	scratch = bpf_task_storage_get(&py_scratch, bpf_get_current_task_btf(), 0,
				       BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!scratch)
		return 0;
	w.scratch = scratch;
	st = &scratch->st;
	w.frame = read_pointer(read_pointer(tstate, python.tstate_cframe), python.cframe_current_frame);
	bpf_loop(MAX_PY_FRAMES, walk_frame, &w, 0);
	if (!w.depth)
		return 0;
	st->depth = w.depth;
	st->truncated = w.frame != 0;
	w.hash = hash_mix(w.hash, st->truncated) | 1; /* 0 means "no Python stack" */
	/* Mostly a stack seen before: a lookup does not take the bucket lock. */
	if (!bpf_map_lookup_elem(&py_stacks, &w.hash) &&
	    bpf_map_update_elem(&py_stacks, &w.hash, st, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&py_stacks, &w.hash)) {
		count_lost(LOST_PY_STACKS_FULL);
		return 0;
	}
	return w.hash;
}

#endif
