/* Prometheus exposition and folded stacks, formatted into memory. */
#include <stdlib.h>
#include "output_folded.h"
#include "output_prom.h"
#include "unit.h"

static struct frame frames_a[] = { { "malloc", NULL, 0, "/lib/libc.so.6", 1 },
				   { "leak", "/src/app.c", 10, "/bin/app", 2 },
				   { "main", "/src/app.c", 20, "/bin/app", 3 } };
static struct frame frames_b[] = { { "malloc", NULL, 0, "/lib/libc.so.6", 1 },
				   { "we\"ird;name", NULL, 0, "/bin/app", 4 } };
static struct frame frames_c[] = { { "calloc", NULL, 0, "/lib/libc.so.6", 5 },
				   { NULL, NULL, 0, "/lib/libx.so", 0x42 } };

static const struct frame *ptrs_a[] = { &frames_a[0], &frames_a[1], &frames_a[2] };
static const struct frame *ptrs_b[] = { &frames_b[0], &frames_b[1] };
static const struct frame *ptrs_c[] = { &frames_c[0], &frames_c[1] };

static struct report sample_report(struct report_stack *stacks)
{
	stacks[0] = (struct report_stack){ 0xaaULL, 3000, 3, 100.5, ptrs_a, 3 };
	stacks[1] = (struct report_stack){ 0xbbULL, 2000, 2, 50, ptrs_b, 2 };
	stacks[2] = (struct report_stack){ 0xccULL, 1000, 1, 0, ptrs_c, 2 };
	return (struct report){ .pid = 42, .comm = "a\"p\\p", .bytes = 6500, .allocs = 7,
				.growth = 160, .lost_events = 2, .stacks = stacks, .count = 3 };
}

static char *render_prom(const struct report *r, size_t top)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	prom_format(f, r, top);
	fclose(f);
	return buf;
}

TEST(prom_top_stacks_and_other_add_up)
{
	struct report_stack stacks[3];
	struct report r = sample_report(stacks);
	char *text = render_prom(&r, 2);

	CHECK(strstr(text, "# TYPE leaktop_outstanding_bytes gauge\n") != NULL);
	CHECK(strstr(text, "# TYPE leaktop_lost_events_total counter\n") != NULL);
	CHECK(strstr(text, "leaktop_outstanding_bytes{pid=\"42\",comm=\"a\\\"p\\\\p\"} 6500\n") != NULL);
	CHECK(strstr(text, "stack_id=\"00000000000000aa\",top_frame=\"leak (app.c:10)\"} 3000\n") != NULL);
	CHECK(strstr(text, "stack_id=\"00000000000000bb\",top_frame=\"we\\\"ird;name\"} 2000\n") != NULL);
	/* The third stack and the untracked remainder go to "other": 6500-3000-2000. */
	CHECK(strstr(text, "00000000000000cc") == NULL);
	CHECK(strstr(text, "leaktop_stack_outstanding_bytes{pid=\"42\",comm=\"a\\\"p\\\\p\",stack_id=\"other\",top_frame=\"other\"} 1500\n") != NULL);
	CHECK(strstr(text, "leaktop_stack_growth_bytes_per_second{pid=\"42\",comm=\"a\\\"p\\\\p\",stack_id=\"other\",top_frame=\"other\"} 9.5\n") != NULL);
	CHECK(strstr(text, "leaktop_lost_events_total{pid=\"42\",comm=\"a\\\"p\\\\p\"} 2\n") != NULL);
	free(text);
}

TEST(prom_top_zero_puts_everything_in_other)
{
	struct report_stack stacks[3];
	struct report r = sample_report(stacks);
	char *text = render_prom(&r, 0);

	CHECK(strstr(text, "00000000000000aa") == NULL);
	CHECK(strstr(text, "stack_id=\"other\",top_frame=\"other\"} 6500\n") != NULL);
	free(text);
}

TEST(folded_lines_are_outermost_first_and_sum_up)
{
	struct report_stack stacks[3];
	struct report r = sample_report(stacks);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	folded_format(f, &r);
	fclose(f);
	CHECK_STR(buf, "main (app.c:20);leak (app.c:10);malloc 3000\n"
		       "we\"ird:name;malloc 2000\n"
		       "libx.so+0x42;calloc 1000\n");
	free(buf);
}
