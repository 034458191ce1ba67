/* Finding the objects that implement malloc/free in a target, and where their
 * allocation functions are (file offsets, which is what uprobes take). */
#ifndef LEAKTOP_ALLOCATORS_H
#define LEAKTOP_ALLOCATORS_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include "leaktop_types.h"

#define ALLOC_FREE FN_COUNT		/* index of free() in offsets[] */
#define ALLOC_SYMBOLS (FN_COUNT + 1)

extern const char *const alloc_fn_names[ALLOC_SYMBOLS];

struct allocator_object {
	char path[PATH_MAX];		/* as the target sees it */
	char open_path[PATH_MAX];	/* as we open it: under /proc/PID/root */
	uint64_t offsets[ALLOC_SYMBOLS]; /* file offset per function; 0 = absent */
};

struct allocator_list {
	struct allocator_object *objects;
	int count;
};

/* Reads `path` (opened as `open_path`): fills *obj and returns 1 when it
 * defines both malloc and free, 0 when it does not, -1 when it is no ELF. */
int allocator_object_load(const char *path, const char *open_path, struct allocator_object *obj);

/* The allocators mapped in a running process (/proc/PID/maps, paths under root). */
int allocators_from_maps(pid_t pid, const char *root, struct allocator_list *list);

/* The allocators a program will use once exec'd: the executable itself (static
 * or with its own malloc) and the libraries the dynamic loader will map for it
 * (asked with `ld.so --list`, honouring LD_PRELOAD and LD_LIBRARY_PATH). */
int allocators_for_program(const char *exe, struct allocator_list *list);

void allocator_list_free(struct allocator_list *list);

#endif
