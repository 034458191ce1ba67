/* SPDX-License-Identifier: MIT */
/* Types shared by the BPF programs (leaktop.bpf.c) and the userspace loader. */
#ifndef LEAKTOP_H
#define LEAKTOP_H

/* Frames kept per native stack (bpf/unwind.bpf.h). */
#define MAX_STACK_DEPTH 127

/* A native stack in the stack_traces map: return addresses, innermost first
 * (ips[0] is in the allocator), ended by a 0 when shorter than the array;
 * `hash` (of the addresses) tells two stacks with the same id apart. */
struct stack_trace {
	__u64 hash;
	__u64 ips[MAX_STACK_DEPTH];
};

/* Allocation functions we probe; the value travels as the BPF cookie of each
 * entry probe and ends up in the stack key, so userspace can name frame 0. */
enum alloc_fn {
	FN_MALLOC,
	FN_CALLOC,
	FN_REALLOC,
	FN_REALLOCARRAY,
	FN_POSIX_MEMALIGN,
	FN_ALIGNED_ALLOC,
	FN_MEMALIGN,
	FN_VALLOC,
	FN_PVALLOC,
	FN_OPERATOR_NEW,	/* every C++ operator new (size first): plain, */
	FN_OPERATOR_NEW_ARRAY,	/* nothrow, aligned */
	FN_MALLOCX,		/* jemalloc's extended API */
	FN_RALLOCX,
	FN_XALLOCX,		/* resize in place: (ptr, size, extra, flags) -> real size */
	FN_PY_MALLOC,		/* CPython's object allocator (pymalloc) through its */
	FN_PY_CALLOC,		/* allocator table: (ctx, size), (ctx, n, size), */
	FN_PY_REALLOC,		/* (ctx, ptr, size) */
	FN_PY_ARENA,		/* a pymalloc arena: (ctx, size) */
	FN_COUNT,
};

/* Why something could not be tracked; each is a per-CPU counter. */
enum lost_reason {
	LOST_STACK,	    /* stack trace map full or collision: caller kept, rest lost */
	LOST_ALLOCS_FULL,   /* allocation not tracked: allocs map full */
	LOST_STACKS_FULL,   /* allocation not tracked: per-stack map full */
	LOST_PENDING_FULL,  /* call not tracked: the thread's state could not be stored */
	LOST_PY_STACKS_FULL, /* Python stack map full: native frames kept, Python ones lost */
	LOST_STACK_TRUNCATED, /* native walk stopped early (no CFI, garbage frame pointer):
			       * the frames found are kept, the allocation tracked */
	LOST_HIGH_ADDRESS,  /* allocation not tracked: its address is above 2^48 */
	LOST_COUNT,
};

/* Identifies one allocation stack.  `caller` is the return address read at
 * the stack pointer at entry, which is always right; the unwound stack (whose
 * ips[1] is the same address) continues from there. */
struct stack_key {
	__u64 caller;
	__u64 py_stack;		/* key in the py_stacks map; 0 when no Python code ran */
	__s32 stack_id;		/* id in the stack_traces map, -1 when lost,
				 * STACK_NOT_TAKEN when the Python frames replace it */
	__u16 fn;		/* enum alloc_fn */
	__u16 generation;	/* execs of the target so far: stacks of an old
				 * program image are not symbolized with the new one */
};

/* The allocator was called from the interpreter itself: the Python stack says
 * where, and the native frames above are the interpreter's (folded away). */
#define STACK_NOT_TAKEN (-2)

/* Outstanding (allocated, not yet freed) figures of one stack.  Allocation
 * counts are kept in 1/COUNT_UNIT: a sampled allocation stands for a
 * fractional number of them.  The count shares its word with the slot's
 * generation, bumped each time the slot is given to another stack: one
 * atomic add both counts and tells whether the slot is still the stack's
 * (see SLOT_GEN_SHIFT). */
#define COUNT_UNIT 1024
struct stack_stats {
	__s64 bytes;
	__u64 allocs_gen;	/* generation << SLOT_GEN_SHIFT + allocs (in 1/COUNT_UNIT) */
};

/* allocs_gen holds the allocation count, signed, in its low 48 bits (a
 * release racing with a record can take it below zero for a moment) and the
 * slot generation in the high 16. */
#define SLOT_GEN_SHIFT 48
static inline __s64 slot_allocs(__u64 allocs_gen)
{
	return (__s64)(allocs_gen << (64 - SLOT_GEN_SHIFT)) >> (64 - SLOT_GEN_SHIFT);
}

static inline __u16 slot_gen(__u64 allocs_gen)
{
	return (__u16)((allocs_gen + (1ULL << (SLOT_GEN_SHIFT - 1))) >> SLOT_GEN_SHIFT);
}

/* One live allocation, as its record in the allocs map says: the bytes
 * asked for (sampled: what it stands for follows from them, sample_weight())
 * and its stack's slot, with the slot's generation when it was recorded.
 * The record is one word (ALLOC_*): a hash element is a 48-byte header plus
 * key and value, 64 bytes in all. */
struct alloc_info {
	__u64 size;
	__u32 slot;		/* its stack's slot in stack_stats */
	__u16 slot_gen;		/* that slot's generation (its low ALLOC_GEN_BITS) */
};

/* The record word: size in the low ALLOC_SIZE_BITS, then the slot, the
 * slot generation's low bits, and ALLOC_PRESENT (never 0 while in the map;
 * the thread whose compare-and-swap zeroes it takes the record out).  A
 * size of ALLOC_SIZE_BIG or more (4 GiB) is kept in big_sizes. */
#define ALLOC_SIZE_BITS 32
#define ALLOC_SLOT_BITS 22	/* --max-stacks is at most 1 << 22 */
#define ALLOC_GEN_BITS 9
#define ALLOC_SIZE_BIG ((1ULL << ALLOC_SIZE_BITS) - 1)
#define ALLOC_PRESENT (1ULL << 63)

static inline __u64 alloc_pack(const struct alloc_info *info)
{
	__u64 size = info->size < ALLOC_SIZE_BIG ? info->size : ALLOC_SIZE_BIG;

	return ALLOC_PRESENT | size | (__u64)(info->slot & ((1u << ALLOC_SLOT_BITS) - 1)) << ALLOC_SIZE_BITS |
	       (__u64)(info->slot_gen & ((1u << ALLOC_GEN_BITS) - 1)) << (ALLOC_SIZE_BITS + ALLOC_SLOT_BITS);
}

static inline void alloc_unpack(__u64 v, struct alloc_info *info)
{
	info->size = v & ALLOC_SIZE_BIG;
	info->slot = (__u32)(v >> ALLOC_SIZE_BITS) & ((1u << ALLOC_SLOT_BITS) - 1);
	info->slot_gen = (__u16)(v >> (ALLOC_SIZE_BITS + ALLOC_SLOT_BITS)) & ((1u << ALLOC_GEN_BITS) - 1);
}

/* The allocs key (bpf alloc_key()): the block's address in the low
 * ALLOC_ADDRESS_BITS, the traced process's index in its session (0: a single
 * process) in the high 16 bits, as the processes of a session share the map
 * (user/session.c).  x86-64
 * user addresses are below 2^47 (2^56 with 5-level paging, where the kernel
 * hands out addresses above 2^47 only to mmap calls that ask for them):
 * blocks above 2^48 are not tracked (lost events, LOST_HIGH_ADDRESS). */
#define ALLOC_ADDRESS_BITS 48

/* Each stack has a slot while it holds memory: its figures are
 * stack_stats[slot], an array userspace reads through mmap each interval (no
 * system call, no lock), its key is stack_keys[slot] (mapped too), and
 * stack_index finds the slot from the key.  Slots come from free_slots, else
 * from those never used (stack_slots_used counts them).  Userspace gives a
 * slot back once its stack has held nothing for a while: it deletes the
 * index entry, bumps the slot's generation (only while the count is zero)
 * and pushes the slot on free_slots. */
struct slot_ref {
	__u32 slot;
	__u32 gen;		/* the slot's generation for this stack */
};

struct stack_slot_key {
	struct stack_key key;
	__u32 written;		/* 1 + the slot generation the key was written
				 * for, stored last; 0 while being written */
	__u32 pad;
};

/* Byte sampling (-s): tables userspace fills before load (user/sampling.c),
 * because BPF has no floating point.  Fixed point with SAMPLE_ONE = 1.0. */
#define SAMPLE_ONE (1u << 16)
/* mean * -ln(i / EXP_STEPS) for i in 1..EXP_STEPS, in 1/BYTE_PARTS bytes:
 * exponential intervals from uniform random numbers (entry 0 unused).  The
 * fraction of a byte keeps P(interval < size) right for sizes of a few
 * bytes, far below the mean. */
#define EXP_STEPS 4096
#define BYTE_PARTS 256
/* x / (1 - exp(-x)) at x = i / WEIGHT_PER_UNIT, i in 0..WEIGHT_STEPS: an
 * allocation of x mean intervals is sampled with probability 1 - exp(-x),
 * so it stands for 1/(1 - exp(-x)) allocations, x / (1 - exp(-x)) means of
 * bytes.  Beyond WEIGHT_MAX_X the factor is x within 1e-13. */
#define WEIGHT_PER_UNIT 16
#define WEIGHT_MAX_X 32
#define WEIGHT_STEPS (WEIGHT_MAX_X * WEIGHT_PER_UNIT)

/* Python frames kept per stack; deeper ones are cut and the stack marked. */
#define MAX_PY_FRAMES 64

/* One Python frame: the code object and where in its bytecode it is. */
struct py_frame {
	__u64 code;		/* PyCodeObject address in the target */
	__s32 offset;		/* byte offset of the current instruction in co_code */
	__u32 identity;		/* py_code_identity of the code object: a code
				 * object at the same address later (the old one
				 * freed) is another one */
};

/* What tells code objects at the same address apart (the allocator hands a
 * freed one's address to the next): its first line and its file and name
 * objects.  Part of the stack key, and checked again when the frame is
 * named from the target's memory later. */
static inline __u32 py_code_identity(__u32 first_line, __u64 filename, __u64 name)
{
	__u64 h = (first_line ^ 0xcbf29ce484222325ULL) * 0x100000001b3ULL;

	h = ((h ^ (h >> 29)) ^ filename) * 0x100000001b3ULL;
	h = ((h ^ (h >> 29)) ^ name) * 0x100000001b3ULL;
	return (__u32)(h ^ (h >> 32));
}

struct py_stack {
	__u32 depth;
	__u32 truncated;	/* more frames than MAX_PY_FRAMES */
	struct py_frame frames[MAX_PY_FRAMES]; /* innermost first */
};

/* Where a thread's state (PyThreadState) is. */
enum py_tstate_from {
	PY_TSTATE_RUNTIME,	/* runtime + tstate_current: the thread holding
				 * the GIL, checked to be the caller (3.10, 3.11) */
	PY_TSTATE_TLS,		/* thread pointer + tls_offset: a thread-local in
				 * static TLS (3.12+, the executable's) */
	PY_TSTATE_TLS_MODULE,	/* tls_offset in the TLS block of module
				 * tls_module, found through the thread's DTV
				 * (3.12+, a shared libpython) */
};

/* No such field in this version. */
#define PY_NO_FIELD 0xffffffffu

/* Where the interpreter keeps the current thread's frames, for one CPython
 * version (user/python_layouts.c); runtime == 0 turns the walk off. */
struct python_config {
	__u64 runtime;			/* address of _PyRuntime in the target */
	__u64 text_start, text_end;	/* the interpreter's code in the target */
	__s64 tls_offset;		/* PY_TSTATE_TLS*: where the thread-local is */
	__u32 tls_module;
	__u32 tstate_from;		/* enum py_tstate_from */
	__u32 tstate_current;		/* _PyRuntimeState: thread holding the GIL */
	__u32 tstate_thread;		/* PyThreadState: native_thread_id (the kernel's
					 * thread id), or with thread_is_pthread, thread_id */
	__u32 thread_is_pthread;	/* (pthread_self(): the thread pointer; 3.10) */
	__u32 tstate_frame;		/* PyThreadState -> frame, or -> _PyCFrame when */
	__u32 cframe_current_frame;	/* this is not PY_NO_FIELD (3.11, 3.12) */
	__u32 frame_code;		/* frame fields (_PyInterpreterFrame, or */
	__u32 frame_previous;		/* PyFrameObject in 3.10) */
	__u32 frame_instr;		/* the current instruction, or its index */
	__u32 instr_is_index;		/* in code units when it is an int (3.10) */
	__u32 frame_owner;		/* a char; PY_NO_FIELD: none */
	__u32 owner_cstack;		/* owner of the eval loop's entry frames, which
					 * have no Python code (3.12+): skipped, and
					 * frames of any higher owner (3.14+) too */
	__u32 code_bytecode;		/* PyCodeObject: start of the bytecode */
	__u32 frame_window;		/* the frame fields lie in the frame_window_size */
	__u32 frame_window_size;	/* (<= PY_WINDOW) bytes from here: one read */
	__u32 code_first_line;		/* PyCodeObject: co_firstlineno (int), */
	__u32 code_filename;		/* co_filename, co_qualname: its identity */
	__u32 code_name;
	__u32 code_window;		/* the three lie in the code_window_size */
	__u32 code_window_size;		/* (<= PY_WINDOW) bytes from here */
};

/* A power of two: the walk masks indexes with it. */
#define PY_WINDOW 128

#endif /* LEAKTOP_H */
