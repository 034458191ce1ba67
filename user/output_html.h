/* A self-contained HTML report (--html): the heap over the session as a chart,
 * the fastest-growing stacks as a table with their recent trend, and an icicle
 * graph of outstanding bytes.  One file, no network: the figures are embedded
 * once as JSON, the page's script and style sheet (user/html/) inline. */
#ifndef LEAKTOP_OUTPUT_HTML_H
#define LEAKTOP_OUTPUT_HTML_H

#include <stddef.h>
#include "heap_history.h"
#include "model.h"
#include "report.h"

/* Points of a stack's trend: its latest outstanding bytes, from the model's
 * growth window. */
#define HTML_TREND_POINTS 60

struct html_input {
	const struct report *report;	/* every stack holding memory, ranked by growth */
	size_t table_rows;		/* the first ones go in the table */
	const struct heap_history *history;
	const struct model *model;	/* the trends (model_recent); NULL: none */
	const char *version;		/* "leaktop X.Y" */
};

/* The page's data: a JSON object with the figures of the JSON line (all but
 * "stacks"), "history", "frames" (each distinct frame once, with its "label"),
 * "stacks" (frames as indexes into "frames", innermost first; "top": the
 * index in the stack of its telling frame), "table_rows" and "trends".
 * Every '<' is written \u003c, so that no string can end the script element
 * it sits in.  malloc'd; NULL when out of memory. */
char *html_data_json(const struct html_input *in);

/* The whole page into out (data: html_data_json's). */
void html_format(FILE *out, const char *data);

/* Writes the page atomically (see atomic_file.h).  0, or -1 with a message. */
int html_write(const char *path, const struct html_input *in, char *err, size_t errlen);

#endif
