/* Pure text layout for the TUI: columns for a terminal width, truncation with
 * an ellipsis, sparklines.  No curses here, so it can be unit-tested. */
#ifndef LEAKTOP_TUI_LAYOUT_H
#define LEAKTOP_TUI_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include "report.h"

/* Widths of the table's columns; 0 = column hidden (narrow terminal). */
struct tui_columns {
	int rank, growth, bytes, allocs, trend, frame;
};

void tui_columns_for_width(int width, struct tui_columns *c);

/* Display width of a UTF-8 string (one column per code point). */
int tui_display_width(const char *s);

/* At most `width` columns of s into buf; a cut string ends with an ellipsis
 * ("…" in UTF-8, "..." otherwise). */
void tui_truncate(char *buf, size_t len, const char *s, int width, bool utf8);

/* A sparkline of v[0..n) in `width` columns (the last values), scaled between
 * the smallest and largest value: "▁▂▃▄▅▆▇█", or " .-=+*#%" without UTF-8. */
void tui_sparkline(char *buf, size_t len, const double *v, size_t n, int width, bool utf8);

/* The column titles, and one table row; both exactly `width` columns wide. */
void tui_format_titles(char *buf, size_t len, const struct tui_columns *c, const char *sort_name,
		       bool utf8);
void tui_format_row(char *buf, size_t len, const struct tui_columns *c, int rank,
		    const struct report_stack *s, const char *trend, bool utf8);

#endif
