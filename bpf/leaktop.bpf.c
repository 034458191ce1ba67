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
/* The kernel runs the uprobe programs for the target's own threads only
 * (uprobe_multi links with its PID, on kernels whose filter compares thread
 * groups: 6.12 on).  Otherwise (perf-event uprobes, older kernels) a task
 * sharing its memory, as a vfork child does, gets here too. */
const volatile bool kernel_filters_tgid = false;
const volatile __u64 sample_bytes = 0;	/* -s: mean bytes between samples; 0 = exact */
const volatile __u32 stack_slots_max = 16384; /* --max-stacks: the size of stack_keys/stats */
const volatile __u64 process_key = 0;	/* this process's index in its session << 48 */
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
	/* The realloc family: the old block's record, taken out of allocs at
	 * entry, while the caller still owns the block (no other thread can be
	 * handed its address yet); released or put back at the return. */
	__u32 old_taken;
	struct alloc_info old;
};

/* Live blocks: alloc_key() -> the record word (struct alloc_info, packed). */
#include "alloc_table.bpf.h"

/* The sizes of blocks of ALLOC_SIZE_BIG bytes or more (their record says
 * ALLOC_SIZE_BIG), by the same key. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, __u64);
} big_sizes SEC(".maps");

/* Stack key -> its slot (see struct slot_ref).  Not preallocated: an entry
 * userspace deletes is not reused before the programs that may be reading
 * it are done (RCU), so a lookup never reads another stack's slot. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* resized by userspace (--max-stacks) */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct stack_key);
	__type(value, struct slot_ref);
} stack_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16384); /* resized by userspace (--max-stacks) */
	__uint(map_flags, BPF_F_MMAPABLE);
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

/* Slots given back by userspace, for new stacks. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 16384); /* resized by userspace (--max-stacks) */
	__type(value, __u32);
} free_slots SEC(".maps");

/* Slots taken from the never-used ones so far (a few past the arrays' size
 * once they are all taken). */
__u32 stack_slots_used = 0;

/* Native stacks by id (bpf/unwind.bpf.h), each stored once; userspace
 * deletes those no slot's key names any more.  Not preallocated: a trace is
 * 1 KiB, and most of the map is empty most of the time. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* resized by userspace (--max-stacks) */
	__uint(map_flags, BPF_F_NO_PREALLOC);
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
/* Set by userspace in --duty-cycle's off-phase.  The realloc family's probes
 * stay attached then, to release the old blocks of reallocs, but no call
 * records a new block. */
__u32 allocs_paused = 0;

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

/* Per thread, in the task's own storage (no shared hash to fill up or to
 * clean after threads that die mid-call). */
struct thread_state {
	struct pending call;
	__s64 countdown;	/* -s: 1/BYTE_PARTS bytes to the next sample */
	__u32 armed;		/* countdown drawn */
	struct cfi_scratch unwind; /* the stack walk's (bpf/unwind.bpf.h) */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} threads SEC(".maps");

/* Is the calling thread one of the target's?  Asked at each probe: where
 * the kernel answers already, without the helper call (a tenth of the
 * programs' own time on a malloc+free). */
static __always_inline bool is_target(void)
{
	return kernel_filters_tgid || (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

/* The allocs key of a block at addr (see ALLOC_ADDRESS_BITS): its address
 * with this process's index in its session above it (the processes of a
 * session share allocs, user/session.c); 0 for an address that cannot be
 * tracked.  The one place that builds it. */
static __always_inline __u64 alloc_key(__u64 addr)
{
	if (addr >> ALLOC_ADDRESS_BITS || addr <= ALLOC_KEY_GONE)
		return 0; /* (0 and 1 mark free entries of the table) */
	return addr | process_key;
}

/* What a record of size bytes added to its stack: exact, the size and one
 * allocation; sampled, the estimates it stands for. */
static __always_inline void weigh(__u64 size, __u64 *bytes, __u64 *count)
{
	*bytes = size;
	*count = COUNT_UNIT;
	if (sample_bytes)
		sample_weight(weight_table, size, sample_bytes, bytes, count);
}

/* Takes key's record out of allocs, if we saw the block being made. */
static __always_inline bool take_alloc(__u64 key, struct alloc_info *info)
{
	__u64 word, *big;

	if (!table_take(key, &word))
		return false; /* allocated before we attached, or not tracked */
	alloc_unpack(word, info);
	if (info->size == ALLOC_SIZE_BIG) {
		big = bpf_map_lookup_elem(&big_sizes, &key);
		if (!big)
			return false; /* cannot happen: stored before the record */
		info->size = *big;
		bpf_map_delete_elem(&big_sizes, &key);
	}
	return true;
}

/* Stores a record; false when the table is full (or holds key already). */
static __always_inline bool put_alloc(__u64 key, const struct alloc_info *info)
{
	__u64 word = alloc_pack(info);

	if (info->size >= ALLOC_SIZE_BIG && bpf_map_update_elem(&big_sizes, &key, &info->size, BPF_ANY))
		return false;
	return table_put(key, word) == TABLE_PUT_DONE;
}

/* Takes what a record added to its stack off again: the count first, in
 * the word that also says whether the slot still belongs to the record's
 * stack (a slot is given to another stack only at a count of zero, so while
 * this record is counted it does, unless userspace reset the slots of an
 * exec'd program image; then nothing is taken off). */
static __always_inline void unaccount(const struct alloc_info *info)
{
	struct stack_stats *s = bpf_map_lookup_elem(&stack_stats, &info->slot);
	__u64 old, bytes, count;

	if (!s)
		return;
	weigh(info->size, &bytes, &count);
	old = __sync_fetch_and_add(&s->allocs_gen, -count);
	if ((slot_gen(old) ^ info->slot_gen) & ((1u << ALLOC_GEN_BITS) - 1)) {
		__sync_fetch_and_add(&s->allocs_gen, count);
		return;
	}
	__sync_fetch_and_add(&s->bytes, -(__s64)bytes);
}

/* Forget a live allocation, if we saw it being made. */
static __always_inline void release(__u64 ptr)
{
	struct alloc_info info;
	__u64 key = alloc_key(ptr);

	if (key && take_alloc(key, &info))
		unaccount(&info);
}

/* A new slot's native stack was stored at the call's entry, but userspace
 * may have deleted it since (it deletes the stacks no slot's key names, and
 * this key had no slot yet): store it again from the thread's unwind
 * scratch, which holds it until the thread's next walk. */
static __always_inline void keep_trace(const struct stack_key *key, struct cfi_scratch *sc)
{
	__u32 id = (__u32)key->stack_id;

	if (key->stack_id < 0 || bpf_map_lookup_elem(&stack_traces, &id))
		return;
	/* The scratch holds this key's stack if the id is one of its own
	 * (as store_trace() chose them). */
#pragma unroll
	for (__u32 probe = 0; probe < STACK_ID_PROBES; probe++)
		if (stack_id_at(sc->trace.hash, probe) == id) {
			bpf_map_update_elem(&stack_traces, &id, &sc->trace, BPF_NOEXIST);
			return;
		}
}

/* A slot for a key that has none: a free one, else one never used; false
 * when there is none.  Only when a new stack shows up. */
static __noinline bool new_slot(const struct stack_key *key, struct slot_ref *ref, struct cfi_scratch *sc)
{
	struct stack_slot_key *k;
	struct stack_stats *s;
	struct slot_ref *found;
	__u32 slot;

	if (bpf_map_pop_elem(&free_slots, &slot)) {
		/* Full: stop counting up (the counter would wrap after 2^32
		 * tries and hand out taken slots again).  Racing threads may
		 * pass this check together and overshoot by a few; the lookup
		 * below stops them. */
		if (stack_slots_used >= stack_slots_max)
			return false;
		slot = __sync_fetch_and_add(&stack_slots_used, 1);
	}
	k = bpf_map_lookup_elem(&stack_keys, &slot);
	s = bpf_map_lookup_elem(&stack_stats, &slot);
	if (!k || !s)
		return false; /* all taken */
	ref->slot = slot;
	ref->gen = slot_gen(s->allocs_gen); /* userspace bumped it before the push */
	k->written = 0;
	barrier(); /* x86 keeps stores in order: readers see 0 before the key */
	k->key = *key;
	barrier();
	k->written = ref->gen + 1;
	keep_trace(key, sc);
	if (bpf_map_update_elem(&stack_index, key, ref, BPF_NOEXIST) == 0)
		return true;
	/* Another thread made this stack's slot meanwhile, or the index is
	 * full.  Ours keeps its key and stays empty: userspace gives it back
	 * like any idle slot. */
	found = bpf_map_lookup_elem(&stack_index, key);
	if (found)
		*ref = *found;
	return found;
}

/* The slot of key (a lookup, for every stack but new ones). */
static __always_inline bool stack_slot(const struct stack_key *key, struct slot_ref *ref,
				       struct cfi_scratch *sc)
{
	struct slot_ref *found = bpf_map_lookup_elem(&stack_index, key);

	if (found) {
		*ref = *found;
		return true;
	}
	return new_slot(key, ref, sc);
}

/* Adds an allocation to its stack's slot and says which in *info; false
 * when it has no slot.  The count goes first, in the word that holds the
 * slot's generation: when the slot was given to another stack since the
 * index was read (userspace gives back slots that held nothing for a while,
 * and this may be the first allocation in a long time), the add is taken
 * back and the key's new slot is looked up. */
static __always_inline bool account(const struct stack_key *key, struct alloc_info *info,
				    struct cfi_scratch *sc)
{
	struct stack_stats *s;
	struct slot_ref ref;
	__u64 old, bytes, count;

	weigh(info->size, &bytes, &count);
	for (int i = 0; i < 2; i++) {
		if (!stack_slot(key, &ref, sc) || !(s = bpf_map_lookup_elem(&stack_stats, &ref.slot)))
			return false;
		old = __sync_fetch_and_add(&s->allocs_gen, count);
		if (slot_gen(old) == (__u16)ref.gen) {
			__sync_fetch_and_add(&s->bytes, (__s64)bytes);
			info->slot = ref.slot;
			info->slot_gen = (__u16)ref.gen;
			return true;
		}
		__sync_fetch_and_add(&s->allocs_gen, -count);
	}
	return false;
}

/* Counts a new block on its stack and keeps its record, to take it off
 * again when the block is freed. */
static __always_inline void record(__u64 ptr, __u64 size, struct stack_key *key,
				   struct cfi_scratch *sc)
{
	struct alloc_info info = { .size = size };
	__u64 k = alloc_key(ptr);

	if (!k) {
		count_lost(LOST_HIGH_ADDRESS);
		return;
	}
	if (!account(key, &info, sc)) {
		count_lost(LOST_STACKS_FULL);
		return;
	}
	if (!put_alloc(k, &info)) {
		/* The allocator handed out an address we still think is live:
		 * its free went by a path we do not see. Drop the old record. */
		release(ptr);
		if (!put_alloc(k, &info)) {
			count_lost(LOST_ALLOCS_FULL);
			unaccount(&info);
		}
	}
}

/* A realloc-family call is over: its old block is gone (freed, or moved to
 * the new address), or still there when the call failed. */
static __always_inline void settle_old(struct pending *call, bool old_gone)
{
	if (!call->old_taken)
		return;
	call->old_taken = 0;
	if (!old_gone) {
		if (put_alloc(alloc_key(call->old_ptr), &call->old))
			return;
		/* Cannot be tracked again: none of its figures may stay behind. */
		count_lost(LOST_ALLOCS_FULL);
	}
	unaccount(&call->old);
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

static __always_inline bool is_operator_new(__u16 fn)
{
	return fn == FN_OPERATOR_NEW || fn == FN_OPERATOR_NEW_ARRAY;
}

/* Is a call entering at sp (function fn) nested in the pending one?
 * Nested calls run below it on the stack: a lower sp, or the same sp for a
 * tail jump from one allocator entry to another.  operator new has no
 * return probe, so when it throws its record stays: it is still running
 * only while its return address is still at its sp, and a tail jump goes
 * to another entry than its own (a call at the same place again enters the
 * same function). */
static __always_inline bool nested(const struct pending *call, __u64 sp, __u16 fn)
{
	__u64 ret_addr = 0;

	if (sp > call->sp)
		return false;
	if (!is_operator_new(call->key.fn))
		return true;
	if (sp == call->sp && fn == call->key.fn)
		return false;
	bpf_probe_read_user(&ret_addr, sizeof(ret_addr), (void *)call->sp);
	return ret_addr == call->key.caller;
}

SEC("uprobe")
int BPF_KPROBE(alloc_enter, __u64 a1, __u64 a2, __u64 a3)
{
	__u64 sp = PT_REGS_SP(ctx);
	struct thread_state *t;
	struct pending call = {};
	long stack_id;

	if (!is_target())
		return 0;
	count_hit();
	t = thread_state(true);
	if (!t) {
		count_lost(LOST_PENDING_FULL);
		return 0;
	}

	call.key.fn = (__u16)bpf_get_attach_cookie(ctx);
	/* Nested call (the allocator calling one of its own entry points, or
	 * tail-jumping to one, as reallocarray -> realloc does: same sp): the
	 * outermost call is the one the program made; count it once.  A record
	 * with a lower sp than ours is stale (a longjmp out of a call), as is
	 * one from before a --duty-cycle detach. */
	if (t->call.depth && t->call.epoch == duty_epoch && nested(&t->call, sp, call.key.fn)) {
		t->call.depth++;
		return 0;
	}
	/* A stale call's return will not come: if it was a realloc, it most
	 * likely succeeded. */
	if (t->call.depth)
		settle_old(&t->call, true);

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
	if (call.old_ptr && !call.failed && alloc_key(call.old_ptr))
		call.old_taken = take_alloc(alloc_key(call.old_ptr), &call.old);
	call.sampled = !call.failed && !allocs_paused && take_sample(t, call.size);
	/* The caller: for the stack key, and for operator new, sampled or not,
	 * to tell its later entries and rets from those of a call an exception
	 * ended (see nested()). */
	if (call.sampled) {
		/* The stack from sp on, for the walk; the caller is its first word. */
		stack_window(&t->unwind, sp, t->unwind.win_want);
		stack_word(&t->unwind, sp, sp, &call.key.caller);
	} else if (is_operator_new(call.key.fn)) {
		bpf_probe_read_user(&call.key.caller, sizeof(call.key.caller), (void *)sp);
	}
	if (!call.sampled) {
		t->call = call; /* its return may still free realloc's old block */
		return 0;
	}
	call.key.py_stack = python_stack();
	if (call.key.py_stack && call.key.caller >= python.text_start &&
	    call.key.caller < python.text_end) {
		/* Called from the interpreter itself: its native frames are
		 * folded away in favour of the Python ones, so skip the walk. */
		call.key.stack_id = STACK_NOT_TAKEN;
	} else {
		stack_id = unwind_user_stack(ctx, &t->unwind, sp, call.key.caller, call.key.py_stack);
		if (stack_id < 0)
			count_lost(LOST_STACK);
		call.key.stack_id = stack_id < 0 ? -1 : (__s32)stack_id;
	}

	t->call = call;
	return 0;
}

/* The call in t->call is over (its return was seen): records its result. */
static __always_inline void complete(struct thread_state *t, __u64 ret)
{
	__u64 ptr = ret;
	struct pending call = t->call;

	t->call.depth = 0;
	t->call.old_taken = 0; /* settled below */
	if (call.failed)
		return;

	if (call.key.fn == FN_POSIX_MEMALIGN) {
		ptr = 0;
		if (ret == 0) /* 0 = success; the block is in *memptr */
			bpf_probe_read_user(&ptr, sizeof(ptr), (void *)call.memptr);
	}
	if (call.key.fn == FN_XALLOCX) {
		/* The block stays where it is; it has ret bytes now (jemalloc's
		 * real size) when that is at least the size asked for, else the
		 * resize failed and the block is as it was. */
		if (ret < call.size || !call.old_ptr) {
			settle_old(&call, false);
			return;
		}
		ptr = call.old_ptr;
		call.size = ret;
	}
	/* A realloc's old block is gone when realloc succeeded, and also after
	 * realloc(p, 0), which frees p and may return NULL.  A failed realloc
	 * (NULL for a non-zero size) leaves it in place. */
	settle_old(&call, ptr || call.size == 0);
	if (!ptr || !call.sampled)
		return;
	record(ptr, call.size, &call.key, &t->unwind);
}

SEC("uretprobe")
int BPF_KRETPROBE(alloc_return, __u64 ret)
{
	struct thread_state *t;

	if (!is_target())
		return 0;
	t = thread_state(false);
	if (!t || !t->call.depth)
		return 0;
	if (t->call.epoch != duty_epoch) {
		/* Entered before the last detach or re-attach of the allocation
		 * probes (see duty_epoch).  The realloc family's stay attached:
		 * the return of such a call still counts, and it is this one
		 * when the stack pointer is just above the return address read
		 * at entry.  Any other call's return was lost, and with it the
		 * release of a realloc's old block (it most likely succeeded). */
		if (!t->call.old_taken || PT_REGS_SP(ctx) != t->call.sp + sizeof(__u64)) {
			settle_old(&t->call, true);
			t->call.depth = 0;
			return 0;
		}
		t->call.depth = 1; /* the returns of calls it made may have been lost */
	}
	/* A call nested in another, or in operator new, which ends at its own
	 * ret (new_return), never here. */
	if (t->call.depth > 1 || is_operator_new(t->call.key.fn)) {
		if (t->call.depth > 1)
			t->call.depth--;
		return 0;
	}
	complete(t, ret);
	return 0;
}

/* On a ret instruction of operator new (user/return_sites.c): [sp] holds the
 * return address, as at its entry, and sp is the entry's.  Rets of the code
 * operator new calls have a lower sp; those of a call that ended by an
 * exception are not reached, and a later ret at the same sp returns to
 * another place. */
SEC("uprobe")
int BPF_KPROBE(new_return)
{
	__u64 sp = PT_REGS_SP(ctx), ret_addr = 0;
	struct thread_state *t;

	if (!is_target())
		return 0;
	t = thread_state(false);
	if (!t || !t->call.depth || !is_operator_new(t->call.key.fn) || sp != t->call.sp)
		return 0;
	if (t->call.epoch != duty_epoch) {
		t->call.depth = 0;
		return 0;
	}
	bpf_probe_read_user(&ret_addr, sizeof(ret_addr), (void *)sp);
	if (ret_addr != t->call.key.caller)
		return 0;
	complete(t, PT_REGS_RC(ctx));
	return 0;
}

static __always_inline void free_seen(__u64 ptr)
{
	if (!is_target())
		return;
	count_hit();
	if (ptr)
		release(ptr);
}

/* free(ptr), operator delete(ptr, ...). */
SEC("uprobe")
int BPF_KPROBE(free_enter, __u64 ptr)
{
	free_seen(ptr);
	return 0;
}

/* pymalloc's free(ctx, ptr), the arena free(ctx, ptr, size): a program of
 * its own rather than a cookie to read at every free. */
SEC("uprobe")
int BPF_KPROBE(py_free_enter, __u64 py_ctx, __u64 ptr)
{
	free_seen(ptr);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(target_exec)
{
	/* A tracepoint of every process: the kernel filters nothing here. */
	if ((bpf_get_current_pid_tgid() >> 32) == target_tgid) {
		__sync_fetch_and_add(&generation, 1);
		unwind_invalidate();
	}
	return 0;
}
