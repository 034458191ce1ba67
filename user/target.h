/* The traced process: checking a PID, or spawning a command held back until
 * the probes are in place, and noticing when it exits. */
#ifndef LEAKTOP_TARGET_H
#define LEAKTOP_TARGET_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

struct target {
	pid_t pid;
	bool spawned;		/* we started it (spawn mode) and must reap it */
	bool exited;
	int exit_status;	/* spawn mode: wait status once exited */
	int pidfd;		/* readable when the process exits */
	int release_fd;		/* spawn mode: closing it lets the child exec */
	int exec_error_fd;	/* spawn mode: the child reports a failed exec here */
	char comm[64];
	char root[64];		/* /proc/PID/root: the target's view of the file system */
	char exe[PATH_MAX];	/* spawn mode: the program that will be executed */
};

/* Attach mode: check that pid is a live user process we may trace.  Returns 0,
 * or -1 with a one-line message in err. */
int target_open(struct target *t, pid_t pid, char *err, size_t errlen);

/* The file execvp would run for `name` (PATH search); false when none. */
bool target_find_in_path(const char *name, char *out, size_t len);

/* Spawn mode: fork a child that waits before exec'ing argv[0] (looked up in
 * PATH), so probes can be attached to it first. */
int target_spawn(struct target *t, char **argv, char *err, size_t errlen);

/* Spawn mode: let the child exec; fails if the exec fails. */
int target_release(struct target *t, char *err, size_t errlen);

/* Wait up to timeout_ms for the target to exit; returns true once it has.
 * Returns early (false) when a signal arrives. */
bool target_wait_exit(struct target *t, int timeout_ms);

/* Resident memory of the process (VmRSS), in bytes; 0 when unknown. */
uint64_t target_resident_bytes(const struct target *t);

/* Re-reads the process name (it changes on exec). */
void target_read_comm(struct target *t);

/* Spawn mode: terminate the child if it still runs, and reap it. */
void target_close(struct target *t);

#endif
