/* Interned frames: one copy per distinct frame, strings owned by the table. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "frame_table.h"
#include "unit.h"

TEST(equal_frames_are_stored_once)
{
	struct frame_table *t = frame_table_new();
	char name[] = "handler", file[] = "/src/app.c";
	struct frame a = { name, file, 10, "/bin/app", 0x100, FRAME_NATIVE };
	struct frame same = { "handler", "/src/app.c", 10, "/bin/app", 0x100, FRAME_NATIVE };
	uint32_t id = frame_table_intern(t, &a);
	const struct frame *copy = frame_table_get(t, id);

	CHECK(id != FRAME_ID_NONE && copy != &a);
	CHECK(frame_table_intern(t, &same) == id); /* equal content, other pointers */
	CHECK(frame_table_count(t) == 1);
	/* The table keeps its own strings: the caller's may go away. */
	CHECK(copy->function != name && copy->file != file);
	memset(name, 'x', sizeof(name) - 1);
	CHECK_STR(copy->function, "handler");
	CHECK_STR(copy->file, "/src/app.c");
	CHECK(copy->line == 10 && copy->offset == 0x100 && copy->kind == FRAME_NATIVE);
	frame_table_free(t);
}

TEST(frames_differing_in_any_field_are_distinct)
{
	struct frame_table *t = frame_table_new();
	struct frame base = { "f", "f.c", 3, "/bin/x", 0x10, FRAME_NATIVE };
	struct frame variants[] = {
		{ "g", "f.c", 3, "/bin/x", 0x10, FRAME_NATIVE },
		{ "f", "g.c", 3, "/bin/x", 0x10, FRAME_NATIVE },
		{ "f", "f.c", 4, "/bin/x", 0x10, FRAME_NATIVE },
		{ "f", "f.c", 3, "/bin/y", 0x10, FRAME_NATIVE },
		{ "f", "f.c", 3, "/bin/x", 0x14, FRAME_NATIVE },
		{ "f", "f.c", 3, "/bin/x", 0x10, FRAME_PYTHON },
		{ NULL, "f.c", 3, "/bin/x", 0x10, FRAME_NATIVE },
		{ "f", NULL, 3, "/bin/x", 0x10, FRAME_NATIVE },
		{ "f", "f.c", 3, NULL, 0x10, FRAME_NATIVE },
		{ "", "f.c", 3, "/bin/x", 0x10, FRAME_NATIVE },
		{ "f", "f.c", 3, "/bin/x", 0x10, FRAME_NATIVE, "0123abcd" }, /* another build of it */
	};
	uint32_t base_id = frame_table_intern(t, &base);
	size_t n = sizeof(variants) / sizeof(variants[0]);

	for (size_t i = 0; i < n; i++) {
		uint32_t id = frame_table_intern(t, &variants[i]);

		CHECK(id != FRAME_ID_NONE && id != base_id);
		CHECK(frame_table_intern(t, &variants[i]) == id);
		CHECK((frame_table_get(t, id)->function == NULL) == (variants[i].function == NULL));
	}
	CHECK(frame_table_count(t) == n + 1);
	CHECK(frame_table_intern(t, &base) == base_id);
	frame_table_free(t);
}

TEST(interned_frames_stay_put_as_the_table_grows)
{
	struct frame_table *t = frame_table_new();
	enum { N = 20000 }; /* several chunks, several rehashes */
	const struct frame **seen = calloc(N, sizeof(*seen));
	uint32_t *ids = calloc(N, sizeof(*ids));
	char name[32];

	for (int i = 0; i < N; i++) {
		struct frame f = { name, "f.c", i, "/bin/x", (uint64_t)i, FRAME_NATIVE };

		snprintf(name, sizeof(name), "fn%d", i % 100); /* names shared */
		ids[i] = frame_table_intern(t, &f);
		CHECK(ids[i] != FRAME_ID_NONE);
		seen[i] = frame_table_get(t, ids[i]);
	}
	CHECK(frame_table_count(t) == N);
	for (int i = 0; i < N; i++) {
		struct frame f = { name, "f.c", i, "/bin/x", (uint64_t)i, FRAME_NATIVE };

		snprintf(name, sizeof(name), "fn%d", i % 100);
		CHECK(frame_table_intern(t, &f) == ids[i]);
		CHECK(frame_table_get(t, ids[i]) == seen[i]); /* never moved */
		CHECK(seen[i]->line == i);
	}
	/* 100 names, one file, one object: each string once. */
	CHECK(seen[0]->function == seen[100]->function);
	free(seen);
	free(ids);
	frame_table_free(t);
}

TEST(frames_are_freed_with_their_last_reference_and_the_rest_stay_found)
{
	struct frame_table *t = frame_table_new();
	enum { N = 5000 };
	uint32_t *ids = calloc(N, sizeof(*ids));
	char name[32], file[32];
	bool all_found = true;

	for (int round = 0; round < 2; round++)
		for (int i = 0; i < N; i++) {
			struct frame f = { name, file, i, "/bin/x", 0, FRAME_NATIVE };

			snprintf(name, sizeof(name), "fn%d", i);
			snprintf(file, sizeof(file), "f%d.c", i % 7);
			ids[i] = frame_table_intern(t, &f); /* two references each */
		}
	CHECK_INT(frame_table_count(t), N);
	/* Every third frame loses both references, the others one. */
	for (int i = 0; i < N; i++) {
		frame_table_put(t, ids[i]);
		if (i % 3 == 0)
			frame_table_put(t, ids[i]);
	}
	CHECK_INT(frame_table_count(t), N - (N + 2) / 3);
	for (int i = 0; i < N; i++) {
		struct frame f = { name, file, i, "/bin/x", 0, FRAME_NATIVE };
		uint32_t id;

		snprintf(name, sizeof(name), "fn%d", i);
		snprintf(file, sizeof(file), "f%d.c", i % 7);
		id = frame_table_intern(t, &f);
		/* The survivors keep their ids; the others come back under freed ones. */
		all_found &= i % 3 ? id == ids[i] : id < N;
		all_found &= strcmp(frame_table_get(t, id)->function, name) == 0;
		all_found &= strcmp(frame_table_get(t, id)->file, file) == 0;
	}
	CHECK(all_found);
	CHECK_INT(frame_table_count(t), N);
	free(ids);
	frame_table_free(t); /* LeakSanitizer: no string left behind */
}
