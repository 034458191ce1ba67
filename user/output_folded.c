/* The folded-stacks view. */
#include <string.h>
#include "atomic_file.h"
#include "output_folded.h"

/* ';' separates frames and the last space separates the count: keep both out
 * of frame labels (C++ names such as "operator new(unsigned long)" keep
 * their inner spaces, which the readers accept). */
static void frame_label(FILE *out, const struct frame *f)
{
	char label[512];

	format_frame(label, sizeof(label), f);
	for (char *c = label; *c; c++)
		if (*c == ';' || *c == '\n')
			*c = ':';
	fputs(label, out);
}

void folded_format(FILE *out, const struct report *r)
{
	for (size_t i = 0; i < r->count; i++) {
		const struct report_stack *s = &r->stacks[i];

		if (s->bytes <= 0)
			continue;
		for (int j = s->nframes - 1; j >= 0; j--) {
			frame_label(out, s->frames[j]);
			if (j)
				fputc(';', out);
		}
		if (!s->nframes)
			fputs("[unknown]", out);
		fprintf(out, " %lld\n", (long long)s->bytes);
	}
}

static void fill(FILE *out, const void *r)
{
	folded_format(out, r);
}

int folded_write(const char *path, const struct report *r, char *err, size_t errlen)
{
	return write_file_atomically(path, fill, r, err, errlen);
}
