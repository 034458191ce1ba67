/* What is traced: one process, or a group of them (-p PID,PID..., their
 * descendants with --children, a cgroup's processes), each a tracee with its
 * own probes bound to its PID, and the views built from all of them. */
#ifndef LEAKTOP_SESSION_H
#define LEAKTOP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include "duty_cycle.h"
#include "heap_history.h"
#include "id_map.h"
#include "model.h"
#include "options.h"
#include "report.h"
#include "tracee.h"
#include "tui.h"

struct session {
	struct options opts;
	struct tracee **members; /* members[0]: the leader (-p's first, the spawned command) */
	size_t count, capacity;
	bool group;		/* more than one process may be traced: per-process views */
	char cgroup[4096];	/* --cgroup, or --unit's cgroup: "" for none */
	struct id_map ignored;	/* pids seen and not traced (no allocator, gone) */
	int allocs_fd;		/* group: the allocations map all processes share */
	struct full_notes said;	/* a full map, said for the first process it fills in */
	struct symbol_store *symbols; /* the processes' objects, symbolized once for all */
	struct frame_table *frames; /* the frames of their stacks, each kept once */
	uint8_t index_used[65536 / 8]; /* group: the processes' indexes in it */
	double next_discovery;	/* monotonic time of the next look for new processes */
	pid_t leader_pid;	/* what the report's "pid" and "comm" name */
	char leader_comm[64];
	struct model *trend;	/* group: the members' stacks summed, for the TUI's trends */
	/* The report's storage, reused every interval. */
	struct model_row *rows;	/* one member's rows */
	struct merged_row *merged; /* the members' rows merged by stack id */
	size_t rows_capacity, merged_capacity;
	struct id_map merged_index; /* stack id -> 1 + merged row */
	struct report_stack *report_stacks;
	size_t capacity_stacks;
	const struct frame **report_frames; /* the frames of report_stacks */
	size_t report_frames_capacity;
	struct report_process *processes;
	size_t processes_capacity;
	double start, last_update;
	bool prom_failing;	/* the last textfile write failed */
	struct heap_history history;	/* total outstanding bytes per interval (--html) */
	struct tui *tui;	/* the live view, when on a terminal */
	struct duty_cycle duty;	/* --duty-cycle phases */
	double scale;		/* figures per byte seen: 1 / measured on-share */
	bool leader_exited;	/* the session ends: the spawned command, or the last process, is gone */
};

/* Checks the outputs, attaches to the processes (or starts the command).
 * Returns 0, or the exit code (2: bad usage, e.g. a PID that does not exist). */
int session_start(struct session *s);
/* Between intervals (every 50 ms or so): each process's tick, exits, and
 * new processes to trace (--children, --cgroup). */
void session_tick(struct session *s);
/* A traced process exited (pidfd readable) or it is time to check. */
void session_reap(struct session *s);
/* Reads every process's maps and brings the models up to date. */
void session_update(struct session *s);
/* The latest snapshot as a report of its best `max` stacks. */
bool session_report(struct session *s, enum model_sort sort, size_t max, struct report *r);

/* Outstanding bytes of every traced process: the heap's total, without the
 * work of a report. */
int64_t session_total_bytes(const struct session *s);
/* The model the TUI draws each stack's trend from. */
const struct model *session_trend(const struct session *s);
/* The leader's pidfd (readable when it exits), for the event loop's poll. */
int session_pidfd(const struct session *s);
void session_pause_allocs(struct session *s);
int session_resume_allocs(struct session *s);
/* Probes attached, and hits per second, over all processes. */
int session_probes(const struct session *s);
double session_hits_per_s(const struct session *s);
/* Forgets the growth history (the TUI's r). */
void session_reset(struct session *s);
const char *session_cmdline(const struct session *s);
void session_exit_message(const struct session *s);
void session_finish(struct session *s);

#endif
