/* The HTML report: data built with json-c, page assembled around it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "atomic_file.h"
#include "errors.h"
#include "html_assets.h"
#include "id_map.h"
#include "output_html.h"
#include "output_json.h"

/* Frames are interned (frame_table): equal frames are one pointer.  Each
 * gets an index into the "frames" array on its first use. */
struct frame_index {
	struct id_map seen;	/* frame pointer -> index + 1 */
	json_object *frames;
	size_t count;
};

static int frame_index_of(struct frame_index *fi, const struct frame *f)
{
	uint64_t known = id_map_get(&fi->seen, (uint64_t)(uintptr_t)f);
	json_object *o;
	char label[512];

	if (known)
		return (int)(known - 1);
	if (id_map_set(&fi->seen, (uint64_t)(uintptr_t)f, fi->count + 1))
		return -1;
	o = report_frame_json(f);
	json_object_object_add(o, "label", json_object_new_string(format_frame(label, sizeof(label), f)));
	json_object_array_add(fi->frames, o);
	return (int)fi->count++;
}

static json_object *history_json(const struct heap_history *h)
{
	json_object *o = json_object_new_object(), *t = json_object_new_array(),
		    *bytes = json_object_new_array(), *min = json_object_new_array(),
		    *max = json_object_new_array();

	for (size_t i = 0; h && i < h->count; i++) {
		const struct heap_point *p = &h->points[i];

		json_object_array_add(t, json_object_new_double(p->elapsed_s));
		json_object_array_add(bytes, json_object_new_int64(p->bytes));
		json_object_array_add(min, json_object_new_int64(p->min_bytes));
		json_object_array_add(max, json_object_new_int64(p->max_bytes));
	}
	json_object_object_add(o, "intervals_per_point", json_object_new_uint64(h && h->stride ? h->stride : 1));
	json_object_object_add(o, "intervals", json_object_new_uint64(h ? h->intervals : 0));
	json_object_object_add(o, "elapsed_s", t);
	json_object_object_add(o, "bytes", bytes);
	json_object_object_add(o, "min_bytes", min);
	json_object_object_add(o, "max_bytes", max);
	return o;
}

static json_object *stack_json(const struct report_stack *s, struct frame_index *fi)
{
	json_object *o = json_object_new_object(), *frames = json_object_new_array();
	const struct frame *top = report_top_frame(s);
	int top_at = -1;

	report_stack_json_figures(o, s);
	for (int i = 0; i < s->nframes; i++) {
		int index = frame_index_of(fi, s->frames[i]);

		if (index < 0) {
			json_object_put(frames);
			json_object_put(o);
			return NULL;
		}
		json_object_array_add(frames, json_object_new_int(index));
		if (s->frames[i] == top && top_at < 0)
			top_at = i;
	}
	json_object_object_add(o, "frames", frames);
	json_object_object_add(o, "top", top_at >= 0 ? json_object_new_int(top_at) : NULL);
	return o;
}

static json_object *trends_json(const struct html_input *in, size_t rows)
{
	json_object *trends = json_object_new_array();
	double recent[HTML_TREND_POINTS];

	for (size_t i = 0; i < rows; i++) {
		json_object *t = json_object_new_array();
		size_t n = in->model ? model_recent(in->model, in->report->stacks[i].id, recent,
						    HTML_TREND_POINTS) : 0;

		for (size_t j = 0; j < n; j++)
			json_object_array_add(t, json_object_new_int64((int64_t)recent[j]));
		json_object_array_add(trends, t);
	}
	return trends;
}

/* The JSON text with every '<' as \u003c: '<' only occurs inside strings
 * there, where the escape means the same. */
static char *escape_for_script(const char *json)
{
	size_t n = 0, len = strlen(json);
	char *out, *w;

	for (const char *c = json; *c; c++)
		n += *c == '<';
	out = malloc(len + n * 5 + 1);
	if (!out)
		return NULL;
	w = out;
	for (const char *c = json; *c; c++) {
		if (*c == '<') {
			memcpy(w, "\\u003c", 6);
			w += 6;
		} else {
			*w++ = *c;
		}
	}
	*w = '\0';
	return out;
}

char *html_data_json(const struct html_input *in)
{
	const struct report *r = in->report;
	struct frame_index fi = { .frames = json_object_new_array() };
	json_object *o = json_object_new_object(), *stacks = json_object_new_array();
	size_t rows = in->table_rows < r->count ? in->table_rows : r->count;
	char *text = NULL;
	bool ok = true;

	json_object_object_add(o, "leaktop", json_object_new_string(in->version ? in->version : ""));
	report_json_header(o, r);
	json_object_object_add(o, "stacks_held", json_object_new_uint64(r->nstacks));
	json_object_object_add(o, "history", history_json(in->history));
	for (size_t i = 0; i < r->count && ok; i++) {
		json_object *s = stack_json(&r->stacks[i], &fi);

		ok = s != NULL;
		json_object_array_add(stacks, s);
	}
	json_object_object_add(o, "frames", fi.frames);
	json_object_object_add(o, "stacks", stacks);
	json_object_object_add(o, "table_rows", json_object_new_uint64(rows));
	json_object_object_add(o, "trends", trends_json(in, rows));
	if (ok)
		text = escape_for_script(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
									  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	id_map_free(&fi.seen);
	return text;
}

void html_format(FILE *out, const char *data)
{
	/* The policy keeps the page off the network whatever it holds. */
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<title>leaktop report</title>\n<style>\n", out);
	fwrite(html_report_css, 1, html_report_css_len, out);
	fputs("</style>\n</head>\n<body>\n<noscript>This report is drawn by its script: "
	      "open it in a browser with JavaScript on.</noscript>\n"
	      "<script type=\"application/json\" id=\"leaktop-data\">", out);
	fputs(data, out);
	fputs("</script>\n<script>\n", out);
	fwrite(html_report_js, 1, html_report_js_len, out);
	fputs("</script>\n</body>\n</html>\n", out);
}

static void fill(FILE *out, const void *data)
{
	html_format(out, data);
}

int html_write(const char *path, const struct html_input *in, char *err, size_t errlen)
{
	char *data = html_data_json(in);
	int e;

	if (!data)
		return fail(err, errlen, "cannot write %s: %s", path, strerror(ENOMEM));
	e = write_file_atomically(path, fill, data, err, errlen);
	free(data);
	return e;
}
