/* The pprof view: a heap profile in pprof's format (a gzip-compressed
 * perftools.profiles.Profile) for go tool pprof, Grafana Pyroscope, Parca.
 * docs/pprof.md says what it holds. */
#ifndef LEAKTOP_OUTPUT_PPROF_H
#define LEAKTOP_OUTPUT_PPROF_H

#include <stddef.h>
#include "report.h"

/* The gzip-compressed profile of every stack of r (one sample each):
 * malloc'd into *out, its size in *len.  0, or -1 with a message. */
int pprof_encode(const struct report *r, unsigned char **out, size_t *len, char *err, size_t errlen);

/* Writes the profile atomically (see atomic_file.h). */
int pprof_write(const char *path, const struct report *r, char *err, size_t errlen);

#endif
