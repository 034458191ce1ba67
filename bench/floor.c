/* Attaches the empty floor programs where leaktop would attach its own, to one
 * PID, until SIGINT/SIGTERM: `floor PID`.  FLOOR_AT_ENTRY=1: at the function
 * entries instead (before probe placement).  FLOOR_OFF_PHASE=1: only the
 * probes --duty-cycle keeps in its off-phase (frees and the realloc family). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "allocator_scan.h"
#include "placement.h"
#include "floor.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct allocator_list list;
	struct floor_bpf *skel;
	char root[64];
	int pid, links = 0;

	if (argc != 2 || (pid = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: floor PID\n");
		return 2;
	}
	snprintf(root, sizeof(root), "/proc/%d/root", pid);
	if (allocators_from_maps(pid, root, &list) || !list.count) {
		fprintf(stderr, "floor: no allocator in PID %d\n", pid);
		return 1;
	}
	skel = floor_bpf__open_and_load();
	if (!skel)
		return 1;
	for (int i = 0; i < list.count; i++) {
		struct allocator_object *obj = &list.objects[i];

		if (!getenv("FLOOR_AT_ENTRY")) /* leaktop's placement, unless asked */
			placement_apply(obj);

		for (int j = 0; j < obj->nprobes; j++) {
			const struct alloc_probe *probe = &obj->probes[j];
			LIBBPF_OPTS(bpf_uprobe_opts, entry);
			LIBBPF_OPTS(bpf_uprobe_opts, ret, .retprobe = true);
			bool is_free = probe->fn == ALLOC_FREE;
			/* leaktop's places: operator new returns through uprobes on
			 * its rets (ALLOC_NEW_RETURN), not a uretprobe. */
			bool is_new = probe->fn == FN_OPERATOR_NEW || probe->fn == FN_OPERATOR_NEW_ARRAY;

			if (getenv("FLOOR_OFF_PHASE") && !is_free && !alloc_fn_frees_old_block(probe->fn))
				continue;

			if (probe->fn == ALLOC_NEW_RETURN) {
				links += !!bpf_program__attach_uprobe_opts(skel->progs.floor_return, pid,
									   obj->open_path, probe->at, &entry);
				continue;
			}
			links += !!bpf_program__attach_uprobe_opts(
				is_free ? skel->progs.floor_free : skel->progs.floor_enter, pid,
				obj->open_path, probe->at, &entry);
			if (!is_free && !is_new)
				links += !!bpf_program__attach_uprobe_opts(skel->progs.floor_return, pid,
									   obj->open_path, probe->at, &ret);
		}
	}
	fprintf(stderr, "floor: %d empty probes on PID %d\n", links, pid);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop)
		pause();
	floor_bpf__destroy(skel); /* links go with the process */
	allocator_list_free(&list);
	return 0;
}
