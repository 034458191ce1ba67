/* TUI layout: widths, truncation, sparklines; every line exactly fits. */
#include "tui_layout.h"
#include "unit.h"

static struct frame frames[] = {
	{ "malloc", NULL, 0, "/lib/libc.so.6", 1 },
	{ "a_rather_long_function_name_for_a_narrow_terminal", "/src/server/handlers.c", 1234,
	  "/usr/bin/server", 2 },
};
static const struct frame *frame_ptrs[] = { &frames[0], &frames[1] };

TEST(tui_truncate_with_ellipsis)
{
	char buf[64];

	tui_truncate(buf, sizeof(buf), "abcdef", 10, true);
	CHECK_STR(buf, "abcdef");
	tui_truncate(buf, sizeof(buf), "abcdef", 6, true);
	CHECK_STR(buf, "abcdef");
	tui_truncate(buf, sizeof(buf), "abcdef", 4, true);
	CHECK_STR(buf, "abc…");
	tui_truncate(buf, sizeof(buf), "abcdef", 4, false);
	CHECK_STR(buf, "a...");
	tui_truncate(buf, sizeof(buf), "abcdef", 1, true);
	CHECK_STR(buf, "…");
	tui_truncate(buf, sizeof(buf), "abcdef", 0, true);
	CHECK_STR(buf, "");
	/* Multi-byte characters are cut whole. */
	tui_truncate(buf, sizeof(buf), "▁▂▃▄▅", 3, true);
	CHECK_STR(buf, "▁▂…");
	CHECK_INT(tui_display_width("▁▂…"), 3);
}

TEST(tui_sparkline_scales_between_min_and_max)
{
	double v[] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	double flat[] = { 5, 5, 5 };
	char buf[64];

	tui_sparkline(buf, sizeof(buf), v, 8, 8, true);
	CHECK_STR(buf, "▁▂▃▄▅▆▇█");
	tui_sparkline(buf, sizeof(buf), v, 8, 4, true); /* the last four */
	CHECK_STR(buf, "▁▃▆█");
	tui_sparkline(buf, sizeof(buf), v, 8, 8, false);
	CHECK_STR(buf, " .-=+*#%");
	tui_sparkline(buf, sizeof(buf), flat, 3, 8, true);
	CHECK_STR(buf, "▁▁▁");
	tui_sparkline(buf, sizeof(buf), v, 0, 8, true);
	CHECK_STR(buf, "");
}

TEST(tui_columns_narrow_and_wide)
{
	struct tui_columns c;

	tui_columns_for_width(200, &c);
	CHECK(c.allocs > 0 && c.trend > 0);
	CHECK(c.frame > 100);
	tui_columns_for_width(64, &c);
	CHECK(c.allocs > 0 && c.trend == 0);
	tui_columns_for_width(40, &c);
	CHECK(c.allocs == 0 && c.trend == 0);
	CHECK(c.frame > 0);
	tui_columns_for_width(10, &c);
	CHECK(c.frame == 0);
}

TEST(tui_rows_are_exactly_the_width)
{
	struct report_stack s = { 1, 3 << 20, 42, 102400, frame_ptrs, 2 };
	int widths[] = { 40, 59, 60, 71, 72, 80, 132, 250 };
	struct tui_columns c;
	char buf[4096];

	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		tui_columns_for_width(widths[i], &c);
		tui_format_row(buf, sizeof(buf), &c, 1, &s, "▁▂▃", true);
		CHECK_INT(tui_display_width(buf), widths[i]);
		tui_format_titles(buf, sizeof(buf), &c, "growth", true);
		CHECK_INT(tui_display_width(buf), widths[i]);
	}
	tui_columns_for_width(250, &c);
	tui_format_row(buf, sizeof(buf), &c, 7, &s, "", true);
	CHECK(strstr(buf, "100.0 KiB/s") != NULL);
	CHECK(strstr(buf, "3.0 MiB") != NULL);
	CHECK(strstr(buf, " 42 ") != NULL);
	CHECK(strstr(buf, "a_rather_long_function_name_for_a_narrow_terminal (handlers.c:1234)") != NULL);
	tui_columns_for_width(60, &c);
	tui_format_row(buf, sizeof(buf), &c, 7, &s, "", true);
	CHECK(strstr(buf, "…") != NULL);
	tui_format_titles(buf, sizeof(buf), &c, "outstanding", true);
	CHECK(strstr(buf, "*OUTSTANDING") != NULL);
}
