/* Human-readable units and frame labels. */
#include <math.h>
#include <string.h>
#include "report.h"

const char *format_bytes(char *buf, size_t len, double bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = fabs(bytes);
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%s%.0f B", bytes < 0 ? "-" : "", v);
	else
		snprintf(buf, len, "%s%.1f %s", bytes < 0 ? "-" : "", v, units[u]);
	return buf;
}

const char *format_rate(char *buf, size_t len, double bytes_per_s)
{
	char tmp[32];

	/* Below half a byte per second is noise from the estimator: show 0. */
	if (fabs(bytes_per_s) < 0.5)
		bytes_per_s = 0;
	snprintf(buf, len, "%s/s", format_bytes(tmp, sizeof(tmp), bytes_per_s));
	return buf;
}

const char *format_frame(char *buf, size_t len, const struct frame *f)
{
	const char *file;

	if (!f->function)
		return frame_fallback_name(f, buf, len);
	if (!f->file) {
		snprintf(buf, len, "%s", f->function);
		return buf;
	}
	file = strrchr(f->file, '/') ? strrchr(f->file, '/') + 1 : f->file;
	if (f->line > 0)
		snprintf(buf, len, "%s (%s:%d)", f->function, file, f->line);
	else
		snprintf(buf, len, "%s (%s)", f->function, file);
	return buf;
}

const struct frame *report_top_frame(const struct report_stack *s)
{
	const char *allocator;

	if (s->nframes == 0)
		return NULL;
	if (s->nframes == 1)
		return s->frames[0];
	allocator = s->frames[0]->object;
	for (int i = 1; i < s->nframes; i++) {
		const char *obj = s->frames[i]->object;

		if (!allocator || !obj || strcmp(obj, allocator) != 0)
			return s->frames[i];
	}
	return s->frames[1];
}
