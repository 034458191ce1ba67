/* The traced process: validation of a PID, spawn mode, exit detection. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "target.h"
#include "errors.h"

#define PF_KTHREAD 0x00200000 /* include/linux/sched.h */

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void init(struct target *t, pid_t pid)
{
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->pidfd = t->release_fd = t->exec_error_fd = -1;
	snprintf(t->root, sizeof(t->root), "/proc/%d/root", pid);
}

void target_read_comm(struct target *t)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", t->pid);
	f = fopen(path, "re");
	if (f && fgets(t->comm, sizeof(t->comm), f))
		t->comm[strcspn(t->comm, "\n")] = '\0';
	if (f)
		fclose(f);
}

/* Field `name:` of /proc/PID/status, as a number; -1 when absent. */
static long status_field(pid_t pid, const char *name, char *state)
{
	char path[64], line[256];
	size_t len = strlen(name);
	long value = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "State:", 6) == 0 && state)
			sscanf(line + 6, " %c", state);
		if (strncmp(line, name, len) == 0 && line[len] == ':')
			value = strtol(line + len + 1, NULL, 10);
	}
	fclose(f);
	return value;
}

uint64_t target_resident_bytes(const struct target *t)
{
	long kib = status_field(t->pid, "VmRSS", NULL);

	return kib > 0 ? (uint64_t)kib * 1024 : 0;
}

static bool is_kernel_thread(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long flags = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	/* comm may hold spaces and parentheses: fields resume after the last ')'. */
	if (!p || !(p = strrchr(buf, ')')))
		return false;
	/* state ppid pgrp session tty_nr tpgid flags */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
		return false;
	return flags & PF_KTHREAD;
}

int target_open(struct target *t, pid_t pid, char *err, size_t errlen)
{
	char state = '?';
	long tgid;

	init(t, pid);
	if (pid == getpid())
		return fail(err, errlen, "PID %d is leaktop itself: give the PID of the process to trace", pid);
	tgid = status_field(pid, "Tgid", &state);
	if (tgid < 0)
		return fail(err, errlen, "no process with PID %d: check the PID (e.g. pidof NAME)", pid);
	if (is_kernel_thread(pid))
		return fail(err, errlen, "PID %d is a kernel thread: leaktop traces user processes", pid);
	if (state == 'Z' || state == 'X')
		return fail(err, errlen, "PID %d has exited (zombie): nothing left to trace", pid);
	if (tgid != pid) {
		/* A thread id: trace its whole process. */
		init(t, (pid_t)tgid);
	}
	target_read_comm(t);
	t->pidfd = pidfd_open(t->pid);
	if (t->pidfd < 0)
		return fail(err, errlen, "cannot watch PID %d: %s", t->pid, strerror(errno));
	return 0;
}

/* execvp's search, done before fork so the child only has to call execve. */
bool target_find_in_path(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");
	char *dirs, *dir, *save = NULL;
	bool found = false;

	if (strchr(name, '/')) {
		snprintf(out, len, "%s", name);
		return access(out, X_OK) == 0;
	}
	dirs = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	if (!dirs)
		return false;
	for (dir = strtok_r(dirs, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
		struct stat st;

		snprintf(out, len, "%s/%s", *dir ? dir : ".", name);
		found = stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0;
	}
	free(dirs);
	return found;
}

int target_spawn(struct target *t, char **argv, char *err, size_t errlen)
{
	extern char **environ;
	int release[2], exec_error[2];
	char byte;
	pid_t pid;

	init(t, 0);
	if (!target_find_in_path(argv[0], t->exe, sizeof(t->exe)))
		return fail(err, errlen, "cannot run '%s': no such executable (check the name and PATH)", argv[0]);
	if (pipe2(release, O_CLOEXEC) || pipe2(exec_error, O_CLOEXEC))
		return fail(err, errlen, "cannot create a pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return fail(err, errlen, "cannot fork: %s", strerror(errno));
	if (pid == 0) {
		/* The probes may already be live here: call nothing that allocates. */
		int e;

		close(release[1]);
		close(exec_error[0]);
		signal(SIGPIPE, SIG_DFL); /* leaktop ignores it; the command must not */
		/* One byte means go; EOF means leaktop gave up (or died). */
		if (read(release[0], &byte, 1) == 1) {
			execve(t->exe, argv, environ);
			e = errno;
			if (write(exec_error[1], &e, sizeof(e)) < 0)
				_exit(127);
		}
		_exit(127);
	}
	close(release[0]);
	close(exec_error[1]);
	init(t, pid);
	target_find_in_path(argv[0], t->exe, sizeof(t->exe));
	t->spawned = true;
	t->release_fd = release[1];
	t->exec_error_fd = exec_error[0];
	snprintf(t->comm, sizeof(t->comm), "%.15s", strrchr(t->exe, '/') ? strrchr(t->exe, '/') + 1 : t->exe);
	t->pidfd = pidfd_open(pid);
	if (t->pidfd < 0)
		return fail(err, errlen, "cannot watch PID %d: %s", pid, strerror(errno));
	return 0;
}

int target_release(struct target *t, char *err, size_t errlen)
{
	char go = 1;
	ssize_t n;
	int e;

	if (write(t->release_fd, &go, 1) != 1)
		return fail(err, errlen, "cannot start '%s': %s", t->exe, strerror(errno));
	close(t->release_fd);
	t->release_fd = -1;
	do
		n = read(t->exec_error_fd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(t->exec_error_fd);
	t->exec_error_fd = -1;
	if (n == (ssize_t)sizeof(e)) {
		target_wait_exit(t, 1000);
		return fail(err, errlen, "cannot run '%s': %s", t->exe, strerror(e));
	}
	return 0;
}

bool target_wait_exit(struct target *t, int timeout_ms)
{
	struct pollfd pfd = { .fd = t->pidfd, .events = POLLIN };
	int status;

	if (t->exited)
		return true;
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return false; /* timeout, or a signal */
	t->exited = true;
	if (t->spawned && waitpid(t->pid, &status, 0) == t->pid)
		t->exit_status = status;
	return true;
}

void target_close(struct target *t)
{
	if (t->release_fd >= 0)
		close(t->release_fd); /* never released: the child exits on EOF */
	if (t->spawned && !t->exited) {
		kill(t->pid, SIGTERM);
		if (!target_wait_exit(t, 5000)) {
			kill(t->pid, SIGKILL);
			target_wait_exit(t, -1);
		}
	}
	if (t->exec_error_fd >= 0)
		close(t->exec_error_fd);
	if (t->pidfd >= 0)
		close(t->pidfd);
	t->pidfd = t->release_fd = t->exec_error_fd = -1;
}
