/* leaktop: which call stacks make a live process's heap grow.
 *
 * main() reads the command line and runs the event loop: the session
 * (user/session.c) attaches to what is traced, and once per interval its
 * figures go to every view. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "clock.h"
#include <bpf/libbpf.h>
#include "options.h"
#include "output_folded.h"
#include "output_html.h"
#include "output_pprof.h"
#include "output_prom.h"
#include "python.h"
#include "session.h"
#include "target.h"
#include "tui.h"

#define FULL_STACKS_IN_TEXT 3

static volatile sig_atomic_t stop_signal, dump_requested;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump_requested = 1;
	else
		stop_signal = sig;
}

static void install_signal_handlers(void)
{
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: wake the wait */

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL); /* write the folded stacks, HTML report and profile now */
	signal(SIGPIPE, SIG_IGN); /* a closed stdout shows up as EPIPE: stop then */
}

static bool has_capability(const struct __user_cap_data_struct data[2], int cap)
{
	return data[cap / 32].effective & (1u << (cap % 32));
}

/* BPF programs and uprobes need CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN);
 * reading another process's maps and files needs CAP_SYS_PTRACE. */
static bool check_privileges(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	const char *missing = NULL;

	if (syscall(SYS_capget, &hdr, data))
		return true; /* cannot tell: let the kernel decide */
	if (!has_capability(data, CAP_SYS_ADMIN) &&
	    !(has_capability(data, CAP_BPF) && has_capability(data, CAP_PERFMON)))
		missing = has_capability(data, CAP_BPF) ? "CAP_PERFMON" : "CAP_BPF";
	else if (!has_capability(data, CAP_SYS_PTRACE))
		missing = "CAP_SYS_PTRACE";
	if (!missing)
		return true;
	fprintf(stderr, "leaktop: needs root (missing %s): run it with sudo, or grant CAP_SYS_ADMIN and CAP_SYS_PTRACE\n",
		missing);
	return false;
}

static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN || !getenv("LEAKTOP_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* The HTML report, from a report of every stack (its table shows as many
 * as the JSON line). */
static int html_view_write(const char *path, const struct report *r, const struct session *s, char *err,
			   size_t errlen)
{
	char version[64];
	struct html_input in = { r, (size_t)(s->opts.top ? s->opts.top : DEFAULT_TOP_BATCH), &s->history,
				 session_trend(s), version };

	snprintf(version, sizeof(version), "%.*s", (int)strcspn(options_version, "\n"), options_version);
	return html_write(path, &in, err, errlen);
}

static int folded_view_write(const char *path, const struct report *r, const struct session *s, char *err,
			     size_t errlen)
{
	(void)s;
	return folded_write(path, r, err, errlen);
}

static int pprof_view_write(const char *path, const struct report *r, const struct session *s, char *err,
			    size_t errlen)
{
	(void)s;
	return pprof_write(path, r, err, errlen);
}

/* The files written at exit and on SIGUSR1, each from a report of every
 * stack the model has: the folded stacks of those holding memory (their
 * lines add up to the total), the HTML report, the pprof profile (also
 * the shrinking ones). */
static void write_views(struct session *s)
{
	const struct {
		const char *path;
		enum model_sort sort;
		int (*write)(const char *path, const struct report *r, const struct session *s, char *err,
			     size_t errlen);
	} views[] = {
		{ s->opts.folded_file, SORT_BYTES, folded_view_write },
		{ s->opts.html_file, SORT_GROWTH, html_view_write },
		{ s->opts.pprof_file, SORT_BYTES, pprof_view_write },
	};

	for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
		char err[512] = "out of memory";
		struct report r;

		if (!views[i].path)
			continue;
		if (!session_report(s, views[i].sort, (size_t)-1 / 2, &r) ||
		    views[i].write(views[i].path, &r, s, err, sizeof(err)))
			fprintf(stderr, "leaktop: %s\n", err);
	}
}

/* The files written every interval: the Prometheus textfile, and the folded
 * stacks, HTML report and pprof profile when SIGUSR1 asked for them. */
static void write_exports(struct session *s)
{
	struct options *o = &s->opts;
	struct report r;
	char err[512];

	if (o->prom_file && session_report(s, SORT_GROWTH, (size_t)o->prom_top + 1, &r)) {
		/* A failed write (disk full) is reported once and retried next interval. */
		bool failed = prom_write(o->prom_file, &r, (size_t)o->prom_top, err, sizeof(err)) != 0;

		if (failed && !s->prom_failing)
			fprintf(stderr, "leaktop: %s (retrying every interval)\n", err);
		else if (!failed && s->prom_failing)
			fprintf(stderr, "leaktop: %s written again\n", o->prom_file);
		s->prom_failing = failed;
	}
	if (dump_requested) {
		dump_requested = 0;
		write_views(s);
	}
}

/* Batch text or a JSON line on stdout. false when stdout is gone. */
static bool print_report(struct session *s)
{
	struct options *o = &s->opts;
	struct report r;

	if (!session_report(s, SORT_GROWTH, (size_t)(o->top ? o->top : DEFAULT_TOP_BATCH), &r)) {
		fprintf(stderr, "leaktop: out of memory\n");
		return false;
	}
	if (o->json) {
		char *line = report_json(&r);

		if (line)
			printf("%s\n", line);
		free(line);
		fflush(stdout);
	} else {
		report_text(stdout, &r, FULL_STACKS_IN_TEXT);
	}
	return !ferror(stdout);
}

static void draw_tui(struct session *s)
{
	char mode[64] = "exact";
	struct tui_status st = { session_cmdline(s), session_probes(s), session_hits_per_s(s), mode };

	if (s->opts.sample_bytes)
		snprintf(mode, sizeof(mode), "sampled 1/%llu B", (unsigned long long)s->opts.sample_bytes);
	if (s->opts.duty_cycle < 1) {
		size_t len = strlen(mode);

		snprintf(mode + len, sizeof(mode) - len, ", duty cycle %.0f%%", 100 / s->scale);
	}
	struct report r;

	if (session_report(s, tui_sort(s->tui), (size_t)tui_rows(s->tui), &r))
		tui_draw(s->tui, &r, session_trend(s), &st);
}

/* One interval: update, then every view. false when stdout is gone. */
static bool report_interval(struct session *s)
{
	session_update(s);
	heap_history_add(&s->history, now(CLOCK_MONOTONIC) - s->start, session_total_bytes(s));
	write_exports(s);
	if (s->tui) {
		draw_tui(s);
		return true;
	}
	return s->opts.quiet || print_report(s);
}

enum event { EVENT_DEADLINE, EVENT_EXIT, EVENT_KEY, EVENT_SIGNAL };

/* --duty-cycle: detaches or re-attaches the allocation probes.  The on-time
 * is what the probes really saw: a detach takes effect at once (the wait for
 * the kernel's grace periods that follows is off-time), an attach only when
 * it is done. */
static void switch_duty_phase(struct session *s)
{
	double t = now(CLOCK_MONOTONIC);
	int err;

	if (s->duty.on) {
		session_pause_allocs(s);
		duty_cycle_switch(&s->duty, t);
		return;
	}
	err = session_resume_allocs(s);
	duty_cycle_switch(&s->duty, now(CLOCK_MONOTONIC));
	if (err) {
		/* Half attached is worse than always on: stay on for good. */
		fprintf(stderr, "leaktop: cannot re-attach the allocation probes (%s): duty cycle stopped\n",
			strerror(-err));
		s->duty.fraction = 1;
	}
}

/* Waits until the deadline, the target's exit, a key (TUI) or a signal;
 * switches duty-cycle phases on the way. */
static enum event wait_event(struct session *s, double deadline)
{
	struct pollfd fds[2] = { { .fd = session_pidfd(s), .events = POLLIN },
				 { .fd = STDIN_FILENO, .events = POLLIN } };

	for (;;) {
		double t = now(CLOCK_MONOTONIC), left = deadline - t;
		double to_switch = duty_cycle_next_switch(&s->duty) - t;
		int n;

		if (stop_signal)
			return EVENT_SIGNAL;
		if (s->leader_exited)
			return EVENT_EXIT;
		if (left <= 0)
			return EVENT_DEADLINE;
		if (to_switch <= 0) {
			switch_duty_phase(s);
			continue;
		}
		n = poll(fds, s->tui ? 2 : 1, (int)ceil(fmin(fmin(left, to_switch), 0.05) * 1000));
		if (n == 0)
			session_tick(s);
		if (n > 0 && (fds[0].revents & POLLIN))
			session_reap(s); /* reaps a spawned child */
		else if (n > 0 && s->tui && fds[1].revents)
			return EVENT_KEY;
	}
}

/* A key's action in the TUI; false to quit. */
static bool handle_keys(struct session *s, double *deadline)
{
	static const double steps[] = { 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60 };
	enum tui_action action = tui_read_keys(s->tui);
	size_t i = 0;

	switch (action) {
	case TUI_QUIT:
		return false;
	case TUI_RESET:
		session_reset(s);
		break;
	case TUI_FASTER:
	case TUI_SLOWER:
		while (i + 1 < sizeof(steps) / sizeof(steps[0]) && steps[i] < s->opts.interval_s)
			i++;
		if (action == TUI_FASTER && i > 0)
			i--;
		else if (action == TUI_SLOWER && steps[i] <= s->opts.interval_s && i + 1 < sizeof(steps) / sizeof(steps[0]))
			i++;
		s->opts.interval_s = steps[i];
		*deadline = s->last_update + s->opts.interval_s;
		break;
	default:
		break;
	}
	if (action != TUI_NONE)
		draw_tui(s);
	return true;
}

/* Reports every interval until -c, q, a signal, the target's exit or an
 * output error. */
static void run(struct session *s)
{
	long intervals = 0;
	double deadline;

	s->start = now(CLOCK_MONOTONIC);
	deadline = s->start + s->opts.interval_s;
	for (;;) {
		enum event ev = wait_event(s, deadline);

		if (ev == EVENT_KEY) {
			if (!handle_keys(s, &deadline))
				return;
			continue;
		}
		/* Also on a signal or exit: the last picture is not lost. */
		if (!report_interval(s))
			return;
		intervals++;
		if (ev == EVENT_EXIT) {
			tui_close(s->tui);
			session_exit_message(s);
			return;
		}
		if (ev == EVENT_SIGNAL || (s->opts.count && intervals >= s->opts.count))
			return;
		deadline += s->opts.interval_s;
		if (deadline < now(CLOCK_MONOTONIC)) /* fell behind: do not burst */
			deadline = now(CLOCK_MONOTONIC) + s->opts.interval_s;
	}
}

static void finish(struct session *s)
{
	tui_close(s->tui);
	free(s->tui);
	session_finish(s);
}

int main(int argc, char **argv)
{
	struct session s = { 0 };
	char err[256];
	int code;

	if (options_parse(argc, argv, &s.opts, err, sizeof(err))) {
		fprintf(stderr, "leaktop: %s\n", err);
		return 2;
	}
	if (s.opts.help || s.opts.version) {
		fputs(s.opts.help ? options_usage : options_version, stdout);
		return 0;
	}
	if (!check_privileges())
		return 1;
	libbpf_set_print(quiet_libbpf);
	install_signal_handlers();

	/* A Python program started by leaktop uses malloc for every object, so
	 * that the probes see small objects too (pymalloc may be inlined).  A
	 * free-threaded one (mimalloc only) would refuse to start. */
	if (s.opts.command) {
		char exe[PATH_MAX];

		if (target_find_in_path(s.opts.command[0], exe, sizeof(exe)) &&
		    python_program_free_threaded(exe, target_find_in_path))
			fprintf(stderr, "leaktop: %s is a free-threaded Python: it allocates objects with mimalloc, which leaktop sees only attached (-p PID); started here, only what reaches malloc is seen\n",
				s.opts.command[0]);
		else
			setenv("PYTHONMALLOC", "malloc", 0);
	}
	code = session_start(&s);
	if (code == 0) {
		if (!s.opts.batch && !s.opts.json && !s.opts.quiet && isatty(STDOUT_FILENO) &&
		    isatty(STDIN_FILENO))
			s.tui = tui_open();
		run(&s);
		if (s.tui) {
			/* The terminal back as it was, then the last picture in text. */
			tui_close(s.tui);
			print_report(&s);
		}
		write_views(&s);
	}
	finish(&s);
	return code;
}
