/* Finding the processes of a group: children through /proc, cgroup members
 * through cgroup.procs.  Both files are lists of decimal PIDs. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include "grow.h"
#include "process_discovery.h"

static int pid_list_add(struct pid_list *l, pid_t pid)
{
	pid_t *grown;

	if (l->count == l->capacity) {
		grown = grow_array(l->pids, &l->capacity, l->count + 1, sizeof(*grown), 16);
		if (!grown)
			return -ENOMEM;
		l->pids = grown;
	}
	l->pids[l->count++] = pid;
	return 0;
}

/* Appends the PIDs a file lists (whitespace-separated decimals). */
static int read_pids(const char *path, struct pid_list *out)
{
	FILE *f = fopen(path, "re");
	int pid, e = 0;

	if (!f)
		return -errno;
	while (!e && fscanf(f, "%d", &pid) == 1)
		if (pid > 0)
			e = pid_list_add(out, pid);
	fclose(f);
	return e;
}

int process_children(pid_t pid, struct pid_list *out)
{
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dir;
	int e = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return 0; /* gone: no children */
	while (!e && (d = readdir(dir))) {
		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/children", pid, d->d_name);
		e = read_pids(path, out);
		if (e == -ENOENT || e == -ESRCH)
			e = 0; /* the thread ended meanwhile */
	}
	closedir(dir);
	return e;
}

int cgroup_processes(const char *dir, struct pid_list *out)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	return read_pids(path, out);
}

bool process_alive(pid_t pid)
{
	char path[64], state = '?';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	/* "PID (comm) S ...": comm may hold spaces and parentheses. */
	char buf[512];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (size_t i = n; i > 0; i--)
		if (buf[i - 1] == ')') {
			if (i + 1 < n)
				state = buf[i + 1];
			break;
		}
	return state != 'Z' && state != 'X' && state != '?';
}

void pid_list_free(struct pid_list *l)
{
	free(l->pids);
	l->pids = NULL;
	l->count = l->capacity = 0;
}
