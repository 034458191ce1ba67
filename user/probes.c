/* Loading the BPF skeleton and attaching uprobes through libbpf's perf-event
 * path (no tracefs needed).  Probes are bound to the target PID: the kernel
 * arms them only in its address space, for all of its threads, also across
 * exec (spawn mode attaches before the exec). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "leaktop_types.h"
#include "leaktop.skel.h"
#include "probes.h"
#include "sampling.h"
#include "errors.h"

/* One uprobe: what it takes to attach it again (--duty-cycle). */
struct probe_site {
	struct bpf_program *prog;
	const char *path; /* the allocator_object's, copied */
	uint64_t offset;
	uint64_t cookie;
	bool retprobe;
	bool alloc;	  /* detached in the off-phase: an allocation probe, but
			   * not of the realloc family, which must still free */
	struct bpf_link *link; /* NULL while detached */
};

struct probes {
	struct leaktop_bpf *skel;
	struct probe_site *sites;
	int nsites;
	pid_t pid;
	char **paths; /* owned copies of the object paths, one per object */
	int npaths;
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
	struct probe_site *site = &p->sites[p->nsites];

	*site = (struct probe_site){ prog, path, offset, cookie, retprobe,
				     prog != p->skel->progs.free_enter && !frees_old_block(cookie), NULL };
	site->link = attach_site(site, pid);
	if (!site->link)
		return -errno;
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
	int err = 0;

	if (!p->paths[index] && !(p->paths[index] = strdup(obj->open_path)))
		return -ENOMEM;
	for (int i = 0; i < obj->nprobes && !err; i++) {
		const struct alloc_probe *probe = &obj->probes[i];
		bool is_free = probe->fn == ALLOC_FREE || probe->fn == ALLOC_PY_FREE;
		bool is_new = probe->fn == FN_OPERATOR_NEW || probe->fn == FN_OPERATOR_NEW_ARRAY;

		if (probe->fn == ALLOC_NEW_RETURN) {
			/* A plain uprobe on one of operator new's rets: no uretprobe
			 * may sit where an exception unwinds (return_sites.h). */
			if (returns)
				err = attach_one(p, skel->progs.new_return, p->paths[index], probe->at,
						 false, 0, pid);
		} else if (returns) {
			/* At the entry probe's place (one trap serves both): it keeps
			 * the return address at [sp], where the uretprobe takes it. */
			if (!is_free && !is_new)
				err = attach_one(p, skel->progs.alloc_return, p->paths[index], probe->at,
						 true, (uint64_t)probe->fn, pid);
		} else if (is_free) {
			err = attach_one(p, skel->progs.free_enter, p->paths[index], probe->at, false,
					 probe->fn == ALLOC_PY_FREE ? FREE_ARG2 : FREE_ARG1, pid);
		} else {
			err = attach_one(p, skel->progs.alloc_enter, p->paths[index], probe->at, false,
					 (uint64_t)probe->fn, pid);
		}
	}
	return err;
}

struct probes *probes_attach(const struct probes_config *cfg, const struct allocator_list *list,
			     char *err, size_t errlen)
{
	struct probes *p = calloc(1, sizeof(*p));
	int e;

	if (!p) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	p->pid = cfg->pid;
	p->sites = calloc((size_t)list->count * 2 * MAX_ALLOC_PROBES, sizeof(*p->sites));
	p->paths = calloc((size_t)list->count, sizeof(*p->paths));
	p->npaths = p->paths ? list->count : 0; /* filled by the first pass */
	p->skel = leaktop_bpf__open();
	if (!p->sites || !p->paths || !p->skel) {
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
	bpf_map__set_max_entries(p->skel->maps.free_slots, cfg->max_stacks);
	/* A trace outlives its slot by a reading or more (user/slots.c), and
	 * calls in flight hold theirs before they have a slot: room for both
	 * (entries are allocated as stored). */
	bpf_map__set_max_entries(p->skel->maps.stack_traces, 2 * cfg->max_stacks);
	bpf_map__set_max_entries(p->skel->maps.py_stacks, cfg->max_stacks);
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
	if (cfg->loaded)
		cfg->loaded(p, cfg->loaded_arg);
	p->skel->links.target_exec = bpf_program__attach(p->skel->progs.target_exec);
	if (!p->skel->links.target_exec) {
		fail(err, errlen, "cannot attach to the exec tracepoint: %s", strerror(errno));
		goto out;
	}
	for (int n = 0; n < 2 * list->count; n++) {
		int i = n % list->count;

		e = attach_object(p, &list->objects[i], i, n < list->count, cfg->pid);
		if (e == -EACCES || e == -EPERM) {
			/* Seen on 6.x kernels: CAP_BPF+CAP_PERFMON load the programs but
			 * the uprobe perf event itself wants CAP_SYS_ADMIN. */
			fail(err, errlen, "creating uprobes on %s was refused (%s): run as root or grant CAP_SYS_ADMIN",
			     list->objects[i].path, strerror(-e));
			goto out;
		}
		if (e) {
			fail(err, errlen, "cannot attach uprobes to %s: %s", list->objects[i].path, strerror(-e));
			goto out;
		}
	}
	return p;
out:
	probes_detach(p);
	return NULL;
}

void probes_detach(struct probes *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->nsites; i++)
		bpf_link__destroy(p->sites[i].link);
	for (int i = 0; i < p->npaths; i++)
		free(p->paths[i]);
	free(p->sites);
	free(p->paths);
	leaktop_bpf__destroy(p->skel);
	free(p);
}

int probes_count(const struct probes *p)
{
	return p->nsites;
}

/* The kernel's account of the memory a map holds (fdinfo's memlock). */
static uint64_t map_memory(int fd)
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

uint64_t probes_map_memory(const struct probes *p, char *largest, size_t len)
{
	uint64_t total = 0, top[3] = { 0 };
	const char *names[3] = { NULL };
	struct bpf_map *map;
	size_t used = 0;

	bpf_object__for_each_map(map, p->skel->obj) {
		uint64_t bytes = map_memory(bpf_map__fd(map));
		const char *name = bpf_map__name(map);

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
}

int probes_resume_allocs(struct probes *p)
{
	int err = 0;

	/* A call caught between the two passes of the pause left a record with
	 * an older epoch: alloc_enter then takes it for stale. */
	__sync_fetch_and_add(&p->skel->bss->duty_epoch, 1);
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
