/* One interval's figures, as every view (text, JSON) consumes them. */
#ifndef LEAKTOP_REPORT_H
#define LEAKTOP_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "leaktop_types.h"
#include "symbolizer.h"

struct report_stack {
	uint64_t id;
	int64_t bytes;
	int64_t allocs;
	double growth;			/* bytes per second */
	const struct frame *const *frames; /* innermost first */
	int nframes;
	int processes;			/* group: processes it holds bytes in */
};

/* One process of a group, its totals. */
struct report_process {
	pid_t pid;
	const char *comm;
	int64_t bytes;
	int64_t allocs;
	double growth;
};

struct report {
	double time;			/* wall clock, seconds since the epoch */
	pid_t pid;
	const char *comm;
	double interval_s;
	double elapsed_s;
	int64_t bytes;			/* outstanding, all stacks */
	int64_t allocs;
	double growth;
	uint64_t lost_events;
	/* lost_events by cause (enum lost_reason; LOST_COUNT: allocations of
	 * evicted stacks); LOST_STACK_TRUNCATED counts walks cut short, whose
	 * allocations were tracked and are not in lost_events. */
	uint64_t lost_by_reason[LOST_COUNT + 1];
	uint64_t stacks_evicted;	/* stacks that gave their slot to new ones (more live than slots) */
	double duty_cycle;		/* measured on-share of the allocation probes; 1 = always on */
	uint64_t sample_bytes;		/* -s: figures are estimates from samples; 0 = exact */
	uint64_t kernel_map_bytes;	/* memory leaktop's BPF maps hold (their memlock); 0 = unknown */
	size_t nstacks;			/* stacks holding memory */
	const struct report_stack *stacks; /* the top ones, ranked */
	size_t count;
	bool group;			/* several processes may be traced: the per-process views */
	const struct report_process *processes; /* group: each traced process */
	size_t nprocesses;
};

/* Batch text: header, table of the top stacks, full stacks of the first few. */
void report_text(FILE *out, const struct report *r, int full_stacks);

/* The JSON line of DESIGN.md (no newline); malloc'd, NULL when out of memory. */
char *report_json(const struct report *r);

/* The frame that tells most: the first one after the allocator that is in
 * another object than the allocator (skipping libc's own wrappers such as
 * strdup); the immediate caller when there is none. NULL for an empty stack. */
const struct frame *report_top_frame(const struct report_stack *s);

/* Human units: "0 B", "1023 B", "1.5 KiB", "12.0 MiB"; rates get "/s". */
const char *format_bytes(char *buf, size_t len, double bytes);
const char *format_rate(char *buf, size_t len, double bytes_per_s);

/* "function (file:line)", "function", or object+0xOFFSET; basename of file. */
const char *format_frame(char *buf, size_t len, const struct frame *f);

#endif
