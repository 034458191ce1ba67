/* Resolving --unit to its cgroup: systemd names each unit's cgroup after the
 * unit (system.slice/nginx.service), so the directory is found by name under
 * the cgroup v2 root, whether systemd is PID 1 here or the tree comes from
 * the host (a container). */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "errors.h"
#include "unit_cgroup.h"

static char wanted[NAME_MAX + 1], found[PATH_MAX];

static int match(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	if (type != FTW_D || strcmp(path + ftw->base, wanted) != 0)
		return 0;
	snprintf(found, sizeof(found), "%s", path);
	return 1; /* stop */
}

void cgroup2_root(char *dir, size_t len)
{
	FILE *f = setmntent("/proc/self/mounts", "re");
	struct mntent *m;

	snprintf(dir, len, "%s", CGROUP_ROOT);
	while (f && (m = getmntent(f)))
		if (strcmp(m->mnt_type, "cgroup2") == 0) {
			snprintf(dir, len, "%s", m->mnt_dir);
			break;
		}
	if (f)
		endmntent(f);
}

int cgroup_check(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;

	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return fail(err, errlen, "no cgroup %s: give a cgroup v2 directory (e.g. %s/system.slice/NAME.service)",
			    dir, CGROUP_ROOT);
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	if (access(path, R_OK))
		return fail(err, errlen, "%s is not a cgroup v2 directory (no cgroup.procs)", dir);
	return 0;
}

int unit_cgroup(const char *name, char *dir, size_t len, char *err, size_t errlen)
{
	char direct[PATH_MAX + NAME_MAX + 16], root[PATH_MAX];

	if (strchr(name, '/') || strlen(name) + sizeof(".service") > sizeof(wanted))
		return fail(err, errlen, "invalid unit name '%s': expected NAME.service", name);
	snprintf(wanted, sizeof(wanted), "%s%s", name, strchr(name, '.') ? "" : ".service");
	cgroup2_root(root, sizeof(root));
	snprintf(direct, sizeof(direct), "%s/system.slice/%s", root, wanted);
	if (access(direct, F_OK) == 0) {
		snprintf(dir, len, "%s", direct);
		return 0;
	}
	found[0] = '\0';
	nftw(root, match, 16, FTW_PHYS);
	if (!found[0])
		return fail(err, errlen, "unit %s not found: no cgroup named %s under %s (is it running? "
			    "systemd %s PID 1 here)", name, wanted, root,
			    access("/run/systemd/system", F_OK) == 0 ? "is" : "is not");
	snprintf(dir, len, "%s", found);
	return 0;
}
