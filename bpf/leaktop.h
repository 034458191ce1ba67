/* SPDX-License-Identifier: MIT */
/* Types shared by the BPF programs (leaktop.bpf.c) and the userspace loader. */
#ifndef LEAKTOP_H
#define LEAKTOP_H

/* Frames kept per stack by the kernel's frame-pointer walk. */
#define MAX_STACK_DEPTH 64

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
	FN_COUNT,
};

/* Why something could not be tracked; each is a per-CPU counter. */
enum lost_reason {
	LOST_STACK,	    /* stack trace map full or collision: caller kept, rest lost */
	LOST_ALLOCS_FULL,   /* allocation not tracked: allocs map full */
	LOST_STACKS_FULL,   /* allocation not tracked: per-stack map full */
	LOST_PENDING_FULL,  /* call not tracked: too many threads inside the allocator */
	LOST_COUNT,
};

/* Identifies one allocation stack.  The kernel's user stack walk starts from the
 * frame pointer, which at function entry still belongs to the caller, so it
 * misses the immediate caller; `caller` is the return address read at the
 * stack pointer, which is always right. */
struct stack_key {
	__u64 caller;
	__s32 stack_id;		/* id in the stack_traces map, -1 when lost */
	__u16 fn;		/* enum alloc_fn */
	__u16 generation;	/* execs of the target so far: stacks of an old
				 * program image are not symbolized with the new one */
};

/* Outstanding (allocated, not yet freed) figures of one stack. */
struct stack_stats {
	__s64 bytes;
	__s64 allocs;
};

/* One live allocation. */
struct alloc_info {
	__u64 size;
	struct stack_key key;
};

#endif /* LEAKTOP_H */
