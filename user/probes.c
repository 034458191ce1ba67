/* Loading the BPF skeleton and attaching uprobes through libbpf's perf-event
 * path (no tracefs needed).  Probes are bound to the target PID: the kernel
 * arms them only in its address space, for all of its threads, also across
 * exec (spawn mode attaches before the exec). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "leaktop_types.h"
#include "leaktop.skel.h"
#include "probes.h"
#include "errors.h"

struct probes {
	struct leaktop_bpf *skel;
	struct bpf_link **links;
	int nlinks;
};

static int attach_one(struct probes *p, struct bpf_program *prog, const char *path,
		      uint64_t offset, bool retprobe, uint64_t cookie, pid_t pid)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe, .bpf_cookie = cookie);
	struct bpf_link *link;

	link = bpf_program__attach_uprobe_opts(prog, pid, path, (size_t)offset, &opts);
	if (!link)
		return -errno;
	p->links[p->nlinks++] = link;
	return 0;
}

/* Entry and return probes on each allocation function, an entry probe on
 * free and each operator delete. */
static int attach_object(struct probes *p, const struct allocator_object *obj, pid_t pid)
{
	struct leaktop_bpf *skel = p->skel;
	int err = 0;

	for (int i = 0; i < obj->nprobes && !err; i++) {
		const struct alloc_probe *probe = &obj->probes[i];

		if (probe->fn == ALLOC_FREE || probe->fn == ALLOC_PY_FREE) {
			err = attach_one(p, skel->progs.free_enter, obj->open_path, probe->offset, false,
					 probe->fn == ALLOC_PY_FREE ? FREE_ARG2 : FREE_ARG1, pid);
			continue;
		}
		err = attach_one(p, skel->progs.alloc_enter, obj->open_path, probe->offset, false,
				 (uint64_t)probe->fn, pid);
		if (!err)
			err = attach_one(p, skel->progs.alloc_return, obj->open_path, probe->offset, true,
					 (uint64_t)probe->fn, pid);
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
	p->links = calloc((size_t)list->count * 2 * MAX_ALLOC_PROBES, sizeof(*p->links));
	p->skel = leaktop_bpf__open();
	if (!p->links || !p->skel) {
		fail(err, errlen, "cannot open the BPF programs: %s", strerror(errno));
		goto out;
	}
	p->skel->rodata->target_tgid = (__u32)cfg->pid;
	bpf_map__set_max_entries(p->skel->maps.allocs, cfg->max_allocs);
	bpf_map__set_max_entries(p->skel->maps.stacks, cfg->max_stacks);
	bpf_map__set_max_entries(p->skel->maps.stack_traces, cfg->max_stacks);
	bpf_map__set_max_entries(p->skel->maps.py_stacks, cfg->max_stacks);
	e = leaktop_bpf__load(p->skel);
	if (e) {
		fail(err, errlen, "cannot load the BPF programs: %s (needs a kernel with BTF and BPF, and CAP_BPF+CAP_PERFMON)",
		     strerror(-e));
		goto out;
	}
	p->skel->links.target_exec = bpf_program__attach(p->skel->progs.target_exec);
	if (!p->skel->links.target_exec) {
		fail(err, errlen, "cannot attach to the exec tracepoint: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < list->count; i++) {
		e = attach_object(p, &list->objects[i], cfg->pid);
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
	for (int i = 0; i < p->nlinks; i++)
		bpf_link__destroy(p->links[i]);
	free(p->links);
	leaktop_bpf__destroy(p->skel);
	free(p);
}

int probes_count(const struct probes *p)
{
	return p->nlinks;
}

int probes_stacks_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.stacks);
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
