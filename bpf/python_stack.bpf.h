/* SPDX-License-Identifier: MIT */
/* The Python stack of the calling thread, walked in the kernel at an
 * allocation probe (included by leaktop.bpf.c, after hash_mix()).
 *
 * The thread's PyThreadState: up to CPython 3.11 _PyRuntime names the thread
 * holding the GIL, which must be the caller; from 3.12 a thread-local holds
 * the thread's own (NULL while it does not hold the GIL).  Its current frame
 * (through a _PyCFrame in 3.11 and 3.12) starts a chain of frames linked by
 * `previous` (3.11+: _PyInterpreterFrame; 3.10: frame objects, f_back).
 * Each frame gives its code object and its current instruction; userspace
 * turns them into file:line and function later, from /proc/PID/mem.  Stacks
 * are stored once, keyed by a hash of their frames. */
#ifndef PYTHON_STACK_BPF_H
#define PYTHON_STACK_BPF_H

#define PY_STACKREF_TAG_BITS 3ULL
/* Bytes read at once below a frame: a power of two, at most a page. */
#define PY_SPAN 2048u

/* Set by userspace once it has found the interpreter in the target. */
struct python_config python = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* resized by userspace (--max-stacks) */
	__type(key, __u64);
	__type(value, struct py_stack);
} py_stacks SEC(".maps");

/* Too big for the BPF stack: one scratch stack per thread (not per CPU: uprobe
 * programs can be preempted by another thread's on the same CPU), the code
 * object fields read at each frame and the memory holding the frames (their
 * fields are picked at offsets known only at run time, which the verifier
 * allows in a map value, not on the stack). */
struct py_scratch {
	struct py_stack st;
	__u64 code[PY_WINDOW / 8];
	/* The thread's memory below the last frame read (py_frame_read()). */
	__u64 span_base;
	__u32 span_len;
	__u64 span[PY_SPAN / 8]; /* words: a byte array's are read a byte at a time */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct py_scratch);
} py_scratch SEC(".maps");

static __always_inline __u64 read_pointer(__u64 base, __u64 offset)
{
	__u64 value = 0;

	if (bpf_probe_read_user(&value, sizeof(value), (void *)(base + offset)))
		return 0;
	return value;
}

/* The naturally aligned field at byte `byte` of memory read into words
 * (nwords of them, a power of two; read from an 8-aligned address). */
static __always_inline __u64 field_u64(const __u64 *words, __u32 nwords, __u32 byte)
{
	return words[(byte / 8) & (nwords - 1)];
}

static __always_inline __u32 field_u32(const __u64 *words, __u32 nwords, __u32 byte)
{
	return field_u64(words, nwords, byte) >> ((byte & 4) * 8);
}

static __always_inline __u8 field_u8(const __u64 *words, __u32 nwords, __u32 byte)
{
	return field_u64(words, nwords, byte) >> ((byte & 7) * 8);
}

/* Makes the span hold the frame fields at addr (size bytes, 8-aligned) and
 * says where they start in it (*off, 8-aligned).  From 3.11 on, a thread's
 * frames lie one after the other in its data stack, the callers below: one
 * read of the memory below a frame, up to the start of its page, holds the
 * next frames too (each read of user memory costs about as much as a frame's
 * whole step).  Other frames (3.10's frame objects, generators') are read
 * where they are. */
static __always_inline bool py_frame_read(struct py_scratch *scratch, __u64 addr, __u32 size, __u32 *off)
{
	/* end rounded up to a word: the same page as the last field's byte */
	__u64 at = addr - scratch->span_base, end = addr + ((size + 7) & ~7u), low = addr & ~4095ULL;
	__u32 len;

	if (size > PY_WINDOW || (addr & 7))
		return false;
	if (at >= scratch->span_len || scratch->span_len - at < size) {
		scratch->span_len = 0;
		if (end - low > PY_SPAN)
			low = end - PY_SPAN;
		len = end - low;
		barrier_var(len);
		if (len < size || len > PY_SPAN)
			return false;
		if (bpf_probe_read_user(scratch->span, len, (void *)low))
			return false;
		scratch->span_base = low;
		scratch->span_len = len;
		at = addr - low;
	}
	*off = (__u32)at;
	return true;
}

struct py_walk {
	struct py_scratch *scratch; /* the thread's */
	__u64 frame;	/* next frame to read */
	__u64 hash;
	__u64 last_code;	/* the code object of the last frame and its */
	__u32 last_identity;	/* identity: recursion reads it once */
	__u32 depth;
};

/* The code object's identity (py_code_identity), from one read of its
 * first line, file and name fields; 0 when unreadable. */
static __always_inline __u32 code_identity(struct py_scratch *scratch, __u64 code)
{
	__u32 base = python.code_window, size = python.code_window_size;
	/* Read onto the BPF stack, then copied: the kernel checks the
	 * destination of every read of user memory (hardened usercopy), and a
	 * buffer on the stack passes at once where map memory is looked up
	 * among the slab's objects. */
	__u64 buf[PY_WINDOW / 8] = {};

	/* Just the fields: a code object can end a mapping. */
	if (size > PY_WINDOW || bpf_probe_read_user(buf, size, (void *)(code + base)))
		return 0;
	for (__u32 i = 0; i < PY_WINDOW / 8; i++)
		scratch->code[i] = buf[i];
	return py_code_identity(field_u32(scratch->code, PY_WINDOW / 8, python.code_first_line - base),
				field_u64(scratch->code, PY_WINDOW / 8, python.code_filename - base),
				field_u64(scratch->code, PY_WINDOW / 8, python.code_name - base));
}

/* One frame of the walk; non-zero to stop. */
static __always_inline long walk_frame(struct py_walk *w)
{
	__u32 base = python.frame_window, size = python.frame_window_size, off = 0, rel;
	struct py_scratch *scratch = w->scratch;
	struct py_stack *st = &scratch->st;
	__u64 code, instr, frame = w->frame;
	__s32 offset;

	/* One read for the fields: each read of user memory costs about as
	 * much as the rest of the step. */
	if (!frame || !py_frame_read(scratch, frame + base, size, &off))
		return 1;
	rel = off - base; /* a field at frame + f is at byte rel + f of the span */
	/* 3.14+: f_executable is a _PyStackRef, the object's address with tag
	 * bits (Py_TAG_BITS: the low two at most) that objects, aligned to 8,
	 * never have: cleared (a no-op before 3.14). */
	code = field_u64(scratch->span, PY_SPAN / 8, rel + python.frame_code) & ~PY_STACKREF_TAG_BITS;
	w->frame = field_u64(scratch->span, PY_SPAN / 8, rel + python.frame_previous);
	if (python.frame_owner != PY_NO_FIELD &&
	    field_u8(scratch->span, PY_SPAN / 8, rel + python.frame_owner) >= python.owner_cstack)
		return 0; /* the eval loop's entry frame (or 3.15's base frame): no Python code */
	if (python.instr_is_index) {
		offset = (__s32)field_u32(scratch->span, PY_SPAN / 8, rel + python.frame_instr) * 2;
	} else {
		instr = field_u64(scratch->span, PY_SPAN / 8, rel + python.frame_instr);
		offset = (__s32)(instr - (code + python.code_bytecode));
	}
	if (code) {
		struct py_frame *f = &st->frames[w->depth & (MAX_PY_FRAMES - 1)];

		/* A code object freed and another made at its address (exec,
		 * templates) must not fall into the old one's stacks. */
		if (code != w->last_code) {
			w->last_code = code;
			w->last_identity = code_identity(scratch, code);
		}
		f->code = code;
		f->offset = offset;
		f->identity = w->last_identity;
		w->hash = hash_mix(hash_mix(hash_mix(w->hash, code), (__u32)offset), f->identity);
		w->depth++;
	}
	return 0;
}

/* Frames per bpf_loop callback: fewer calls for a walk. */
#define PY_FRAMES_PER_STEP 2

/* Frames of the walk (a bpf_loop callback, so that the verifier checks it
 * once, not once per frame and path). */
static long walk_frames(__u32 index, struct py_walk *w)
{
#pragma unroll
	for (int i = 0; i < PY_FRAMES_PER_STEP; i++)
		if (walk_frame(w))
			return 1;
	return 0;
}

/* The calling thread's PyThreadState, 0 when it has none or (up to 3.11)
 * does not hold the GIL. */
static __always_inline __u64 py_thread_state(__u32 tid)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 tp = task->thread.fsbase, tstate, thread = 0;

	switch (python.tstate_from) {
	case PY_TSTATE_TLS:
		return read_pointer(tp, python.tls_offset);
	case PY_TSTATE_TLS_MODULE: {
		/* x86-64 glibc: the DTV pointer is the TCB's second word; its
		 * entries are 16 bytes, the word before the first its length
		 * (a thread's DTV can predate the dlopen of the module); an
		 * unallocated block (the thread never touched it) is -1. */
		__u64 dtv = read_pointer(tp, 8), block;

		if (!dtv || read_pointer(dtv, -16) < python.tls_module)
			return 0;
		block = read_pointer(dtv, (__u64)python.tls_module * 16);
		if (!block || block == (__u64)-1)
			return 0;
		return read_pointer(block, python.tls_offset);
	}
	default:
		tstate = read_pointer(python.runtime, python.tstate_current);
		if (!tstate ||
		    bpf_probe_read_user(&thread, python.thread_is_pthread ? 8 : 4,
					(void *)(tstate + python.tstate_thread)) ||
		    thread != (python.thread_is_pthread ? tp : tid))
			return 0;
		return tstate;
	}
}

/* Returns the py_stacks key of this thread's Python stack, 0 when it is
 * running no Python code (or does not hold the GIL). */
static __always_inline __u64 python_stack(void)
{
	struct py_walk w = { .hash = 0xcbf29ce484222325ULL };
	struct py_scratch *scratch;
	struct py_stack *st;
	__u64 tstate;

	if (!python.runtime)
		return 0;
	tstate = py_thread_state((__u32)bpf_get_current_pid_tgid());
	if (!tstate)
		return 0;
	scratch = bpf_task_storage_get(&py_scratch, bpf_get_current_task_btf(), 0,
				       BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!scratch)
		return 0;
	w.scratch = scratch;
	scratch->span_len = 0; /* the memory of the last walk may have changed */
	st = &scratch->st;
	w.frame = read_pointer(tstate, python.tstate_frame);
	if (python.cframe_current_frame != PY_NO_FIELD)
		w.frame = read_pointer(w.frame, python.cframe_current_frame);
	bpf_loop(MAX_PY_FRAMES / PY_FRAMES_PER_STEP, walk_frames, &w, 0);
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
