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

/* Where the caller's rbp is (rbp_offset): unchanged by this frame, unknown
 * (kept in another register, or too far), or else saved at CFA + rbp_offset
 * (always below the CFA, so never 0). */
#define UNWIND_RBP_SAME 0
#define UNWIND_RBP_UNKNOWN (-128)

/* 8 bytes: array map elements are 8-byte aligned, and userspace writes the
 * rows straight into the mmapped map. */
struct unwind_row {
	__u32 pc;		/* file offset of the first instruction it covers */
	__s16 cfa_offset;
	__u8 cfa;		/* enum unwind_cfa */
	__s8 rbp_offset;	/* UNWIND_RBP_SAME, UNWIND_RBP_UNKNOWN, or CFA + this */
};

/* One executable mapping of the target: its rows are
 * unwind_rows[row_start, row_start + row_count); file offset = pc - bias. */
struct unwind_mapping {
	__u64 start, end;
	__u64 bias;		/* start - file offset of the mapping */
	__u32 row_start, row_count; /* row_count 0: no table, frame pointers */
};

/* row_start of an object (row_count 0) whose table did not fit in the maps:
 * walks through it take frame pointers and count as truncated. */
#define UNWIND_ROWS_DROPPED 0xffffffffu

/* An object file as the kernel names it: the super block's device
 * ((major << 20) | minor) and the inode, with the size and the inode's change
 * time, so that a reused inode number or a file rewritten in place (a plugin
 * copied over one that was unloaded) is another object.  Through it the
 * unwinder finds an object's rows for code the mapping index does not have
 * (a spawned program's first milliseconds, a library just loaded, an index
 * gone stale): the tables are built by file, before the code is mapped.
 * Every object userspace has looked at is there, with or without a table,
 * so that only files it has not seen yet count as misses. */
struct unwind_object_key {
	__u64 dev;
	__u64 inode;
	__u64 size;
	__u64 ctime_ns;		/* nanoseconds since the epoch */
};

struct unwind_object_rows {
	__u32 row_start, row_count;
};

/* The mapping index is double-buffered: userspace fills the buffer that is
 * not active (sorted by start), then flips `active`.
 *
 * An index is only as good as the maps it was read from: once an executable
 * file mapping of the target goes away (dlclose, exec), another file may be
 * mapped at its addresses.  The kernel counts changes of the target's code
 * (execs, code mapped or unmapped) in `changes`; userspace reads `changes`
 * before it reads the maps and tags the buffer with it.  A walk uses the active buffer only while its tag is current,
 * else it finds each mapping through the kernel's own vma of the address.
 * Userspace bumps `seq` before it rewrites a buffer (a walk that began
 * before the last flip may still be in it), and `rows_seq` before it writes
 * rows where a reclaimed object's were: a walk that sees them move (or,
 * having used the index, `changes`) keeps only the frames that do not
 * depend on the tables. */
struct unwind_index {
	__u32 active;		/* 0 or 1 */
	__u32 count[2];		/* mappings in each buffer */
	__u32 tag[2];		/* `changes` when each buffer's maps were read */
	__u32 changes;		/* kernel: +1 per exec and per change of the executable code */
	__u32 seq;		/* userspace: +1 before a buffer is rewritten */
	__u32 rows_seq;		/* userspace: +1 before reclaimed rows are rewritten */
};

#endif /* LEAKTOP_UNWIND_H */
