/* uprobe_multi links (kernel 6.6+): many uprobes of one file in one BPF link.
 *
 * A link per uprobe (the perf-event way) costs the kernel a few RCU grace
 * periods each to remove, partly under a global mutex: quitting with ~100
 * probes took 10 s on an idle VM and a minute under load.  A uprobe_multi
 * link removes all its uprobes after one wait (96 uprobes: 0.06 s). */
#ifndef LEAKTOP_UPROBE_MULTI_H
#define LEAKTOP_UPROBE_MULTI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The attach type a program must be loaded with to go in such links. */
#define UPROBE_MULTI_ATTACH_TYPE 48 /* BPF_TRACE_UPROBE_MULTI */

/* Whether the kernel has uprobe_multi links, with the PID filter that takes
 * a whole process (fixed in 6.10 and backported; before, only the thread
 * with that id).  LEAKTOP_NO_UPROBE_MULTI=1 says no (tests of the fallback). */
bool uprobe_multi_supported(void);

/* Whether the links' PID filter lets only the process's own threads run the
 * programs: from 6.12 it compares thread groups; before, memory (a vfork
 * child, which shares its parent's, passed).  By version: a fix backported
 * to an older kernel is not noticed, which only costs a check in BPF. */
bool uprobe_multi_filters_thread_group(void);

/* Attaches prog_fd (loaded with UPROBE_MULTI_ATTACH_TYPE) at n file offsets
 * of path, each with its cookie, as return probes if retprobe, for process
 * pid only.  Returns the link's descriptor (closing it removes the uprobes)
 * or a negative errno. */
int uprobe_multi_attach(int prog_fd, const char *path, const uint64_t *offsets,
			const uint64_t *cookies, uint32_t n, bool retprobe, pid_t pid);

#endif
