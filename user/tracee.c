/* One traced process: its allocators and probes, its interpreter, its exec
 * handling, its symbolizer, stacks and model (moved out of main.c; a
 * session, user/session.c, holds one or several). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "clock.h"
#include "allocator_scan.h"
#include "allocators.h"
#include "placement.h"
#include "probes.h"
#include "python_redirect.h"
#include "tracee.h"
#include "unwind_maps.h"
#include "unwind_sizing.h"

/* How long after an exec its mappings are read at every tick: the loader
 * maps the libraries within milliseconds, unless the machine is loaded. */
#define EXEC_LOAD_S 2.0

static void read_cmdline(struct tracee *s);

/* The process is no more (a child that exited before it was attached). */
static bool target_gone(const struct target *t)
{
	return kill(t->pid, 0) && errno == ESRCH;
}

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
static struct python *find_python(struct tracee *s, struct allocator_object *obj,
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
static void use_python(struct tracee *s, struct python *py, enum python_heap_view view)
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
	if (s->later)
		return; /* said for the first process of the session */
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
	if (python_untested(py))
		fprintf(stderr, "leaktop: %s\n", python_untested(py));
}

static void forget_python(struct tracee *s)
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
static void unwind_catch_up(struct tracee *s)
{
	if (s->unwind)
		unwind_maps_catch_up(s->unwind, probes_unwind_misses(s->probes));
}

/* probes_attach's hook: the unwind tables are built before the first probe
 * fires, so that no early allocation is unwound with frame pointers only (one
 * call site would show as two stacks, one cut short). */
struct unwind_start {
	struct tracee *s;
	const struct allocator_list *allocators;
};

static void build_unwind_tables(struct probes *p, void *arg)
{
	struct unwind_start *u = arg;
	struct tracee *s = u->s;

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
static void await_python(struct tracee *s)
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
static void follow_exec(struct tracee *s, uint32_t generation)
{
	bool own_exec = s->target.spawned && s->generation == 0 && generation == 1;

	s->generation = generation;
	if (!own_exec)
		forget_python(s);
	drop_other_generations(&(struct generation_maps){ .allocs_fd = probes_allocs_fd(s->probes),
							  .index_fd = probes_stack_index_fd(s->probes),
							  .traces_fd = probes_stack_traces_fd(s->probes),
							  .py_stacks_fd = probes_py_stacks_fd(s->probes),
							  .big_sizes_fd = probes_big_sizes_fd(s->probes),
							  .process_key = (uint64_t)s->index << ALLOC_ADDRESS_BITS,
							  .c = &s->collection },
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
static int attach_mapped_allocators(struct tracee *s)
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
static void attach_exec_allocators(struct tracee *s, bool tick)
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
static void refresh_symbols(struct tracee *s, bool always)
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
static void build_new_stacks(struct tracee *s)
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
	struct tracee *s = ctx;

	if (model_add_hinted(s->model, &st->model_hint, st->id, llround((double)bytes * s->scale),
			     llround((double)allocs * s->scale), st) == MODEL_NEW_ENTRY)
		stack_table_hold(s->stacks, st);
}

/* A stack evicted from its slot is not tracked any more. */
static void stack_evicted(void *ctx, struct stack *st)
{
	struct tracee *s = ctx;

	model_forget(s->model, st->id);
}

static void model_dropped(void *ctx, const void *stack)
{
	struct tracee *s = ctx;

	stack_table_put(s->stacks, (struct stack *)stack);
}

/* Says once that a map filled up, and which option makes it bigger: the
 * figures undercount from then on (lost events say by how much). */
static void warn_full_maps(struct tracee *s)
{
	const uint64_t *lost = s->collection.lost;

	if (slot_table_evicted(s->slots, NULL, NULL) && !s->said->evicted) {
		fprintf(stderr, "leaktop: live stacks outnumber the stack slots (%" PRIu32 "): those holding least and "
			"not growing give theirs to new ones (their blocks are not tracked from then on: lost events)\n",
			s->opts->max_stacks);
		s->said->evicted = true;
	}
	if (lost[LOST_HIGH_ADDRESS] && !s->said->high_address) {
		fprintf(stderr, "leaktop: blocks at addresses above 2^48 (5-level paging) are not tracked "
			"(lost events)\n");
		s->said->high_address = true;
	}
	if (lost[LOST_ALLOCS_FULL] && !s->said->allocs_full) {
		fprintf(stderr, "leaktop: %" PRIu32 " live allocations are tracked, the most --max-allocs allows: "
			"newer ones are not counted (lost events); run with a larger --max-allocs\n",
			s->max_allocs);
		s->said->allocs_full = true;
	}
	/* (LOST_STACK is left out: hash collisions and transient failures
	 * count there too, which a bigger map would not cure.) */
	if ((lost[LOST_STACKS_FULL] || lost[LOST_PY_STACKS_FULL]) && !s->said->stacks_full) {
		fprintf(stderr, "leaktop: stacks did not fit in the stack maps (%" PRIu32 " each): some allocations "
			"are not counted, or only under their caller (lost events); run with a larger --max-stacks\n",
			s->opts->max_stacks);
		s->said->stacks_full = true;
	}
}

void tracee_update(struct tracee *s, double scale)
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

	s->scale = scale;
	model_begin(s->model, t);
	slot_table_update(s->slots, probes_stack_slots_used(s->probes), (uint16_t)s->generation,
			  s->opts->interval_s, s->collection.lost[LOST_STACKS_FULL], add_to_model, s);
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

/* --pymalloc-redirect, once the probes are live. */
static int start_redirect(struct tracee *s, enum python_heap_view view)
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

int tracee_start(struct tracee *s, const struct options *o, pid_t pid, bool later)
{
	struct allocator_list allocators;
	char err[512];
	int e;

	s->opts = o;
	s->later = later;
	if (!s->said)
		s->said = &s->own_notes;
	if (s->shared_allocs_fd < 0) /* (else the size of the shared map, set by the session) */
		s->max_allocs = o->max_allocs;
	s->target.pidfd = s->target.release_fd = s->target.exec_error_fd = -1;
	if (pid)
		e = target_open(&s->target, pid, err, sizeof(err));
	else
		e = target_spawn(&s->target, o->command, err, sizeof(err));
	if (e) {
		if (!later || getenv("LEAKTOP_DEBUG"))
			fprintf(stderr, "leaktop: %s\n", err);
		return 1;
	}
	if (pid)
		e = allocators_from_maps(s->target.pid, s->target.root, &allocators);
	else
		e = allocators_for_program(s->target.exe, &allocators);
	if (e || allocators.count == 0) {
		if (!later || getenv("LEAKTOP_DEBUG"))
			fprintf(stderr, "leaktop: no allocator found in %s %d (%s): no mapped object defines malloc and free%s%s\n",
			pid ? "PID" : "command, PID", s->target.pid, s->target.comm,
			e ? ": " : "", e ? strerror(-e) : "");
		allocator_list_free(&allocators);
		return 1;
	}
	/* A CPython target: pymalloc's functions are probed too (attach mode:
	 * its allocator tables are read from the live process). */
	struct python *py = NULL;
	enum python_heap_view view = PY_HEAP_MALLOC;
	struct allocator_object pymalloc;

	if (pid && (py = find_python(s, &pymalloc, &view)) && pymalloc.nprobes) {
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
	if (pid && !o->max_allocs_given)
		s->max_allocs = max_allocs_for(target_resident_bytes(&s->target));
	struct unwind_start start_unwind = { s, &allocators };
	/* Attach mode: no Python stack map for a program without Python now
	 * (but a process found later may be caught before its exec). */
	struct probes_config cfg = { .pid = s->target.pid, .max_allocs = s->max_allocs, .max_stacks = o->max_stacks,
				     .sample_bytes = o->sample_bytes, .shared_allocs_fd = s->shared_allocs_fd,
				     .process_index = s->index, .no_python = pid && !py && !later,
				     .unwind_rows = unwind_rows_for(s->target.pid, s->target.spawned ? s->target.exe : NULL,
								    &allocators),
				     .loaded = build_unwind_tables, .loaded_arg = &start_unwind };
	s->probes = probes_attach(&cfg, &allocators, err, sizeof(err));
	if (!s->probes && s->shared_allocs_fd < 0 && !o->max_allocs_given && s->max_allocs > ATTACHED_MIN_ALLOCS) {
		/* The map sized from the target may not fit (memory cgroup): try
		 * the smallest size sizing gives. */
		fprintf(stderr, "leaktop: %s; trying again with --max-allocs %d\n", err, ATTACHED_MIN_ALLOCS);
		s->max_allocs = cfg.max_allocs = ATTACHED_MIN_ALLOCS;
		s->probes = probes_attach(&cfg, &allocators, err, sizeof(err));
	}
	if (!s->probes) {
		if (!later || !target_gone(&s->target) || getenv("LEAKTOP_DEBUG"))
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
	s->scale = 1;
	read_cmdline(s);
	if (later) {
		fprintf(stderr, "leaktop: tracing PID %d (%s) too: %d probes\n", s->target.pid, s->target.comm,
			s->nprobes);
		allocator_list_free(&allocators);
		goto attached;
	}
	fprintf(stderr, "leaktop: tracing PID %d (%s): %d probes on", s->target.pid, s->target.comm,
		s->nprobes);
	for (int i = 0; i < allocators.count; i++)
		fprintf(stderr, " %s%s", allocators.objects[i].path,
			allocators.objects[i].replaced ? " (replaced on disk: the file it maps is probed)" : "");
	fprintf(stderr, " (%d entries moved to emulated instructions)\n", moved);
	char largest[160];
	uint64_t map_bytes = probes_map_memory(s->probes, true, largest, sizeof(largest));

	fprintf(stderr, "leaktop: kernel maps hold %.1f MiB (%s; --max-allocs and --max-stacks size them)\n",
		(double)map_bytes / (1 << 20), largest);
	for (int i = 0; i < allocators.count; i++)
		if (allocators.objects[i].new_left_out[0])
			fprintf(stderr, "leaktop: %s: not traced: %s (it leaves through code whose returns leaktop cannot find; "
				"blocks it makes are not counted)\n",
				allocators.objects[i].path, allocators.objects[i].new_left_out);
	allocator_list_free(&allocators);
attached:
	if (s->target.spawned && target_release(&s->target, err, sizeof(err))) {
		fprintf(stderr, "leaktop: %s\n", err);
		return 1;
	}
	/* The session's processes share their objects' symbols (a forked
	 * worker's frames cost nothing new); each has its own mappings. */
	s->sym = symbolizer_new_shared(s->symbols, s->target.pid, s->target.root);
	s->stacks = s->sym ? stack_table_new(s->sym, s->frames, probes_stack_traces_fd(s->probes)) : NULL;
	s->model = model_new(o->window_s);
	struct slot_maps slot_maps = { probes_stack_index_fd(s->probes), probes_free_slots_fd(s->probes),
				       probes_stack_traces_fd(s->probes), probes_py_stacks_fd(s->probes),
				       probes_traces_seq(s->probes) };
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

void tracee_exit_message(const struct tracee *s)
{
	const struct target *t = &s->target;

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
static void read_cmdline(struct tracee *s)
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

void tracee_tick(struct tracee *s)
{
	unwind_catch_up(s);
	attach_exec_allocators(s, true);
	build_new_stacks(s);
}

void tracee_finish(struct tracee *s)
{
	if (s->target.exited)
		free(s->redirect);
	else
		python_redirect_stop(s->redirect);
	s->redirect = NULL;
	unwind_maps_free(s->unwind);
	s->unwind = NULL;
	collection_close(&s->collection);
	probes_detach(s->probes); /* no new records from it, then its old ones go */
	if (s->probes && s->shared_allocs_fd >= 0) /* (its big_sizes went with its BPF object) */
		drop_process_allocs(s->shared_allocs_fd, -1, (uint64_t)s->index << ALLOC_ADDRESS_BITS);
	s->probes = NULL;
	target_close(&s->target);
	slot_table_free(s->slots);
	s->slots = NULL;
	if (s->model)
		model_set_dropped(s->model, NULL, NULL); /* the stacks go all at once */
	stack_table_free(s->stacks);
	s->stacks = NULL;
	python_free(s->python);
	s->python = NULL;
	symbolizer_free(s->sym);
	s->sym = NULL;
	model_free(s->model);
	s->model = NULL;
	allocator_scan_free(&s->exec.scan);
}

uint64_t tracee_lost_events(const struct tracee *s, uint64_t by_reason[LOST_COUNT + 1])
{
	uint64_t n = 0, evicted = 0;

	/* Blocks of evicted stacks are not tracked any more. */
	if (s->slots)
		slot_table_evicted(s->slots, &evicted, NULL);
	n = evicted;
	if (by_reason)
		by_reason[LOST_COUNT] += evicted;

	for (int i = 0; i < LOST_COUNT; i++) {
		if (by_reason)
			by_reason[i] += s->collection.lost[i];
		if (i != LOST_STACK_TRUNCATED) /* the allocation was tracked */
			n += s->collection.lost[i];
	}
	return n;
}
