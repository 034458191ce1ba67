/* The size of the unwind_rows map for a target, chosen before it is made. */
#ifndef LEAKTOP_UNWIND_SIZING_H
#define LEAKTOP_UNWIND_SIZING_H

#include <stdint.h>
#include <sys/types.h>
#include "allocators.h"

/* Rows to make room for: from the executable files pid maps now, or, in
 * spawn mode (exe given: pid has not exec'd it yet), from exe and the
 * allocator objects; at most UNWIND_MAX_ROWS. */
uint32_t unwind_rows_for(pid_t pid, const char *exe, const struct allocator_list *allocators);

#endif
