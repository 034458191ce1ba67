/* The selection bar: a row index, or a followed stack id.  Every ranking goes
 * through tui_selection_place before it is drawn. */
#include "tui_select.h"

void tui_selection_move(struct tui_selection *sel, int delta)
{
	sel->row = sel->row + delta > 0 ? sel->row + delta : 0;
	sel->follow = 0;
}

void tui_selection_toggle_follow(struct tui_selection *sel)
{
	sel->follow = sel->follow ? 0 : sel->shown;
}

int tui_selection_place(struct tui_selection *sel, const struct report_stack *rows, size_t n,
			int visible)
{
	size_t limit = visible <= 0 ? 0 : (size_t)visible < n ? (size_t)visible : n;

	if (sel->follow) {
		size_t i = 0;

		while (i < limit && rows[i].id != sel->follow)
			i++;
		if (i < limit)
			sel->row = (int)i;
		else
			sel->follow = 0; /* it left the view: the bar stays where it was */
	}
	if (!limit) {
		sel->shown = 0;
		return -1;
	}
	if ((size_t)sel->row >= limit)
		sel->row = (int)limit - 1;
	sel->shown = rows[sel->row].id;
	return sel->row;
}
