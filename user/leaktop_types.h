/* The kernel ABI types of bpf/leaktop.h and bpf/unwind.h, with the __u64-style names defined. */
#ifndef LEAKTOP_TYPES_H
#define LEAKTOP_TYPES_H
#include <linux/types.h>
#include "leaktop.h"
#include "unwind.h"
#endif
