/* The BPF unwinder's view of the target: its executable mappings (the
 * double-buffered mapping index) and the unwind rows of their objects, built
 * once per object file and kept while there is room (objects no longer
 * mapped are reclaimed when a new one needs it). */
#ifndef LEAKTOP_UNWIND_MAPS_H
#define LEAKTOP_UNWIND_MAPS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "leaktop_types.h"

struct unwind_maps;

/* rows_fd: the mmapable unwind_rows map; mappings_fd: unwind_mappings;
 * objects_fd: unwind_objects (rows by file); live: the unwind_index in the
 * programs' global data.  NULL on failure. */
struct unwind_maps *unwind_maps_new(pid_t pid, int rows_fd, int mappings_fd, int objects_fd,
				    struct unwind_index *live);
void unwind_maps_free(struct unwind_maps *u);

/* Builds the tables of the object file at path now (spawn mode: the program
 * and its allocator libraries, before the exec), so that indexing the new
 * program's mappings takes no time. */
void unwind_maps_prepare(struct unwind_maps *u, const char *path);

/* Re-reads /proc/PID/maps; builds the tables of objects not seen before and
 * publishes the index when the executable mappings changed (or `force`:
 * after an exec the kernel side forgot them).  Returns false when the
 * process is gone. */
bool unwind_maps_refresh(struct unwind_maps *u, bool force);

/* The target's code changed (dlopen, dlclose, exec) since the maps behind
 * the index were read: the walks do without it until the next refresh. */
bool unwind_maps_stale(const struct unwind_maps *u);

/* Between intervals: refreshes when the index is stale, or when walks met
 * files the unwinder does not know (`misses`, the kernel's count) -- at
 * once, but less and less often while such refreshes bring nothing new. */
void unwind_maps_catch_up(struct unwind_maps *u, uint64_t misses);

#endif
