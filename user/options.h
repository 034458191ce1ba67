/* Command-line parsing (the contract is in DESIGN.md). */
#ifndef LEAKTOP_OPTIONS_H
#define LEAKTOP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MAX_PIDS 1024

struct options {
	pid_t pid;		/* -p: the first PID; 0 in spawn mode */
	pid_t pids[MAX_PIDS];	/* -p PID[,PID...], -p repeated: every one */
	int npids;
	bool children;		/* --children (default in spawn mode), --no-children */
	const char *cgroup;	/* --cgroup PATH: a cgroup v2 directory */
	const char *unit;	/* --unit NAME: a systemd unit's cgroup */
	char **command;		/* spawn mode: argv of the command, NULL-terminated */
	double interval_s;	/* -i */
	long count;		/* -c; 0 = until Ctrl-C or target exit */
	int top;		/* -n; 0 = default */
	bool batch;		/* -b */
	bool json;		/* --json */
	bool help;		/* -h: usage was asked for */
	bool version;		/* --version: the version was asked for */
	double window_s;	/* --window: growth is estimated over this many seconds */
	uint64_t sample_bytes;	/* -s; 0 = exact */
	uint32_t max_allocs;	/* --max-allocs: live allocations tracked */
	bool max_allocs_given;	/* else sized from the target (max_allocs_for) */
	uint32_t max_stacks;	/* --max-stacks: distinct stacks tracked */
	const char *prom_file;	/* --prom-file: Prometheus textfile, every interval */
	int prom_top;		/* --prom-top: stacks with their own series */
	const char *folded_file; /* --folded: folded stacks at exit and on SIGUSR1 */
	const char *html_file;	/* --html: HTML report at exit and on SIGUSR1 */
	const char *pprof_file;	/* --pprof: pprof heap profile at exit and on SIGUSR1 */
	bool quiet;		/* --quiet: no report on stdout (files only) */
	bool pymalloc_redirect;	/* --pymalloc-redirect: new Python objects via malloc */
	double duty_cycle;	/* --duty-cycle: share of time allocation probes are on, (0, 1] */
};

#define DEFAULT_INTERVAL_S 1.0
#define DEFAULT_WINDOW_S 10.0
#define DEFAULT_TOP_BATCH 20
#define DEFAULT_MAX_ALLOCS 262144	/* a command started: 8 MiB of kernel memory (bpf/alloc_table.h) */
#define ATTACHED_MIN_ALLOCS 131072	/* attached to a small process: 4 MiB */
#define DEFAULT_MAX_STACKS 16384
#define AUTO_MAX_ALLOCS_LIMIT 1048576	/* 32 MiB of kernel memory */
#define RESIDENT_BYTES_PER_ALLOC 256
#define DEFAULT_PROM_TOP 20

/* Parses argv into *o.  Returns 0 on success; on a usage error returns -1
 * with a one-line message (no trailing newline) in err. */
int options_parse(int argc, char **argv, struct options *o, char *err, size_t errlen);

/* Live allocations to make room for in a running target of this resident
 * size, when --max-allocs is not given: one per RESIDENT_BYTES_PER_ALLOC
 * bytes (a power of two), from ATTACHED_MIN_ALLOCS up to AUTO_MAX_ALLOCS_LIMIT.  A
 * big process churns its old blocks into tracked ones over time. */
uint32_t max_allocs_for(uint64_t resident_bytes);

extern const char options_usage[];
extern const char options_version[];	/* "leaktop VERSION\n" */

#endif
