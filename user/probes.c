/* Loading the BPF skeleton and attaching uprobes through libbpf's perf-event
 * path (no tracefs needed).  Probes are bound to the target PID: the kernel
 * arms them only in its address space, for all of its threads, also across
 * exec (spawn mode attaches before the exec). */
#define _GNU_SOURCE /* O_PATH */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "grow.h"
#include "leaktop_types.h"
#include "leaktop.skel.h"
#include "probes.h"
#include "sampling.h"
#include "errors.h"

/* One uprobe: what it takes to attach it again (--duty-cycle). */
struct probe_site {
	struct bpf_program *prog;
	const char *path; /* its probe_object's attach_path */
	uint64_t offset;
	uint64_t cookie;
	bool retprobe;
	bool alloc;	  /* detached in the off-phase: an allocation probe, but
			   * not of the realloc family, which must still free */
	struct bpf_link *link; /* NULL while detached */
};

/* A file under probes, held by an O_PATH descriptor opened once.  Probes
 * are attached through /proc/self/fd/N, which the kernel resolves to that
 * very inode: re-attaching (--duty-cycle) stays on the file the target maps
 * even after a package upgrade renamed a new file over its path. */
struct probe_object {
	int fd;
	char *attach_path;	/* /proc/self/fd/N */
	char *path;		/* as the target names it, for messages */
	char *open_path;	/* where it was found, to notice a replacement */
	dev_t dev;
	ino_t ino;
	bool replaced_said;
};

struct probes {
	struct leaktop_bpf *skel;
	struct probe_site *sites;
	int nsites;
	size_t sites_cap;
	pid_t pid;
	bool paused;	/* --duty-cycle off-phase: allocation probes detached */
	struct probe_object *objects;
	int nobjects;
	size_t objects_cap;
};

static struct bpf_link *attach_site(const struct probe_site *site, pid_t pid)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = site->retprobe, .bpf_cookie = site->cookie);

	return bpf_program__attach_uprobe_opts(site->prog, pid, site->path, (size_t)site->offset, &opts);
}

/* realloc and its kin free their old block: their probes stay attached in
 * --duty-cycle's off-phase (a flag in BPF keeps them from recording new
 * blocks then), or every realloc in it would leave its old block behind. */
static bool frees_old_block(uint64_t fn)
{
	return fn == FN_REALLOC || fn == FN_REALLOCARRAY || fn == FN_RALLOCX || fn == FN_XALLOCX ||
	       fn == FN_PY_REALLOC;
}

static int attach_one(struct probes *p, struct bpf_program *prog, const char *path,
		      uint64_t offset, bool retprobe, uint64_t cookie, pid_t pid)
{
	struct probe_site *site, *grown = grow_array(p->sites, &p->sites_cap, (size_t)p->nsites + 1,
						     sizeof(*grown), 64);

	if (!grown)
		return -ENOMEM;
	p->sites = grown;
	site = &p->sites[p->nsites];
	*site = (struct probe_site){ prog, path, offset, cookie, retprobe,
				     prog != p->skel->progs.free_enter && !frees_old_block(cookie), NULL };
	/* In the off-phase an allocation probe waits for probes_resume_allocs. */
	if (!(site->alloc && p->paused)) {
		site->link = attach_site(site, pid);
		if (!site->link)
			return -errno;
	}
	p->nsites++;
	return 0;
}

/* The probes of one allocator object: its return probes (returns = true),
 * or its entry probes and those on free and each operator delete.  The
 * returns go first: a call whose entry is seen must have its return seen,
 * else its record would pass for an outer call of every later one made at
 * the same stack depth. */
static int attach_object(struct probes *p, const struct allocator_object *obj, int index,
			 bool returns, pid_t pid)
{
	struct leaktop_bpf *skel = p->skel;
	const char *path = p->objects[index].attach_path;
	int err = 0;

	for (int i = 0; i < obj->nprobes && !err; i++) {
		const struct alloc_probe *probe = &obj->probes[i];
		bool is_free = probe->fn == ALLOC_FREE || probe->fn == ALLOC_PY_FREE;
		bool is_new = probe->fn == FN_OPERATOR_NEW || probe->fn == FN_OPERATOR_NEW_ARRAY;

		if (probe->fn == ALLOC_NEW_RETURN) {
			/* A plain uprobe on one of operator new's rets: no uretprobe
			 * may sit where an exception unwinds (return_sites.h). */
			if (returns)
				err = attach_one(p, skel->progs.new_return, path, probe->at,
						 false, 0, pid);
		} else if (returns) {
			/* At the entry probe's place (one trap serves both): it keeps
			 * the return address at [sp], where the uretprobe takes it. */
			if (!is_free && !is_new)
				err = attach_one(p, skel->progs.alloc_return, path, probe->at,
						 true, (uint64_t)probe->fn, pid);
		} else if (is_free) {
			err = attach_one(p, skel->progs.free_enter, path, probe->at, false,
					 probe->fn == ALLOC_PY_FREE ? FREE_ARG2 : FREE_ARG1, pid);
		} else {
			err = attach_one(p, skel->progs.alloc_enter, path, probe->at, false,
					 (uint64_t)probe->fn, pid);
		}
	}
	return err;
}

static void object_close(struct probe_object *o)
{
	close(o->fd);
	free(o->attach_path);
	free(o->path);
	free(o->open_path);
}

/* Opens an allocator file to probe and notes its identity. */
static int object_open(struct probe_object *o, const struct allocator_object *obj)
{
	char fd_path[32];
	struct stat st;
	int err = 0;

	/* A file found replaced already is opened through map_files (said then). */
	*o = (struct probe_object){ .fd = open(obj->open_path, O_PATH | O_CLOEXEC),
				    .replaced_said = obj->replaced };
	if (o->fd < 0)
		return -errno;
	if (fstat(o->fd, &st)) {
		err = -errno;
	} else {
		o->dev = st.st_dev;
		o->ino = st.st_ino;
		snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", o->fd);
		o->attach_path = strdup(fd_path);
		o->path = strdup(obj->path);
		o->open_path = strdup(obj->open_path);
		if (!o->attach_path || !o->path || !o->open_path)
			err = -ENOMEM;
	}
	if (err)
		object_close(o);
	return err;
}

/* Adds obj's file to p->objects; *index is its place there, or -1 when that
 * file (same device and inode, under whatever path) is probed already.
 * Returns 0 or a negative errno. */
static int object_add(struct probes *p, const struct allocator_object *obj, int *index)
{
	struct probe_object o, *grown;
	int err = object_open(&o, obj);

	*index = -1;
	if (err)
		return err;
	for (int i = 0; i < p->nobjects; i++) {
		if (p->objects[i].dev == o.dev && p->objects[i].ino == o.ino) {
			object_close(&o);
			return 0;
		}
	}
	grown = grow_array(p->objects, &p->objects_cap, (size_t)p->nobjects + 1, sizeof(*grown), 8);
	if (!grown) {
		object_close(&o);
		return -ENOMEM;
	}
	p->objects = grown;
	p->objects[p->nobjects] = o;
	*index = p->nobjects++;
	return 0;
}

/* Says once that the file at an object's path is no longer the one probed
 * (renamed over or deleted, as package upgrades do): the probes stay on the
 * file the target maps. */
static void note_replaced(struct probe_object *o, pid_t pid)
{
	struct stat st;

	if (o->replaced_said || (stat(o->open_path, &st) == 0 && st.st_dev == o->dev && st.st_ino == o->ino))
		return;
	fprintf(stderr, "leaktop: %s was replaced on disk; PID %d still has the old file, and the probes stay on it\n",
		o->path, pid);
	o->replaced_said = true;
}

/* The message for a failed attach to obj. */
static void attach_failed(const struct allocator_object *obj, int e, char *err, size_t errlen)
{
	if (e == -EACCES || e == -EPERM)
		/* Seen on 6.x kernels: CAP_BPF+CAP_PERFMON load the programs but
		 * the uprobe perf event itself wants CAP_SYS_ADMIN. */
		fail(err, errlen, "creating uprobes on %s was refused (%s): run as root or grant CAP_SYS_ADMIN",
		     obj->path, strerror(-e));
	else
		fail(err, errlen, "cannot attach uprobes to %s: %s", obj->path, strerror(-e));
}

struct probes *probes_attach(const struct probes_config *cfg, const struct allocator_list *list,
			     char *err, size_t errlen)
{
	struct probes *p = calloc(1, sizeof(*p));
	int index[list->count > 0 ? list->count : 1];
	int e;

	if (!p) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	p->pid = cfg->pid;
	p->skel = leaktop_bpf__open();
	if (!p->skel) {
		fail(err, errlen, "cannot open the BPF programs: %s", strerror(errno));
		goto out;
	}
	p->skel->rodata->target_tgid = (__u32)cfg->pid;
	p->skel->rodata->sample_bytes = cfg->sample_bytes;
	p->skel->rodata->stack_slots_max = cfg->max_stacks;
	sampling_tables(cfg->sample_bytes, (uint64_t *)p->skel->rodata->exp_table,
			(uint32_t *)p->skel->rodata->weight_table);
	bpf_map__set_max_entries(p->skel->maps.allocs, cfg->max_allocs);
	bpf_map__set_max_entries(p->skel->maps.stack_index, cfg->max_stacks);
	bpf_map__set_max_entries(p->skel->maps.stack_keys, cfg->max_stacks);
	bpf_map__set_max_entries(p->skel->maps.stack_stats, cfg->max_stacks);
	bpf_map__set_max_entries(p->skel->maps.stack_traces, cfg->max_stacks);
	bpf_map__set_max_entries(p->skel->maps.py_stacks, cfg->max_stacks);
	e = leaktop_bpf__load(p->skel);
	if (e) {
		fail(err, errlen, "cannot load the BPF programs: %s (needs a kernel with BTF and BPF, and CAP_BPF+CAP_PERFMON)",
		     strerror(-e));
		goto out;
	}
	if (cfg->loaded)
		cfg->loaded(p, cfg->loaded_arg);
	p->skel->links.target_exec = bpf_program__attach(p->skel->progs.target_exec);
	if (!p->skel->links.target_exec) {
		fail(err, errlen, "cannot attach to the exec tracepoint: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < list->count; i++) {
		e = object_add(p, &list->objects[i], &index[i]);
		if (e) {
			fail(err, errlen, "cannot open %s: %s", list->objects[i].open_path, strerror(-e));
			goto out;
		}
	}
	for (int n = 0; n < 2 * list->count; n++) {
		int i = n % list->count;

		if (index[i] < 0)
			continue; /* the same file as an earlier one */
		e = attach_object(p, &list->objects[i], index[i], n < list->count, cfg->pid);
		if (e) {
			attach_failed(&list->objects[i], e, err, errlen);
			goto out;
		}
	}
	return p;
out:
	probes_detach(p);
	return NULL;
}

int probes_add_object(struct probes *p, const struct allocator_object *obj, char *err, size_t errlen)
{
	int before = p->nsites, index, e = object_add(p, obj, &index);

	if (e) {
		fail(err, errlen, "cannot open %s: %s", obj->open_path, strerror(-e));
		return e;
	}
	if (index < 0)
		return 0;
	/* Returns first, as in probes_attach. */
	e = attach_object(p, obj, index, true, p->pid);
	if (!e)
		e = attach_object(p, obj, index, false, p->pid);
	if (e) {
		attach_failed(obj, e, err, errlen);
		return e;
	}
	return p->nsites - before;
}

void probes_detach(struct probes *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->nsites; i++)
		bpf_link__destroy(p->sites[i].link);
	for (int i = 0; i < p->nobjects; i++)
		object_close(&p->objects[i]);
	free(p->sites);
	free(p->objects);
	leaktop_bpf__destroy(p->skel);
	free(p);
}

int probes_count(const struct probes *p)
{
	return p->nsites;
}

static void *destroy_link(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

/* Destroys the links of the allocation probes that are (or are not) return
 * probes.  Each destroy waits for an RCU grace period (tens of ms on a VM):
 * one thread each lets the waits overlap. */
static void destroy_alloc_links(struct probes *p, bool retprobes)
{
	pthread_t threads[p->nsites > 0 ? p->nsites : 1];
	bool started[p->nsites > 0 ? p->nsites : 1];

	for (int i = 0; i < p->nsites; i++) {
		struct probe_site *site = &p->sites[i];

		started[i] = false;
		if (!site->alloc || site->retprobe != retprobes || !site->link)
			continue;
		started[i] = pthread_create(&threads[i], NULL, destroy_link, site->link) == 0;
		if (!started[i])
			bpf_link__destroy(site->link);
		site->link = NULL;
	}
	for (int i = 0; i < p->nsites; i++)
		if (started[i])
			pthread_join(threads[i], NULL);
}

void probes_pause_allocs(struct probes *p)
{
	/* Nothing new is recorded from now on; the realloc family stays
	 * attached, and releases old blocks. */
	__atomic_store_n(&p->skel->bss->allocs_paused, 1, __ATOMIC_SEQ_CST);
	/* Entries first: a call that got past its entry probe still meets its
	 * return probe, unless it is inside the allocator right now. */
	destroy_alloc_links(p, false);
	destroy_alloc_links(p, true);
	/* A call caught inside the allocator lost its return: its record is
	 * stale now, and a realloc of the off-phase is no call nested in it. */
	__sync_fetch_and_add(&p->skel->bss->duty_epoch, 1);
	p->paused = true;
}

int probes_resume_allocs(struct probes *p)
{
	int err = 0;

	/* A call caught between the two passes of the pause left a record with
	 * an older epoch: alloc_enter then takes it for stale. */
	__sync_fetch_and_add(&p->skel->bss->duty_epoch, 1);
	p->paused = false;
	for (int i = 0; i < p->nobjects; i++)
		note_replaced(&p->objects[i], p->pid);
	/* Returns first, so every call whose entry is seen has its return seen. */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < p->nsites; i++) {
			struct probe_site *site = &p->sites[i];

			if (!site->alloc || site->retprobe != (pass == 0) || site->link)
				continue;
			site->link = attach_site(site, p->pid);
			if (!site->link && !err)
				err = -errno;
		}
	/* Recording starts once every probe is back. */
	__atomic_store_n(&p->skel->bss->allocs_paused, 0, __ATOMIC_SEQ_CST);
	return err;
}

int probes_stack_index_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.stack_index);
}

int probes_stack_keys_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.stack_keys);
}

int probes_stack_stats_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.stack_stats);
}

uint32_t probes_stack_slots_used(const struct probes *p)
{
	return *(volatile __u32 *)&p->skel->bss->stack_slots_used;
}

int probes_stack_traces_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.stack_traces);
}

int probes_lost_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.lost);
}

int probes_hits_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.hits);
}

int probes_allocs_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.allocs);
}

int probes_py_stacks_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.py_stacks);
}

void probes_set_python(struct probes *p, const struct python_config *config)
{
	/* The runtime address last: the walk starts once it is non-zero. */
	struct python_config *live = &p->skel->bss->python;

	live->runtime = 0;
	__sync_synchronize();
	*live = *config;
	live->runtime = 0;
	__sync_synchronize();
	live->runtime = config->runtime;
}

int probes_unwind_rows_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.unwind_rows);
}

int probes_unwind_mappings_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.unwind_mappings);
}

int probes_unwind_objects_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.unwind_objects);
}

struct unwind_index *probes_unwind_index(struct probes *p)
{
	return &p->skel->bss->unwind_index;
}

uint64_t probes_unwind_misses(const struct probes *p)
{
	return *(volatile __u64 *)&p->skel->bss->unwind_misses;
}

uint32_t probes_generation(const struct probes *p)
{
	return *(volatile __u32 *)&p->skel->bss->generation;
}
