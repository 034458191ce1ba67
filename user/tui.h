/* The live top-style view (ncurses), for a terminal. */
#ifndef LEAKTOP_TUI_H
#define LEAKTOP_TUI_H

#include <stdbool.h>
#include "model.h"
#include "report.h"

struct tui;

/* What the header shows beside the report. */
struct tui_status {
	const char *cmdline;
	int probes;
	double hits_per_s;
	const char *mode;	/* "exact", or how it samples */
};

/* What a key asks of the main loop. */
enum tui_action {
	TUI_NONE,
	TUI_REDRAW,	/* the view changed: draw again with the same data */
	TUI_RESORT,	/* the sort changed: rank again, then draw */
	TUI_RESET,	/* reset growth history */
	TUI_FASTER,	/* shorter interval */
	TUI_SLOWER,	/* longer interval */
	TUI_QUIT,
};

/* Takes over the terminal; NULL if it cannot (then use batch output). */
struct tui *tui_open(void);
/* Gives the terminal back as it was. Safe to call more than once. */
void tui_close(struct tui *t);

/* Reads pending keys; returns the strongest action they ask for. */
enum tui_action tui_read_keys(struct tui *t);

enum model_sort tui_sort(const struct tui *t);
bool tui_paused(const struct tui *t);
int tui_rows(const struct tui *t);	/* table rows that fit */

/* Draws the report (ranked by tui_sort) with each stack's trend from the model. */
void tui_draw(struct tui *t, const struct report *r, const struct model *m,
	      const struct tui_status *st);

#endif
