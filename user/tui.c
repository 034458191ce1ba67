/* The live view: ncurses screen, keys, selection and the stack detail view.
 * Layout of each line is in tui_layout.c; this file only places and paints. */
#define _XOPEN_SOURCE_EXTENDED 1
#include <langinfo.h>
#include <locale.h>
#include <ncurses.h>
#include <stdlib.h>
#include <string.h>
#include "grow.h"
#include "tui.h"
#include "tui_layout.h"
#include "tui_select.h"

#define HEADER_LINES 4
#define TOTAL_HISTORY 512

enum { PAIR_TITLE = 1, PAIR_GROWING, PAIR_ALERT, PAIR_SELECTED };

#define TREND_MAX 16	/* trend columns at most */

/* A row's latest outstanding bytes, oldest first. */
struct trend {
	double bytes[TREND_MAX];
	size_t n;
};

struct tui {
	bool utf8, colors, paused, detail, help, closed;
	bool processes;		/* the process list instead of the stacks (P) */
	enum model_sort sort;
	struct tui_selection sel;
	uint64_t detail_id;	/* the stack in the detail view; 0: the bar's, once drawn */
	struct report frozen;	/* what is shown while paused, with its own */
	struct report_stack *frozen_stacks; /* copy of the rows, */
	const struct frame **frozen_frames; /* of their frame lists (the report's are refilled) */
	size_t frozen_frames_cap;
	struct trend *frozen_trends;	/* and of their trend columns */
	struct tui_status frozen_status; /* and of the header's figures */
	char frozen_mode[64];
	double totals[TOTAL_HISTORY];
	size_t ntotals, frozen_ntotals; /* the graph goes on; the display does not */
	double last_time;
};

static const char *const sort_names[] = { "growth", "outstanding", "count" };

struct tui *tui_open(void)
{
	struct tui *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	setlocale(LC_ALL, "");
	t->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	if (!initscr()) {
		free(t);
		return NULL;
	}
	cbreak();
	noecho();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);
	set_escdelay(25);
	if (has_colors()) {
		t->colors = true;
		start_color();
		use_default_colors();
		init_pair(PAIR_TITLE, COLOR_BLACK, COLOR_CYAN);
		init_pair(PAIR_GROWING, COLOR_RED, -1);
		init_pair(PAIR_ALERT, COLOR_WHITE, COLOR_RED);
		init_pair(PAIR_SELECTED, COLOR_BLACK, COLOR_WHITE);
	}
	return t;
}

void tui_close(struct tui *t)
{
	if (!t || t->closed)
		return;
	t->closed = true;
	curs_set(1);
	endwin();
	free(t->frozen_stacks);
	free(t->frozen_frames);
	free(t->frozen_trends);
	t->frozen_stacks = NULL;
	t->frozen_frames = NULL;
	t->frozen_trends = NULL;
}

enum model_sort tui_sort(const struct tui *t)
{
	return t->sort;
}

bool tui_paused(const struct tui *t)
{
	return t->paused;
}

int tui_rows(const struct tui *t)
{
	(void)t;
	return LINES - HEADER_LINES - 2 > 1 ? LINES - HEADER_LINES - 2 : 1;
}

enum tui_action tui_read_keys(struct tui *t)
{
	enum tui_action action = TUI_NONE;
	int key;

	while ((key = getch()) != ERR) {
		enum tui_action a = TUI_REDRAW;

		if (t->help) { /* any key closes the help */
			t->help = false;
		} else if (key == 'q' || key == 'Q') {
			a = TUI_QUIT;
		} else if (key == 'h' || key == '?') {
			t->help = true;
		} else if (t->detail && (key == 27 || key == KEY_LEFT || key == KEY_BACKSPACE)) {
			t->detail = false;
		} else if (key == KEY_UP || key == 'k' || key == KEY_DOWN || key == 'j') {
			tui_selection_move(&t->sel, key == KEY_UP || key == 'k' ? -1 : 1);
			t->detail_id = 0; /* the detail view shows the new row's stack */
		} else if (key == 'F') {
			tui_selection_toggle_follow(&t->sel);
		} else if (key == '\n' || key == KEY_ENTER || key == KEY_RIGHT) {
			/* The stack under the bar on screen; it stays when rows re-sort. */
			t->detail = true;
			t->detail_id = t->sel.shown;
		} else if (key == 'P') {
			t->processes = !t->processes;
		} else if (key == 's') {
			t->sort = (t->sort + 1) % 3;
			a = TUI_RESORT;
		} else if (key == 'p') {
			t->paused = !t->paused;
		} else if (key == '+' || key == '=') {
			a = TUI_FASTER;
		} else if (key == '-') {
			a = TUI_SLOWER;
		} else if (key == 'r') {
			a = TUI_RESET;
		} else if (key != KEY_RESIZE) {
			a = TUI_NONE;
		}
		if (a > action)
			action = a;
	}
	return action;
}

/* One line, exactly the screen's width, in the given attributes. */
static void line(int y, const char *text, attr_t attrs)
{
	char cut[2048];

	tui_truncate(cut, sizeof(cut), text, COLS, true);
	attron(attrs);
	mvaddstr(y, 0, cut);
	for (int x = tui_display_width(cut); x < COLS; x++)
		addch(' ');
	attroff(attrs);
}

static void draw_header(struct tui *t, const struct report *r, const struct tui_status *st)
{
	char text[2048], total[32], growth[32], graph[1024];
	int secs = (int)r->elapsed_s;

	snprintf(text, sizeof(text), "leaktop  pid %d (%s)  %s", r->pid, r->comm ? r->comm : "?",
		 st->cmdline ? st->cmdline : "");
	line(0, text, t->colors ? COLOR_PAIR(PAIR_TITLE) : A_REVERSE);
	snprintf(text, sizeof(text),
		 "elapsed %02d:%02d:%02d  interval %gs  mode %s  probes %d  hits %.0f/s  sort %s%s%s",
		 secs / 3600, secs / 60 % 60, secs % 60, r->interval_s, st->mode, st->probes,
		 st->hits_per_s, sort_names[t->sort], t->sel.follow ? "  [FOLLOWING]" : "",
		 t->paused ? "  [PAUSED]" : "");
	line(1, text, A_NORMAL);
	snprintf(text, sizeof(text), "outstanding %s (%s) in %lld allocations, %zu stacks",
		 format_bytes(total, sizeof(total), (double)r->bytes),
		 format_rate(growth, sizeof(growth), r->growth), (long long)r->allocs, r->nstacks);
	if (r->group)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), ", %zu processes", r->nprocesses);
	strncat(text, "  ", sizeof(text) - strlen(text) - 1);
	line(2, text, A_NORMAL);
	if (r->lost_events) {
		char lost[64];

		snprintf(lost, sizeof(lost), " lost events %llu ", (unsigned long long)r->lost_events);
		attron(t->colors ? COLOR_PAIR(PAIR_ALERT) : A_REVERSE);
		mvaddstr(2, tui_display_width(text) < COLS - 24 ? tui_display_width(text) : 0, lost);
		attroff(t->colors ? COLOR_PAIR(PAIR_ALERT) : A_REVERSE);
	}
	tui_sparkline(graph, sizeof(graph), t->totals, t->paused ? t->frozen_ntotals : t->ntotals,
		      COLS - 16 > 8 ? COLS - 16 : 8, t->utf8);
	snprintf(text, sizeof(text), "heap %-10s %s", total, graph);
	line(3, text, A_NORMAL);
}

static void draw_table(struct tui *t, const struct report *r, const struct model *m)
{
	struct tui_columns cols;
	char text[4096], trend[256];
	double recent[TREND_MAX];
	int rows = tui_rows(t);

	tui_columns_for_width(COLS, &cols);
	tui_format_titles(text, sizeof(text), &cols, sort_names[t->sort], t->utf8);
	line(HEADER_LINES, text, A_BOLD | A_UNDERLINE);
	for (int i = 0; i < rows; i++) {
		const struct report_stack *s = i < (int)r->count ? &r->stacks[i] : NULL;
		attr_t attrs = A_NORMAL;

		if (!s) {
			line(HEADER_LINES + 1 + i, "", A_NORMAL);
			continue;
		}
		size_t want = (size_t)(cols.trend ? cols.trend : 1), n;

		if (r == &t->frozen) { /* paused: the trend stays as it was too */
			const struct trend *f = &t->frozen_trends[i];

			n = f->n < want ? f->n : want;
			memcpy(recent, f->bytes + f->n - n, n * sizeof(recent[0]));
		} else {
			n = model_recent(m, s->id, recent, want);
		}
		tui_sparkline(trend, sizeof(trend), recent, n, cols.trend, t->utf8);
		tui_format_row(text, sizeof(text), &cols, i + 1, s, trend, t->utf8);
		if (i == t->sel.row)
			attrs = t->colors ? COLOR_PAIR(PAIR_SELECTED) : A_REVERSE;
		else if (s->growth >= 0.5)
			attrs = t->colors ? COLOR_PAIR(PAIR_GROWING) | A_BOLD : A_BOLD;
		line(HEADER_LINES + 1 + i, text, attrs);
	}
}

/* The traced processes, most outstanding first as the report lists them
 * (several with -p PID,PID, --children, --cgroup). */
static void draw_processes(const struct report *r)
{
	char text[1024], bytes[32], rate[32];
	int y = HEADER_LINES;

	snprintf(text, sizeof(text), "%8s  %-16s %12s %12s %14s   (P: back to the stacks)", "PID", "COMMAND",
		 "OUTSTANDING", "ALLOCS", "GROWTH/s");
	line(y++, text, A_BOLD | A_UNDERLINE);
	if (!r->nprocesses)
		line(y++, "  no process traced now", A_NORMAL);
	for (size_t i = 0; i < r->nprocesses && y < LINES - 1; i++) {
		const struct report_process *p = &r->processes[i];

		snprintf(text, sizeof(text), "%8d  %-16.16s %12s %12lld %14s", p->pid, p->comm ? p->comm : "?",
			 format_bytes(bytes, sizeof(bytes), (double)p->bytes), (long long)p->allocs,
			 format_rate(rate, sizeof(rate), p->growth));
		line(y++, text, A_NORMAL);
	}
	while (y < LINES - 1)
		line(y++, "", A_NORMAL);
}

static void draw_detail(struct tui *t, const struct report_stack *s)
{
	char text[2048], label[1024], bytes[32], rate[32];
	int y = HEADER_LINES;

	if (!s) { /* ranked out of the rows that fit since it was opened */
		snprintf(text, sizeof(text), "stack %016llx is no longer among the top %d rows  (Esc/left: back)",
			 (unsigned long long)t->detail_id, tui_rows(t));
		line(y++, text, A_BOLD | A_UNDERLINE);
		while (y < LINES - 1)
			line(y++, "", A_NORMAL);
		return;
	}
	snprintf(text, sizeof(text), "stack %016llx  %s outstanding in %lld allocations, %s  (Esc/left: back)",
		 (unsigned long long)s->id, format_bytes(bytes, sizeof(bytes), (double)s->bytes),
		 (long long)s->allocs, format_rate(rate, sizeof(rate), s->growth));
	line(y++, text, A_BOLD | A_UNDERLINE);
	for (int i = 0; i < s->nframes && y < LINES - 1; i++) {
		const struct frame *f = s->frames[i];

		snprintf(text, sizeof(text), "%3d  %s  [%s]", i, format_frame(label, sizeof(label), f),
			 f->object ? f->object : "?");
		line(y++, text, A_NORMAL);
	}
	while (y < LINES - 1)
		line(y++, "", A_NORMAL);
}

static void draw_help(void)
{
	static const char *const help[] = {
		"Keys",
		"  up/down, j/k    move the bar: it stays at its row as the rows re-sort",
		"  F               follow the stack under the bar as the rows re-sort",
		"                  (on: [FOLLOWING] in the header; moving the bar stops it)",
		"  Enter, right    show the stack under the bar in full",
		"  Esc, left       back to the table",
		"  s               sort by growth, outstanding bytes, allocation count",
		"  P               the traced processes (pid, command, outstanding, growth)",
		"  p               pause the display (collection goes on)",
		"  + / -           shorter / longer interval",
		"  r               reset growth history",
		"  q               quit (the last report is printed)",
		"  h, ?            this help",
		"",
		"Press any key.",
	};
	int y = HEADER_LINES;

	for (size_t i = 0; i < sizeof(help) / sizeof(help[0]) && y < LINES - 1; i++)
		line(y++, help[i], i == 0 ? A_BOLD : A_NORMAL);
	while (y < LINES - 1)
		line(y++, "", A_NORMAL);
}

/* Keeps a copy of what is shown, to show while paused: the caller's rows
 * and frame lists are refilled every interval, and the model moves on.
 * Leaves t->frozen.stacks NULL when out of memory (the live view stays). */
static void freeze(struct tui *t, const struct report *r, const struct model *m,
		   const struct tui_status *st)
{
	struct report_stack *stacks = realloc(t->frozen_stacks, (r->count + 1) * sizeof(*stacks));
	struct trend *trends = stacks ? realloc(t->frozen_trends, (r->count + 1) * sizeof(*trends)) : NULL;
	size_t nframes = 0, used = 0;

	if (stacks)
		t->frozen_stacks = stacks;
	if (trends)
		t->frozen_trends = trends;
	for (size_t i = 0; i < r->count; i++)
		nframes += (size_t)r->stacks[i].nframes;
	if (nframes > t->frozen_frames_cap) {
		const struct frame **frames = grow_array(t->frozen_frames, &t->frozen_frames_cap, nframes,
							 sizeof(*frames), 256);

		if (frames)
			t->frozen_frames = frames;
	}
	if (!stacks || !trends || nframes > t->frozen_frames_cap) {
		t->frozen.stacks = NULL; /* out of memory: pausing shows the live view */
		return;
	}
	for (size_t i = 0; i < r->count; i++) {
		stacks[i] = r->stacks[i];
		if (r->stacks[i].nframes > 0)
			memcpy(t->frozen_frames + used, r->stacks[i].frames,
			       (size_t)r->stacks[i].nframes * sizeof(t->frozen_frames[0]));
		stacks[i].frames = t->frozen_frames + used;
		used += (size_t)r->stacks[i].nframes;
		trends[i].n = model_recent(m, r->stacks[i].id, trends[i].bytes, TREND_MAX);
	}
	t->frozen = *r;
	t->frozen.stacks = stacks;
	t->frozen_status = *st;
	snprintf(t->frozen_mode, sizeof(t->frozen_mode), "%s", st->mode);
	t->frozen_status.mode = t->frozen_mode;
}

void tui_draw(struct tui *t, const struct report *r, const struct model *m,
	      const struct tui_status *st)
{
	const struct report_stack *detail = NULL;
	const struct report *live = r; /* (the process list is not frozen) */

	if (r->time != t->last_time) { /* a new snapshot: extend the heap graph */
		t->last_time = r->time;
		if (t->ntotals == TOTAL_HISTORY) {
			memmove(t->totals, t->totals + 1, --t->ntotals * sizeof(t->totals[0]));
			if (t->frozen_ntotals)
				t->frozen_ntotals--;
		}
		t->totals[t->ntotals++] = (double)r->bytes;
	}
	if (!t->paused) {
		t->frozen_ntotals = t->ntotals;
		t->frozen.stacks = NULL;
	} else {
		/* The first draw after the pause key shows the snapshot on screen
		 * (keys redraw from the same model): keep it. */
		if (!t->frozen.stacks)
			freeze(t, r, m, st);
		if (t->frozen.stacks) {
			r = &t->frozen;
			st = &t->frozen_status;
		}
	}
	tui_selection_place(&t->sel, r->stacks, r->count, tui_rows(t));
	if (t->detail && !t->detail_id)
		t->detail_id = t->sel.shown;
	for (size_t i = 0; t->detail && i < r->count; i++)
		if (r->stacks[i].id == t->detail_id)
			detail = &r->stacks[i];

	erase(); /* curses redraws only the cells that changed */
	draw_header(t, r, st);
	if (t->help)
		draw_help();
	else if (t->processes)
		draw_processes(live);
	else if (t->detail && t->detail_id)
		draw_detail(t, detail);
	else
		draw_table(t, r, m);
	line(LINES - 1, "h help  s sort  p pause  +/- interval  r reset  Enter stack  F follow  P processes  q quit",
	     A_DIM);
	refresh();
}
