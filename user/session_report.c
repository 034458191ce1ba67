/* The report of a session: each process's ranked stacks merged by stable
 * stack id (the hash of the symbolized frames, so the workers of one program
 * share their stacks), with the number of processes each is in, and the
 * per-process totals. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "clock.h"
#include "grow.h"
#include "probes.h"
#include "session.h"

struct merged_row {
	struct model_row row;
	const struct tracee *member; /* whose stack names the frames */
	int processes;
};

/* Adds one member's rows to s->merged; false when out of memory. */
static bool merge_member(struct session *s, const struct tracee *t, size_t *count)
{
	size_t n = model_entries(t->model);
	struct model_row *rows = grow_array(s->rows, &s->rows_capacity, n + 1, sizeof(*rows), 64);

	if (!rows)
		return false;
	s->rows = rows;
	n = model_rank(t->model, SORT_BYTES, rows, n);
	for (size_t i = 0; i < n; i++) {
		uint64_t at = id_map_get(&s->merged_index, rows[i].id);
		struct merged_row *m;

		if (!at) {
			m = grow_array(s->merged, &s->merged_capacity, *count + 1, sizeof(*m), 64);
			if (!m || id_map_set(&s->merged_index, rows[i].id, *count + 1))
				return false;
			s->merged = m;
			s->merged[(*count)++] = (struct merged_row){ rows[i], t, rows[i].bytes > 0 };
			continue;
		}
		m = &s->merged[at - 1];
		m->row.bytes += rows[i].bytes;
		m->row.allocs += rows[i].allocs;
		m->row.growth += rows[i].growth;
		m->processes += rows[i].bytes > 0;
	}
	return true;
}

static enum model_sort merge_sort;

static int compare_merged(const void *a, const void *b)
{
	return model_row_compare(&((const struct merged_row *)a)->row, &((const struct merged_row *)b)->row,
				 merge_sort);
}

/* The merged rows of every member, best first, and how many (all, or the
 * first max of a single process: ranked by the model, no sort of them all). */
static bool merge(struct session *s, enum model_sort sort, size_t max, size_t *count)
{
	*count = 0;
	id_map_free(&s->merged_index);
	if (s->count == 1) {
		const struct tracee *t = s->members[0];
		struct model_row *rows = grow_array(s->rows, &s->rows_capacity, max + 1, sizeof(*rows), 64);
		struct merged_row *m = rows ? grow_array(s->merged, &s->merged_capacity, max + 1, sizeof(*m), 64) : NULL;

		if (rows)
			s->rows = rows;
		if (!m)
			return false;
		s->merged = m;
		*count = model_rank(t->model, sort, rows, max);
		for (size_t i = 0; i < *count; i++)
			m[i] = (struct merged_row){ rows[i], t, rows[i].bytes > 0 };
		return true;
	}
	for (size_t i = 0; i < s->count; i++)
		if (!merge_member(s, s->members[i], count))
			return false;
	merge_sort = sort;
	qsort(s->merged, *count, sizeof(*s->merged), compare_merged);
	return true;
}

/* Room in report_frames for the frames of the first n merged rows. */
static bool report_frames_fit(struct session *s, size_t n)
{
	size_t total = 0;
	const struct frame **grown;

	for (size_t i = 0; i < n; i++)
		total += (size_t)((const struct stack *)s->merged[i].row.stack)->nframes;
	grown = grow_array(s->report_frames, &s->report_frames_capacity, total + 1, sizeof(*grown), 1024);
	if (grown)
		s->report_frames = grown;
	return grown;
}

static bool processes(struct session *s, struct report *r)
{
	struct report_process *p = grow_array(s->processes, &s->processes_capacity, s->count + 1, sizeof(*p), 8);

	if (!p)
		return false;
	s->processes = p;
	for (size_t i = 0; i < s->count; i++) {
		const struct tracee *t = s->members[i];

		p[i] = (struct report_process){ t->target.pid, t->target.comm, model_total_bytes(t->model),
			model_total_allocs(t->model), model_total_growth(t->model) };
		r->bytes += p[i].bytes;
		r->allocs += p[i].allocs;
		r->growth += p[i].growth;
		r->lost_events += tracee_lost_events(t, r->lost_by_reason);
		r->stacks_evicted += slot_table_evicted(t->slots, NULL, NULL);
		/* A shared allocations map is counted once, below. */
		r->kernel_map_bytes += probes_map_memory(t->probes, t->shared_allocs_fd < 0, NULL, 0);
	}
	if (s->allocs_fd >= 0)
		r->kernel_map_bytes += probes_fd_map_memory(s->allocs_fd);
	r->processes = p;
	r->nprocesses = s->count;
	return true;
}

int64_t session_total_bytes(const struct session *s)
{
	int64_t bytes = 0;

	for (size_t i = 0; i < s->count; i++)
		bytes += model_total_bytes(s->members[i]->model);
	return bytes;
}

bool session_report(struct session *s, enum model_sort sort, size_t max, struct report *r)
{
	size_t n, all;
	struct report_stack *stacks;

	size_t entries = 0;

	for (size_t i = 0; i < s->count; i++)
		entries += model_entries(s->members[i]->model);
	if (max > entries)
		max = entries; /* all of them (--folded) */
	memset(r, 0, sizeof(*r));
	if (!merge(s, sort, max, &all))
		return false;
	n = all < max ? all : max;
	stacks = grow_array(s->report_stacks, &s->capacity_stacks, n + 1, sizeof(*stacks), 32);
	if (!stacks || !report_frames_fit(s, n))
		return false;
	s->report_stacks = stacks;
	for (size_t i = 0, used = 0; i < n; i++) {
		const struct merged_row *m = &s->merged[i];
		const struct stack *st = m->row.stack;
		const struct frame **frames = s->report_frames + used;

		for (int j = 0; j < st->nframes; j++)
			frames[j] = stack_table_frame(m->member->stacks, st, j);
		used += (size_t)st->nframes;
		stacks[i] = (struct report_stack){ m->row.id, m->row.bytes, m->row.allocs, m->row.growth, frames,
						   st->nframes, m->processes };
	}
	if (!processes(s, r))
		return false;
	r->time = now(CLOCK_REALTIME);
	r->pid = s->leader_pid;
	r->comm = s->leader_comm;
	if (s->count && s->members[0]->target.pid == s->leader_pid)
		r->comm = s->members[0]->target.comm; /* renamed by an exec */
	r->interval_s = s->opts.interval_s;
	r->elapsed_s = now(CLOCK_MONOTONIC) - s->start;
	r->duty_cycle = 1 / s->scale;
	r->sample_bytes = s->opts.sample_bytes;
	r->nstacks = s->count == 1 ? model_count(s->members[0]->model) : all;
	r->stacks = stacks;
	r->count = n;
	r->group = s->group;
	return true;
}
