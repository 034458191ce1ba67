/* The TUI's selection bar: stays at its row as rows re-sort, unless it follows
 * a stack (F); moving it selects the row and ends following. */
#include "tui_select.h"
#include "unit.h"

/* A ranking: only the stack ids matter here. */
#define RANKING(...) ((struct report_stack[]){ __VA_ARGS__ })
#define ROW(id_) { .id = (id_) }

TEST(tui_selection_stays_at_its_row_as_rows_resort)
{
	struct tui_selection sel = { 0 };

	/* The first ranking puts the 1 MiB table on top; the bar starts on row 0. */
	CHECK_INT(tui_selection_place(&sel, RANKING(ROW(30), ROW(10), ROW(20)), 3, 20), 0);
	CHECK_INT(sel.shown, 30);
	/* The leak (10) goes to the top: the bar stays on row 0, now the leak. */
	CHECK_INT(tui_selection_place(&sel, RANKING(ROW(10), ROW(20), ROW(30)), 3, 20), 0);
	CHECK_INT(sel.shown, 10);
	CHECK_INT(sel.follow, 0);
}

TEST(tui_selection_moves_with_keys)
{
	struct tui_selection sel = { 0 };

	tui_selection_move(&sel, -1); /* not above the first row */
	CHECK_INT(sel.row, 0);
	tui_selection_move(&sel, 1);
	CHECK_INT(tui_selection_place(&sel, RANKING(ROW(1), ROW(2), ROW(3)), 3, 20), 1);
	CHECK_INT(sel.shown, 2);
	/* Re-sorted: the bar keeps row 1, whatever stack is there now. */
	CHECK_INT(tui_selection_place(&sel, RANKING(ROW(3), ROW(1), ROW(2)), 3, 20), 1);
	CHECK_INT(sel.shown, 1);
}

TEST(tui_selection_follows_a_stack)
{
	struct tui_selection sel = { 0 };

	tui_selection_place(&sel, RANKING(ROW(30), ROW(10), ROW(20)), 3, 20);
	tui_selection_toggle_follow(&sel);
	CHECK_INT(sel.follow, 30);
	CHECK_INT(tui_selection_place(&sel, RANKING(ROW(10), ROW(20), ROW(30)), 3, 20), 2);
	CHECK_INT(sel.shown, 30);
	CHECK_INT(tui_selection_place(&sel, RANKING(ROW(10), ROW(30), ROW(20)), 3, 20), 1);
	/* Moving the bar ends following and selects the row it lands on. */
	tui_selection_move(&sel, -1);
	CHECK_INT(sel.follow, 0);
	CHECK_INT(tui_selection_place(&sel, RANKING(ROW(30), ROW(10), ROW(20)), 3, 20), 0);
	CHECK_INT(sel.shown, 30);
	/* F again on another stack, then F to stop: the bar keeps its row. */
	tui_selection_move(&sel, 2);
	tui_selection_place(&sel, RANKING(ROW(30), ROW(10), ROW(20)), 3, 20);
	tui_selection_toggle_follow(&sel);
	CHECK_INT(sel.follow, 20);
	tui_selection_toggle_follow(&sel);
	CHECK_INT(sel.follow, 0);
	CHECK_INT(tui_selection_place(&sel, RANKING(ROW(20), ROW(10), ROW(30)), 3, 20), 2);
	CHECK_INT(sel.shown, 30);
}

TEST(tui_selection_followed_stack_gone_keeps_the_row)
{
	struct tui_selection sel = { .row = 1 };

	tui_selection_place(&sel, RANKING(ROW(1), ROW(2), ROW(3)), 3, 20);
	tui_selection_toggle_follow(&sel);
	CHECK_INT(sel.follow, 2);
	/* Ranked below the rows that fit (2 of them): following ends. */
	CHECK_INT(tui_selection_place(&sel, RANKING(ROW(1), ROW(3), ROW(2)), 3, 2), 1);
	CHECK_INT(sel.follow, 0);
	CHECK_INT(sel.shown, 3);
}

TEST(tui_selection_clamps_to_the_rows)
{
	struct tui_selection sel = { 0 };

	tui_selection_move(&sel, 10);
	CHECK_INT(tui_selection_place(&sel, RANKING(ROW(1), ROW(2), ROW(3)), 3, 20), 2);
	tui_selection_move(&sel, 10);
	CHECK_INT(tui_selection_place(&sel, RANKING(ROW(1), ROW(2), ROW(3)), 3, 2), 1);
	CHECK_INT(sel.shown, 2);
	/* No rows: no bar, and F has nothing to follow. */
	CHECK_INT(tui_selection_place(&sel, NULL, 0, 20), -1);
	CHECK_INT(sel.shown, 0);
	tui_selection_toggle_follow(&sel);
	CHECK_INT(sel.follow, 0);
	CHECK_INT(tui_selection_place(&sel, RANKING(ROW(7)), 1, 20), 0);
	CHECK_INT(sel.shown, 7);
}
