/* The cgroup v2 directory of --cgroup and --unit. */
#ifndef LEAKTOP_UNIT_CGROUP_H
#define LEAKTOP_UNIT_CGROUP_H

#include <stddef.h>

#define CGROUP_ROOT "/sys/fs/cgroup"

/* Where the cgroup v2 hierarchy is mounted (CGROUP_ROOT, or its unified
 * directory on a hybrid system). */
void cgroup2_root(char *dir, size_t len);
/* The cgroup of systemd unit `name` ("NAME.service"; a name without a
 * suffix gets ".service"): the directory of that name under cgroup2_root
 * (system.slice/NAME for a system service; anywhere for others).  0, or -1
 * with a one-line message in err. */
int unit_cgroup(const char *name, char *dir, size_t len, char *err, size_t errlen);
/* Whether dir is a cgroup v2 directory (it has cgroup.procs); 0, or -1 with
 * a message in err. */
int cgroup_check(const char *dir, char *err, size_t errlen);

#endif
