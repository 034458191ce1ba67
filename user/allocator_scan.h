/* Finding the allocators a running process maps after the probes were first
 * attached (the program an exec started, as its loader maps its libraries):
 * its mappings read again, each file examined once. */
#ifndef LEAKTOP_ALLOCATOR_SCAN_H
#define LEAKTOP_ALLOCATOR_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "allocators.h"

/* A file examined, by the device and inode the mappings name. */
struct scanned_file {
	dev_t dev;
	ino_t ino;
	bool allocator;
};

struct allocator_scan {
	struct scanned_file *files;
	size_t nfiles, cap;
};

/* Puts into list the allocator objects pid maps that no earlier scan
 * examined (paths under root).  Returns
 * how many executable mappings of allocator files it has now, examined
 * before or not (0: no allocator mapped), or a negative errno. */
int allocator_scan_maps(struct allocator_scan *scan, pid_t pid, const char *root,
			struct allocator_list *list);

void allocator_scan_free(struct allocator_scan *scan);

/* The allocators mapped in a running process (a first scan: each file
 * once, a file deleted or renamed over read through /proc/PID/map_files);
 * 0 or a negative errno. */
int allocators_from_maps(pid_t pid, const char *root, struct allocator_list *list);

#endif
