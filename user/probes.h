/* Loading the BPF programs and attaching them to a target's allocators. */
#ifndef LEAKTOP_PROBES_H
#define LEAKTOP_PROBES_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "allocators.h"
#include "leaktop_types.h"

struct probes;

struct probes_config {
	pid_t pid;
	uint32_t max_allocs;
	uint32_t max_stacks;
	uint64_t sample_bytes;	/* -s: mean bytes between samples; 0 = exact */
	/* The allocations map of the session's first process, shared by the
	 * others (-1: its own, of max_allocs entries), and this process's index
	 * in the session, the high bits of its keys there (bpf alloc_key()). */
	int shared_allocs_fd;
	uint16_t process_index;
	bool no_python;		/* no interpreter in the target: no room for Python stacks */
	uint32_t unwind_rows;	/* rows the unwind_rows map holds (0: UNWIND_MAX_ROWS) */
	/* Called once the maps exist, before any uprobe is attached: what the
	 * programs need from the start (the unwind tables) goes in here. */
	void (*loaded)(struct probes *p, void *arg);
	void *loaded_arg;
};

/* Loads the programs and attaches them, for pid only, to every allocator
 * function in the list.  NULL with a message in err on failure (nothing left
 * attached). */
struct probes *probes_attach(const struct probes_config *cfg, const struct allocator_list *list,
			     char *err, size_t errlen);
void probes_detach(struct probes *p);

/* Attaches the probes of one more allocator object (mapped since the start,
 * as after an exec), return probes first.  A file probed already (same
 * device and inode) keeps its probes.  Returns the number of probes added
 * (0 for such a file), or a negative errno with a message in err. */
int probes_add_object(struct probes *p, const struct allocator_object *obj, char *err, size_t errlen);

int probes_count(const struct probes *p);	/* uprobes attached */

/* Whether the maps have room for Python stacks (see probes_config.no_python). */
bool probes_python_room(const struct probes *p);

/* Kernel memory the maps hold now (locked: the host's, not the target's),
 * in bytes, with the allocations map or without (allocs_too false: shared
 * with a session's other processes, counted once by the session); the
 * largest three, named, go to `largest`. */
uint64_t probes_map_memory(const struct probes *p, bool allocs_too, char *largest, size_t len);
/* The kernel's account of the memory one map holds (its fdinfo's memlock). */
uint64_t probes_fd_map_memory(int fd);

/* --duty-cycle: stops recording and detaches the allocation probes (those
 * on free and the realloc family stay, to release blocks), and attaches
 * them again; resume returns 0 or a negative errno. */
void probes_pause_allocs(struct probes *p);
int probes_resume_allocs(struct probes *p);
/* The per-stack maps (struct stack_slot_key), the queue of slots given back,
 * and the slots taken from those never used so far (more than the arrays
 * hold once they are all taken). */
int probes_stack_index_fd(const struct probes *p);
int probes_stack_keys_fd(const struct probes *p);
int probes_stack_stats_fd(const struct probes *p);
int probes_free_slots_fd(const struct probes *p);
uint32_t probes_stack_slots_used(const struct probes *p);
int probes_stack_traces_fd(const struct probes *p);
int probes_lost_fd(const struct probes *p);
int probes_hits_fd(const struct probes *p);
int probes_allocs_fd(const struct probes *p);
int probes_big_sizes_fd(const struct probes *p);

int probes_py_stacks_fd(const struct probes *p);

/* Turns the kernel's Python stack walk on (config->runtime != 0) or off. */
void probes_set_python(struct probes *p, const struct python_config *config);

/* The unwinder's maps and index (user/unwind_maps.c), and how many frames
 * were in code no indexed mapping covers. */
int probes_unwind_rows_fd(const struct probes *p);
int probes_unwind_mappings_fd(const struct probes *p);
int probes_unwind_objects_fd(const struct probes *p);
struct unwind_index *probes_unwind_index(struct probes *p);
uint64_t probes_unwind_misses(const struct probes *p);
/* The kernel's traces_seq: bumped around deletions from stack_traces. */
__u32 *probes_traces_seq(struct probes *p);

/* How many times the target has exec'd since the probes were attached. */
uint32_t probes_generation(const struct probes *p);

#endif
