/* SPDX-License-Identifier: MIT */
/* The user stack at an allocation probe, unwound in the kernel from the unwind
 * tables userspace built from the target's CFI (bpf/unwind.h), so that code
 * without frame pointers (Debian's binaries) has whole stacks.  Included by
 * leaktop.bpf.c after count_lost() and hash_mix().
 *
 * Each frame: find the mapping of pc in the mapping index (binary search,
 * cached while consecutive frames stay in one mapping), the row covering
 * pc - 1 in the object's rows (binary search), then CFA = rsp/rbp + N, the
 * return address at CFA - 8, the caller's rbp where the row says.  Objects
 * without a table, gaps in the CFI and rules the table cannot express fall
 * back to the frame pointer for that frame.  Stacks are stored once in
 * stack_traces under a hash of their addresses. */
#ifndef UNWIND_BPF_H
#define UNWIND_BPF_H

#include "unwind.h"

/* Rows of every object, written by userspace through a memory mapping. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UNWIND_MAX_ROWS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct unwind_row);
} unwind_rows SEC(".maps");

/* Two buffers of the target's executable mappings, sorted by start. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * UNWIND_MAX_MAPPINGS);
	__type(key, __u32);
	__type(value, struct unwind_mapping);
} unwind_mappings SEC(".maps");

/* Rows of each object file by (device, inode); see struct unwind_object_key. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UNWIND_MAX_MAPPINGS);
	__type(key, struct unwind_object_key);
	__type(value, struct unwind_object_rows);
} unwind_objects SEC(".maps");

struct unwind_index unwind_index = {};

/* Frames whose code is in no indexed mapping (a library loaded since the
 * index was built, or code outside any file): userspace re-reads the maps
 * when this grows. */
__u64 unwind_misses = 0;

struct cfi_walk {
	__u64 pc, sp, rbp;	/* registers of the frame being unwound */
	__u64 hash;
	struct unwind_mapping map; /* the mapping of the last pc looked up */
	__u32 depth;		/* addresses in the trace so far */
	__u32 base, count;	/* the active buffer of the mapping index */
	__u64 stop_start, stop_end; /* code whose frames end the walk */
	bool rbp_ok;		/* false once rbp could not be recovered */
	bool clean;		/* the walk reached the outermost frame */
};

/* A binary search for the last entry <= value among keys base + [lo, hi)
 * of unwind_rows (rows) or unwind_mappings. */
struct cfi_search {
	__u32 base, lo, hi;
	bool rows;
	__u64 value;
};

/* The walk's whole state lives in map memory, not on the BPF stack: the
 * stack is too big for it, and the verifier does not track values in map
 * memory, so the bpf_loop callbacks below converge after a pass or two
 * instead of being verified once per frame.  One per thread, not per CPU:
 * uprobe programs can be preempted, and another thread's walk on the same
 * CPU would overwrite this one's midway. */
struct cfi_scratch {
	struct cfi_walk walk;
	struct cfi_search search;
	struct stack_trace trace;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct cfi_scratch);
} unwind_scratch SEC(".maps");

/* What the bpf_loop callbacks get: the thread's scratch, looked up once. */
struct cfi_ctx {
	struct cfi_scratch *sc;
};

/* The start of entry `key` of the map searched: a mapping's start address or
 * a row's file offset; false when there is no such entry. */
static __always_inline bool search_value(const struct cfi_search *s, __u32 key, __u64 *value)
{
	struct unwind_mapping *m;
	struct unwind_row *r;

	if (s->rows) {
		r = bpf_map_lookup_elem(&unwind_rows, &key);
		*value = r ? r->pc : 0;
		return r;
	}
	m = bpf_map_lookup_elem(&unwind_mappings, &key);
	*value = m ? m->start : 0;
	return m;
}

/* One step of a binary search (a bpf_loop callback). */
static long search_step(__u32 index, struct cfi_ctx *ctx)
{
	struct cfi_scratch *sc = ctx->sc;
	struct cfi_search *s;
	__u32 mid;
	__u64 value;

	if (!sc || sc->search.lo >= sc->search.hi)
		return 1;
	s = &sc->search;
	mid = s->lo + (s->hi - s->lo) / 2;
	if (!search_value(s, s->base + mid, &value))
		return 1;
	if (value <= s->value)
		s->lo = mid + 1;
	else
		s->hi = mid;
	return 0;
}

/* bpf_find_vma's callback: the mapping of pc from the kernel's own vma, its
 * rows from unwind_objects by the file's device and inode. */
static long vma_mapping(struct task_struct *task, struct vm_area_struct *vma,
			struct unwind_mapping *m)
{
	struct unwind_object_key key = {};
	struct unwind_object_rows *rows;
	struct inode *inode = BPF_CORE_READ(vma, vm_file, f_inode);

	if (!inode)
		return 0;
	key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	key.inode = BPF_CORE_READ(inode, i_ino);
	rows = bpf_map_lookup_elem(&unwind_objects, &key);
	if (!rows)
		return 0;
	m->start = BPF_CORE_READ(vma, vm_start);
	m->end = BPF_CORE_READ(vma, vm_end);
	m->bias = m->start - BPF_CORE_READ(vma, vm_pgoff) * 4096;
	m->row_start = rows->row_start;
	m->row_count = rows->row_count;
	return 0;
}

/* Finds pc's mapping in the index, else through the kernel's vma of pc when
 * its file's rows are known; false when neither has it. */
static __always_inline bool unwind_find_mapping(struct cfi_ctx *ctx)
{
	struct cfi_scratch *sc = ctx->sc;
	struct cfi_walk *st = &sc->walk;
	struct unwind_mapping *m, found = {};
	__u32 key;

	if (st->pc >= st->map.start && st->pc < st->map.end)
		return true;
	sc->search = (struct cfi_search){ .base = st->base, .hi = st->count, .value = st->pc };
	bpf_loop(12, search_step, ctx, 0); /* 2^11 > UNWIND_MAX_MAPPINGS */
	if (sc->search.lo) {
		key = sc->search.base + sc->search.lo - 1;
		m = bpf_map_lookup_elem(&unwind_mappings, &key);
		if (m && st->pc < m->end) {
			st->map = *m;
			return true;
		}
	}
	bpf_find_vma(bpf_get_current_task_btf(), st->pc, vma_mapping, &found, 0);
	if (!found.row_count || st->pc < found.start || st->pc >= found.end)
		return false;
	st->map = found;
	return true;
}

/* The row of the current mapping covering file offset `off`. */
static __always_inline bool unwind_find_row(struct cfi_ctx *ctx, __u64 off,
					    struct unwind_row *row)
{
	struct cfi_scratch *sc = ctx->sc;
	struct unwind_row *r;
	__u32 key;

	if (off > 0xffffffffULL)
		return false;
	sc->search = (struct cfi_search){ .base = sc->walk.map.row_start, .rows = true,
					  .hi = sc->walk.map.row_count, .value = off };
	bpf_loop(22, search_step, ctx, 0); /* 2^21 > UNWIND_MAX_ROWS */
	if (!sc->search.lo)
		return false;
	key = sc->search.base + sc->search.lo - 1;
	r = bpf_map_lookup_elem(&unwind_rows, &key);
	if (!r)
		return false;
	*row = *r;
	return true;
}

static __always_inline bool unwind_append(struct cfi_scratch *sc, __u64 pc)
{
	__u32 depth = sc->walk.depth;

	if (depth >= MAX_STACK_DEPTH)
		return false;
	sc->trace.ips[depth] = pc;
	sc->walk.depth = depth + 1;
	sc->walk.hash = hash_mix(sc->walk.hash, pc);
	return true;
}

/* One frame: from pc/sp/rbp of a frame to its caller's (a bpf_loop callback). */
static long unwind_step(__u32 index, struct cfi_ctx *ctx)
{
	struct unwind_row row = { .cfa = UNWIND_CFA_NONE };
	struct cfi_scratch *sc = ctx->sc;
	struct cfi_walk *st;
	__u64 cfa, ra = 0, rbp;

	if (!sc)
		return 1;
	st = &sc->walk;
	rbp = st->rbp;
	if (!unwind_find_mapping(ctx))
		__sync_fetch_and_add(&unwind_misses, 1);
	else if (st->map.row_count)
		/* pc is a return address: pc - 1 is in the call, even when the
		 * call is the last instruction of its function. */
		unwind_find_row(ctx, st->pc - 1 - st->map.bias, &row);

	switch (row.cfa) {
	case UNWIND_CFA_END:
		st->clean = true;
		return 1;
	case UNWIND_CFA_RSP:
		cfa = st->sp + (__s64)row.cfa_offset;
		break;
	case UNWIND_CFA_RBP:
		if (!st->rbp_ok)
			return 1;
		cfa = st->rbp + (__s64)row.cfa_offset;
		break;
	default: /* no table here: the frame pointer, as the kernel's walk */
		if (!st->rbp) {
			st->clean = true; /* the outermost frame zeroes rbp */
			return 1;
		}
		if (!st->rbp_ok || st->rbp < st->sp)
			return 1;
		cfa = st->rbp + 16;
		row.rbp_offset = -16;
		break;
	}
	if (cfa <= st->sp || bpf_probe_read_user(&ra, sizeof(ra), (void *)(cfa - 8)))
		return 1; /* no progress, or an unreadable stack: garbage */
	if (row.rbp_offset == UNWIND_RBP_UNKNOWN)
		st->rbp_ok = false;
	else if (row.rbp_offset != UNWIND_RBP_SAME &&
		 bpf_probe_read_user(&rbp, sizeof(rbp), (void *)(cfa + (__s64)row.rbp_offset)))
		return 1;
	st->sp = cfa;
	st->rbp = rbp;
	st->pc = ra;
	if (!ra || (ra >= st->stop_start && ra < st->stop_end)) {
		st->clean = true;
		return 1;
	}
	return unwind_append(sc, ra) ? 0 : 1;
}

/* Forgets the target's mappings (it exec'd): frame pointers only until
 * userspace has indexed the new program. */
static __always_inline void unwind_forget(void)
{
	unwind_index.count[0] = 0;
	unwind_index.count[1] = 0;
}

/* Unwinds the user stack at an entry probe of a function whose return
 * address is at `sp` (rbp still the caller's), stores it in stack_traces and
 * returns its id; -1 when it could not be stored (map full, hash collision).
 * A walk that stops before the outermost frame counts LOST_STACK_TRUNCATED
 * and keeps the frames it found.  With a Python stack (py_stack != 0) the
 * walk ends at the interpreter's first frame: the Python frames replace the
 * interpreter's (stacks.c folds them), and every distinct path through the
 * eval loop would otherwise be a stack of its own in the kernel maps. */
static __always_inline long unwind_user_stack(struct pt_regs *ctx, __u64 sp, __u64 py_stack)
{
	struct cfi_scratch *sc = bpf_task_storage_get(&unwind_scratch, bpf_get_current_task_btf(), 0,
						      BPF_LOCAL_STORAGE_GET_F_CREATE);
	struct cfi_ctx walk_ctx = { sc };
	struct stack_trace *found;
	__u32 active, count, id;
	__u64 ra = 0;

	if (!sc)
		return -1;
	active = unwind_index.active & 1;
	count = unwind_index.count[active];
	sc->walk = (struct cfi_walk){
		.hash = 0xcbf29ce484222325ULL, .rbp_ok = true,
		.base = active * UNWIND_MAX_MAPPINGS,
		.count = count < UNWIND_MAX_MAPPINGS ? count : UNWIND_MAX_MAPPINGS,
	};
	if (py_stack) {
		sc->walk.stop_start = python.text_start;
		sc->walk.stop_end = python.text_end;
	}

	/* Frames 0 and 1: the probed function and its caller, from sp. */
	unwind_append(sc, PT_REGS_IP(ctx));
	if (!bpf_probe_read_user(&ra, sizeof(ra), (void *)sp) && ra) {
		unwind_append(sc, ra);
		sc->walk.pc = ra;
		sc->walk.sp = sp + 8;
		sc->walk.rbp = PT_REGS_FP(ctx);
		bpf_loop(MAX_STACK_DEPTH, unwind_step, &walk_ctx, 0);
	}
	if (!sc->walk.clean)
		count_lost(LOST_STACK_TRUNCATED);
	if (sc->walk.depth < MAX_STACK_DEPTH)
		sc->trace.ips[sc->walk.depth] = 0; /* the end mark; later entries are stale */
	sc->trace.hash = hash_mix(sc->walk.hash, sc->walk.depth);

	id = (__u32)(sc->trace.hash ^ (sc->trace.hash >> 32)) & 0x7fffffff; /* < 0: none */
	found = bpf_map_lookup_elem(&stack_traces, &id);
	if (!found && bpf_map_update_elem(&stack_traces, &id, &sc->trace, BPF_NOEXIST) == 0)
		return id;
	if (!found)
		found = bpf_map_lookup_elem(&stack_traces, &id); /* another CPU stored it */
	/* (long)id: with `id : -1` the -1 would become the __u32 0xffffffff,
	 * a positive long, and the failure would go uncounted. */
	return found && found->hash == sc->trace.hash ? (long)id : -1;
}

#endif
