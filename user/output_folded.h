/* Folded stacks (`outer;...;inner BYTES`) for flamegraph.pl, inferno, speedscope. */
#ifndef LEAKTOP_OUTPUT_FOLDED_H
#define LEAKTOP_OUTPUT_FOLDED_H

#include <stdio.h>
#include "report.h"

/* One line per stack of r holding bytes, outermost frame first; the lines
 * add up to the outstanding bytes of those stacks. */
void folded_format(FILE *out, const struct report *r);

/* Writes the folded stacks atomically (see atomic_file.h). */
int folded_write(const char *path, const struct report *r, char *err, size_t errlen);

#endif
