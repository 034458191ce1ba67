/* Writing an output file so that a reader never sees it partial. */
#ifndef LEAKTOP_ATOMIC_FILE_H
#define LEAKTOP_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

/* At start: can `path` (given with `option`) be written?  0, or -1 with a
 * one-line message naming the problem and the fix. */
int output_path_check(const char *option, const char *path, char *err, size_t errlen);

/* Writes path through fill(out, arg): into a new temporary file in the same
 * directory (never an existing one, never through a symlink), mode 0644,
 * renamed over path.  0, or -1 with a message; on failure path is untouched. */
int write_file_atomically(const char *path, void (*fill)(FILE *out, const void *arg),
			  const void *arg, char *err, size_t errlen);

#endif
