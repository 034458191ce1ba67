/* The Prometheus textfile view, for node_exporter's textfile collector. */
#ifndef LEAKTOP_OUTPUT_PROM_H
#define LEAKTOP_OUTPUT_PROM_H

#include <stdio.h>
#include "report.h"

/* Writes the metrics of DESIGN.md to out: the first `top` stacks of r get
 * their own series, the rest are summed under stack_id="other". */
void prom_format(FILE *out, const struct report *r, size_t top);

/* Writes the textfile atomically (see atomic_file.h). */
int prom_write(const char *path, const struct report *r, size_t top, char *err, size_t errlen);

#endif
