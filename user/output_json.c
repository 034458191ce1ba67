/* The JSON-lines view (contract in DESIGN.md), built with json-c so that
 * escaping is never ours to get wrong. */
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "output_json.h"
#include "report.h"

static json_object *string_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

json_object *report_frame_json(const struct frame *f)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "kind", json_object_new_string(f->kind == FRAME_PYTHON ? "python" : "native"));
	json_object_object_add(o, "function", string_or_null(f->function));
	json_object_object_add(o, "file", string_or_null(f->file));
	json_object_object_add(o, "line", f->line > 0 ? json_object_new_int(f->line) : NULL);
	json_object_object_add(o, "object", string_or_null(f->object));
	return o;
}

void report_stack_json_figures(json_object *o, const struct report_stack *s)
{
	char id[17];

	snprintf(id, sizeof(id), "%016llx", (unsigned long long)s->id);
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "outstanding_bytes", json_object_new_int64(s->bytes));
	json_object_object_add(o, "outstanding_allocs", json_object_new_int64(s->allocs));
	json_object_object_add(o, "growth_bytes_per_s", json_object_new_double(s->growth));
}

static json_object *stack_json(const struct report *r, const struct report_stack *s)
{
	json_object *o = json_object_new_object(), *frames = json_object_new_array();

	report_stack_json_figures(o, s);
	if (r->group)
		json_object_object_add(o, "processes", json_object_new_int(s->processes));
	for (int i = 0; i < s->nframes; i++)
		json_object_array_add(frames, report_frame_json(s->frames[i]));
	json_object_object_add(o, "frames", frames);
	return o;
}

/* Each traced process of a group, with its totals. */
static json_object *processes_json(const struct report *r)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < r->nprocesses; i++) {
		const struct report_process *p = &r->processes[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "pid", json_object_new_int(p->pid));
		json_object_object_add(o, "comm", string_or_null(p->comm));
		json_object_object_add(o, "outstanding_bytes", json_object_new_int64(p->bytes));
		json_object_object_add(o, "outstanding_allocs", json_object_new_int64(p->allocs));
		json_object_object_add(o, "growth_bytes_per_s", json_object_new_double(p->growth));
		json_object_array_add(a, o);
	}
	return a;
}

/* Why events were lost, or NULL when nothing was: names as in DESIGN.md. */
static json_object *lost_by_reason(const struct report *r)
{
	static const char *const names[LOST_COUNT + 1] = {
		[LOST_STACK] = "stack_map_full",
		[LOST_ALLOCS_FULL] = "allocs_map_full",
		[LOST_STACKS_FULL] = "no_stack_slot",
		[LOST_PENDING_FULL] = "thread_state_full",
		[LOST_PY_STACKS_FULL] = "python_stack_map_full",
		[LOST_STACK_TRUNCATED] = "walks_cut_short",
		[LOST_HIGH_ADDRESS] = "high_address",
		[LOST_COUNT] = "evicted_stacks",
	};
	json_object *o = NULL;

	for (int i = 0; i <= LOST_COUNT; i++) {
		if (!r->lost_by_reason[i])
			continue;
		if (!o)
			o = json_object_new_object();
		json_object_object_add(o, names[i], json_object_new_uint64(r->lost_by_reason[i]));
	}
	return o;
}

void report_json_header(json_object *o, const struct report *r)
{
	json_object *lost;

	json_object_object_add(o, "time", json_object_new_double(r->time));
	json_object_object_add(o, "pid", json_object_new_int(r->pid));
	json_object_object_add(o, "comm", string_or_null(r->comm));
	json_object_object_add(o, "interval_s", json_object_new_double(r->interval_s));
	json_object_object_add(o, "elapsed_s", json_object_new_double(r->elapsed_s));
	json_object_object_add(o, "outstanding_bytes", json_object_new_int64(r->bytes));
	json_object_object_add(o, "outstanding_allocs", json_object_new_int64(r->allocs));
	json_object_object_add(o, "growth_bytes_per_s", json_object_new_double(r->growth));
	json_object_object_add(o, "lost_events", json_object_new_uint64(r->lost_events));
	if ((lost = lost_by_reason(r)))
		json_object_object_add(o, "lost_by_reason", lost);
	if (r->duty_cycle > 0 && r->duty_cycle < 1) /* figures are estimates scaled by 1/duty_cycle */
		json_object_object_add(o, "duty_cycle", json_object_new_double(r->duty_cycle));
	json_object_object_add(o, "sample_bytes", json_object_new_uint64(r->sample_bytes));
	if (r->stacks_evicted)
		json_object_object_add(o, "stacks_evicted", json_object_new_uint64(r->stacks_evicted));
	if (r->kernel_map_bytes)
		json_object_object_add(o, "kernel_map_bytes", json_object_new_uint64(r->kernel_map_bytes));
}

char *report_json(const struct report *r)
{
	json_object *o = json_object_new_object(), *stacks = json_object_new_array();
	char *line;

	report_json_header(o, r);
	for (size_t i = 0; i < r->count; i++)
		json_object_array_add(stacks, stack_json(r, &r->stacks[i]));
	json_object_object_add(o, "stacks", stacks);
	if (r->group)
		json_object_object_add(o, "processes", processes_json(r));
	line = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return line;
}
