/* The live view's selection bar, kept as top and htop keep it: the bar stays
 * at its row while the rows re-sort, unless it follows a stack (htop's F).
 * Pure logic, no curses, so it can be unit-tested. */
#ifndef LEAKTOP_TUI_SELECT_H
#define LEAKTOP_TUI_SELECT_H

#include <stddef.h>
#include <stdint.h>
#include "report.h"

struct tui_selection {
	int row;		/* the bar's row, from 0 */
	uint64_t follow;	/* the stack the bar follows; 0: the bar keeps its row */
	uint64_t shown;		/* the stack under the bar when last placed; 0: none */
};

/* Up or down by `delta` rows (not above the first): selects that row, and
 * ends following, as in htop. */
void tui_selection_move(struct tui_selection *sel, int delta);

/* F: follows the stack under the bar, or stops following. */
void tui_selection_toggle_follow(struct tui_selection *sel);

/* Puts the bar on this ranking's rows (`n` of them, `visible` on screen): on
 * the followed stack's row, else at its own row, within the rows.  A followed
 * stack that is no longer shown ends following (the bar keeps its row).
 * Returns the bar's row, or -1 when there are no rows. */
int tui_selection_place(struct tui_selection *sel, const struct report_stack *rows, size_t n,
			int visible);

#endif
