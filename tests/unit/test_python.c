/* CPython 3.11 line tables: decoded as CPython's own co_lines() has them. */
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

/* The kernel reads a frame's three fields in one PY_FRAME_WINDOW read, and a
 * code object's identity in one PY_CODE_WINDOW read. */
TEST(python_layouts_fields_fit_one_read)
{
	for (unsigned minor = 0; minor < 30; minor++) {
		const struct python_layout *l = python_layout_for(3, minor);
		struct python_config c;

		if (l)
			CHECK(python_layout_config(l, &c));
	}
}
