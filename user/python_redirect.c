/* --pymalloc-redirect: the one place leaktop writes into its target.
 *
 * Where a build inlined pymalloc's fast path (LTO), the inlined code still
 * checks that the allocator table holds the default allocator and otherwise
 * calls through the table.  Pointing the malloc and calloc slots of the object
 * and mem domains at the raw domain's functions sends every new Python object
 * to malloc, where the probes see it.  The realloc and free slots stay: they
 * tell pymalloc's blocks from the rest by address and free both kinds right,
 * so blocks made before, during and after the redirect are all released by
 * the allocator that made them.
 *
 * The writes happen with every thread of the target stopped (ptrace), so no
 * thread can read a half-written pointer; the same on restore. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>
#include "errors.h"
#include "python_redirect.h"

#define SLOT_MALLOC 1
#define SLOT_CALLOC 2
#define MAX_THREADS 4096

struct slot {
	uint64_t addr;		/* in the target */
	uint64_t original, redirected;
};

struct python_redirect {
	pid_t pid;
	struct slot slots[4];	/* object and mem domains: malloc, calloc */
	int nslots;
};

struct stopped {
	pid_t tids[MAX_THREADS];
	int count;
};

static bool is_stopped(const struct stopped *s, pid_t tid)
{
	for (int i = 0; i < s->count; i++)
		if (s->tids[i] == tid)
			return true;
	return false;
}

static void resume_all(struct stopped *s)
{
	for (int i = 0; i < s->count; i++)
		ptrace(PTRACE_DETACH, s->tids[i], NULL, NULL);
	s->count = 0;
}

/* Stops every thread, also ones started meanwhile: rescans until a pass finds
 * no new thread. */
static int stop_all(pid_t pid, struct stopped *s)
{
	char dir[64];
	bool found_new = true;

	s->count = 0;
	snprintf(dir, sizeof(dir), "/proc/%d/task", pid);
	while (found_new) {
		DIR *d = opendir(dir);
		struct dirent *e;

		if (!d)
			return -errno;
		found_new = false;
		while ((e = readdir(d))) {
			pid_t tid = (pid_t)atoi(e->d_name);
			int status;

			if (tid <= 0 || is_stopped(s, tid))
				continue;
			if (s->count == MAX_THREADS) {
				closedir(d);
				return -E2BIG;
			}
			if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) || ptrace(PTRACE_INTERRUPT, tid, NULL, NULL)) {
				if (errno == ESRCH)
					continue; /* the thread ended */
				closedir(d);
				return -errno;
			}
			s->tids[s->count++] = tid;
			found_new = true;
			if (waitpid(tid, &status, __WALL) < 0) {
				closedir(d);
				return -errno;
			}
		}
		closedir(d);
	}
	return 0;
}

static bool read_u64(int fd, uint64_t addr, uint64_t *v)
{
	return pread(fd, v, sizeof(*v), (off_t)addr) == (ssize_t)sizeof(*v);
}

/* Writes the slots' `redirected` (or `original`) values, every thread stopped. */
static int write_slots(struct python_redirect *r, bool redirect, char *err, size_t errlen)
{
	struct stopped *stopped = calloc(1, sizeof(*stopped));
	char path[64];
	int fd, e = 0;

	if (!stopped)
		return fail(err, errlen, "out of memory");
	snprintf(path, sizeof(path), "/proc/%d/mem", r->pid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		e = fail(err, errlen, "cannot open %s for writing: %s", path, strerror(errno));
		goto out;
	}
	e = stop_all(r->pid, stopped);
	if (e) {
		e = fail(err, errlen, "cannot stop PID %d to change its allocator (%s): is a debugger attached?",
			 r->pid, strerror(-e));
		goto out;
	}
	for (int i = 0; i < r->nslots; i++) {
		struct slot *s = &r->slots[i];
		uint64_t now = 0, want = redirect ? s->redirected : s->original;
		uint64_t expect = redirect ? s->original : s->redirected;

		/* Someone else changed the slot (tracemalloc.start() hooks the
		 * table): leave theirs alone. */
		if (!read_u64(fd, s->addr, &now) || now != expect)
			continue;
		if (pwrite(fd, &want, sizeof(want), (off_t)s->addr) != (ssize_t)sizeof(want)) {
			e = fail(err, errlen, "cannot write PID %d's allocator table: %s", r->pid, strerror(errno));
			break;
		}
	}
out:
	resume_all(stopped);
	free(stopped);
	if (fd >= 0)
		close(fd);
	return e;
}

struct python_redirect *python_redirect_start(struct python *py, pid_t pid, char *err, size_t errlen)
{
	struct python_redirect *r = calloc(1, sizeof(*r));
	struct python_tables t;
	uint64_t raw[3];
	int fd = python_mem_fd(py);

	if (!r) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	r->pid = pid;
	if (!python_allocator_tables(py, &t) || pread(fd, raw, sizeof(raw), (off_t)t.raw) != (ssize_t)sizeof(raw)) {
		fail(err, errlen, "--pymalloc-redirect: cannot find the allocator tables of Python %s",
		     python_version(py));
		free(r);
		return NULL;
	}
	const uint64_t tables[2] = { t.object, t.mem };

	for (int d = 0; d < 2; d++) {
		for (int slot = SLOT_MALLOC; slot <= SLOT_CALLOC; slot++) {
			struct slot *s = &r->slots[r->nslots];

			s->addr = tables[d] + 8 * slot;
			s->redirected = raw[slot];
			if (read_u64(fd, s->addr, &s->original) && s->original != s->redirected)
				r->nslots++;
		}
	}
	if (write_slots(r, true, err, errlen)) {
		free(r);
		return NULL;
	}
	return r;
}

void python_redirect_stop(struct python_redirect *r)
{
	char err[256];

	if (!r)
		return;
	if (write_slots(r, false, err, sizeof(err)))
		fprintf(stderr, "leaktop: %s: PID %d keeps allocating Python objects with malloc\n", err, r->pid);
	free(r);
}
