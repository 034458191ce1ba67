// SPDX-License-Identifier: MIT
/* leaktop: outstanding heap bytes per user call stack, kept in the kernel.
 *
 * alloc_enter/alloc_return wrap every allocation function, free_enter wraps
 * free.  Nothing is sent to userspace per event: userspace reads `stacks` once
 * per interval. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "leaktop.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Set by userspace before load. */
const volatile __u32 target_tgid = 0;

/* A call in progress on one thread, from entry to return. */
struct pending {
	__u64 size;
	__u64 old_ptr;	/* realloc, reallocarray */
	__u64 memptr;	/* posix_memalign's out-parameter */
	__u64 sp;	/* stack pointer at entry, to detect a stale record */
	struct stack_key key;
	__u32 depth;	/* > 1 while the allocator calls itself (e.g. reallocarray -> realloc) */
	__u32 failed;	/* size computation overflowed: the call can only fail */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* thread id */
	__type(value, struct pending);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144); /* resized by userspace (--max-allocs) */
	__type(key, __u64); /* address */
	__type(value, struct alloc_info);
} allocs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* resized by userspace (--max-stacks) */
	__type(key, struct stack_key);
	__type(value, struct stack_stats);
} stacks SEC(".maps");

/* Native stacks by id (bpf/unwind.bpf.h), each stored once. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* resized by userspace (--max-stacks) */
	__type(key, __u32);
	__type(value, struct stack_trace);
} stack_traces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LOST_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* Probe hits (calls seen), for leaktop's own load on the target. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

/* Times the target exec'd: its old heap, and the code its stacks point to,
 * are gone then.  Every stack key carries it; userspace reads it each interval. */
__u32 generation = 0;

static __always_inline void count_hit(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&hits, &zero);

	if (n)
		*n += 1;
}

static __always_inline void count_lost(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &reason);

	if (n)
		*n += 1;
}

#include "python_stack.bpf.h"
#include "unwind.bpf.h"

static __always_inline bool is_target(__u64 pid_tgid)
{
	return (pid_tgid >> 32) == target_tgid;
}

/* Forget a live allocation, if we saw it being made. */
static __always_inline void release(__u64 ptr)
{
	struct alloc_info *a, info;
	struct stack_stats *s;

	a = bpf_map_lookup_elem(&allocs, &ptr);
	if (!a)
		return; /* allocated before we attached, or not tracked */
	info = *a;
	/* Only the thread whose delete succeeds accounts the free. */
	if (bpf_map_delete_elem(&allocs, &ptr))
		return;
	s = bpf_map_lookup_elem(&stacks, &info.key);
	if (s) {
		__sync_fetch_and_add(&s->bytes, -(__s64)info.size);
		__sync_fetch_and_add(&s->allocs, -1);
	}
}

static __always_inline void record(__u64 ptr, __u64 size, struct stack_key *key)
{
	struct alloc_info info = { .size = size, .key = *key };
	struct stack_stats zero = {}, *s;

	s = bpf_map_lookup_elem(&stacks, key);
	if (!s) {
		bpf_map_update_elem(&stacks, key, &zero, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&stacks, key);
		if (!s) {
			count_lost(LOST_STACKS_FULL);
			return;
		}
	}
	if (bpf_map_update_elem(&allocs, &ptr, &info, BPF_NOEXIST)) {
		/* The allocator handed out an address we still think is live:
		 * its free went by a path we do not see. Drop the old record. */
		release(ptr);
		if (bpf_map_update_elem(&allocs, &ptr, &info, BPF_NOEXIST)) {
			count_lost(LOST_ALLOCS_FULL);
			return;
		}
	}
	__sync_fetch_and_add(&s->bytes, (__s64)size);
	__sync_fetch_and_add(&s->allocs, 1);
}

static __always_inline __u64 mul_or_overflow(__u64 a, __u64 b, __u32 *overflow)
{
	__u64 product = a * b;

	/* The barrier keeps clang from turning this into __builtin_mul_overflow,
	 * which BPF cannot call. */
	barrier_var(product);
	if (a && product / a != b)
		*overflow = 1;
	return product;
}

SEC("uprobe")
int BPF_KPROBE(alloc_enter, __u64 a1, __u64 a2, __u64 a3)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	__u64 sp = PT_REGS_SP(ctx);
	struct pending *p, call = {};
	long stack_id;

	if (!is_target(pid_tgid))
		return 0;
	count_hit();

	/* Nested call (the allocator calling one of its own entry points, or
	 * tail-jumping to one, as reallocarray -> realloc does: same sp): the
	 * outermost call is the one the program made; count it once.  A record
	 * with a lower sp than ours is stale (its thread died mid-call). */
	p = bpf_map_lookup_elem(&pending, &tid);
	if (p && sp <= p->sp) {
		p->depth++;
		return 0;
	}

	call.key.fn = (__u16)bpf_get_attach_cookie(ctx);
	call.key.generation = (__u16)generation;
	switch (call.key.fn) {
	case FN_MALLOC:
	case FN_VALLOC:
	case FN_PVALLOC:
	case FN_OPERATOR_NEW:
	case FN_OPERATOR_NEW_ARRAY:
	case FN_MALLOCX:
		call.size = a1;
		break;
	case FN_CALLOC:
		call.size = mul_or_overflow(a1, a2, &call.failed);
		break;
	case FN_REALLOC:
	case FN_RALLOCX:
		call.old_ptr = a1;
		call.size = a2;
		break;
	case FN_REALLOCARRAY:
		call.old_ptr = a1;
		call.size = mul_or_overflow(a2, a3, &call.failed);
		break;
	case FN_POSIX_MEMALIGN:
		call.memptr = a1;
		call.size = a3;
		break;
	case FN_PY_MALLOC:
	case FN_PY_ARENA:
		call.size = a2;
		break;
	case FN_PY_CALLOC:
		call.size = mul_or_overflow(a2, a3, &call.failed);
		break;
	case FN_PY_REALLOC:
		call.old_ptr = a2;
		call.size = a3;
		break;
	default: /* aligned_alloc, memalign */
		call.size = a2;
		break;
	}
	call.sp = sp;
	call.depth = 1;
	bpf_probe_read_user(&call.key.caller, sizeof(call.key.caller), (void *)sp);
	call.key.py_stack = python_stack(tid);
	if (call.key.py_stack && call.key.caller >= python.text_start &&
	    call.key.caller < python.text_end) {
		/* Without frame pointers in the interpreter the walk would only
		 * add garbage, and a stack id per garbage would fill the maps. */
		call.key.stack_id = STACK_NOT_TAKEN;
	} else {
		stack_id = unwind_user_stack(ctx, sp, call.key.py_stack);
		if (stack_id < 0)
			count_lost(LOST_STACK);
		call.key.stack_id = stack_id < 0 ? -1 : (__s32)stack_id;
	}

	if (bpf_map_update_elem(&pending, &tid, &call, BPF_ANY))
		count_lost(LOST_PENDING_FULL);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(alloc_return, __u64 ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct pending *p, call;
	__u64 ptr = ret;

	if (!is_target(pid_tgid))
		return 0;
	p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return 0;
	if (p->depth > 1) {
		p->depth--;
		return 0;
	}
	call = *p;
	bpf_map_delete_elem(&pending, &tid);
	if (call.failed)
		return 0;

	if (call.key.fn == FN_POSIX_MEMALIGN) {
		ptr = 0;
		if (ret == 0) /* 0 = success; the block is in *memptr */
			bpf_probe_read_user(&ptr, sizeof(ptr), (void *)call.memptr);
	}
	if (call.key.fn == FN_REALLOC || call.key.fn == FN_REALLOCARRAY || call.key.fn == FN_RALLOCX ||
	    call.key.fn == FN_PY_REALLOC) {
		/* The old block is gone when realloc succeeded, and also after
		 * realloc(p, 0), which frees p and may return NULL. A failed
		 * realloc (NULL for a non-zero size) leaves it in place. */
		if (call.old_ptr && (ptr || call.size == 0))
			release(call.old_ptr);
	}
	if (ptr)
		record(ptr, call.size, &call.key);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(free_enter, __u64 a1, __u64 a2)
{
	__u64 ptr = bpf_get_attach_cookie(ctx) == FREE_ARG2 ? a2 : a1;

	if (!is_target(bpf_get_current_pid_tgid()))
		return 0;
	count_hit();
	if (ptr)
		release(ptr);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(target_exec)
{
	if (is_target(bpf_get_current_pid_tgid())) {
		__sync_fetch_and_add(&generation, 1);
		unwind_forget();
	}
	return 0;
}
