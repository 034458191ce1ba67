// SPDX-License-Identifier: MIT
/* The uprobe floor: programs that do nothing, on the same probes leaktop uses.
 * What they cost is the price of the traps alone. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("uprobe")
int floor_enter(void *ctx)
{
	return 0;
}

SEC("uretprobe")
int floor_return(void *ctx)
{
	return 0;
}

SEC("uprobe")
int floor_free(void *ctx)
{
	return 0;
}
