/* leaktop: which call stacks make a live process's heap grow.
 *
 * main() wires the pipeline of DESIGN.md: find the target's allocators, attach
 * the probes, then once per interval collect the kernel maps, symbolize new
 * stacks, update the model and print a report. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "allocator_scan.h"
#include "allocators.h"
#include "collector.h"
#include "grow.h"
#include "model.h"
#include "atomic_file.h"
#include "options.h"
#include "output_folded.h"
#include "output_prom.h"
#include "placement.h"
#include "probes.h"
#include "python.h"
#include "python_redirect.h"
#include "duty_cycle.h"
#include "report.h"
#include "slots.h"
#include "stacks.h"
#include "target.h"
#include "tui.h"
#include "unwind_maps.h"

#define FULL_STACKS_IN_TEXT 3
/* How long after an exec its mappings are read at every tick: the loader
 * maps the libraries within milliseconds, unless the machine is loaded. */
#define EXEC_LOAD_S 2.0

static volatile sig_atomic_t stop_signal, dump_requested;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump_requested = 1;
	else
		stop_signal = sig;
}

static void install_signal_handlers(void)
{
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: wake the wait */

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL); /* write the folded stacks now */
	signal(SIGPIPE, SIG_IGN); /* a closed stdout shows up as EPIPE: stop then */
}

static double now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool has_capability(const struct __user_cap_data_struct data[2], int cap)
{
	return data[cap / 32].effective & (1u << (cap % 32));
}

/* BPF programs and uprobes need CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN);
 * reading another process's maps and files needs CAP_SYS_PTRACE. */
static bool check_privileges(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	const char *missing = NULL;

	if (syscall(SYS_capget, &hdr, data))
		return true; /* cannot tell: let the kernel decide */
	if (!has_capability(data, CAP_SYS_ADMIN) &&
	    !(has_capability(data, CAP_BPF) && has_capability(data, CAP_PERFMON)))
		missing = has_capability(data, CAP_BPF) ? "CAP_PERFMON" : "CAP_BPF";
	else if (!has_capability(data, CAP_SYS_PTRACE))
		missing = "CAP_SYS_PTRACE";
	if (!missing)
		return true;
	fprintf(stderr, "leaktop: needs root (missing %s): run it with sudo, or grant CAP_SYS_ADMIN and CAP_SYS_PTRACE\n",
		missing);
	return false;
}

static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN || !getenv("LEAKTOP_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

struct session {
	struct options opts;
	struct target target;
	struct probes *probes;
	struct symbolizer *sym;
	struct stack_table *stacks;
	struct model *model;
	struct collection collection;
	struct slot_table *slots;	/* the stack of each kernel slot */
	uint32_t symbols_changes; /* the kernel's count of code changes at the last maps read */
	struct model_row *rows;
	struct report_stack *report_stacks;
	size_t capacity;	/* of rows and report_stacks */
	const struct frame **report_frames; /* the frames of report_stacks */
	size_t report_frames_capacity;
	double start;
	bool prom_failing;	/* the last textfile write failed */
	struct tui *tui;	/* the live view, when on a terminal */
	int nprobes;
	char cmdline[256];
	uint32_t generation;	/* target execs seen (spawn mode: its own exec is 1) */
	uint64_t last_hits;	/* probe hits at the previous update, for hits/s */
	struct python *python;	/* the target's CPython, once found */
	struct python_redirect *redirect; /* --pymalloc-redirect in effect */
	struct unwind_maps *unwind;	/* the kernel unwinder's tables; NULL: frame pointers */
	bool python_note_shown;	/* an unsupported interpreter was reported */
	bool allocs_full_shown, stacks_full_shown; /* a map filled up: said once */
	bool high_address_shown;	/* a block above 2^48 (5-level paging): said once */
	bool evicted_shown;		/* stacks evicted from their slots: said once */
	double last_update, hits_per_s;
	struct duty_cycle duty;	/* --duty-cycle phases */
	double scale;		/* figures per byte seen: 1 / measured on-share */
	struct exec_allocators {	/* looking for the allocators after an exec */
		uint32_t generation;	/* of the exec looked at */
		double since;		/* when it was noticed */
		bool scanning, warned;
		struct allocator_scan scan; /* files examined so far */
	} exec;
};

static void read_cmdline(struct session *s);

static const char *const heap_view_notes[] = {
	[PY_HEAP_MALLOC] = "objects that reach malloc (> 512 B, or all with PYTHONMALLOC=malloc)",
	[PY_HEAP_PYMALLOC] = "every object (pymalloc's functions are probed)",
	[PY_HEAP_ARENAS] = "pymalloc's fast path is inlined in this build (LTO): objects <= 512 B show as "
			   "1 MiB 'pymalloc arena' allocations; for exact figures start the program under "
			   "leaktop (spawn mode sets PYTHONMALLOC=malloc)",
};

/* Looks for a CPython interpreter in the target and turns the kernel's Python
 * stack walk on.  Returns it (or NULL); *view says what the probes in obj
 * (filled in attach mode) will see. */
static struct python *find_python(struct session *s, struct allocator_object *obj,
				  enum python_heap_view *view)
{
	char msg[PATH_MAX + 128];
	struct python *py = python_find(s->target.pid, s->target.root, msg, sizeof(msg));

	if (obj)
		memset(obj, 0, sizeof(*obj));
	if (!py) {
		if (msg[0] && !s->python_note_shown)
			fprintf(stderr, "leaktop: %s\n", msg);
		s->python_note_shown = s->python_note_shown || msg[0];
		return NULL;
	}
	*view = PY_HEAP_MALLOC;
	if (obj)
		*view = python_allocator_probes(py, obj);
	return py;
}

/* Starts using an interpreter found in the target. */
static void use_python(struct session *s, struct python *py, enum python_heap_view view)
{
	struct python_config config;

	s->python = py;
	if (!probes_python_room(s->probes)) {
		fprintf(stderr, "leaktop: Python %s in %s showed up after the start: Python frames are off for it "
			"(leaktop made no Python stack map for a program without Python; restart it to see them)\n",
			python_version(py), python_object_path(py));
		return;
	}
	python_bpf_config(py, &config);
	probes_set_python(s->probes, &config);
	stack_table_set_python(s->stacks, py, probes_py_stacks_fd(s->probes));
	if (python_frames_off(py))
		fprintf(stderr, "leaktop: Python %s in %s is %s; heap seen: %s\n", python_version(py),
			python_object_path(py), python_frames_off(py),
			view == PY_HEAP_PYMALLOC ? "every object (the functions of its allocator table, mimalloc's, are probed)"
						 : "only what reaches malloc (its objects come from mimalloc: attach with -p PID to see them)");
	else
		fprintf(stderr, "leaktop: Python %s in %s: Python frames on%s; heap seen: %s\n",
			python_version(py), python_object_path(py),
			python_offsets_published(py) ? " (offsets from its _Py_DebugOffsets)" : "",
			heap_view_notes[view]);
}

static void forget_python(struct session *s)
{
	struct python_config off = { 0 };

	free(s->redirect); /* its process image is gone: nothing to restore */
	s->redirect = NULL;
	if (!s->python)
		return;
	probes_set_python(s->probes, &off);
	stack_table_set_python(s->stacks, NULL, -1);
	python_free(s->python);
	s->python = NULL;
}

/* Frames fell in files the unwinder does not know (dlopen, the spawned
 * program's exec), or code changed since the index was read: index the new
 * mappings now, not an interval later, so that few stacks lose their frames. */
static void unwind_catch_up(struct session *s)
{
	if (s->unwind)
		unwind_maps_catch_up(s->unwind, probes_unwind_misses(s->probes));
}

/* probes_attach's hook: the unwind tables are built before the first probe
 * fires, so that no early allocation is unwound with frame pointers only (one
 * call site would show as two stacks, one cut short). */
struct unwind_start {
	struct session *s;
	const struct allocator_list *allocators;
};

static void build_unwind_tables(struct probes *p, void *arg)
{
	struct unwind_start *u = arg;
	struct session *s = u->s;

	unwind_maps_free(s->unwind); /* from an attempt that failed after loading */
	s->unwind = unwind_maps_new(s->target.pid, probes_unwind_rows_fd(p), probes_unwind_mappings_fd(p),
				    probes_unwind_objects_fd(p), probes_unwind_index(p));
	if (!s->unwind)
		fprintf(stderr, "leaktop: cannot map the unwind tables (%s): stacks through code without frame pointers stop early\n",
			strerror(errno));
	else if (!s->target.spawned)
		unwind_maps_refresh(s->unwind, false);
	else { /* tables ready before the exec: indexing it is then instant */
		unwind_maps_prepare(s->unwind, s->target.exe);
		for (int i = 0; i < u->allocators->count; i++)
			unwind_maps_prepare(s->unwind, u->allocators->objects[i].open_path);
	}
}

/* Spawn mode: the interpreter is mapped right after the exec; look for it
 * now rather than an interval later, so its first allocations have Python
 * frames too.  Other programs are not kept waiting. */
static void await_python(struct session *s)
{
	enum python_heap_view view;

	/* The child runs leaktop's image until its exec (generation 1). */
	for (int i = 0; i < 1000 && probes_generation(s->probes) == 0 && !s->target.exited; i++)
		usleep(1000);
	/* Index the new program now, and its libraries as the loader maps them
	 * (their tables are built already): until then its stacks take frame
	 * pointers only. */
	for (int i = 0; i < 50 && s->unwind && !s->target.exited; i++) {
		unwind_maps_refresh(s->unwind, i == 0);
		usleep(1000);
	}
	if (!python_expected(s->target.pid))
		return;
	for (int i = 0; i < 200 && !s->python && !s->target.exited; i++) {
		struct python *py;

		unwind_catch_up(s); /* the new program's mappings, as they come */
		py = find_python(s, NULL, &view);

		if (py) {
			use_python(s, py, view);
			return;
		}
		usleep(5000);
	}
}

/* The target exec'd: its heap is gone with the old program.  Start afresh on
 * the new one; stacks of the old image are never symbolized with the new. */
static void follow_exec(struct session *s, uint32_t generation)
{
	bool own_exec = s->target.spawned && s->generation == 0 && generation == 1;

	s->generation = generation;
	if (!own_exec)
		forget_python(s);
	drop_other_generations(&(struct generation_maps){ probes_allocs_fd(s->probes),
							  probes_stack_index_fd(s->probes),
							  probes_stack_traces_fd(s->probes),
							  probes_py_stacks_fd(s->probes),
							  probes_big_sizes_fd(s->probes), &s->collection },
			       (uint16_t)generation);
	/* (The slots of the old image are given back at the next reading.) */
	symbolizer_forget_mappings(s->sym);
	symbolizer_refresh(s->sym);
	if (s->unwind)
		unwind_maps_refresh(s->unwind, true); /* the kernel forgot the old ones */
	model_reset(s->model);
	if (own_exec)
		return;
	target_read_comm(&s->target);
	read_cmdline(s);
	fprintf(stderr, "leaktop: PID %d executed a new program (%s): its old heap is gone, tracing the new one\n",
		s->target.pid, s->target.comm);
}

/* Attaches the allocators the target maps that are not probed yet.  Returns
 * how many allocator mappings it has (negative: it cannot be read). */
static int attach_mapped_allocators(struct session *s)
{
	struct allocator_list list;
	char err[512];
	int mapped = allocator_scan_maps(&s->exec.scan, s->target.pid, s->target.root, &list);

	for (int i = 0; i < list.count; i++) {
		struct allocator_object *obj = &list.objects[i];
		int added;

		placement_apply(obj);
		added = probes_add_object(s->probes, obj, err, sizeof(err));
		if (added < 0)
			fprintf(stderr, "leaktop: %s\n", err);
		else if (added > 0)
			fprintf(stderr, "leaktop: PID %d: %d probes on %s%s, mapped since its exec\n",
				s->target.pid, added, obj->path,
				obj->replaced ? " (replaced on disk: the file it maps is probed)" : "");
	}
	allocator_list_free(&list);
	s->nprobes = probes_count(s->probes);
	return mapped;
}

/* After an exec the new program may bring another allocator (a static
 * executable, its own malloc library): probes bound to the PID stay armed
 * on files the new program maps too, but new files need theirs.  Its
 * mappings are read at every tick (`tick`) while the loader is at work, then
 * each interval until an allocator shows. */
static void attach_exec_allocators(struct session *s, bool tick)
{
	struct exec_allocators *x = &s->exec;
	uint32_t generation = probes_generation(s->probes);
	double t = now(CLOCK_MONOTONIC);
	int mapped;

	if (generation != x->generation) {
		/* Spawn mode: the command's own exec was prepared for. */
		bool own_exec = s->target.spawned && x->generation == 0 && generation == 1;

		x->generation = generation;
		x->since = t;
		x->scanning = !own_exec;
		x->warned = false;
	}
	if (!x->scanning || (tick && t - x->since > EXEC_LOAD_S))
		return;
	mapped = attach_mapped_allocators(s);
	if (t - x->since <= EXEC_LOAD_S || mapped < 0)
		return;
	if (mapped > 0) {
		x->scanning = false;
	} else if (!x->warned) {
		fprintf(stderr, "leaktop: PID %d (%s) maps no allocator since its exec (no object defines malloc and free): "
			"nothing is traced until one is mapped\n", s->target.pid, s->target.comm);
		x->warned = true;
	}
}

/* Reads the target's mappings again for the symbolizer when its code changed
 * since the last read (the kernel counts execs and code mapped or unmapped):
 * a stack is symbolized once, and one built with the mappings of before a
 * dlclose and dlopen would name the new library's code with the old one's
 * symbols, or not at all, for good. */
static void refresh_symbols(struct session *s, bool always)
{
	uint32_t changes = __atomic_load_n(&probes_unwind_index(s->probes)->changes, __ATOMIC_ACQUIRE);

	if (!always && changes == s->symbols_changes)
		return;
	s->symbols_changes = changes; /* before the read: a change meanwhile is seen next time */
	symbolizer_refresh(s->sym);
}

static void refresh_symbols_if_changed(void *ctx)
{
	refresh_symbols(ctx, false);
}

/* Symbolizes the stacks of the slots handed out since the last look, while
 * the target lives: once it has exited, its mappings can no longer be read
 * (a library mapped since the last interval would go unnamed) nor its
 * Python code objects.  Runs between intervals, at most every 50 ms. */
static void build_new_stacks(struct session *s)
{
	uint32_t generation;

	if (s->target.exited)
		return;
	/* Its new program's stacks are named with its new mappings. */
	generation = probes_generation(s->probes);
	if (generation != s->generation)
		follow_exec(s, generation);
	/* Only when there is something to name: a W^X JIT changes the code
	 * count at every flip. */
	slot_table_name_new(s->slots, probes_stack_slots_used(s->probes), (uint16_t)s->generation,
			    refresh_symbols_if_changed, s);
}

/* One stack's figures into the snapshot being built.  The model holds the
 * stack of each of its entries until it drops the entry. */
static void add_to_model(void *ctx, struct stack *st, int64_t bytes, int64_t allocs)
{
	struct session *s = ctx;

	if (model_add_hinted(s->model, &st->model_hint, st->id, llround((double)bytes * s->scale),
			     llround((double)allocs * s->scale), st) == MODEL_NEW_ENTRY)
		stack_table_hold(s->stacks, st);
}

/* A stack evicted from its slot is not tracked any more. */
static void stack_evicted(void *ctx, struct stack *st)
{
	struct session *s = ctx;

	model_forget(s->model, st->id);
}

static void model_dropped(void *ctx, const void *stack)
{
	struct session *s = ctx;

	stack_table_put(s->stacks, (struct stack *)stack);
}

/* Says once that a map filled up, and which option makes it bigger: the
 * figures undercount from then on (lost events say by how much). */
static void warn_full_maps(struct session *s)
{
	const uint64_t *lost = s->collection.lost;

	if (slot_table_evicted(s->slots, NULL, NULL) && !s->evicted_shown) {
		fprintf(stderr, "leaktop: live stacks outnumber the stack slots (%" PRIu32 "): those holding least and "
			"not growing give theirs to new ones (their blocks are not tracked from then on: lost events)\n", s->opts.max_stacks);
		s->evicted_shown = true;
	}
	if (lost[LOST_HIGH_ADDRESS] && !s->high_address_shown) {
		fprintf(stderr, "leaktop: blocks at addresses above 2^48 (5-level paging) are not tracked "
			"(lost events)\n");
		s->high_address_shown = true;
	}
	if (lost[LOST_ALLOCS_FULL] && !s->allocs_full_shown) {
		fprintf(stderr, "leaktop: %" PRIu32 " live allocations are tracked, the most --max-allocs allows: "
			"newer ones are not counted (lost events); run with a larger --max-allocs\n",
			s->opts.max_allocs);
		s->allocs_full_shown = true;
	}
	/* (LOST_STACK is left out: hash collisions and transient failures
	 * count there too, which a bigger map would not cure.) */
	if ((lost[LOST_STACKS_FULL] || lost[LOST_PY_STACKS_FULL]) && !s->stacks_full_shown) {
		fprintf(stderr, "leaktop: stacks did not fit in the stack maps (%" PRIu32 " each): some allocations "
			"are not counted, or only under their caller (lost events); run with a larger --max-stacks\n",
			s->opts.max_stacks);
		s->stacks_full_shown = true;
	}
}

/* Reads the maps and brings the model up to date. */
static void update(struct session *s)
{
	uint32_t generation = probes_generation(s->probes);

	if (generation != s->generation)
		follow_exec(s, generation);
	attach_exec_allocators(s, false);
	/* Libraries come and go (dlopen/dlclose): note the mappings every
	 * interval, so a stack is named by what was mapped when it was made. */
	refresh_symbols(s, true);
	if (s->unwind)
		unwind_maps_refresh(s->unwind, false);
	if (!s->python) {
		enum python_heap_view view;
		struct python *py = find_python(s, NULL, &view);

		if (py)
			use_python(s, py, view);
	}

	double t = now(CLOCK_MONOTONIC);

	s->scale = 1 / duty_cycle_measured(&s->duty, t);
	model_begin(s->model, t);
	slot_table_update(s->slots, probes_stack_slots_used(s->probes), (uint16_t)s->generation,
			  s->opts.interval_s, s->collection.lost[LOST_STACKS_FULL], add_to_model, s);
	int err = collect_counters(&s->collection, probes_lost_fd(s->probes), probes_hits_fd(s->probes));

	if (err)
		fprintf(stderr, "leaktop: cannot read the BPF maps: %s\n", strerror(-err));
	warn_full_maps(s);
	if (s->last_update > 0 && t > s->last_update)
		s->hits_per_s = (double)(s->collection.hits - s->last_hits) / (t - s->last_update);
	s->last_hits = s->collection.hits;
	s->last_update = t;
	model_end(s->model);
}

/* Room in report_frames for the frames of the first n ranked rows. */
static bool report_frames_fit(struct session *s, size_t n)
{
	size_t total = 0;
	const struct frame **grown;

	for (size_t i = 0; i < n; i++)
		total += (size_t)((const struct stack *)s->rows[i].stack)->nframes;
	if (total <= s->report_frames_capacity)
		return true;
	grown = grow_array(s->report_frames, &s->report_frames_capacity, total, sizeof(*grown), 1024);
	if (grown)
		s->report_frames = grown;
	return grown;
}

/* The latest snapshot as a report of its best `max` stacks. */
static bool build_report(struct session *s, enum model_sort sort, size_t max, struct report *r)
{
	size_t n;

	if (max > s->capacity) {
		struct model_row *rows = realloc(s->rows, max * sizeof(*rows));
		struct report_stack *stacks = rows ? realloc(s->report_stacks, max * sizeof(*stacks)) : NULL;

		if (rows)
			s->rows = rows;
		if (!stacks)
			return false;
		s->report_stacks = stacks;
		s->capacity = max;
	}
	n = model_rank(s->model, sort, s->rows, max);
	if (!report_frames_fit(s, n))
		return false;
	for (size_t i = 0, used = 0; i < n; i++) {
		const struct stack *st = s->rows[i].stack;
		const struct frame **frames = s->report_frames + used;

		for (int j = 0; j < st->nframes; j++)
			frames[j] = stack_table_frame(s->stacks, st, j);
		used += (size_t)st->nframes;
		s->report_stacks[i] = (struct report_stack){ s->rows[i].id, s->rows[i].bytes,
			s->rows[i].allocs, s->rows[i].growth, frames, st->nframes };
	}
	memset(r, 0, sizeof(*r));
	r->time = now(CLOCK_REALTIME);
	r->pid = s->target.pid;
	r->comm = s->target.comm;
	r->interval_s = s->opts.interval_s;
	r->elapsed_s = now(CLOCK_MONOTONIC) - s->start;
	r->bytes = model_total_bytes(s->model);
	r->allocs = model_total_allocs(s->model);
	r->growth = model_total_growth(s->model);
	r->duty_cycle = 1 / s->scale;
	for (int i = 0; i < LOST_COUNT; i++)
		if (i != LOST_STACK_TRUNCATED) /* the allocation was tracked */
			r->lost_events += s->collection.lost[i];
	/* Blocks of evicted stacks are not tracked any more. */
	uint64_t evicted_allocs;

	r->stacks_evicted = slot_table_evicted(s->slots, &evicted_allocs, NULL);
	r->lost_events += evicted_allocs;
	r->sample_bytes = s->opts.sample_bytes;
	r->kernel_map_bytes = probes_map_memory(s->probes, NULL, 0);
	r->nstacks = model_count(s->model);
	r->stacks = s->report_stacks;
	r->count = n;
	return true;
}

/* Folded stacks of every stack holding memory (their lines add up to the total). */
static void write_folded(struct session *s)
{
	struct report r;
	char err[512];

	if (!s->opts.folded_file)
		return;
	if (!build_report(s, SORT_BYTES, model_count(s->model) + 1, &r) ||
	    folded_write(s->opts.folded_file, &r, err, sizeof(err)))
		fprintf(stderr, "leaktop: %s\n", err);
}

/* The files written every interval: the Prometheus textfile, and the folded
 * stacks when SIGUSR1 asked for them. */
static void write_exports(struct session *s)
{
	struct options *o = &s->opts;
	struct report r;
	char err[512];

	if (o->prom_file && build_report(s, SORT_GROWTH, (size_t)o->prom_top + 1, &r)) {
		/* A failed write (disk full) is reported once and retried next interval. */
		bool failed = prom_write(o->prom_file, &r, (size_t)o->prom_top, err, sizeof(err)) != 0;

		if (failed && !s->prom_failing)
			fprintf(stderr, "leaktop: %s (retrying every interval)\n", err);
		else if (!failed && s->prom_failing)
			fprintf(stderr, "leaktop: %s written again\n", o->prom_file);
		s->prom_failing = failed;
	}
	if (dump_requested) {
		dump_requested = 0;
		write_folded(s);
	}
}

/* Batch text or a JSON line on stdout. false when stdout is gone. */
static bool print_report(struct session *s)
{
	struct options *o = &s->opts;
	struct report r;

	if (!build_report(s, SORT_GROWTH, (size_t)(o->top ? o->top : DEFAULT_TOP_BATCH), &r)) {
		fprintf(stderr, "leaktop: out of memory\n");
		return false;
	}
	if (o->json) {
		char *line = report_json(&r);

		if (line)
			printf("%s\n", line);
		free(line);
		fflush(stdout);
	} else {
		report_text(stdout, &r, FULL_STACKS_IN_TEXT);
	}
	return !ferror(stdout);
}

static void draw_tui(struct session *s)
{
	char mode[64] = "exact";
	struct tui_status st = { s->cmdline, s->nprobes, s->hits_per_s, mode };

	if (s->opts.sample_bytes)
		snprintf(mode, sizeof(mode), "sampled 1/%llu B", (unsigned long long)s->opts.sample_bytes);
	if (s->opts.duty_cycle < 1) {
		size_t len = strlen(mode);

		snprintf(mode + len, sizeof(mode) - len, ", duty cycle %.0f%%", 100 / s->scale);
	}
	struct report r;

	if (build_report(s, tui_sort(s->tui), (size_t)tui_rows(s->tui), &r))
		tui_draw(s->tui, &r, s->model, &st);
}

/* One interval: update, then every view. false when stdout is gone. */
static bool report_interval(struct session *s)
{
	update(s);
	write_exports(s);
	if (s->tui) {
		draw_tui(s);
		return true;
	}
	return s->opts.quiet || print_report(s);
}

/* --pymalloc-redirect, once the probes are live. */
static int start_redirect(struct session *s, enum python_heap_view view)
{
	char err[512];

	if (!s->python) {
		fprintf(stderr, "leaktop: --pymalloc-redirect: PID %d runs no supported Python\n", s->target.pid);
		return 1;
	}
	if (view != PY_HEAP_ARENAS) {
		fprintf(stderr, "leaktop: --pymalloc-redirect not needed: every Python object is seen already; the target is left untouched\n");
		return 0;
	}
	s->redirect = python_redirect_start(s->python, s->target.pid, err, sizeof(err));
	if (!s->redirect) {
		fprintf(stderr, "leaktop: %s\n", err);
		return 1;
	}
	fprintf(stderr, "leaktop: --pymalloc-redirect: PID %d now makes new Python objects with malloc (its allocator table was changed; it is restored when leaktop exits)\n",
		s->target.pid);
	return 0;
}

/* Finds the allocators, attaches the probes and, in spawn mode, starts the
 * command.  Returns the exit code to use on failure, 0 on success. */
static int start(struct session *s)
{
	struct options *o = &s->opts;
	struct allocator_list allocators;
	char err[512];
	int e;

	if ((o->prom_file && output_path_check("--prom-file", o->prom_file, err, sizeof(err))) ||
	    (o->folded_file && output_path_check("--folded", o->folded_file, err, sizeof(err)))) {
		fprintf(stderr, "leaktop: %s\n", err);
		return 2;
	}
	if (o->pid)
		e = target_open(&s->target, o->pid, err, sizeof(err));
	else
		e = target_spawn(&s->target, o->command, err, sizeof(err));
	if (e) {
		fprintf(stderr, "leaktop: %s\n", err);
		return 1;
	}
	if (o->pid)
		e = allocators_from_maps(s->target.pid, s->target.root, &allocators);
	else
		e = allocators_for_program(s->target.exe, &allocators);
	if (e || allocators.count == 0) {
		fprintf(stderr, "leaktop: no allocator found in %s %d (%s): no mapped object defines malloc and free%s%s\n",
			o->pid ? "PID" : "command, PID", s->target.pid, s->target.comm,
			e ? ": " : "", e ? strerror(-e) : "");
		allocator_list_free(&allocators);
		return 1;
	}
	/* A CPython target: pymalloc's functions are probed too (attach mode:
	 * its allocator tables are read from the live process). */
	struct python *py = NULL;
	enum python_heap_view view = PY_HEAP_MALLOC;
	struct allocator_object pymalloc;

	if (o->pid && (py = find_python(s, &pymalloc, &view)) && pymalloc.nprobes) {
		struct allocator_object *grown = realloc(allocators.objects,
							 (allocators.count + 1) * sizeof(*grown));

		if (grown) {
			allocators.objects = grown;
			allocators.objects[allocators.count++] = pymalloc;
		} else {
			view = PY_HEAP_MALLOC;
		}
	}
	int moved = 0;

	for (int i = 0; i < allocators.count; i++)
		moved += placement_apply(&allocators.objects[i]);
	if (o->pid && !o->max_allocs_given)
		o->max_allocs = max_allocs_for(target_resident_bytes(&s->target));
	struct unwind_start start_unwind = { s, &allocators };
	/* Attach mode: no Python stack map for a program without Python now. */
	struct probes_config cfg = { s->target.pid, o->max_allocs, o->max_stacks, o->sample_bytes,
				     o->pid && !py, build_unwind_tables, &start_unwind };
	s->probes = probes_attach(&cfg, &allocators, err, sizeof(err));
	if (!s->probes && !o->max_allocs_given && o->max_allocs > DEFAULT_MAX_ALLOCS) {
		/* The map sized from the target may not fit (memory cgroup): the
		 * default size did before sizing existed. */
		fprintf(stderr, "leaktop: %s; trying again with --max-allocs %d\n", err, DEFAULT_MAX_ALLOCS);
		o->max_allocs = cfg.max_allocs = DEFAULT_MAX_ALLOCS;
		s->probes = probes_attach(&cfg, &allocators, err, sizeof(err));
	}
	if (!s->probes) {
		fprintf(stderr, "leaktop: %s\n", err);
		allocator_list_free(&allocators);
		python_free(py);
		return 1;
	}
	e = collection_open(&s->collection, probes_stack_keys_fd(s->probes), probes_stack_stats_fd(s->probes),
			    o->max_stacks);
	if (e) {
		fprintf(stderr, "leaktop: cannot map the per-stack figures: %s\n", strerror(-e));
		allocator_list_free(&allocators);
		python_free(py);
		return 1;
	}
	s->nprobes = probes_count(s->probes);
	duty_cycle_init(&s->duty, o->duty_cycle, DUTY_CYCLE_PERIOD_S, now(CLOCK_MONOTONIC));
	s->scale = 1;
	fprintf(stderr, "leaktop: tracing PID %d (%s): %d probes on", s->target.pid, s->target.comm,
		s->nprobes);
	for (int i = 0; i < allocators.count; i++)
		fprintf(stderr, " %s%s", allocators.objects[i].path,
			allocators.objects[i].replaced ? " (replaced on disk: the file it maps is probed)" : "");
	fprintf(stderr, " (%d entries moved to emulated instructions)\n", moved);
	char largest[160];
	uint64_t map_bytes = probes_map_memory(s->probes, largest, sizeof(largest));

	fprintf(stderr, "leaktop: kernel maps hold %.1f MiB (%s; --max-allocs and --max-stacks size them)\n",
		(double)map_bytes / (1 << 20), largest);
	for (int i = 0; i < allocators.count; i++)
		if (allocators.objects[i].new_left_out[0])
			fprintf(stderr, "leaktop: %s: not traced: %s (it leaves through code whose returns leaktop cannot find; "
				"blocks it makes are not counted)\n",
				allocators.objects[i].path, allocators.objects[i].new_left_out);
	allocator_list_free(&allocators);

	if (s->target.spawned && target_release(&s->target, err, sizeof(err))) {
		fprintf(stderr, "leaktop: %s\n", err);
		return 1;
	}
	s->sym = symbolizer_new(s->target.pid, s->target.root);
	s->stacks = s->sym ? stack_table_new(s->sym, probes_stack_traces_fd(s->probes)) : NULL;
	s->model = model_new(o->window_s);
	struct slot_maps slot_maps = { probes_stack_index_fd(s->probes), probes_free_slots_fd(s->probes),
				       probes_stack_traces_fd(s->probes), probes_py_stacks_fd(s->probes) };
	s->slots = s->stacks ? slot_table_new(&s->collection, s->stacks, &slot_maps) : NULL;
	if (!s->stacks || !s->model || !s->slots) {
		fprintf(stderr, "leaktop: out of memory\n");
		python_free(py);
		return 1;
	}
	model_set_dropped(s->model, model_dropped, s);
	slot_table_on_eviction(s->slots, stack_evicted, s);
	if (py)
		use_python(s, py, view);
	else if (s->target.spawned)
		await_python(s);
	if (o->pymalloc_redirect)
		return start_redirect(s, view);
	return 0;
}

static void target_exit_message(const struct target *t)
{
	if (t->spawned && WIFEXITED(t->exit_status))
		fprintf(stderr, "leaktop: PID %d (%s) exited with status %d\n", t->pid, t->comm,
			WEXITSTATUS(t->exit_status));
	else if (t->spawned && WIFSIGNALED(t->exit_status))
		fprintf(stderr, "leaktop: PID %d (%s) was killed by signal %d\n", t->pid, t->comm,
			WTERMSIG(t->exit_status));
	else
		fprintf(stderr, "leaktop: PID %d (%s) exited\n", t->pid, t->comm);
}

/* The command line of the target, for the TUI header. */
static void read_cmdline(struct session *s)
{
	char path[64];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", s->target.pid);
	f = fopen(path, "re");
	if (f) {
		n = fread(s->cmdline, 1, sizeof(s->cmdline) - 1, f);
		fclose(f);
	}
	for (size_t i = 0; i + 1 < n; i++)
		if (s->cmdline[i] == '\0')
			s->cmdline[i] = ' ';
	s->cmdline[n] = '\0';
}

enum event { EVENT_DEADLINE, EVENT_EXIT, EVENT_KEY, EVENT_SIGNAL };

/* --duty-cycle: detaches or re-attaches the allocation probes.  The on-time
 * is what the probes really saw: a detach takes effect at once (the wait for
 * the kernel's grace periods that follows is off-time), an attach only when
 * it is done. */
static void switch_duty_phase(struct session *s)
{
	double t = now(CLOCK_MONOTONIC);
	int err;

	if (s->duty.on) {
		probes_pause_allocs(s->probes);
		duty_cycle_switch(&s->duty, t);
		return;
	}
	err = probes_resume_allocs(s->probes);
	duty_cycle_switch(&s->duty, now(CLOCK_MONOTONIC));
	if (err) {
		/* Half attached is worse than always on: stay on for good. */
		fprintf(stderr, "leaktop: cannot re-attach the allocation probes (%s): duty cycle stopped\n",
			strerror(-err));
		s->duty.fraction = 1;
	}
}

/* Waits until the deadline, the target's exit, a key (TUI) or a signal;
 * switches duty-cycle phases on the way. */
static enum event wait_event(struct session *s, double deadline)
{
	struct pollfd fds[2] = { { .fd = s->target.pidfd, .events = POLLIN },
				 { .fd = STDIN_FILENO, .events = POLLIN } };

	for (;;) {
		double t = now(CLOCK_MONOTONIC), left = deadline - t;
		double to_switch = duty_cycle_next_switch(&s->duty) - t;
		int n;

		if (stop_signal)
			return EVENT_SIGNAL;
		if (s->target.exited)
			return EVENT_EXIT;
		if (left <= 0)
			return EVENT_DEADLINE;
		if (to_switch <= 0) {
			switch_duty_phase(s);
			continue;
		}
		n = poll(fds, s->tui ? 2 : 1, (int)ceil(fmin(fmin(left, to_switch), 0.05) * 1000));
		if (n == 0) {
			unwind_catch_up(s);
			attach_exec_allocators(s, true);
			build_new_stacks(s);
		}
		if (n > 0 && (fds[0].revents & POLLIN))
			target_wait_exit(&s->target, 0); /* reaps a spawned child */
		else if (n > 0 && s->tui && fds[1].revents)
			return EVENT_KEY;
	}
}

/* A key's action in the TUI; false to quit. */
static bool handle_keys(struct session *s, double *deadline)
{
	static const double steps[] = { 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60 };
	enum tui_action action = tui_read_keys(s->tui);
	size_t i = 0;

	switch (action) {
	case TUI_QUIT:
		return false;
	case TUI_RESET:
		model_reset(s->model);
		break;
	case TUI_FASTER:
	case TUI_SLOWER:
		while (i + 1 < sizeof(steps) / sizeof(steps[0]) && steps[i] < s->opts.interval_s)
			i++;
		if (action == TUI_FASTER && i > 0)
			i--;
		else if (action == TUI_SLOWER && steps[i] <= s->opts.interval_s && i + 1 < sizeof(steps) / sizeof(steps[0]))
			i++;
		s->opts.interval_s = steps[i];
		*deadline = s->last_update + s->opts.interval_s;
		break;
	default:
		break;
	}
	if (action != TUI_NONE)
		draw_tui(s);
	return true;
}

/* Reports every interval until -c, q, a signal, the target's exit or an
 * output error. */
static void run(struct session *s)
{
	long intervals = 0;
	double deadline;

	s->start = now(CLOCK_MONOTONIC);
	deadline = s->start + s->opts.interval_s;
	for (;;) {
		enum event ev = wait_event(s, deadline);

		if (ev == EVENT_KEY) {
			if (!handle_keys(s, &deadline))
				return;
			continue;
		}
		/* Also on a signal or exit: the last picture is not lost. */
		if (!report_interval(s))
			return;
		intervals++;
		if (ev == EVENT_EXIT) {
			tui_close(s->tui);
			target_exit_message(&s->target);
			return;
		}
		if (ev == EVENT_SIGNAL || (s->opts.count && intervals >= s->opts.count))
			return;
		deadline += s->opts.interval_s;
		if (deadline < now(CLOCK_MONOTONIC)) /* fell behind: do not burst */
			deadline = now(CLOCK_MONOTONIC) + s->opts.interval_s;
	}
}

static void finish(struct session *s)
{
	tui_close(s->tui);
	free(s->tui);
	if (s->target.exited)
		free(s->redirect);
	else
		python_redirect_stop(s->redirect);
	unwind_maps_free(s->unwind);
	collection_close(&s->collection);
	probes_detach(s->probes);
	target_close(&s->target);
	slot_table_free(s->slots);
	if (s->model)
		model_set_dropped(s->model, NULL, NULL); /* the stacks go all at once */
	stack_table_free(s->stacks);
	python_free(s->python);
	symbolizer_free(s->sym);
	model_free(s->model);
	free(s->rows);
	free(s->report_stacks);
	free(s->report_frames);
	allocator_scan_free(&s->exec.scan);
}

int main(int argc, char **argv)
{
	struct session s = { 0 };
	char err[256];
	int code;

	if (options_parse(argc, argv, &s.opts, err, sizeof(err))) {
		fprintf(stderr, "leaktop: %s\n", err);
		return 2;
	}
	if (s.opts.help || s.opts.version) {
		fputs(s.opts.help ? options_usage : options_version, stdout);
		return 0;
	}
	if (!check_privileges())
		return 1;
	libbpf_set_print(quiet_libbpf);
	install_signal_handlers();
	s.target.pidfd = s.target.release_fd = s.target.exec_error_fd = -1;

	/* A Python program started by leaktop uses malloc for every object, so
	 * that the probes see small objects too (pymalloc may be inlined).  A
	 * free-threaded one (mimalloc only) would refuse to start. */
	if (!s.opts.pid) {
		char exe[PATH_MAX];

		if (target_find_in_path(s.opts.command[0], exe, sizeof(exe)) &&
		    python_program_free_threaded(exe, target_find_in_path))
			fprintf(stderr, "leaktop: %s is a free-threaded Python: it allocates objects with mimalloc, which leaktop sees only attached (-p PID); started here, only what reaches malloc is seen\n",
				s.opts.command[0]);
		else
			setenv("PYTHONMALLOC", "malloc", 0);
	}
	code = start(&s);
	if (code == 0) {
		read_cmdline(&s);
		if (!s.opts.batch && !s.opts.json && !s.opts.quiet && isatty(STDOUT_FILENO) &&
		    isatty(STDIN_FILENO))
			s.tui = tui_open();
		run(&s);
		if (s.tui) {
			/* The terminal back as it was, then the last picture in text. */
			tui_close(s.tui);
			print_report(&s);
		}
		write_folded(&s);
	}
	finish(&s);
	return code;
}
