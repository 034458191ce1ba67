/* One-line error messages handed back to the caller (main prints them). */
#ifndef LEAKTOP_ERRORS_H
#define LEAKTOP_ERRORS_H

#include <stddef.h>

/* Formats the message into err and returns -1, so `return fail(...)` reads well. */
__attribute__((format(printf, 3, 4))) int fail(char *err, size_t errlen, const char *fmt, ...);

#endif
