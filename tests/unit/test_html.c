/* The HTML report's history and data (the page itself: tests/test_e2e_html.py). */
#include <stdlib.h>
#include <json-c/json.h>
#include "heap_history.h"
#include "output_html.h"
#include "unit.h"

TEST(heap_history_keeps_every_interval_until_full)
{
	struct heap_history *h = calloc(1, sizeof(*h));

	for (int i = 0; i < HEAP_HISTORY_POINTS; i++)
		heap_history_add(h, i + 1, i * 10);
	CHECK_INT(h->count, HEAP_HISTORY_POINTS);
	CHECK_INT(h->stride, 1);
	CHECK_INT(h->points[7].bytes, 70);
	CHECK(h->points[7].elapsed_s == 8);
	free(h);
}

/* Past the room, pairs merge: each point keeps the last value of its
 * intervals and their least and most; memory stays bounded. */
TEST(heap_history_merges_pairs_when_full)
{
	struct heap_history *h = calloc(1, sizeof(*h));
	const int n = 3 * HEAP_HISTORY_POINTS + 5;

	/* A saw tooth: up by 1 each interval, back to 0 every 8. */
	for (int i = 0; i < n; i++)
		heap_history_add(h, i + 1, i % 8);
	CHECK_INT(h->intervals, n);
	CHECK_INT(h->stride, 4);
	/* 3N+5 intervals of 4 per point: 3N/4 complete points and a partial one. */
	CHECK_INT(h->count, 3 * HEAP_HISTORY_POINTS / 4 + 2);
	CHECK(h->count <= HEAP_HISTORY_POINTS);
	for (size_t i = 0; i + 1 < h->count; i++) { /* intervals 4i+1 .. 4i+4 */
		const struct heap_point *p = &h->points[i];

		CHECK(p->elapsed_s == 4.0 * i + 4);
		CHECK_INT(p->bytes, (4 * i + 3) % 8);
		CHECK_INT(p->min_bytes, (4 * i) % 8);
		CHECK_INT(p->max_bytes, (4 * i + 3) % 8);
	}
	/* The last point has the newest interval. */
	CHECK(h->points[h->count - 1].elapsed_s == n);
	CHECK_INT(h->points[h->count - 1].bytes, (n - 1) % 8);
	free(h);
}

static struct frame html_frames[] = {
	{ "malloc", NULL, 0, "/lib/libc.so.6", 1 },
	{ "</script><script>alert(1)</script><!--", "/src/<b>.py", 3, NULL, 0, FRAME_PYTHON },
	{ "main", "/src/app.c", 20, "/bin/app", 3 },
};

TEST(html_data_is_json_with_no_markup_and_frames_once)
{
	const struct frame *a[] = { &html_frames[0], &html_frames[1], &html_frames[2] };
	const struct frame *b[] = { &html_frames[0], &html_frames[2] };
	struct report_stack stacks[] = { { 0xaa, 3000, 3, 100, a, 3 }, { 0xbb, 2000, 2, 50, b, 2 } };
	struct report r = { .pid = 42, .comm = "<app>", .bytes = 5000, .allocs = 5, .nstacks = 2,
			    .stacks = stacks, .count = 2 };
	struct heap_history h;
	struct html_input in = { &r, 1, &h, NULL, "leaktop 1" };
	json_object *o, *v, *s;
	char *data;

	heap_history_init(&h);
	heap_history_add(&h, 1, 4000);
	heap_history_add(&h, 2, 5000);
	data = html_data_json(&in);
	CHECK(data && !strchr(data, '<'));
	o = json_tokener_parse(data);
	CHECK(o != NULL);
	/* Frames once each, in first use order; stacks point at them. */
	CHECK(json_object_object_get_ex(o, "frames", &v) && json_object_array_length(v) == 3);
	CHECK(strcmp(json_object_get_string(json_object_object_get(json_object_array_get_idx(v, 1), "function")),
		     "</script><script>alert(1)</script><!--") == 0);
	CHECK(strcmp(json_object_get_string(json_object_object_get(json_object_array_get_idx(v, 2), "label")),
		     "main (app.c:20)") == 0);
	CHECK(json_object_object_get_ex(o, "stacks", &v) && json_object_array_length(v) == 2);
	s = json_object_array_get_idx(v, 1);
	CHECK(strcmp(json_object_get_string(json_object_object_get(s, "id")), "00000000000000bb") == 0);
	CHECK_INT(json_object_get_int(json_object_array_get_idx(json_object_object_get(s, "frames"), 1)), 2);
	CHECK_INT(json_object_get_int(json_object_object_get(s, "top")), 1);
	CHECK_INT(json_object_get_int64(json_object_object_get(o, "outstanding_bytes")), 5000);
	CHECK_INT(json_object_get_int(json_object_object_get(o, "table_rows")), 1);
	CHECK(strcmp(json_object_get_string(json_object_object_get(o, "comm")), "<app>") == 0);
	CHECK(json_object_object_get_ex(o, "history", &v));
	CHECK_INT(json_object_get_int64(json_object_array_get_idx(json_object_object_get(v, "bytes"), 1)), 5000);
	json_object_put(o);
	free(data);
}

/* The page: one data element, then the script; nothing from the data can
 * close either. */
TEST(html_page_has_the_data_in_one_script_element)
{
	const struct frame *a[] = { &html_frames[1] };
	struct report_stack stack = { 0xaa, 3000, 3, 100, a, 1 };
	struct report r = { .pid = 1, .bytes = 3000, .allocs = 3, .stacks = &stack, .count = 1 };
	struct html_input in = { &r, 1, NULL, NULL, "leaktop 1" };
	char *data = html_data_json(&in), *page = NULL, *p;
	size_t len = 0, closes = 0;
	FILE *f = open_memstream(&page, &len);

	html_format(f, data);
	fclose(f);
	for (p = page; (p = strstr(p, "</script>")); p++)
		closes++;
	CHECK_INT(closes, 2);
	CHECK(strstr(page, "<script type=\"application/json\" id=\"leaktop-data\">{") != NULL);
	CHECK(strstr(page, "Content-Security-Policy") != NULL);
	free(page);
	free(data);
}
