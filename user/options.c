/* Command-line parsing: getopt_long plus strict number checks. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "options.h"
#include "errors.h"
#include "version.h"	/* generated: LEAKTOP_VERSION (scripts/version.sh) */

const char options_usage[] =
	"Usage: leaktop [OPTIONS] -p PID[,PID...]\n"
	"       leaktop [OPTIONS] --cgroup PATH | --unit NAME.service\n"
	"       leaktop [OPTIONS] -- COMMAND [ARGS...]\n"
	"\n"
	"Shows the call stacks whose outstanding heap bytes grow fastest in a live\n"
	"process, from BPF probes on its allocator. Needs root (or CAP_SYS_ADMIN and\n"
	"CAP_SYS_PTRACE). The target is never modified.\n"
	"\n"
	"  -p, --pid PID[,PID...]   attach to running processes (all their threads);\n"
	"                           -p may repeat\n"
	"      --children           also trace their descendants, now and later\n"
	"                           (default in spawn mode)\n"
	"      --no-children        spawn mode: trace the command alone\n"
	"      --cgroup PATH        every process of a cgroup v2 directory, now and later\n"
	"      --unit NAME          a systemd unit's cgroup (e.g. nginx.service)\n"
	"  -i, --interval SECONDS   refresh period, fractional allowed (default 1)\n"
	"  -c, --count N            stop after N intervals (default: until Ctrl-C or exit)\n"
	"  -n, --top N              stacks shown (default 20)\n"
	"  -b, --batch              plain text, one block per interval\n"
	"      --json               one JSON object per interval on stdout\n"
	"      --window SECONDS     growth is the least-squares slope of outstanding bytes\n"
	"                           over this many seconds (default 10)\n"
	"      --prom-file PATH     also write a Prometheus textfile every interval\n"
	"      --prom-top N         stacks with their own series there (default 20)\n"
	"      --folded PATH        also write folded stacks at exit and on SIGUSR1\n"
	"      --html PATH          also write a self-contained HTML report (heap chart,\n"
	"                           growing stacks, icicle graph) at exit and on SIGUSR1\n"
	"      --pprof PATH         also write a pprof heap profile (inuse_space,\n"
	"                           inuse_objects, growth) at exit and on SIGUSR1\n"
	"  -q, --quiet              no report on stdout (with a file option above)\n"
	"      --max-allocs N       live allocations tracked (default 262144; attached:\n"
	"                           one per 256 B of the target's RSS, from 131072 up\n"
	"                           to 1048576)\n"
	"      --max-stacks N       distinct stacks tracked (default 16384)\n"
	"      --duty-cycle PCT     allocation probes on for PCT% of each second, off\n"
	"                           for the rest (free and realloc probes stay on);\n"
	"                           figures are scaled by the measured share:\n"
	"                           estimates for targets that allocate too often to\n"
	"                           trap each call\n"
	"  -s, --sample-bytes N     sample on average one allocation per N bytes allocated\n"
	"                           (figures are scaled estimates; 0 = exact, the default)\n"
	"  -h, --help               show this help\n"
	"      --version            show leaktop's version\n"
	"\n"
	"Keys of the live view (on a terminal): up/down or j/k move the bar, which stays\n"
	"at its row as the rows re-sort; F follows the stack under the bar instead\n"
	"([FOLLOWING] in the header; moving the bar stops it); Enter shows that stack in\n"
	"full, Esc back; s sort, p pause, +/- interval, r reset, P the traced processes,\n"
	"h or ? help, q quit.\n"
	"\n"
	"In spawn mode (-- COMMAND) the command is traced from its first allocation and\n"
	"is terminated when leaktop stops before it exits.\n"
	"\n"
	"CPython 3.11 targets get Python frames (file:line, function). Attached, leaktop\n"
	"probes pymalloc through its allocator table; where the build inlined it (LTO,\n"
	"e.g. Debian's python3.11) small objects show as the 1 MiB arenas they fill.\n"
	"Spawn mode sets PYTHONMALLOC=malloc (unless set) so every object is seen.\n"
	"      --pymalloc-redirect  attached to such a build: point pymalloc's malloc and\n"
	"                           calloc slots at the raw allocator while leaktop runs,\n"
	"                           so new objects are exact (WRITES INTO THE TARGET,\n"
	"                           briefly stopping it; restored when leaktop exits)\n"
	"\n"
	"Exit status: 0 ok (also when the target exits), 1 runtime failure, 2 bad usage.\n";

const char options_version[] = "leaktop " LEAKTOP_VERSION "\n";

enum { OPT_JSON = 256, OPT_WINDOW, OPT_MAX_ALLOCS, OPT_MAX_STACKS, OPT_PROM_FILE, OPT_PROM_TOP, OPT_FOLDED, OPT_HTML,
       OPT_PPROF, OPT_PYMALLOC_REDIRECT, OPT_DUTY_CYCLE, OPT_VERSION, OPT_CHILDREN, OPT_NO_CHILDREN,
       OPT_CGROUP, OPT_UNIT };

static const struct option long_options[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "children", no_argument, NULL, OPT_CHILDREN },
	{ "no-children", no_argument, NULL, OPT_NO_CHILDREN },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "unit", required_argument, NULL, OPT_UNIT },
	{ "interval", required_argument, NULL, 'i' },
	{ "count", required_argument, NULL, 'c' },
	{ "top", required_argument, NULL, 'n' },
	{ "batch", no_argument, NULL, 'b' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "max-allocs", required_argument, NULL, OPT_MAX_ALLOCS },
	{ "max-stacks", required_argument, NULL, OPT_MAX_STACKS },
	{ "sample-bytes", required_argument, NULL, 's' },
	{ "prom-file", required_argument, NULL, OPT_PROM_FILE },
	{ "prom-top", required_argument, NULL, OPT_PROM_TOP },
	{ "folded", required_argument, NULL, OPT_FOLDED },
	{ "html", required_argument, NULL, OPT_HTML },
	{ "pprof", required_argument, NULL, OPT_PPROF },
	{ "quiet", no_argument, NULL, 'q' },
	{ "pymalloc-redirect", no_argument, NULL, OPT_PYMALLOC_REDIRECT },
	{ "duty-cycle", required_argument, NULL, OPT_DUTY_CYCLE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ 0 },
};

/* The long name of option code c, for messages. */
static const char *option_name(int c)
{
	for (const struct option *opt = long_options; opt->name; opt++)
		if (opt->val == c)
			return opt->name;
	return "?";
}

/* Where the file name of an output option goes. */
static const char **output_file(struct options *o, int c)
{
	switch (c) {
	case OPT_PROM_FILE:
		return &o->prom_file;
	case OPT_FOLDED:
		return &o->folded_file;
	case OPT_HTML:
		return &o->html_file;
	default:
		return &o->pprof_file;
	}
}

/* A whole-string integer in [min, max]. */
static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* A whole-string finite number in (0, max]: seconds, a percentage. */
static bool parse_positive(const char *s, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > max)
		return false;
	*out = v;
	return true;
}

/* -p's value: PIDs separated by commas, added to o->pids. */
static int parse_pids(char *arg, struct options *o, char *err, size_t errlen)
{
	char *save = NULL, *tok;
	long v;

	if (!*arg || arg[strlen(arg) - 1] == ',')
		return fail(err, errlen, "invalid PID list '%s': expected PID[,PID...]", arg);
	for (tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!parse_long(tok, 1, 4194304, &v))
			return fail(err, errlen, "invalid PID '%s': expected a process id", tok);
		if (o->npids == MAX_PIDS)
			return fail(err, errlen, "too many PIDs: at most %d (use --cgroup for a larger group)", MAX_PIDS);
		o->pids[o->npids++] = (pid_t)v;
	}
	o->pid = o->pids[0];
	return 0;
}

int options_parse(int argc, char **argv, struct options *o, char *err, size_t errlen)
{
	int children = -1; /* not given */
	long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->interval_s = DEFAULT_INTERVAL_S;
	o->window_s = DEFAULT_WINDOW_S;
	o->max_allocs = DEFAULT_MAX_ALLOCS;
	o->max_stacks = DEFAULT_MAX_STACKS;
	o->prom_top = DEFAULT_PROM_TOP;
	o->duty_cycle = 1;

	optind = 0; /* reset getopt: parsing may run more than once (tests) */
	opterr = 0;
	/* '+': stop at the first non-option, which begins the command. */
	while ((c = getopt_long(argc, argv, "+:p:i:c:n:bs:qh", long_options, NULL)) != -1) {
		switch (c) {
		case 'p': {
			char list[256];

			snprintf(list, sizeof(list), "%s", optarg);
			if (parse_pids(list, o, err, errlen))
				return -1;
			break;
		}
		case OPT_CHILDREN:
		case OPT_NO_CHILDREN:
			children = c == OPT_CHILDREN;
			break;
		case OPT_CGROUP:
			if (!*optarg)
				return fail(err, errlen, "--cgroup needs a cgroup v2 directory");
			o->cgroup = optarg;
			break;
		case OPT_UNIT:
			if (!*optarg)
				return fail(err, errlen, "--unit needs a systemd unit name");
			o->unit = optarg;
			break;
		case 'i':
			if (!parse_positive(optarg, 3600, &o->interval_s) || o->interval_s < 0.01)
				return fail(err, errlen, "invalid interval '%s': expected seconds between 0.01 and 3600", optarg);
			break;
		case 'c':
			if (!parse_long(optarg, 1, 1000000000, &o->count))
				return fail(err, errlen, "invalid count '%s': expected a positive number of intervals", optarg);
			break;
		case 'n':
			if (!parse_long(optarg, 1, 100000, &v))
				return fail(err, errlen, "invalid --top '%s': expected a number of stacks from 1 to 100000", optarg);
			o->top = (int)v;
			break;
		case 'b':
			o->batch = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_WINDOW:
			if (!parse_positive(optarg, 86400, &o->window_s))
				return fail(err, errlen, "invalid --window '%s': expected a positive number of seconds", optarg);
			break;
		case OPT_MAX_ALLOCS:
			if (!parse_long(optarg, 16, 1L << 26, &v))
				return fail(err, errlen, "invalid --max-allocs '%s': expected 16 to 67108864", optarg);
			o->max_allocs = (uint32_t)v;
			o->max_allocs_given = true;
			break;
		case OPT_MAX_STACKS:
			if (!parse_long(optarg, 16, 1L << 22, &v))
				return fail(err, errlen, "invalid --max-stacks '%s': expected 16 to 4194304", optarg);
			o->max_stacks = (uint32_t)v;
			break;
		case 's':
			if (!parse_long(optarg, 0, 1L << 40, &v))
				return fail(err, errlen, "invalid --sample-bytes '%s': expected a number of bytes", optarg);
			o->sample_bytes = (uint64_t)v;
			break;
		case OPT_PROM_FILE:
		case OPT_FOLDED:
		case OPT_HTML:
		case OPT_PPROF:
			if (!*optarg)
				return fail(err, errlen, "--%s needs a file name", option_name(c));
			*output_file(o, c) = optarg;
			break;
		case OPT_PROM_TOP:
			if (!parse_long(optarg, 0, 10000, &v))
				return fail(err, errlen, "invalid --prom-top '%s': expected 0 to 10000 stacks", optarg);
			o->prom_top = (int)v;
			break;
		case 'q':
			o->quiet = true;
			break;
		case OPT_PYMALLOC_REDIRECT:
			o->pymalloc_redirect = true;
			break;
		case OPT_DUTY_CYCLE: {
			double pct;

			if (!parse_positive(optarg, 100, &pct) || pct < 1)
				return fail(err, errlen, "invalid --duty-cycle '%s': expected a percentage from 1 to 100", optarg);
			o->duty_cycle = pct / 100;
			break;
		}
		case 'h':
			o->help = true;
			return 0;
		case OPT_VERSION:
			o->version = true;
			return 0;
		case ':':
			return fail(err, errlen, "option '%s' needs a value (see --help)", argv[optind - 1]);
		default:
			return fail(err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->command = &argv[optind];
	if ((o->pid != 0) + (o->command != NULL) + (o->cgroup != NULL) + (o->unit != NULL) > 1)
		return fail(err, errlen, "give either -p PID, --cgroup PATH, --unit NAME or a command after --, not both");
	if (!o->pid && !o->command && !o->cgroup && !o->unit)
		return fail(err, errlen, "nothing to trace: give -p PID or -- COMMAND (see --help)");
	o->children = children < 0 ? o->command != NULL : children;
	if (o->pymalloc_redirect && !o->pid)
		return fail(err, errlen, "--pymalloc-redirect is for -p PID; a command started by leaktop runs with PYTHONMALLOC=malloc");
	if (o->quiet && o->json)
		return fail(err, errlen, "--quiet and --json conflict: --quiet prints no report");
	if (o->quiet && !o->prom_file && !o->folded_file && !o->html_file && !o->pprof_file)
		return fail(err, errlen, "--quiet leaves no output: add --prom-file PATH, --folded PATH, --html PATH or --pprof PATH");
	return 0;
}

uint32_t max_allocs_for(uint64_t resident_bytes)
{
	uint64_t wanted = resident_bytes / RESIDENT_BYTES_PER_ALLOC, n = ATTACHED_MIN_ALLOCS;

	while (n < wanted && n < AUTO_MAX_ALLOCS_LIMIT)
		n *= 2;
	return (uint32_t)n;
}
