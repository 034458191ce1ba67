// SPDX-License-Identifier: MIT
/* leaktop: outstanding heap bytes per user call stack, kept in the kernel.
 *
 * alloc_enter/alloc_return wrap every allocation function, free_enter wraps
 * free.  Nothing is sent to userspace per event: userspace reads
 * `stack_stats` once per interval. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "leaktop.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Set by userspace before load. */
const volatile __u32 target_tgid = 0;
const volatile __u64 sample_bytes = 0;	/* -s: mean bytes between samples; 0 = exact */
const volatile __u32 stack_slots_max = 16384; /* --max-stacks: the size of stack_keys/stats */
const volatile __u64 exp_table[EXP_STEPS + 1];		/* see leaktop.h */
const volatile __u32 weight_table[WEIGHT_STEPS + 1];

#include "sampling.h"

/* A call in progress on one thread, from entry to return. */
struct pending {
	__u64 size;
	__u64 old_ptr;	/* realloc, reallocarray */
	__u64 memptr;	/* posix_memalign's out-parameter */
	__u64 sp;	/* stack pointer at entry, to detect a stale record */
	struct stack_key key;
	__u32 depth;	/* 0: none; > 1 while the allocator calls itself
			 * (e.g. reallocarray -> realloc) */
	__u32 failed;	/* size computation overflowed: the call can only fail */
	__u32 epoch;	/* duty_epoch at entry */
	__u32 sampled;	/* the new block is recorded (always, unless -s) */
};

/* Per thread, in the task's own storage (no shared hash to fill up or to
 * clean after threads that die mid-call). */
struct thread_state {
	struct pending call;
	__s64 countdown;	/* -s: 1/BYTE_PARTS bytes to the next sample */
	__u32 armed;		/* countdown drawn */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144); /* resized by userspace (--max-allocs) */
	__type(key, __u64); /* address */
	__type(value, struct alloc_info);
} allocs SEC(".maps");

/* Stack key -> its slot (see struct stack_slot_key). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* resized by userspace (--max-stacks) */
	__type(key, struct stack_key);
	__type(value, __u32);
} stack_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16384); /* resized by userspace (--max-stacks) */
	__type(key, __u32);
	__type(value, struct stack_slot_key);
} stack_keys SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16384); /* resized by userspace (--max-stacks) */
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct stack_stats);
} stack_stats SEC(".maps");

/* Slots handed out so far (a few past the arrays' size once they are full). */
__u32 stack_slots_used = 0;

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
/* Bumped by userspace each time it re-attaches the allocation probes
 * (--duty-cycle): a call in flight when they were detached never saw its
 * return, and its record must not pass for an outer call. */
__u32 duty_epoch = 0;

static __always_inline void count_hit(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&hits, &zero);

	if (n)
		__sync_fetch_and_add(n, 1); /* programs are preemptible */
}

static __always_inline void count_lost(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &reason);

	if (n)
		__sync_fetch_and_add(n, 1); /* programs are preemptible */
}

/* Folds 64-bit word v into hash h (FNV-1a over words, then a shift so that
 * high bits reach the low ones the map keys are cut from).  Stacks, native
 * and Python, are stored once under such hashes. */
static __always_inline __u64 hash_mix(__u64 h, __u64 v)
{
	h = (h ^ v) * 0x100000001b3ULL;
	return h ^ (h >> 29);
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
	s = bpf_map_lookup_elem(&stack_stats, &info.slot);
	if (s) {
		__sync_fetch_and_add(&s->bytes, -(__s64)info.size);
		__sync_fetch_and_add(&s->allocs, -(__s64)info.count);
	}
}

/* The slot of key, handed out on its first allocation; false when the slots
 * are all taken. */
static __always_inline bool stack_slot(const struct stack_key *key, __u32 *slot)
{
	struct stack_slot_key *k;
	__u32 *found = bpf_map_lookup_elem(&stack_index, key);

	if (found) {
		*slot = *found;
		return true;
	}
	/* Full: stop counting up (the counter would wrap after 2^32 tries and
	 * hand out taken slots again).  Racing threads may pass this check
	 * together and overshoot by a few; the lookup below stops them. */
	if (stack_slots_used >= stack_slots_max)
		return false;
	*slot = __sync_fetch_and_add(&stack_slots_used, 1);
	k = bpf_map_lookup_elem(&stack_keys, slot);
	if (!k)
		return false; /* all taken */
	k->key = *key;
	barrier(); /* x86 keeps stores in order: the key is out before ready */
	k->ready = 1;
	if (bpf_map_update_elem(&stack_index, key, slot, BPF_NOEXIST) == 0)
		return true;
	/* Another thread made this stack's slot meanwhile (ours stays empty),
	 * or the index is full. */
	found = bpf_map_lookup_elem(&stack_index, key);
	if (found)
		*slot = *found;
	return found;
}

static __always_inline void record(__u64 ptr, __u64 size, __u64 count, struct stack_key *key)
{
	struct alloc_info info = { .size = size, .count = count, .generation = key->generation };
	struct stack_stats *s;

	if (!stack_slot(key, &info.slot) || !(s = bpf_map_lookup_elem(&stack_stats, &info.slot))) {
		count_lost(LOST_STACKS_FULL);
		return;
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
	__sync_fetch_and_add(&s->allocs, (__s64)count);
}

/* Byte sampling as a Poisson process over the bytes a thread allocates: an
 * allocation is sampled when a sampling point falls in it, with probability
 * 1 - exp(-size/mean); sample_weight() scales it back.  Always in exact mode. */
static __always_inline bool take_sample(struct thread_state *t, __u64 size)
{
	if (!sample_bytes)
		return true;
	if (!t->armed) {
		t->countdown = (__s64)exp_interval(exp_table);
		t->armed = 1;
	}
	if (size == 0 || size >= 1ULL << 52) /* nothing to scale; cannot succeed */
		return false;
	t->countdown -= (__s64)(size * BYTE_PARTS);
	if (t->countdown >= 0) /* the next point lies beyond this block */
		return false;
	/* The next point after this block: a fresh interval (memoryless). */
	t->countdown = (__s64)exp_interval(exp_table);
	return true;
}

static __always_inline struct thread_state *thread_state(bool create)
{
	return bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
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
	struct thread_state *t;
	struct pending call = {};
	long stack_id;

	if (!is_target(pid_tgid))
		return 0;
	count_hit();
	t = thread_state(true);
	if (!t) {
		count_lost(LOST_PENDING_FULL);
		return 0;
	}

	/* Nested call (the allocator calling one of its own entry points, or
	 * tail-jumping to one, as reallocarray -> realloc does: same sp): the
	 * outermost call is the one the program made; count it once.  A record
	 * with a lower sp than ours is stale (a longjmp out of a call), as is
	 * one from before a --duty-cycle detach. */
	if (t->call.depth && t->call.epoch == duty_epoch && sp <= t->call.sp) {
		t->call.depth++;
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
	case FN_XALLOCX:
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
	call.epoch = duty_epoch;
	call.sampled = !call.failed && take_sample(t, call.size);
	if (!call.sampled) {
		t->call = call; /* its return may still free realloc's old block */
		return 0;
	}
	bpf_probe_read_user(&call.key.caller, sizeof(call.key.caller), (void *)sp);
	call.key.py_stack = python_stack(tid);
	if (call.key.py_stack && call.key.caller >= python.text_start &&
	    call.key.caller < python.text_end) {
		/* Called from the interpreter itself: its native frames are
		 * folded away in favour of the Python ones, so skip the walk. */
		call.key.stack_id = STACK_NOT_TAKEN;
	} else {
		stack_id = unwind_user_stack(ctx, sp, call.key.py_stack);
		if (stack_id < 0)
			count_lost(LOST_STACK);
		call.key.stack_id = stack_id < 0 ? -1 : (__s32)stack_id;
	}

	t->call = call;
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(alloc_return, __u64 ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct thread_state *t;
	__u64 ptr = ret, size, count = COUNT_UNIT;
	struct pending call;

	if (!is_target(pid_tgid))
		return 0;
	t = thread_state(false);
	if (!t || !t->call.depth)
		return 0;
	if (t->call.epoch != duty_epoch) { /* entered before the probes were re-attached */
		t->call.depth = 0;
		return 0;
	}
	if (t->call.depth > 1) {
		t->call.depth--;
		return 0;
	}
	call = t->call;
	t->call.depth = 0;
	if (call.failed)
		return 0;

	if (call.key.fn == FN_POSIX_MEMALIGN) {
		ptr = 0;
		if (ret == 0) /* 0 = success; the block is in *memptr */
			bpf_probe_read_user(&ptr, sizeof(ptr), (void *)call.memptr);
	}
	if (call.key.fn == FN_XALLOCX) {
		/* The block stays where it is; it has ret bytes now (jemalloc's
		 * real size) when that is at least the size asked for, else the
		 * resize failed and the block is as it was. */
		if (ret < call.size || !call.old_ptr)
			return 0;
		ptr = call.old_ptr;
		call.size = ret;
	}
	if (call.key.fn == FN_REALLOC || call.key.fn == FN_REALLOCARRAY || call.key.fn == FN_RALLOCX ||
	    call.key.fn == FN_XALLOCX ||
	    call.key.fn == FN_PY_REALLOC) {
		/* The old block is gone when realloc succeeded, and also after
		 * realloc(p, 0), which frees p and may return NULL. A failed
		 * realloc (NULL for a non-zero size) leaves it in place. */
		if (call.old_ptr && (ptr || call.size == 0))
			release(call.old_ptr);
	}
	if (!ptr || !call.sampled)
		return 0;
	size = call.size;
	if (sample_bytes)
		sample_weight(weight_table, call.size, sample_bytes, &size, &count);
	record(ptr, size, count, &call.key);
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
		unwind_invalidate();
	}
	return 0;
}
