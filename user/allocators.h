/* Finding the objects that implement malloc/free in a target, and where their
 * allocation functions are (file offsets, which is what uprobes take). */
#ifndef LEAKTOP_ALLOCATORS_H
#define LEAKTOP_ALLOCATORS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "leaktop_types.h"

#define ALLOC_FREE FN_COUNT	/* free and every operator delete: pointer first */
#define ALLOC_PY_FREE (FN_COUNT + 1) /* pymalloc's free(ctx, ptr), arena free(ctx, ptr, size) */
/* A ret instruction through which operator new returns (return_sites.h). */
#define ALLOC_NEW_RETURN (FN_COUNT + 2)
#define ALLOC_FN_NAMES (FN_COUNT + 3)
#define MAX_ALLOC_PROBES 96

/* Display names of enum alloc_fn (and ALLOC_FREE, ALLOC_PY_FREE, ALLOC_NEW_RETURN). */
extern const char *const alloc_fn_names[ALLOC_FN_NAMES];

/* realloc and its kin (enum alloc_fn): they free their old block, so their
 * probes stay attached in --duty-cycle's off-phase, or every realloc in it
 * would leave its old block behind. */
bool alloc_fn_frees_old_block(int fn);

/* One function to probe in an object. */
struct alloc_probe {
	int fn;			/* enum alloc_fn, or ALLOC_FREE */
	uint64_t offset;	/* of the function in the file, as uprobes take it */
	uint64_t at;		/* where its entry probe goes: offset, or past it
				 * (placement.h) */
};

struct allocator_object {
	char path[PATH_MAX];		/* as the target sees it */
	char open_path[PATH_MAX];	/* as we open it: under /proc/PID/root */
	struct alloc_probe probes[MAX_ALLOC_PROBES]; /* distinct offsets */
	int nprobes;
	/* C++ operators left out: their returns cannot all be found. */
	char new_left_out[256];
	bool replaced;	/* the file mapped is no longer at path: open_path is its
			 * /proc/PID/map_files entry */
};

struct allocator_list {
	struct allocator_object *objects;
	int count;
};

/* Reads `path` (opened as `open_path`): fills *obj and returns 1 when it
 * is an allocator (defines malloc and free, or C++ operator new and delete),
 * 0 when it is not, -1 when it is no ELF. */
int allocator_object_load(const char *path, const char *open_path, struct allocator_object *obj);

/* Adds a probe unless its offset is probed already (aliases share code). */
void allocator_object_add_probe(struct allocator_object *obj, int fn, uint64_t offset);


/* The allocators a program will use once exec'd: the executable itself (static
 * or with its own malloc) and the libraries the dynamic loader will map for it
 * (asked with `ld.so --list`, honouring LD_PRELOAD and LD_LIBRARY_PATH). */
int allocators_for_program(const char *exe, struct allocator_list *list);

void allocator_list_free(struct allocator_list *list);

#endif
