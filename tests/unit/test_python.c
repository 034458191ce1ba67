/* CPython line tables (3.10 to 3.13): decoded as CPython's own co_lines() has
 * them; struct layouts that fit the kernel walk's reads. */
#include <string.h>
#include "python_layouts.h"
#include "python_linetable.h"
#include "unit.h"

/* co_linetable and co_lines() of a function compiled by Python 3.11.7 (a
 * multi-line list, if/else, a loop, try/except, blank lines, a line-less
 * instruction); generated once with code.co_lines(). */
static const uint8_t table[] = {
	0x80, 0x00, 0xd8, 0x09, 0x0a, 0xd8, 0x09, 0x0a, 0xf0, 0x03, 0x01, 0x09, 0x0c, 0x80,
	0x41, 0xe0, 0x07, 0x08, 0xf0, 0x00, 0x03, 0x05, 0x11, 0xd8, 0x0d, 0x10, 0x90, 0x21,
	0x88, 0x48, 0x88, 0x01, 0x88, 0x01, 0xe0, 0x0c, 0x10, 0x88, 0x01, 0xf5, 0x06, 0x00,
	0x0e, 0x13, 0x90, 0x31, 0x89, 0x58, 0x8c, 0x58, 0xf0, 0x00, 0x01, 0x05, 0x18, 0xf0,
	0x00, 0x01, 0x05, 0x18, 0x88, 0x01, 0xd8, 0x08, 0x09, 0x8f, 0x08, 0x8a, 0x08, 0x90,
	0x11, 0x90, 0x51, 0x91, 0x15, 0x89, 0x0f, 0x8c, 0x0f, 0x88, 0x0f, 0x88, 0x0f, 0xf0,
	0x02, 0x03, 0x05, 0x0e, 0xd8, 0x0c, 0x0d, 0x90, 0x01, 0x89, 0x45, 0x88, 0x01, 0x88,
	0x01, 0xf8, 0xdd, 0x0b, 0x1c, 0xf0, 0x00, 0x01, 0x05, 0x0e, 0xf0, 0x00, 0x01, 0x05,
	0x0e, 0xf0, 0x00, 0x01, 0x05, 0x0e, 0xd8, 0x0c, 0x0d, 0x88, 0x01, 0x88, 0x01, 0x88,
	0x01, 0xf0, 0x03, 0x01, 0x05, 0x0e, 0xf8, 0xf8, 0xf8, 0xe0, 0x0c, 0x0d, 0x88, 0x71,
	0xd8, 0x0c, 0x0d, 0xf0, 0x03, 0x01, 0x0c, 0x0f, 0xf0, 0x00, 0x01, 0x05, 0x0f
};
static const int first_line = 302;
static const int lines[] = { /* per code unit, from offset 0; 0 = no line */
	302, 303, 304, 303, 303, 305, 305, 306, 306, 306, 306, 306, 308, 308, 311, 311, 311,
	311, 311, 311, 311, 311, 311, 311, 311, 311, 311, 311, 311, 311, 311, 312, 312, 312,
	312, 312, 312, 312, 312, 312, 312, 312, 312, 312, 312, 312, 312, 312, 312, 312, 312,
	312, 312, 312, 312, 312, 313, 314, 314, 314, 314, 314, 314, 0, 315, 315, 315, 315, 315,
	315, 315, 315, 315, 316, 316, 316, 316, 315, 0, 0, 0, 317, 317, 318, 317, 317
};

TEST(python311_lines_match_co_lines)
{
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		CHECK_INT(python311_line_at(table, sizeof(table), first_line, (int)(2 * i)), lines[i]);
}

TEST(python311_line_edges)
{
	/* Before the first instruction: the first line; past the end: unknown. */
	CHECK_INT(python311_line_at(table, sizeof(table), first_line, -2), first_line);
	CHECK_INT(python311_line_at(table, sizeof(table), first_line, (int)(2 * (sizeof(lines) / sizeof(lines[0])))), 0);
	CHECK_INT(python311_line_at(table, 0, first_line, 0), 0);
	/* An odd offset is inside the same code unit. */
	CHECK_INT(python311_line_at(table, sizeof(table), first_line, 3), lines[1]);
}

TEST(python311_line_table_truncated_or_corrupt)
{
	static const uint8_t long_form_cut[] = { 0xf0, 0x43 }; /* varint never ends */
	static const uint8_t no_start_bit[] = { 0x01, 0x02 };

	CHECK_INT(python311_line_at(long_form_cut, sizeof(long_form_cut), 10, 0), 0);
	CHECK_INT(python311_line_at(no_start_bit, sizeof(no_start_bit), 10, 0), 0);
	/* Every prefix of a real table decodes without reading past its end. */
	for (size_t n = 0; n < sizeof(table); n++)
		python311_line_at(table, n, first_line, 170);
}

/* The same function (a multi-line list,
 * if/else, a loop with try/except, a while loop, a multi-line return; first
 * line 3) compiled by 3.10.13, 3.12.1 and 3.13.0, with co_lines() per code
 * unit. */
static const uint8_t table_310[] = {
	0x02, 0x01, 0x02, 0x01, 0x04, 0xff, 0x04, 0x03, 0x06, 0x01, 0x04, 0x02, 0x0c, 0x01, 0x02,
	0x01, 0x0e, 0x01, 0x0c, 0x01, 0x04, 0x01, 0x02, 0xff, 0x08, 0x02, 0x08, 0x01, 0x08, 0xff,
	0x02, 0x02, 0x02, 0x01, 0x04, 0xff
};
static const int lines_310[] = {
	4, 5, 4, 4, 7, 7, 8, 8, 8, 10, 10, 11, 11, 11, 11, 11, 11, 12, 13, 13, 13, 13, 13, 13, 13,
	14, 14, 14, 14, 14, 14, 15, 15, 14, 16, 16, 16, 16, 17, 17, 17, 17, 16, 16, 16, 16, 18, 19,
	18, 18
};
static const uint8_t table_312[] = {
	0x80, 0x00, 0xd8, 0x09, 0x0a, 0xd8, 0x09, 0x0a, 0xf0, 0x03, 0x01, 0x09, 0x0c, 0x80, 0x41,
	0xf1, 0x06, 0x00, 0x08, 0x09, 0xd8, 0x0c, 0x0d, 0x89, 0x01, 0xe0, 0x0c, 0x0d, 0x88, 0x01,
	0xdc, 0x0d, 0x12, 0x90, 0x31, 0x8b, 0x58, 0xf2, 0x00, 0x04, 0x05, 0x11, 0x88, 0x01, 0xf0,
	0x02, 0x03, 0x09, 0x11, 0xd8, 0x0c, 0x0d, 0x8f, 0x48, 0x89, 0x48, 0x90, 0x51, 0x8d, 0x4b,
	0xf0, 0x05, 0x04, 0x05, 0x11, 0xf0, 0x0a, 0x00, 0x0b, 0x0c, 0x88, 0x61, 0x8a, 0x25, 0xd8,
	0x08, 0x09, 0x88, 0x51, 0x89, 0x06, 0x88, 0x01, 0xf0, 0x03, 0x00, 0x0b, 0x0c, 0x88, 0x61,
	0x8b, 0x25, 0xe0, 0x0c, 0x0d, 0xd8, 0x0c, 0x0d, 0xf0, 0x03, 0x01, 0x0c, 0x0f, 0xf0, 0x00,
	0x01, 0x05, 0x0f, 0xf8, 0xf4, 0x09, 0x00, 0x10, 0x1a, 0xf2, 0x00, 0x01, 0x09, 0x11, 0xd9,
	0x0c, 0x10, 0xf0, 0x03, 0x01, 0x09, 0x11, 0xfa
};
static const int lines_312[] = {
	3, 4, 5, 4, 4, 7, 7, 8, 8, 8, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11,
	11, 12, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 11, 16, 16,
	16, 16, 16, 17, 17, 17, 17, 17, 16, 16, 16, 16, 16, 16, 18, 19, 18, 18, 0, 14, 14, 14, 14,
	14, 14, 14, 14, 15, 15, 14, 0, 0, 0
};
static const uint8_t table_313[] = {
	0x80, 0x00, 0xd8, 0x09, 0x0a, 0xd8, 0x09, 0x0a, 0xf0, 0x03, 0x01, 0x09, 0x0c, 0x80, 0x41,
	0xf6, 0x06, 0x00, 0x08, 0x09, 0xd8, 0x0c, 0x0d, 0x89, 0x01, 0xe0, 0x0c, 0x0d, 0x88, 0x01,
	0xdc, 0x0d, 0x12, 0x90, 0x31, 0x8e, 0x58, 0x88, 0x01, 0xf0, 0x02, 0x03, 0x09, 0x11, 0xd8,
	0x0c, 0x0d, 0x8f, 0x48, 0x89, 0x48, 0x90, 0x51, 0x8e, 0x4b, 0xf1, 0x05, 0x00, 0x0e, 0x16,
	0xf0, 0x0a, 0x00, 0x0b, 0x0c, 0x88, 0x61, 0x8b, 0x25, 0xd8, 0x08, 0x09, 0x88, 0x51, 0x89,
	0x06, 0x88, 0x01, 0xf0, 0x03, 0x00, 0x0b, 0x0c, 0x88, 0x61, 0x8d, 0x25, 0xe0, 0x0c, 0x0d,
	0xd8, 0x0c, 0x0d, 0xf0, 0x03, 0x01, 0x0c, 0x0f, 0xf0, 0x00, 0x01, 0x05, 0x0f, 0xf8, 0xf4,
	0x09, 0x00, 0x10, 0x1a, 0xf3, 0x00, 0x01, 0x09, 0x11, 0xda, 0x0c, 0x10, 0xf0, 0x03, 0x01,
	0x09, 0x11, 0xfa
};
static const int lines_313[] = {
	3, 4, 5, 4, 4, 7, 7, 7, 7, 7, 7, 7, 8, 8, 8, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11, 11,
	11, 11, 11, 11, 11, 12, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13,
	13, 13, 11, 11, 16, 16, 16, 16, 16, 16, 17, 17, 17, 17, 17, 16, 16, 16, 16, 16, 16, 16, 16,
	18, 19, 18, 18, 0, 14, 14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 14, 0, 0, 0
};

static void check_lines(int (*line_at)(const uint8_t *, size_t, int, int), const uint8_t *t,
			size_t len, const int *expect, size_t n)
{
	for (size_t i = 0; i < n; i++)
		CHECK_INT(line_at(t, len, 3, (int)(2 * i)), expect[i]);
	CHECK_INT(line_at(t, len, 3, -2), 3); /* not started: the first line */
	CHECK_INT(line_at(t, len, 3, (int)(2 * n)), 0);
	for (size_t cut = 0; cut < len; cut++) /* never past the end */
		line_at(t, cut, 3, (int)(2 * n - 2));
}

#define CHECK_LINES(f, tag) \
	check_lines(f, table_##tag, sizeof(table_##tag), lines_##tag, sizeof(lines_##tag) / sizeof(int))

TEST(python310_lines_match_co_lines)
{
	CHECK_LINES(python310_line_at, 310);
}

TEST(python312_and_313_lines_match_co_lines)
{
	CHECK_LINES(python311_line_at, 312);
	CHECK_LINES(python311_line_at, 313);
}

/* The kernel reads a frame's fields in one read, and a code object's
 * identity in another (PY_WINDOW bytes at most each). */
TEST(python_layouts_fields_fit_one_read)
{
	for (unsigned minor = 0; minor < 30; minor++) {
		const struct python_layout *l = python_layout_for(3, minor);
		struct python_config c;

		if (l && !l->needs_debug_offsets) /* 3.14+: tested with their blocks */
			CHECK(python_layout_config(l, &c));
	}
}

/* The _Py_DebugOffsets block of pyenv's 3.13.0 (read from a live process):
 * the same layout as the hand-kept row. */
static const uint64_t debug_3130[] = {
	0x7970677562656478ULL, 0x30d00f0, 0, 283320, 608, 632, 194968, 7272, 7264, 7344, 7400,
	7656, 7640, 7648, 16, 7752, 0, 7768, 7760, 304, 0, 8, 16, 72, 152, 160, 232, 32, 80, 8,
	0, 56, 72, 70, 208, 112, 120, 128, 136, 68, 52, 96, 104, 200, 16, 8, 416, 24, 88, 168,
	32, 24, 16, 40, 24, 16, 48, 32, 40, 24, 16, 32, 16, 24, 40, 16, 32, 64, 32, 16, 40, 240,
	200,
};

TEST(python313_layout_from_debug_offsets_matches_the_table)
{
	const struct python_layout *row = python_layout_for(3, 13);
	struct python_layout got;
	struct python_config a, b;

	CHECK(sizeof(debug_3130) == python_debug_offsets_count(13) * 8);
	CHECK(python_layout_from_debug_offsets(debug_3130, sizeof(debug_3130) / 8, &got));
	python_layout_config(row, &a);
	CHECK(python_layout_config(&got, &b));
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	CHECK(memcmp(row, &got, sizeof(got)) == 0);
}

TEST(python_debug_offsets_refused_when_not_a_sane_313)
{
	uint64_t d[sizeof(debug_3130) / 8];
	struct python_layout got;

	memcpy(d, debug_3130, sizeof(d));
	d[2] = 1; /* free-threaded: another object header */
	CHECK(!python_layout_from_debug_offsets(d, sizeof(d) / 8, &got));
	memcpy(d, debug_3130, sizeof(d));
	d[1] = 0x30e00f0; /* 3.14's block is laid out differently (and longer) */
	CHECK(!python_layout_from_debug_offsets(d, sizeof(d) / 8, &got));
	{
		uint64_t padded[PY_DEBUG_OFFSETS_MAX] = { 0 };

		memcpy(padded, d, sizeof(d));
		CHECK(!python_layout_from_debug_offsets(padded, PY_DEBUG_OFFSETS_MAX, &got));
	}
	memcpy(d, debug_3130, sizeof(d));
	d[0] ^= 1; /* no cookie */
	CHECK(!python_layout_from_debug_offsets(d, sizeof(d) / 8, &got));
	memcpy(d, debug_3130, sizeof(d));
	d[23] = 1 << 20; /* current_frame outside PyThreadState */
	CHECK(!python_layout_from_debug_offsets(d, sizeof(d) / 8, &got));
	CHECK(!python_layout_from_debug_offsets(debug_3130, 10, &got));
}
