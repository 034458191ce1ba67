/* What is traced: the processes of the session (one, a -p list, their
 * descendants, a cgroup's), found, attached and dropped here; each is a
 * tracee (its own probes bound to its PID: never a system-wide uprobe on a
 * shared library).  The report merges their stacks by stable id. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "clock.h"
#include "atomic_file.h"
#include "frame_table.h"
#include "grow.h"
#include "probes.h"
#include "process_discovery.h"
#include "session.h"
#include "unit_cgroup.h"

/* How often descendants and cgroup members are looked for (well within an
 * interval: a new worker is traced before its first report). */
#define DISCOVERY_PERIOD_S 0.1

static struct tracee *member_of(const struct session *s, pid_t pid)
{
	for (size_t i = 0; i < s->count; i++)
		if (s->members[i]->target.pid == pid)
			return s->members[i];
	return NULL;
}

/* A free index in the shared allocations map for t (0 is the first
 * process's); false when all are taken. */
static bool take_index(struct session *s, struct tracee *t)
{
	for (uint32_t i = 1; i < 65536; i++)
		if (!(s->index_used[i / 8] & (1u << (i % 8)))) {
			s->index_used[i / 8] |= (uint8_t)(1u << (i % 8));
			t->index = (uint16_t)i;
			t->shared_allocs_fd = s->allocs_fd;
			return true;
		}
	return false;
}

/* t's index is free again (its records are gone from the map). */
static void give_index(struct session *s, const struct tracee *t)
{
	if (t->shared_allocs_fd >= 0)
		s->index_used[t->index / 8] &= (uint8_t)~(1u << (t->index % 8));
}

/* Attaches to pid (0: spawns the command) and adds it to the members.
 * Returns 0, or 1 with the cause said (unless `later` and the process is
 * gone: a short-lived child). */
static int add_member(struct session *s, pid_t pid, bool later)
{
	struct tracee *t, **grown;

	grown = grow_array(s->members, &s->capacity, s->count + 1, sizeof(*grown), 4);
	t = grown ? calloc(1, sizeof(*t)) : NULL;
	if (!t) {
		fprintf(stderr, "leaktop: out of memory\n");
		return 1;
	}
	s->members = grown;
	t->shared_allocs_fd = -1;
	t->said = &s->said;
	t->symbols = s->symbols;
	t->frames = s->frames;
	if (s->count)
		t->max_allocs = s->members[0]->max_allocs;
	if (s->group && s->allocs_fd >= 0 && !take_index(s, t)) {
		fprintf(stderr, "leaktop: more than 65535 processes: PID %d not traced\n", pid);
		free(t);
		return 1;
	}
	if (tracee_start(t, &s->opts, pid, later)) {
		tracee_finish(t);
		give_index(s, t);
		free(t);
		return 1;
	}
	if (s->group && s->allocs_fd < 0) {
		/* The first process's allocations map is the session's. */
		s->allocs_fd = fcntl(probes_allocs_fd(t->probes), F_DUPFD_CLOEXEC, 0);
		t->shared_allocs_fd = s->allocs_fd;
		s->index_used[0] |= 1;
	}
	s->members[s->count++] = t;
	if (later && !s->duty.on)
		probes_pause_allocs(t->probes); /* found in an off-phase: off with the others */
	if (!s->leader_pid) { /* (a cgroup empty at the start: its first process) */
		s->leader_pid = t->target.pid;
		snprintf(s->leader_comm, sizeof(s->leader_comm), "%s", t->target.comm);
	}
	return 0;
}

static void remove_member(struct session *s, size_t i)
{
	tracee_finish(s->members[i]);
	/* The objects only it mapped are closed now, not when the next new
	 * stack is named (the other processes may make none for long). */
	symbol_store_trim(s->symbols);
	give_index(s, s->members[i]);
	free(s->members[i]);
	memmove(&s->members[i], &s->members[i + 1], (s->count - i - 1) * sizeof(s->members[0]));
	s->count--;
}

/* What a process runs, as a number: its executable's device and inode (0
 * when gone).  A process found without an allocator (caught in the middle
 * of its exec, or a static program) is tried again once it runs another. */
static uint64_t running(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	if (stat(path, &st))
		return 0;
	return ((uint64_t)st.st_dev << 40 ^ (uint64_t)st.st_ino) | 1;
}

/* A PID found by discovery: traced from now on, unless it is known or was
 * found untraceable running the same program (not tried at every look). */
static void consider(struct session *s, pid_t pid)
{
	uint64_t program, seen;

	if (pid == getpid() || member_of(s, pid))
		return;
	seen = id_map_get(&s->ignored, (uint64_t)pid);
	program = seen ? running(pid) : 0;
	if (seen && (seen == program || !program))
		return;
	if (!seen)
		program = running(pid);
	if (add_member(s, pid, true))
		id_map_set(&s->ignored, (uint64_t)pid, program ? program : 1);
	else
		id_map_set(&s->ignored, (uint64_t)pid, 0);
}

static void forget_gone(void *ctx, uint64_t pid, uint64_t value)
{
	struct pid_list *gone = ctx;

	(void)value;
	if (!process_alive((pid_t)pid) && gone->count < gone->capacity)
		gone->pids[gone->count++] = (pid_t)pid;
}

/* PIDs once ignored that have exited are forgotten (their number may come
 * back as another process). */
static void prune_ignored(struct session *s)
{
	pid_t pids[64];
	struct pid_list gone = { pids, 0, 64 };

	id_map_each(&s->ignored, forget_gone, &gone);
	for (size_t i = 0; i < gone.count; i++)
		id_map_set(&s->ignored, (uint64_t)gone.pids[i], 0);
}

/* Processes moved out of the cgroup leave the session, as if they had exited. */
static void leave_cgroup(struct session *s, const struct pid_list *in)
{
	for (size_t i = 0; i < s->count; i++) {
		pid_t pid = s->members[i]->target.pid;
		size_t j = 0;

		while (j < in->count && in->pids[j] != pid)
			j++;
		if (j < in->count || !process_alive(pid))
			continue; /* (an exit is reaped as such) */
		fprintf(stderr, "leaktop: PID %d (%s) left cgroup %s\n", pid, s->members[i]->target.comm, s->cgroup);
		remove_member(s, i--);
	}
}

/* New descendants of the members (--children), new processes of the cgroup. */
static void discover(struct session *s)
{
	struct pid_list found = { 0 };
	double t = now(CLOCK_MONOTONIC);

	if (t < s->next_discovery)
		return;
	s->next_discovery = t + DISCOVERY_PERIOD_S;
	if (s->cgroup[0] && cgroup_processes(s->cgroup, &found) == 0) {
		for (size_t j = 0; j < found.count; j++)
			consider(s, found.pids[j]);
		if (!s->opts.children)
			leave_cgroup(s, &found);
	}
	/* Members added meanwhile are looked at too: a whole new subtree at once. */
	for (size_t i = 0; s->opts.children && i < s->count; i++) {
		found.count = 0;
		process_children(s->members[i]->target.pid, &found);
		for (size_t j = 0; j < found.count; j++)
			consider(s, found.pids[j]);
	}
	pid_list_free(&found);
}

/* Every -p PID must exist: a list with a wrong one is a usage error. */
static int check_pids(const struct options *o)
{
	for (int i = 0; o->npids > 1 && i < o->npids; i++)
		if (!process_alive(o->pids[i])) {
			fprintf(stderr, "leaktop: no process with PID %d (-p list): check the PIDs (e.g. pidof NAME)\n",
				o->pids[i]);
			return 2;
		}
	return 0;
}

int session_start(struct session *s)
{
	struct options *o = &s->opts;
	char err[512];
	int e;

	s->allocs_fd = -1;
	if ((o->prom_file && output_path_check("--prom-file", o->prom_file, err, sizeof(err))) ||
	    (o->folded_file && output_path_check("--folded", o->folded_file, err, sizeof(err))) ||
	    (o->html_file && output_path_check("--html", o->html_file, err, sizeof(err))) ||
	    (o->pprof_file && output_path_check("--pprof", o->pprof_file, err, sizeof(err)))) {
		fprintf(stderr, "leaktop: %s\n", err);
		return 2;
	}
	if ((e = check_pids(o)))
		return e;
	if (o->unit && unit_cgroup(o->unit, s->cgroup, sizeof(s->cgroup), err, sizeof(err))) {
		fprintf(stderr, "leaktop: %s\n", err);
		return 2;
	}
	if (o->cgroup)
		snprintf(s->cgroup, sizeof(s->cgroup), "%s", o->cgroup);
	if (s->cgroup[0] && cgroup_check(s->cgroup, err, sizeof(err))) {
		fprintf(stderr, "leaktop: %s\n", err);
		return 2;
	}
	s->group = o->npids > 1 || o->children || s->cgroup[0];
	s->symbols = symbol_store_new();
	s->frames = frame_table_new();
	if (!s->symbols || !s->frames) {
		fprintf(stderr, "leaktop: out of memory\n");
		return 1;
	}
	s->scale = 1;
	if (o->command && add_member(s, 0, false))
		return 1;
	for (int i = 0; i < o->npids; i++)
		if (add_member(s, o->pids[i], false))
			return 1;
	/* The first on-phase begins once the probes are on: loading and
	 * attaching saw nothing, and would count as on-time. */
	duty_cycle_init(&s->duty, o->duty_cycle, DUTY_CYCLE_PERIOD_S, now(CLOCK_MONOTONIC));
	if (s->group && !(s->trend = model_new(o->window_s))) {
		fprintf(stderr, "leaktop: out of memory\n");
		return 1;
	}
	discover(s);
	if (s->cgroup[0])
		fprintf(stderr, "leaktop: tracing cgroup %s: %zu processes now, new ones as they come\n", s->cgroup,
			s->count);
	return 0;
}

void session_tick(struct session *s)
{
	for (size_t i = 0; i < s->count; i++)
		tracee_tick(s->members[i]);
	session_reap(s);
	if (s->opts.children || s->cgroup[0])
		discover(s);
}

/* A member that exited leaves the session with its figures; the session
 * ends with the spawned command, or with the last process (not with a
 * cgroup's: new ones may come), keeping that one's last figures. */
void session_reap(struct session *s)
{
	for (size_t i = 0; i < s->count; i++) {
		struct tracee *t = s->members[i];

		if (!target_wait_exit(&t->target, 0))
			continue;
		if (t->target.spawned || (s->count == 1 && !s->cgroup[0])) {
			s->leader_exited = true;
			continue;
		}
		if (!t->later || t->nprobes)
			tracee_exit_message(t);
		remove_member(s, i--);
	}
}

static void add_trend(struct session *s)
{
	for (size_t i = 0; i < s->count; i++) {
		const struct model *m = s->members[i]->model;
		size_t n = model_entries(m);
		struct model_row *rows;

		if (!n)
			continue;
		rows = grow_array(s->rows, &s->rows_capacity, n + 1, sizeof(*rows), 64);
		if (!rows)
			return;
		s->rows = rows;
		n = model_rank(m, SORT_BYTES, rows, n);
		for (size_t j = 0; j < n; j++)
			model_add(s->trend, rows[j].id, rows[j].bytes, rows[j].allocs, NULL);
	}
}

void session_update(struct session *s)
{
	double t = now(CLOCK_MONOTONIC);

	if (s->cgroup[0] || s->opts.children)
		prune_ignored(s);
	s->scale = 1 / duty_cycle_measured(&s->duty, t);
	for (size_t i = 0; i < s->count; i++)
		tracee_update(s->members[i], s->scale);
	s->last_update = t;
	if (!s->trend)
		return;
	model_begin(s->trend, t);
	add_trend(s);
	model_end(s->trend);
}

void session_reset(struct session *s)
{
	for (size_t i = 0; i < s->count; i++)
		model_reset(s->members[i]->model);
	if (s->trend)
		model_reset(s->trend);
}

const struct model *session_trend(const struct session *s)
{
	if (s->count == 1)
		return s->members[0]->model;
	return s->trend;
}

int session_pidfd(const struct session *s)
{
	return s->count ? s->members[0]->target.pidfd : -1;
}

void session_pause_allocs(struct session *s)
{
	for (size_t i = 0; i < s->count; i++)
		probes_pause_allocs(s->members[i]->probes);
}

int session_resume_allocs(struct session *s)
{
	int err = 0;

	for (size_t i = 0; i < s->count; i++) {
		int e = probes_resume_allocs(s->members[i]->probes);

		err = err ? err : e;
	}
	return err;
}

int session_probes(const struct session *s)
{
	int n = 0;

	for (size_t i = 0; i < s->count; i++)
		n += s->members[i]->nprobes;
	return n;
}

double session_hits_per_s(const struct session *s)
{
	double n = 0;

	for (size_t i = 0; i < s->count; i++)
		n += s->members[i]->hits_per_s;
	return n;
}

const char *session_cmdline(const struct session *s)
{
	return s->count ? s->members[0]->cmdline : "";
}

void session_exit_message(const struct session *s)
{
	for (size_t i = 0; i < s->count; i++)
		if (s->members[i]->target.exited)
			tracee_exit_message(s->members[i]);
}

void session_finish(struct session *s)
{
	while (s->count)
		remove_member(s, s->count - 1);
	free(s->members);
	s->members = NULL;
	symbol_store_put(s->symbols); /* after its symbolizers */
	s->symbols = NULL;
	frame_table_free(s->frames); /* after its stack tables */
	s->frames = NULL;
	model_free(s->trend);
	s->trend = NULL;
	id_map_free(&s->ignored);
	id_map_free(&s->merged_index);
	if (s->allocs_fd >= 0)
		close(s->allocs_fd);
	s->allocs_fd = -1;
	free(s->rows);
	free(s->merged);
	free(s->report_stacks);
	free(s->report_frames);
	free(s->processes);
}
