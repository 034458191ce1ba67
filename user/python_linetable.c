/* Decoding CPython's line tables (co_linetable): 3.10's pairs of deltas, and
 * the location table of 3.11 and later. */
#include <stdbool.h>
#include "python_linetable.h"

#define CODE_UNIT 2

struct cursor {
	const uint8_t *p, *end;
	bool bad;
};

/* Unsigned varint: 6 bits per byte, bit 6 = more follow. */
static uint32_t read_varint(struct cursor *c)
{
	uint32_t value = 0;
	unsigned shift = 0;

	for (;;) {
		if (c->p >= c->end || shift > 28) {
			c->bad = true;
			return 0;
		}
		uint8_t b = *c->p++;

		value |= (uint32_t)(b & 0x3f) << shift;
		shift += 6;
		if (!(b & 0x40))
			return value;
	}
}

/* Signed varint: the lowest bit is the sign. */
static int32_t read_svarint(struct cursor *c)
{
	uint32_t v = read_varint(c);

	return (v & 1) ? -(int32_t)(v >> 1) : (int32_t)(v >> 1);
}

static void skip(struct cursor *c, size_t n)
{
	if ((size_t)(c->end - c->p) < n) {
		c->bad = true;
		c->p = c->end;
	} else {
		c->p += n;
	}
}

/* 3.11+: each entry starts with a byte with the top bit set: bits 3-6 are the
 * entry's form, bits 0-2 its length in code units (2 bytes) minus one.  Only
 * the line delta matters here; columns are skipped. */
int python311_line_at(const uint8_t *table, size_t len, int first_line, int offset)
{
	struct cursor c = { table, table ? table + len : NULL, false };
	int64_t line = first_line, start = 0;

	if (offset < 0)
		return first_line > 0 ? first_line : 0;
	if (!table)
		return 0;
	while (c.p < c.end && !c.bad) {
		uint8_t head = *c.p++;
		unsigned form = (head >> 3) & 0xf;
		int64_t end = start + (int64_t)((head & 7) + 1) * CODE_UNIT;
		bool has_line = true;

		if (!(head & 0x80))
			return 0; /* not at an entry's start: corrupt */
		switch (form) {
		case 15: /* no location */
			has_line = false;
			break;
		case 14: /* long form: line delta, end line delta, columns */
			line += read_svarint(&c);
			read_varint(&c);
			read_varint(&c);
			read_varint(&c);
			break;
		case 13: /* no columns: line delta only */
			line += read_svarint(&c);
			break;
		case 10:
		case 11:
		case 12: /* one-line form: the delta is the form minus 10 */
			line += form - 10;
			skip(&c, 2);
			break;
		default: /* short form: same line, one byte of columns */
			skip(&c, 1);
			break;
		}
		if (c.bad)
			return 0;
		if (offset >= start && offset < end)
			return has_line && line > 0 && line <= INT32_MAX ? (int)line : 0;
		start = end;
	}
	return 0;
}

/* 3.10: pairs (bytecode delta in bytes, unsigned; line delta, signed, -128
 * for "no line").  Each pair ends a range of bytecode at the line reached so
 * far; empty ranges only move the line. */
int python310_line_at(const uint8_t *table, size_t len, int first_line, int offset)
{
	int64_t line = first_line, start, end = 0;

	if (offset < 0)
		return first_line > 0 ? first_line : 0;
	for (size_t i = 0; table && i + 1 < len; i += 2) {
		int8_t delta = (int8_t)table[i + 1];
		bool has_line = delta != -128;

		start = end;
		end += table[i];
		if (has_line)
			line += delta;
		if (offset >= start && offset < end)
			return has_line && line > 0 && line <= INT32_MAX ? (int)line : 0;
	}
	return 0;
}
