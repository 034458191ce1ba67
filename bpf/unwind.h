/* SPDX-License-Identifier: MIT */
/* Unwind tables shared by userspace (user/unwind_tables.c, user/unwind_maps.c)
 * and the BPF unwinder (bpf/unwind.bpf.h), x86-64 only.
 *
 * Userspace turns each object's CFI (.eh_frame) into sorted rows: from `pc`
 * (an offset in the object's file) on, until the next row, the caller's frame
 * is found by the row's rules.  The return address is always at CFA - 8. */
#ifndef LEAKTOP_UNWIND_H
#define LEAKTOP_UNWIND_H

/* Rows of every object, in one array map; mapped objects of the target, in
 * the mapping index (two buffers of this many, see struct unwind_index). */
#define UNWIND_MAX_ROWS (1u << 20)
#define UNWIND_MAX_MAPPINGS 1024u

/* How to find the Canonical Frame Address (the caller's sp). */
enum unwind_cfa {
	UNWIND_CFA_NONE,	/* no usable CFI here: use the frame pointer */
	UNWIND_CFA_RSP,		/* CFA = rsp + cfa_offset */
	UNWIND_CFA_RBP,		/* CFA = rbp + cfa_offset */
	UNWIND_CFA_END,		/* outermost frame (return address undefined) */
};

/* Where the caller's rbp is. */
enum unwind_rbp {
	UNWIND_RBP_SAME,	/* unchanged by this frame */
	UNWIND_RBP_AT_CFA,	/* saved at CFA + rbp_offset */
	UNWIND_RBP_UNKNOWN,	/* elsewhere (another register, an expression) */
};

struct unwind_row {
	__u32 pc;		/* file offset of the first instruction it covers */
	__s32 cfa_offset;
	__s16 rbp_offset;
	__u8 cfa;		/* enum unwind_cfa */
	__u8 rbp;		/* enum unwind_rbp */
};

/* One executable mapping of the target: its rows are
 * unwind_rows[row_start, row_start + row_count); file offset = pc - bias. */
struct unwind_mapping {
	__u64 start, end;
	__u64 bias;		/* start - file offset of the mapping */
	__u32 row_start, row_count; /* row_count 0: no table, frame pointers */
};

/* The mapping index is double-buffered: userspace fills the buffer that is
 * not active (sorted by start), then flips `active`.  `version` changes with
 * every flip, so cached lookups of an older index are not reused. */
struct unwind_index {
	__u32 active;		/* 0 or 1 */
	__u32 count[2];		/* mappings in each buffer */
	__u32 version;
};

#endif /* LEAKTOP_UNWIND_H */
