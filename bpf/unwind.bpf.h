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

#ifndef VM_EXEC
#define VM_EXEC 0x00000004 /* include/linux/mm.h */
#endif
/* A fresh read of a word userspace or another CPU changes. */
#define READ_ONCE_U32(x) (*(volatile __u32 *)&(x))
#define READ_ONCE_U64(x) (*(volatile __u64 *)&(x))

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

/* Frames in files the unwinder knows nothing of (a library loaded since the
 * maps were last read): userspace reads them again when this grows.  Code
 * outside any file (a JIT's) is not counted: reading the maps cannot help. */
__u64 unwind_misses = 0;

struct cfi_walk {
	__u64 pc, sp, rbp;	/* registers of the frame being unwound */
	__u64 hash;
	__u64 certain_hash;	/* hash after frames 0 and 1, which need no table */
	__u32 epoch;		/* the thread's rule cache epoch for this walk */
	bool cached;		/* a rule came from the cache */
	struct unwind_mapping map; /* the mapping of the last pc looked up */
	__u32 depth;		/* addresses in the trace so far */
	__u32 base, count;	/* the active buffer of the mapping index; count 0
				 * when it is stale (see struct unwind_index) */
	__u64 stop_start, stop_end; /* code whose frames end the walk */
	__u64 top;		/* the end of the highest stack word read */
	bool rbp_ok;		/* false once rbp could not be recovered */
	bool clean;		/* the walk reached the outermost frame */
	bool dropped;		/* went through an object whose table did not fit */
};

/* A binary search for the last entry <= value among keys base + [lo, hi)
 * of unwind_rows (rows) or unwind_mappings. */
struct cfi_search {
	__u32 base, lo, hi;
	bool rows;
	__u64 value;
};

/* What the frame rule of a return address is, remembered per thread: a
 * service allocates from a few thousand call sites, and a remembered frame
 * costs one compare instead of the two binary searches.  Direct-mapped by the
 * address; only the thread's own walks read and write it (a thread runs one
 * probe at a time), so an entry is never torn.
 *
 * An entry holds the result of a lookup made while the globals `changes`,
 * `seq` and `rows_seq` of unwind_index had the values its epoch stands for
 * (struct cfi_cache_state); a walk uses it only when they had the same values
 * at its start, and keeps the frames after the first two only when they still
 * have them at its end.  The three only grow, so they kept their values over
 * the whole time from the lookup to the use: the code, the index and the rows
 * were as the lookup saw them, and the entry says what a lookup would say
 * now.  A dlclose/dlopen at the same address bumps `changes` (see
 * unwind_mmap_released) before the new code can run.  Lookups whose answer can
 * change without those (a file not known yet, an object whose table did not
 * fit, no vma or the mmap lock taken) are not kept. */
#define UNWIND_CACHE_SIZE 256u
#ifndef UNWIND_WINDOW
#define UNWIND_WINDOW 2048u	/* a power of two, at most a page */
#endif
struct cfi_cached_rule {
	__u64 pc;		/* the return address */
	__u32 epoch;		/* 0: empty */
	__s16 cfa_offset;	/* struct unwind_row's rule, */
	__u8 cfa;		/* UNWIND_CFA_NONE for frame pointers */
	__s8 rbp_offset;
};

/* The globals the thread's cache entries were made under, and the epoch
 * standing for them: a walk that starts under other values makes a new one. */
struct cfi_cache_state {
	__u32 changes, seq, rows_seq;
	__u32 epoch;
};

/* The ids of the thread's last stacks (store_trace_once()). */
#define TRACE_MEMO_SIZE 16u
struct trace_memo {
	__u64 hash;		/* struct stack_trace's */
	__u32 id;
	__u32 traces_seq;	/* + 1; 0: empty */
};

/* The walk's whole state lives in map memory, not on the BPF stack: the
 * stack is too big for it, and the verifier does not track values in map
 * memory, so the bpf_loop callbacks below converge after a pass or two
 * instead of being verified once per frame.  One per thread, not per CPU:
 * uprobe programs can be preempted, and another thread's walk on the same
 * CPU would overwrite this one's midway.  It is part of the thread's state
 * in leaktop.bpf.c (one task-storage lookup per event). */
struct cfi_scratch {
	struct cfi_walk walk;
	struct cfi_search search;
	struct stack_trace trace;
	struct cfi_cache_state cache_state;
	struct cfi_cached_rule cache[UNWIND_CACHE_SIZE];
	struct trace_memo memo[TRACE_MEMO_SIZE];
	/* A copy of the stack from win_base on (win_len bytes): one read of
	 * user memory for many frames instead of one or two per frame. */
	__u64 win_base;
	__u32 win_len;
	__u32 win_want;		/* bytes the first read takes (0: all it can) */
	__u64 window[UNWIND_WINDOW / 8]; /* words: a byte array's words are
					  * read a byte at a time */
};

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

/* What the kernel's vma of an address says. */
enum vma_kind {
	VMA_NONE,	/* no vma there (a garbage address), or it could not be read */
	VMA_NO_FILE,	/* code with no file behind it: frame pointers */
	VMA_UNKNOWN,	/* a file userspace has not seen yet */
	VMA_KNOWN,	/* a file in unwind_objects */
};

struct vma_found {
	struct unwind_mapping map;
	__u32 kind;
};

/* Where the inode's change time is, by kernel version. */
struct inode___ctime_6_6 {
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

struct inode___ctime_old {
	struct timespec64 i_ctime;
} __attribute__((preserve_access_index));

static __always_inline __u64 inode_ctime_ns(struct inode *inode)
{
	__u64 sec, nsec;

	if (bpf_core_field_exists(inode->i_ctime_sec)) { /* 6.11 on */
		sec = BPF_CORE_READ(inode, i_ctime_sec);
		nsec = BPF_CORE_READ(inode, i_ctime_nsec);
	} else if (bpf_core_field_exists(((struct inode___ctime_6_6 *)inode)->__i_ctime)) {
		sec = BPF_CORE_READ((struct inode___ctime_6_6 *)inode, __i_ctime.tv_sec);
		nsec = BPF_CORE_READ((struct inode___ctime_6_6 *)inode, __i_ctime.tv_nsec);
	} else {
		sec = BPF_CORE_READ((struct inode___ctime_old *)inode, i_ctime.tv_sec);
		nsec = BPF_CORE_READ((struct inode___ctime_old *)inode, i_ctime.tv_nsec);
	}
	/* Multigrain timestamps (6.13) keep a flag in the top bits. */
	return sec * 1000000000ULL + (nsec & 0x3fffffff);
}

/* bpf_find_vma's callback: the mapping of pc from the kernel's own vma, its
 * rows from unwind_objects by the file's identity (struct unwind_object_key). */
static long vma_mapping(struct task_struct *task, struct vm_area_struct *vma, struct vma_found *f)
{
	struct unwind_object_key key = {};
	struct unwind_object_rows *rows;
	struct inode *inode = BPF_CORE_READ(vma, vm_file, f_inode);

	f->map.start = BPF_CORE_READ(vma, vm_start);
	f->map.end = BPF_CORE_READ(vma, vm_end);
	f->map.bias = f->map.start - BPF_CORE_READ(vma, vm_pgoff) * 4096;
	if (!inode) {
		f->kind = VMA_NO_FILE;
		return 0;
	}
	key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	key.inode = BPF_CORE_READ(inode, i_ino);
	key.size = BPF_CORE_READ(inode, i_size);
	key.ctime_ns = inode_ctime_ns(inode);
	rows = bpf_map_lookup_elem(&unwind_objects, &key);
	if (!rows) {
		f->kind = VMA_UNKNOWN;
		return 0;
	}
	f->kind = VMA_KNOWN;
	f->map.row_start = rows->row_start;
	f->map.row_count = rows->row_count;
	return 0;
}

/* Finds pc's mapping (st->map) in the index, else through the kernel's vma
 * of pc; its row_count is 0 when no table covers it. */
static __always_inline enum vma_kind unwind_find_mapping(struct cfi_ctx *ctx)
{
	struct cfi_scratch *sc = ctx->sc;
	struct cfi_walk *st = &sc->walk;
	struct vma_found found = {};
	struct unwind_mapping *m;
	__u32 key;

	if (st->pc >= st->map.start && st->pc < st->map.end)
		return VMA_KNOWN;
	sc->search = (struct cfi_search){ .base = st->base, .hi = st->count, .value = st->pc };
	bpf_loop(12, search_step, ctx, 0); /* 2^11 > UNWIND_MAX_MAPPINGS */
	if (sc->search.lo) {
		key = sc->search.base + sc->search.lo - 1;
		m = bpf_map_lookup_elem(&unwind_mappings, &key);
		if (m && st->pc < m->end) {
			st->map = *m;
			return VMA_KNOWN;
		}
	}
	if (bpf_find_vma(bpf_get_current_task_btf(), st->pc, vma_mapping, &found, 0) ||
	    st->pc < found.map.start || st->pc >= found.map.end)
		return VMA_NONE;
	if (found.kind != VMA_UNKNOWN)
		st->map = found.map; /* the next frames in it need no lookup */
	return found.kind;
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

/* Fills the window with the thread's stack from `from` on (8-aligned): `want`
 * bytes (0: the window's size), or when those bytes are not all readable, to
 * the end of from's page.  The stack does not change meanwhile: its thread is
 * in the probe.  A read of user memory has a large fixed cost (~150 ns on the
 * VM measured, whatever its size; 2 KiB cost ~30 ns more than 128 bytes), so
 * one read does for the whole stack of most walks, and the first read of a
 * walk takes about what the thread's last walks needed (win_want). */
static __always_inline void stack_window(struct cfi_scratch *sc, __u64 from, __u32 want)
{
	__u32 len = want;

	sc->win_base = from;
	sc->win_len = 0;
	if (len < 64 || len > UNWIND_WINDOW)
		len = UNWIND_WINDOW;
	barrier_var(len);
	if (len >= 8 && len <= UNWIND_WINDOW && !bpf_probe_read_user(sc->window, len, (void *)from)) {
		sc->win_len = len;
		return;
	}
	len = 4096 - (from & 4095);
	if (len > want && want >= 64)
		len = want;
	if (len > UNWIND_WINDOW)
		len = UNWIND_WINDOW;
	barrier_var(len);
	if (len >= 8 && len <= UNWIND_WINDOW && !bpf_probe_read_user(sc->window, len, (void *)from))
		sc->win_len = len;
}

/* The word of the thread's stack at addr, from the window, which is moved
 * when it does not hold it (to a little below addr, as the frame's other
 * words lie below its return address, but not below `floor`, the lowest
 * address of the stack still to be read); false, as a read of that word
 * alone, when it is unreadable. */
static __always_inline bool stack_word(struct cfi_scratch *sc, __u64 addr, __u64 floor, __u64 *value)
{
	__u64 off = addr - sc->win_base;

	if (addr & 7)
		return !bpf_probe_read_user(value, sizeof(*value), (void *)addr);
	/* (A window read from an sp that is not 8-aligned holds no whole word
	 * at an aligned addr: read again from addr, or a little below.) */
	if (off >= sc->win_len || sc->win_len - off < 8 || (off & 7)) {
		stack_window(sc, addr >= floor + 128 && !(floor & 7) ? addr - 128 : addr, 0);
		off = addr - sc->win_base;
		if (off >= sc->win_len || sc->win_len - off < 8)
			return !bpf_probe_read_user(value, sizeof(*value), (void *)addr);
	}
	*value = sc->window[(off / 8) & (UNWIND_WINDOW / 8 - 1)];
	if (addr + 8 > sc->walk.top)
		sc->walk.top = addr + 8;
	return true;
}

static __always_inline __u32 cache_index(__u64 pc)
{
	return (__u32)((pc * 0x9e3779b97f4a7c15ULL) >> 56) & (UNWIND_CACHE_SIZE - 1);
}

static long cache_clear_one(__u32 index, struct cfi_ctx *ctx)
{
	struct cfi_scratch *sc = ctx->sc;

	if (!sc)
		return 1;
	sc->cache[index & (UNWIND_CACHE_SIZE - 1)].epoch = 0;
	return 0;
}

/* The thread's cache epoch for a walk starting under these globals. */
static __always_inline __u32 cache_epoch(struct cfi_ctx *ctx, __u32 changes, __u32 seq, __u32 rows_seq)
{
	struct cfi_cache_state *cs = &ctx->sc->cache_state;

	if (!cs->epoch || cs->changes != changes || cs->seq != seq || cs->rows_seq != rows_seq) {
		cs->changes = changes;
		cs->seq = seq;
		cs->rows_seq = rows_seq;
		if (++cs->epoch == 0) {
			/* After 2^32 epochs, an old entry's would come back. */
			bpf_loop(UNWIND_CACHE_SIZE, cache_clear_one, ctx, 0);
			cs->epoch = 1; /* 0 marks an empty entry */
		}
	}
	return cs->epoch;
}

/* One frame: from pc/sp/rbp of a frame to its caller's; non-zero to stop. */
static __always_inline long unwind_frame(struct cfi_ctx *ctx)
{
	struct unwind_row row = { .cfa = UNWIND_CFA_NONE };
	struct cfi_scratch *sc = ctx->sc;
	struct cfi_cached_rule *slot;
	struct cfi_walk *st;
	__u64 cfa, ra = 0, rbp;

	if (!sc)
		return 1;
	st = &sc->walk;
	rbp = st->rbp;
	slot = &sc->cache[cache_index(st->pc)];
	if (slot->pc == st->pc && slot->epoch == st->epoch) {
		row.cfa = slot->cfa;
		row.cfa_offset = slot->cfa_offset;
		row.rbp_offset = slot->rbp_offset;
		st->cached = true;
	} else {
		switch (unwind_find_mapping(ctx)) {
		case VMA_UNKNOWN:
			__sync_fetch_and_add(&unwind_misses, 1);
			break;
		case VMA_NONE:
			break; /* no vma (garbage), or the mmap lock taken: frame pointers */
		default:
			if (st->map.row_count)
				/* pc is a return address: pc - 1 is in the call, even
				 * when the call is the last instruction of its function. */
				unwind_find_row(ctx, st->pc - 1 - st->map.bias, &row);
			else if (st->map.row_start == UNWIND_ROWS_DROPPED) {
				st->dropped = true;
				break;
			}
			*slot = (struct cfi_cached_rule){ .pc = st->pc, .epoch = st->epoch, .cfa = row.cfa,
							  .cfa_offset = row.cfa_offset,
							  .rbp_offset = row.rbp_offset };
			break;
		}
	}

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
	if (cfa <= st->sp || !stack_word(sc, cfa - 8, st->sp, &ra))
		return 1; /* no progress, or an unreadable stack: garbage */
	if (row.rbp_offset == UNWIND_RBP_UNKNOWN)
		st->rbp_ok = false;
	else if (row.rbp_offset != UNWIND_RBP_SAME &&
		 !stack_word(sc, cfa + (__s64)row.rbp_offset, st->sp, &rbp))
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

/* Frames per bpf_loop callback: fewer calls for a walk. */
#define UNWIND_FRAMES_PER_STEP 4

static long unwind_steps(__u32 index, struct cfi_ctx *ctx)
{
#pragma unroll
	for (int i = 0; i < UNWIND_FRAMES_PER_STEP; i++)
		if (unwind_frame(ctx))
			return 1;
	return 0;
}

/* What the thread's next walk reads first: what this one read from sp on
 * and a little more, or after a deeper walk, an eighth less each time, so
 * that a thread whose stacks differ in depth does not read twice often. */
static __always_inline void window_want(struct cfi_scratch *sc, __u64 sp)
{
	__u64 need = sc->walk.top > sp ? sc->walk.top - sp : 0;
	__u32 next = need < UNWIND_WINDOW - 128 ? ((__u32)need + 128) & ~63u : UNWIND_WINDOW;
	__u32 decayed = sc->win_want - sc->win_want / 8;

	sc->win_want = next > decayed ? next : decayed;
}

/* The target's mappings changed under the index (it exec'd, or code was
 * unmapped): walks stop using it until userspace has read the maps again. */
static __always_inline void unwind_invalidate(void)
{
	__sync_fetch_and_add(&unwind_index.changes, 1);
}

/* The target's pages of executable code (mm->exec_vm) when last looked at. */
__u64 unwind_exec_vm = 0;

/* Mappings are added and removed with the target's mmap lock held.  When a
 * thread of the target lets it go and the amount of executable code differs
 * from the last time, code was mapped or unmapped (dlopen, dlclose): the
 * index is stale.  This runs before the lock is released, so before anything
 * can be mapped where removed code was, and before userspace can read the
 * new maps.  Only the mmap lock's users pay for it, not every syscall. */
SEC("tp_btf/mmap_lock_released")
int BPF_PROG(unwind_mmap_released, struct mm_struct *mm, bool write)
{
	__u64 exec_vm;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid ||
	    mm != bpf_get_current_task_btf()->mm) /* it read another's maps */
		return 0;
	exec_vm = mm->exec_vm;
	if (exec_vm != READ_ONCE_U64(unwind_exec_vm)) {
		unwind_exec_vm = exec_vm;
		unwind_invalidate();
	}
	return 0;
}

/* A native stack's id: its hash folded to 31 bits (< 0 means none), then the
 * next ids (open addressing), so that two stacks whose hashes fold alike
 * both find a place; a long run over many stacks meets such pairs. */
#define STACK_ID_PROBES 4

static __always_inline __u32 stack_id_at(__u64 hash, __u32 probe)
{
	return ((__u32)(hash ^ (hash >> 32)) + probe) & 0x7fffffff;
}

/* Stores `trace` in stack_traces unless it is there already; its id, or -1
 * when every id it may take holds another stack or the map is full. */
static __always_inline long store_trace(const struct stack_trace *trace)
{
	struct stack_trace *found;
	__u32 id, free_id = 0;
	bool have_free = false;

	/* Where it is already: the warm path, mostly the first lookup. */
#pragma unroll
	for (__u32 probe = 0; probe < STACK_ID_PROBES; probe++) {
		id = stack_id_at(trace->hash, probe);
		found = bpf_map_lookup_elem(&stack_traces, &id);
		if (found && found->hash == trace->hash)
			return id;
		if (!found && !have_free) {
			free_id = id;
			have_free = true;
		}
	}
	if (!have_free)
		return -1;
	if (bpf_map_update_elem(&stack_traces, &free_id, trace, BPF_NOEXIST) == 0)
		return free_id;
	found = bpf_map_lookup_elem(&stack_traces, &free_id); /* another CPU stored one */
	return found && found->hash == trace->hash ? (long)free_id : -1;
}

/* Userspace deletes stacks from stack_traces (those no slot names, those of
 * an older program image) with traces_seq odd: +1 before, +1 after. */
__u32 traces_seq = 0;

/* store_trace(), but a stack the thread stored lately is not looked up
 * again: its id is remembered with traces_seq, while that is even (no
 * deletion under way), as read before the lookup that found the id.  It is
 * used while traces_seq has not moved: then no deletion began since that
 * lookup, which found the stack at the id (a deletion that had begun by
 * then moved it on by the time it ended), so the stack is there as that
 * lookup saw it, and a lookup now would answer the same.  Stacks of an older
 * image are not remembered wrongly either: an id of this image's stacks is
 * never one of theirs (the hash has the generation in it). */
static __always_inline long store_trace_once(struct cfi_scratch *sc)
{
	__u32 seq = READ_ONCE_U32(traces_seq);
	struct trace_memo *m = &sc->memo[sc->trace.hash & (TRACE_MEMO_SIZE - 1)];
	long id;

	barrier();
	if (m->hash == sc->trace.hash && m->traces_seq == seq + 1 && !(seq & 1))
		return m->id;
	id = store_trace(&sc->trace);
	if (id >= 0 && !(seq & 1)) {
		m->hash = sc->trace.hash;
		m->id = (__u32)id;
		m->traces_seq = seq + 1;
	}
	return id;
}

/* One walk from the caller on, with the tables as they are when it starts;
 * false when they changed under it (its frames beyond 0 and 1 may then come
 * from rows or mappings it should not have used). */
static __always_inline bool walk_once(struct pt_regs *ctx, struct cfi_scratch *sc, __u64 sp, __u64 ra,
				      __u64 py_stack)
{
	struct cfi_ctx walk_ctx = { sc };
	__u32 active, count, seq, rows_seq, changes;

	seq = READ_ONCE_U32(unwind_index.seq);
	rows_seq = READ_ONCE_U32(unwind_index.rows_seq);
	changes = READ_ONCE_U32(unwind_index.changes);
	barrier();
	active = unwind_index.active & 1;
	count = unwind_index.count[active];
	if (unwind_index.tag[active] != changes)
		count = 0; /* read before the last exec or unmap: the vmas say */
	sc->walk = (struct cfi_walk){
		/* The program image in the hash: no stack of a newer image has
		 * an older one's id, so userspace can drop them with it. */
		.hash = hash_mix(0xcbf29ce484222325ULL, generation), .rbp_ok = true,
		.base = active * UNWIND_MAX_MAPPINGS,
		.count = count < UNWIND_MAX_MAPPINGS ? count : UNWIND_MAX_MAPPINGS,
		.epoch = cache_epoch(&walk_ctx, changes, seq, rows_seq),
	};
	if (py_stack) {
		sc->walk.stop_start = python.text_start;
		sc->walk.stop_end = python.text_end;
	}

	/* Frames 0 and 1: the probed function and its caller, from sp. */
	unwind_append(sc, PT_REGS_IP(ctx));
	if (!ra)
		return true;
	unwind_append(sc, ra);
	sc->walk.certain_hash = sc->walk.hash;
	sc->walk.pc = ra;
	sc->walk.sp = sp + 8;
	sc->walk.rbp = PT_REGS_FP(ctx);
	bpf_loop((MAX_STACK_DEPTH + UNWIND_FRAMES_PER_STEP - 1) / UNWIND_FRAMES_PER_STEP,
		 unwind_steps, &walk_ctx, 0);
	barrier();
	window_want(sc, sp);
	return READ_ONCE_U32(unwind_index.rows_seq) == rows_seq &&
	       !((count || sc->walk.cached) && (READ_ONCE_U32(unwind_index.seq) != seq ||
						 READ_ONCE_U32(unwind_index.changes) != changes));
}

/* Unwinds the user stack at an entry probe of a function whose return
 * address, `caller`, is at `sp` (rbp still the caller's), with the thread's
 * scratch, whose window holds the stack from sp on (stack_window()); stores
 * it in stack_traces (store_trace()) and returns its id, -1 when it could not
 * be stored.
 * A walk that stops before the outermost frame counts LOST_STACK_TRUNCATED
 * and keeps the frames it found.  With a Python stack (py_stack != 0) the
 * walk ends at the interpreter's first frame: the Python frames replace the
 * interpreter's (stacks.c folds them), and every distinct path through the
 * eval loop would otherwise be a stack of its own in the kernel maps. */
static __always_inline long unwind_user_stack(struct pt_regs *ctx, struct cfi_scratch *sc, __u64 sp,
					      __u64 caller, __u64 py_stack)
{
	if (!sc)
		return -1;
	/* Tables change under a walk when userspace publishes new ones (a
	 * program starting, a dlopen): walk again with the new ones, once. */
	if (!walk_once(ctx, sc, sp, caller, py_stack) && !walk_once(ctx, sc, sp, caller, py_stack)) {
		/* Changed again: keep the frames that are certain, 0 and 1. */
		sc->walk.depth = 2;
		sc->walk.hash = sc->walk.certain_hash;
		sc->walk.clean = false;
	}
	if (!sc->walk.clean || sc->walk.dropped)
		count_lost(LOST_STACK_TRUNCATED);
	if (sc->walk.depth < MAX_STACK_DEPTH)
		sc->trace.ips[sc->walk.depth] = 0; /* the end mark; later entries are stale */
	sc->trace.hash = hash_mix(sc->walk.hash, sc->walk.depth);

	return store_trace_once(sc);
}

#endif
