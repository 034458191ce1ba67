/* --pymalloc-redirect: new Python objects of an attached target made with
 * malloc while leaktop runs (opt-in; the only write into a target). */
#ifndef LEAKTOP_PYTHON_REDIRECT_H
#define LEAKTOP_PYTHON_REDIRECT_H

#include <sys/types.h>
#include "python.h"

struct python_redirect;

/* Points the object and mem domains' malloc and calloc at the raw allocator,
 * with the target's threads stopped for the write.  NULL with err on failure
 * (nothing changed). */
struct python_redirect *python_redirect_start(struct python *py, pid_t pid, char *err, size_t errlen);

/* Puts the original allocator back (slots changed by someone else meanwhile
 * are left alone) and frees r. */
void python_redirect_stop(struct python_redirect *r);

#endif
