/* Loading the BPF skeleton and attaching uprobes: the probes of one object
 * with the same program in one uprobe_multi link where the kernel has them
 * (6.6+), else one link each through libbpf's perf-event path (no tracefs
 * needed).  Probes are bound to the target PID: the kernel arms them only in
 * its address space, for all of its threads, also across exec (spawn mode
 * attaches before the exec). */
#define _GNU_SOURCE /* O_PATH */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "alloc_table_walk.h"
#include "grow.h"
#include "leaktop_types.h"
#include "leaktop.skel.h"
#include "probes.h"
#include "sampling.h"
#include "errors.h"
#include "uprobe_multi.h"

/* One uprobe: what it takes to attach it again (--duty-cycle). */
struct probe_site {
	struct bpf_program *prog;
	const char *path; /* its probe_object's attach_path */
	uint64_t offset;
	uint64_t cookie;
	bool retprobe;
	bool alloc;	  /* detached in the off-phase: an allocation probe, but
			   * not of the realloc family, which must still free */
	struct bpf_link *link; /* NULL while detached, and with uprobe_multi */
};

/* With uprobe_multi: sites of one object, program and role (allocation
 * probe or not), attached and detached together by one link. */
struct probe_batch {
	int first, count;	/* sites[first, first + count) */
	int fd;			/* the link; -1 while detached */
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
	struct probe_batch *batches; /* uprobe_multi links (multi) */
	int nbatches;
	size_t batches_cap;
	bool multi;
	pid_t pid;
	bool paused;	/* --duty-cycle off-phase: allocation probes detached */
	bool python_room; /* py_stacks sized for Python stacks */
	struct probe_object *objects;
	int nobjects;
	size_t objects_cap;
};

static struct bpf_link *attach_site(const struct probe_site *site, pid_t pid)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = site->retprobe, .bpf_cookie = site->cookie);

	return bpf_program__attach_uprobe_opts(site->prog, pid, site->path, (size_t)site->offset, &opts);
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
				     prog != p->skel->progs.free_enter && prog != p->skel->progs.py_free_enter &&
					     !alloc_fn_frees_old_block((int)cookie), NULL };
	/* With uprobe_multi, attached by attach_batches; in the off-phase an
	 * allocation probe waits for probes_resume_allocs. */
	if (!p->multi && !(site->alloc && p->paused)) {
		site->link = attach_site(site, pid);
		if (!site->link)
			return -errno;
	}
	p->nsites++;
	return 0;
}

/* One link for all the sites of a batch; 0 or a negative errno. */
static int attach_batch(struct probes *p, struct probe_batch *b)
{
	const struct probe_site *first = &p->sites[b->first];
	uint64_t offsets[b->count], cookies[b->count];

	for (int i = 0; i < b->count; i++) {
		offsets[i] = p->sites[b->first + i].offset;
		cookies[i] = p->sites[b->first + i].cookie;
	}
	b->fd = uprobe_multi_attach(bpf_program__fd(first->prog), first->path, offsets, cookies,
				    (uint32_t)b->count, first->retprobe, p->pid);
	return b->fd < 0 ? b->fd : 0;
}

static bool same_batch(const struct probe_site *a, const struct probe_site *b)
{
	return a->prog == b->prog && a->alloc == b->alloc;
}

/* uprobe_multi: groups the sites from `first` on (one object, one pass of
 * attach_object) by program and role, and attaches each group. */
static int attach_batches(struct probes *p, int first)
{
	int n = p->nsites - first, m = 0;
	struct probe_site grouped[n > 0 ? n : 1];

	/* Each group where its first site was, in the object's order. */
	for (int i = first; i < p->nsites; i++) {
		bool seen = false;

		for (int j = first; j < i && !seen; j++)
			seen = same_batch(&p->sites[j], &p->sites[i]);
		for (int j = i; j < p->nsites && !seen; j++)
			if (same_batch(&p->sites[i], &p->sites[j]))
				grouped[m++] = p->sites[j];
	}
	memcpy(&p->sites[first], grouped, (size_t)n * sizeof(grouped[0]));
	for (int i = first; i < p->nsites;) {
		struct probe_batch *b, *grown = grow_array(p->batches, &p->batches_cap,
							   (size_t)p->nbatches + 1, sizeof(*grown), 16);
		int err = 0;

		if (!grown)
			return -ENOMEM;
		p->batches = grown;
		b = &p->batches[p->nbatches];
		*b = (struct probe_batch){ i, 0, -1 };
		while (i < p->nsites && same_batch(&p->sites[b->first], &p->sites[i]))
			i++;
		b->count = i - b->first;
		/* In the off-phase an allocation batch waits for the resume. */
		if (!(p->sites[b->first].alloc && p->paused))
			err = attach_batch(p, b);
		if (err)
			return err;
		p->nbatches++;
	}
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
	int err = 0, first = p->nsites;

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
			err = attach_one(p, probe->fn == ALLOC_PY_FREE ? skel->progs.py_free_enter
								 : skel->progs.free_enter,
					 path, probe->at, false, 0, pid);
		} else {
			err = attach_one(p, skel->progs.alloc_enter, path, probe->at, false,
					 (uint64_t)probe->fn, pid);
		}
	}
	if (!err && p->multi)
		err = attach_batches(p, first);
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
static void attach_failed(const struct allocator_object *obj, bool p_multi, int e, char *err, size_t errlen)
{
	if (e == -EACCES || e == -EPERM)
		/* uprobe_multi links need CAP_BPF+CAP_PERFMON; the perf events of
		 * the fallback want CAP_SYS_ADMIN too. */
		fail(err, errlen, "creating uprobes on %s was refused (%s): run as root or grant %s",
		     obj->path, strerror(-e), p_multi ? "CAP_BPF and CAP_PERFMON" : "CAP_SYS_ADMIN");
	else
		fail(err, errlen, "cannot attach uprobes to %s: %s", obj->path, strerror(-e));
}

/* uprobe_multi for every uprobe program, where the kernel has it: the
 * attach type goes with the program when it is loaded. */
static void use_uprobe_multi(struct probes *p)
{
	struct bpf_program *prog;

	p->multi = uprobe_multi_supported();
	if (!p->multi)
		return;
	p->skel->rodata->kernel_filters_tgid = uprobe_multi_filters_thread_group();
	bpf_object__for_each_program(prog, p->skel->obj)
		if (strncmp(bpf_program__section_name(prog), "uprobe", 6) == 0 ||
		    strncmp(bpf_program__section_name(prog), "uretprobe", 9) == 0)
			bpf_program__set_expected_attach_type(prog, UPROBE_MULTI_ATTACH_TYPE);
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
	p->skel->rodata->process_key = (__u64)cfg->process_index << ALLOC_ADDRESS_BITS;
	p->skel->rodata->alloc_records_max = cfg->max_allocs;
	if (cfg->shared_allocs_fd >= 0) {
		struct bpf_map_info info = { 0 };
		__u32 info_len = sizeof(info);

		e = bpf_map__reuse_fd(p->skel->maps.allocs, cfg->shared_allocs_fd);
		if (!e && bpf_obj_get_info_by_fd(cfg->shared_allocs_fd, &info, &info_len))
			e = -errno;
		if (e) {
			fail(err, errlen, "cannot share the allocations map: %s", strerror(-e));
			goto out;
		}
		p->skel->rodata->alloc_buckets_mask = info.max_entries - 2; /* (buckets, then the count) */
	} else {
		bpf_map__set_max_entries(p->skel->maps.allocs, alloc_table_entries(cfg->max_allocs));
		p->skel->rodata->alloc_buckets_mask = alloc_table_buckets(cfg->max_allocs) - 1;
	}
	bpf_map__set_max_entries(p->skel->maps.stack_index, cfg->max_stacks);
	bpf_map__set_max_entries(p->skel->maps.stack_keys, cfg->max_stacks);
	bpf_map__set_max_entries(p->skel->maps.stack_stats, cfg->max_stacks);
	bpf_map__set_max_entries(p->skel->maps.free_slots, cfg->max_stacks);
	/* A trace outlives its slot by a reading or more (user/slots.c), and
	 * calls in flight hold theirs before they have a slot: room for both
	 * (entries are allocated as stored). */
	bpf_map__set_max_entries(p->skel->maps.stack_traces, 2 * cfg->max_stacks);
	/* A program without Python at the start gets none (a map must have
	 * an entry): Python frames stay off if an interpreter shows up later. */
	bpf_map__set_max_entries(p->skel->maps.py_stacks, cfg->no_python ? 1 : cfg->max_stacks);
	p->python_room = !cfg->no_python;
	if (cfg->unwind_rows)
		bpf_map__set_max_entries(p->skel->maps.unwind_rows, cfg->unwind_rows);
	use_uprobe_multi(p);
	/* 1 KiB a Python stack: memory only for those stored (none in a
	 * program without Python), not for the whole map at load. */
	bpf_map__set_map_flags(p->skel->maps.py_stacks,
			       bpf_map__map_flags(p->skel->maps.py_stacks) | BPF_F_NO_PREALLOC);
	e = leaktop_bpf__load(p->skel);
	if (e) {
		fail(err, errlen, "cannot load the BPF programs: %s (needs a kernel with BTF and BPF, and CAP_BPF+CAP_PERFMON)",
		     strerror(-e));
		goto out;
	}
	/* Before the first index is read, so that no unmap after it goes unseen. */
	p->skel->links.unwind_mmap_released = bpf_program__attach(p->skel->progs.unwind_mmap_released);
	if (!p->skel->links.unwind_mmap_released) {
		fail(err, errlen, "cannot attach to the mmap_lock_released tracepoint: %s", strerror(errno));
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
			attach_failed(&list->objects[i], p->multi, e, err, errlen);
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
		attach_failed(obj, p->multi, e, err, errlen);
		return e;
	}
	return p->nsites - before;
}

/* A link to remove: a perf-event uprobe's, or a uprobe_multi link's fd. */
struct release {
	struct bpf_link *link;
	int fd;
};

static void *release_one(void *arg)
{
	struct release *r = arg;

	if (r->link)
		bpf_link__destroy(r->link);
	else if (r->fd >= 0)
		close(r->fd);
	return NULL;
}

/* Removes n links at once, one thread each: removing uprobes waits for RCU
 * grace periods, which concurrent removals share (a perf-event uprobe's only
 * in part: some of its wait is under a kernel-wide mutex).  A link whose
 * thread cannot start is removed here. */
static void release_all(struct release *r, int n)
{
	pthread_t threads[n > 0 ? n : 1];
	bool started[n > 0 ? n : 1];
	pthread_attr_t attr;
	bool small = pthread_attr_init(&attr) == 0;

	/* release_one needs little stack; 100 threads of the default 8 MiB
	 * would reserve 800 MiB of address space. */
	if (small)
		pthread_attr_setstacksize(&attr, 64 * 1024);
	for (int i = 0; i < n; i++) {
		started[i] = pthread_create(&threads[i], small ? &attr : NULL, release_one, &r[i]) == 0;
		if (!started[i])
			release_one(&r[i]);
	}
	for (int i = 0; i < n; i++)
		if (started[i])
			pthread_join(threads[i], NULL);
	if (small)
		pthread_attr_destroy(&attr);
}

/* Detaches the allocation probes (alloc_only) or all, and of them the
 * return probes (retprobes 1), the others (0) or both (-1). */
static void release_links(struct probes *p, bool alloc_only, int retprobes)
{
	int n = p->multi ? p->nbatches : p->nsites, count = 0;
	struct release r[n > 0 ? n : 1];

	for (int i = 0; i < n; i++) {
		struct probe_batch *b = p->multi ? &p->batches[i] : NULL;
		struct probe_site *site = &p->sites[b ? b->first : i];

		if ((alloc_only && !site->alloc) || (retprobes >= 0 && site->retprobe != retprobes) ||
		    (b ? b->fd < 0 : !site->link))
			continue;
		r[count++] = (struct release){ site->link, b ? b->fd : -1 };
		site->link = NULL;
		if (b)
			b->fd = -1;
	}
	release_all(r, count);
}

void probes_detach(struct probes *p)
{
	if (!p)
		return;
	release_links(p, false, -1);
	for (int i = 0; i < p->nobjects; i++)
		object_close(&p->objects[i]);
	free(p->sites);
	free(p->batches);
	free(p->objects);
	leaktop_bpf__destroy(p->skel);
	free(p);
}

bool probes_python_room(const struct probes *p)
{
	return p->python_room;
}

int probes_count(const struct probes *p)
{
	return p->nsites;
}

/* The kernel's account of the memory a map holds (fdinfo's memlock). */
uint64_t probes_fd_map_memory(int fd)
{
	char path[64], line[128];
	uint64_t bytes = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %" SCNu64, &bytes) == 1)
			break;
	fclose(f);
	return bytes;
}

uint64_t probes_map_memory(const struct probes *p, bool allocs_too, char *largest, size_t len)
{
	uint64_t total = 0, top[3] = { 0 };
	const char *names[3] = { NULL };
	struct bpf_map *map;
	size_t used = 0;

	bpf_object__for_each_map(map, p->skel->obj) {
		uint64_t bytes = probes_fd_map_memory(bpf_map__fd(map));
		const char *name = bpf_map__name(map);

		if (!allocs_too && map == p->skel->maps.allocs)
			continue;
		total += bytes;
		for (int i = 0; i < 3; i++) {
			if (bytes <= top[i])
				continue;
			for (int j = 2; j > i; j--) {
				top[j] = top[j - 1];
				names[j] = names[j - 1];
			}
			top[i] = bytes;
			names[i] = name;
			break;
		}
	}
	if (len)
		largest[0] = '\0';
	for (int i = 0; i < 3 && names[i] && used < len; i++)
		used += (size_t)snprintf(largest + used, len - used, "%s%s %.1f MiB", i ? ", " : "", names[i],
					 (double)top[i] / (1 << 20));
	return total;
}

void probes_pause_allocs(struct probes *p)
{
	/* Nothing new is recorded from now on; the realloc family stays
	 * attached, and releases old blocks. */
	__atomic_store_n(&p->skel->bss->allocs_paused, 1, __ATOMIC_SEQ_CST);
	/* Entries first: a call that got past its entry probe still meets its
	 * return probe, unless it is inside the allocator right now. */
	release_links(p, true, false);
	release_links(p, true, true);
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
		for (int i = 0; i < (p->multi ? p->nbatches : p->nsites); i++) {
			struct probe_batch *b = p->multi ? &p->batches[i] : NULL;
			struct probe_site *site = &p->sites[b ? b->first : i];
			int e;

			if (!site->alloc || site->retprobe != (pass == 0) || (b ? b->fd >= 0 : site->link != NULL))
				continue;
			if (b) {
				e = attach_batch(p, b);
			} else {
				site->link = attach_site(site, p->pid);
				e = site->link ? 0 : -errno;
			}
			if (e && !err)
				err = e;
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

int probes_free_slots_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.free_slots);
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

int probes_big_sizes_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.big_sizes);
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

__u32 *probes_traces_seq(struct probes *p)
{
	return &p->skel->bss->traces_seq;
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
