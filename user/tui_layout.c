/* TUI layout: every line is built to exactly the terminal's width, so nothing
 * wraps, whatever the frame names. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "tui_layout.h"

void tui_columns_for_width(int width, struct tui_columns *c)
{
	memset(c, 0, sizeof(*c));
	c->rank = 3;
	c->growth = 12;
	c->bytes = 12;
	if (width >= 60)
		c->allocs = 8;
	if (width >= 72)
		c->trend = 8;
	/* Columns are separated by one space; the frame takes the rest. */
	c->frame = width - c->rank - (c->growth + 1) - (c->bytes + 1) -
		   (c->allocs ? c->allocs + 1 : 0) - (c->trend ? c->trend + 1 : 0) - 1;
	if (c->frame < 0)
		c->frame = 0;
}

static bool is_continuation(unsigned char byte)
{
	return (byte & 0xc0) == 0x80;
}

int tui_display_width(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += !is_continuation((unsigned char)*s);
	return n;
}

void tui_truncate(char *buf, size_t len, const char *s, int width, bool utf8)
{
	const char *ellipsis = utf8 ? "…" : "...";
	int ellipsis_width = utf8 ? 1 : 3, cols = 0;
	size_t out = 0;

	if (!len)
		return;
	buf[0] = '\0';
	if (width <= 0)
		return;
	if (tui_display_width(s) <= width) {
		snprintf(buf, len, "%s", s);
		return;
	}
	if (width <= ellipsis_width) {
		snprintf(buf, len, "%.*s", utf8 ? (int)strlen(ellipsis) : width, ellipsis);
		return;
	}
	/* Copy whole code points while they leave room for the ellipsis. */
	while (*s && cols < width - ellipsis_width) {
		size_t n = 1;

		while (s[n] && is_continuation((unsigned char)s[n]))
			n++;
		if (out + n + strlen(ellipsis) + 1 > len)
			break;
		memcpy(buf + out, s, n);
		out += n;
		s += n;
		cols++;
	}
	snprintf(buf + out, len - out, "%s", ellipsis);
}

void tui_sparkline(char *buf, size_t len, const double *v, size_t n, int width, bool utf8)
{
	static const char *const bars[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
	static const char ascii[] = " .-=+*#%";
	double lo = INFINITY, hi = -INFINITY;
	size_t first = n > (size_t)width ? n - (size_t)width : 0, out = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (size_t i = first; i < n; i++) {
		lo = fmin(lo, v[i]);
		hi = fmax(hi, v[i]);
	}
	for (size_t i = first; i < n && out + 4 < len; i++) {
		int level = hi > lo ? (int)lrint((v[i] - lo) / (hi - lo) * 7) : 0;

		if (utf8) {
			memcpy(buf + out, bars[level], 3);
			out += 3;
		} else {
			buf[out++] = ascii[level];
		}
	}
	buf[out] = '\0';
}

/* s, padded with spaces or cut to exactly `width` columns, appended to buf. */
static void cell(char *buf, size_t len, const char *s, int width, bool right, bool utf8)
{
	char cut[1024];
	size_t used = strlen(buf);
	int pad;

	if (width <= 0)
		return;
	tui_truncate(cut, sizeof(cut), s, width, utf8);
	pad = width - tui_display_width(cut);
	snprintf(buf + used, len - used, "%*s%s%*s", right ? pad : 0, "", cut, right ? 0 : pad, "");
}

static void separator(char *buf, size_t len, int width)
{
	if (width > 0)
		strncat(buf, " ", len - strlen(buf) - 1);
}

void tui_format_titles(char *buf, size_t len, const struct tui_columns *c, const char *sort_name,
		       bool utf8)
{
	char growth[16], bytes[16], allocs[16];

	/* The sort column is marked with a '*'. */
	snprintf(growth, sizeof(growth), "%sGROWTH/s", strcmp(sort_name, "growth") ? "" : "*");
	snprintf(bytes, sizeof(bytes), "%sOUTSTANDING", strcmp(sort_name, "outstanding") ? "" : "*");
	snprintf(allocs, sizeof(allocs), "%sALLOCS", strcmp(sort_name, "count") ? "" : "*");
	buf[0] = '\0';
	cell(buf, len, "#", c->rank, true, utf8);
	separator(buf, len, c->growth);
	cell(buf, len, growth, c->growth, true, utf8);
	separator(buf, len, c->bytes);
	cell(buf, len, bytes, c->bytes, true, utf8);
	separator(buf, len, c->allocs);
	cell(buf, len, allocs, c->allocs, true, utf8);
	separator(buf, len, c->trend);
	cell(buf, len, "TREND", c->trend, false, utf8);
	separator(buf, len, c->frame + 1);
	cell(buf, len, "WHERE", c->frame, false, utf8);
}

void tui_format_row(char *buf, size_t len, const struct tui_columns *c, int rank,
		    const struct report_stack *s, const char *trend, bool utf8)
{
	char text[512], label[512];
	const struct frame *top = report_top_frame(s);

	buf[0] = '\0';
	snprintf(text, sizeof(text), "%d", rank);
	cell(buf, len, text, c->rank, true, utf8);
	separator(buf, len, c->growth);
	cell(buf, len, format_rate(text, sizeof(text), s->growth), c->growth, true, utf8);
	separator(buf, len, c->bytes);
	cell(buf, len, format_bytes(text, sizeof(text), (double)s->bytes), c->bytes, true, utf8);
	separator(buf, len, c->allocs);
	snprintf(text, sizeof(text), "%lld", (long long)s->allocs);
	cell(buf, len, text, c->allocs, true, utf8);
	separator(buf, len, c->trend);
	cell(buf, len, trend ? trend : "", c->trend, false, utf8);
	separator(buf, len, c->frame + 1);
	cell(buf, len, top ? format_frame(label, sizeof(label), top) : "[no frames]", c->frame, false,
	     utf8);
}
