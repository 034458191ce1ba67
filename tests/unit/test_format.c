/* Units, frame labels, the telling frame, stack ids and the JSON line. */
#include <json-c/json.h>
#include <stdlib.h>
#include "report.h"
#include "stacks.h"
#include "unit.h"

TEST(format_bytes_uses_binary_units)
{
	char buf[32];

	CHECK_STR(format_bytes(buf, sizeof(buf), 0), "0 B");
	CHECK_STR(format_bytes(buf, sizeof(buf), 1023), "1023 B");
	CHECK_STR(format_bytes(buf, sizeof(buf), 1024), "1.0 KiB");
	CHECK_STR(format_bytes(buf, sizeof(buf), 1536), "1.5 KiB");
	CHECK_STR(format_bytes(buf, sizeof(buf), 10 << 20), "10.0 MiB");
	CHECK_STR(format_bytes(buf, sizeof(buf), 3.0 * (1 << 30)), "3.0 GiB");
	CHECK_STR(format_bytes(buf, sizeof(buf), -2048), "-2.0 KiB");
}

TEST(format_rate_hides_estimator_noise)
{
	char buf[32];

	CHECK_STR(format_rate(buf, sizeof(buf), 102400), "100.0 KiB/s");
	CHECK_STR(format_rate(buf, sizeof(buf), 0.2), "0 B/s");
	CHECK_STR(format_rate(buf, sizeof(buf), -0.3), "0 B/s");
}

TEST(format_frame_variants)
{
	struct frame full = { "leak", "/src/app/leak.c", 42, "/usr/bin/app", 0x1234 };
	struct frame noline = { "malloc", NULL, 0, "/lib/libc.so.6", 0x98930 };
	struct frame nameless = { NULL, NULL, 0, "/usr/lib/libfoo.so.1", 0xbeef };
	struct frame unknown = { 0 };
	char buf[128];

	CHECK_STR(format_frame(buf, sizeof(buf), &full), "leak (leak.c:42)");
	CHECK_STR(format_frame(buf, sizeof(buf), &noline), "malloc");
	CHECK_STR(format_frame(buf, sizeof(buf), &nameless), "libfoo.so.1+0xbeef");
	CHECK_STR(format_frame(buf, sizeof(buf), &unknown), "[unknown]");
}

TEST(top_frame_skips_the_allocators_own_wrappers)
{
	struct frame frames[] = {
		{ "malloc", NULL, 0, "/lib/libc.so.6", 1 },
		{ "strdup", NULL, 0, "/lib/libc.so.6", 2 },
		{ "load_config", "cfg.c", 10, "/usr/bin/app", 3 },
		{ "main", "main.c", 5, "/usr/bin/app", 4 },
	};
	const struct frame *ptrs[] = { &frames[0], &frames[1], &frames[2], &frames[3] };
	struct report_stack s = { .frames = ptrs, .nframes = 4 };

	CHECK_STR(report_top_frame(&s)->function, "load_config");
	s.nframes = 2; /* only libc frames: the caller is still the best */
	CHECK_STR(report_top_frame(&s)->function, "strdup");
	s.nframes = 0;
	CHECK(report_top_frame(&s) == NULL);
}

TEST(stack_id_depends_on_symbols_not_addresses)
{
	struct frame a[] = { { "malloc", NULL, 0, "/lib/libc.so.6", 0x100 },
			     { "f", "f.c", 3, "/bin/x", 0x200 } };
	struct frame b[] = { { "malloc", NULL, 0, "/lib/libc.so.6", 0x999 },
			     { "f", "f.c", 3, "/bin/x", 0x777 } };
	struct frame c[] = { { "malloc", NULL, 0, "/lib/libc.so.6", 0x100 },
			     { "f", "f.c", 4, "/bin/x", 0x200 } };

	const struct frame *pa[] = { &a[0], &a[1] }, *pb[] = { &b[0], &b[1] }, *pc[] = { &c[0], &c[1] };

	CHECK(stack_id_hash(pa, 2) == stack_id_hash(pb, 2));
	CHECK(stack_id_hash(pa, 2) != stack_id_hash(pc, 2));
	CHECK(stack_id_hash(pa, 2) != stack_id_hash(pa, 1));
	/* Without a name the offset is what identifies the frame. */
	struct frame f2[] = { { NULL, NULL, 0, "/bin/x", 0x200 }, { NULL, NULL, 0, "/bin/x", 0x200 } };
	struct frame g2[] = { { NULL, NULL, 0, "/bin/x", 0x200 }, { NULL, NULL, 0, "/bin/x", 0x204 } };

	const struct frame *pf[] = { &f2[0], &f2[1] }, *pg[] = { &g2[0], &g2[1] };

	CHECK(stack_id_hash(pf, 2) != stack_id_hash(pg, 2));
	/* Frame 0 is the allocator, known by name even when its place is not. */
	a[0].object = NULL;
	a[0].file = "malloc.c";
	CHECK(stack_id_hash(pa, 2) == stack_id_hash(pb, 2));
}

TEST(json_line_follows_the_contract)
{
	struct frame frames[] = { { "malloc", NULL, 0, "/lib/libc.so.6", 1 },
				  { "le\"ak", "a\\b.c", 7, "/bin/x", 2 } };
	const struct frame *ptrs[] = { &frames[0], &frames[1] };
	struct report_stack stack = { 0x9f3c2a1b00e4d5c6ULL, 1048576, 1, 2097152.0, ptrs, 2 };
	struct report r = { .time = 1732441234.5, .pid = 123, .comm = "x", .interval_s = 1,
			    .elapsed_s = 12, .bytes = 123456, .allocs = 789, .lost_events = 3,
			    .nstacks = 1, .stacks = &stack, .count = 1 };
	char *line = report_json(&r);
	json_object *o = json_tokener_parse(line), *s, *f, *v;

	CHECK(o != NULL);
	CHECK(strchr(line, '\n') == NULL);
	CHECK(json_object_object_get_ex(o, "outstanding_bytes", &v) && json_object_get_int64(v) == 123456);
	CHECK(json_object_object_get_ex(o, "lost_events", &v) && json_object_get_int64(v) == 3);
	CHECK(json_object_object_get_ex(o, "interval_s", &v) && json_object_is_type(v, json_type_double));
	CHECK(json_object_object_get_ex(o, "stacks", &v) && json_object_array_length(v) == 1);
	s = json_object_array_get_idx(v, 0);
	CHECK(json_object_object_get_ex(s, "id", &v));
	CHECK_STR(json_object_get_string(v), "9f3c2a1b00e4d5c6");
	CHECK(json_object_object_get_ex(s, "frames", &v));
	f = json_object_array_get_idx(v, 0);
	CHECK(json_object_object_get_ex(f, "file", &v) && v == NULL); /* null, not invented */
	CHECK(json_object_object_get_ex(f, "line", &v) && v == NULL);
	f = json_object_array_get_idx(json_object_object_get(s, "frames"), 1);
	CHECK_STR(json_object_get_string(json_object_object_get(f, "function")), "le\"ak");
	CHECK_STR(json_object_get_string(json_object_object_get(f, "file")), "a\\b.c");
	CHECK_INT(json_object_get_int(json_object_object_get(f, "line")), 7);
	CHECK_STR(json_object_get_string(json_object_object_get(f, "kind")), "native");
	json_object_put(o);
	free(line);
}
