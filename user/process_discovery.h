/* Which processes belong to a traced group: the children of a process (from
 * /proc/PID/task/TID/children), the processes of a cgroup v2 directory
 * (cgroup.procs), a systemd unit's cgroup. */
#ifndef LEAKTOP_PROCESS_DISCOVERY_H
#define LEAKTOP_PROCESS_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A growing list of PIDs. */
struct pid_list {
	pid_t *pids;
	size_t count, capacity;
};

/* Appends the children of every thread of pid; 0, or -ENOMEM. */
int process_children(pid_t pid, struct pid_list *out);
/* Appends the processes of a cgroup v2 directory; 0, or a negative errno
 * (-ENOENT: no such cgroup). */
int cgroup_processes(const char *dir, struct pid_list *out);
/* Whether the process exists (a zombie does not count). */
bool process_alive(pid_t pid);
void pid_list_free(struct pid_list *l);

#endif
