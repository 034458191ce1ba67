/* The pprof profile of a small report, gunzipped by zlib and unpacked by
 * protobuf-c's decoder: what each table holds, stored once each. */
#include <stdlib.h>
#include <zlib.h>
#include "output_pprof.h"
#include "profile.pb-c.h"
#include "unit.h"

static struct frame leak_frames[] = {
	{ "malloc", "malloc.c", 3281, "/lib/libc.so.6", 0x100, FRAME_NATIVE, "aa11" },
	{ "leak", "/src/app.c", 10, "/bin/app", 0x2000, FRAME_NATIVE, "bb22" },
	{ "main", "/src/app.c", 20, "/bin/app", 0x3000, FRAME_NATIVE, "bb22" },
};
static struct frame py_frames[] = {
	{ "malloc", "malloc.c", 3281, "/lib/libc.so.6", 0x100, FRAME_NATIVE, "aa11" },
	{ "<module>", "/srv/app.py", 7, NULL, 0, FRAME_PYTHON, NULL },
	{ NULL, NULL, 0, "/lib/libx.so", 0x42, FRAME_NATIVE, NULL }, /* unnamed */
};
static const struct frame *leak_ptrs[] = { &leak_frames[0], &leak_frames[1], &leak_frames[2] };
static const struct frame *py_ptrs[] = { &py_frames[0], &py_frames[1], &py_frames[2] };

static Perftools__Profiles__Profile *encode_and_decode(void)
{
	static struct report_stack stacks[2];
	struct report r = { .time = 1700000000.25, .pid = 42, .comm = "app", .elapsed_s = 3,
			    .stacks = stacks, .count = 2 };
	unsigned char *gz = NULL, plain[1 << 16];
	size_t len = 0;
	uLongf plain_len = sizeof(plain);
	z_stream z = { 0 };
	char err[128];

	stacks[0] = (struct report_stack){ 0x1234, 3000, 3, 2.6, leak_ptrs, 3 };
	stacks[1] = (struct report_stack){ 0xabcd, 0, 0, -2.6, py_ptrs, 3 };
	CHECK(pprof_encode(&r, &gz, &len, err, sizeof(err)) == 0);
	CHECK(len > 2 && gz[0] == 0x1f && gz[1] == 0x8b); /* gzip */
	CHECK(inflateInit2(&z, 15 + 16) == Z_OK);
	z.next_in = gz;
	z.avail_in = (uInt)len;
	z.next_out = plain;
	z.avail_out = (uInt)plain_len;
	CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END);
	plain_len = z.total_out;
	inflateEnd(&z);
	free(gz);
	return perftools__profiles__profile__unpack(NULL, plain_len, plain);
}

static const char *str(const Perftools__Profiles__Profile *p, int64_t i)
{
	return i >= 0 && (size_t)i < p->n_string_table ? p->string_table[i] : "(out of range)";
}

static const Perftools__Profiles__Location *location(const Perftools__Profiles__Profile *p, uint64_t id)
{
	for (size_t i = 0; i < p->n_location; i++)
		if (p->location[i]->id == id)
			return p->location[i];
	return NULL;
}

static const Perftools__Profiles__Mapping *mapping(const Perftools__Profiles__Profile *p, uint64_t id)
{
	for (size_t i = 0; i < p->n_mapping; i++)
		if (p->mapping[i]->id == id)
			return p->mapping[i];
	return NULL;
}

static const Perftools__Profiles__Function *function(const Perftools__Profiles__Profile *p, uint64_t id)
{
	for (size_t i = 0; i < p->n_function; i++)
		if (p->function[i]->id == id)
			return p->function[i];
	return NULL;
}

TEST(pprof_sample_types_values_and_labels)
{
	Perftools__Profiles__Profile *p = encode_and_decode();

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_STR(str(p, 0), "");
	CHECK_INT(p->n_sample_type, 3);
	CHECK_STR(str(p, p->sample_type[0]->type), "inuse_space");
	CHECK_STR(str(p, p->sample_type[0]->unit), "bytes");
	CHECK_STR(str(p, p->sample_type[1]->type), "inuse_objects");
	CHECK_STR(str(p, p->sample_type[1]->unit), "count");
	CHECK_STR(str(p, p->sample_type[2]->type), "growth_space");
	CHECK_STR(str(p, p->sample_type[2]->unit), "bytes_per_second");
	CHECK_STR(str(p, p->default_sample_type), "inuse_space");
	CHECK_INT(p->time_nanos, 1700000000250000000LL);
	CHECK_INT(p->duration_nanos, 3000000000LL);
	CHECK_INT(p->n_sample, 2);
	CHECK_INT(p->sample[0]->n_value, 3);
	CHECK_INT(p->sample[0]->value[0], 3000);
	CHECK_INT(p->sample[0]->value[1], 3);
	CHECK_INT(p->sample[0]->value[2], 3);	/* 2.6 B/s, rounded */
	CHECK_INT(p->sample[1]->value[2], -3);	/* shrinking */
	CHECK_INT(p->sample[0]->n_label, 1);
	CHECK_STR(str(p, p->sample[0]->label[0]->key), "stack_id");
	CHECK_STR(str(p, p->sample[0]->label[0]->str), "0000000000001234");
	perftools__profiles__profile__free_unpacked(p, NULL);
}

TEST(pprof_frames_functions_and_mappings_stored_once)
{
	Perftools__Profiles__Profile *p = encode_and_decode();
	const Perftools__Profiles__Location *l;
	const Perftools__Profiles__Mapping *m;
	const Perftools__Profiles__Function *f;

	CHECK(p != NULL);
	if (!p)
		return;
	/* Innermost first; the two stacks share their malloc location. */
	CHECK_INT(p->sample[0]->n_location_id, 3);
	CHECK_INT(p->sample[1]->n_location_id, 3);
	CHECK(p->sample[0]->location_id[0] == p->sample[1]->location_id[0]);
	CHECK_INT(p->n_location, 5);
	/* libc, app, [python], libx: the program first. */
	CHECK_INT(p->n_mapping, 4);
	CHECK_STR(str(p, p->mapping[0]->filename), "/bin/app");
	CHECK_STR(str(p, p->mapping[0]->build_id), "bb22");
	CHECK(p->mapping[0]->has_functions && p->mapping[0]->has_filenames && p->mapping[0]->has_line_numbers);
	CHECK_INT(p->n_function, 4); /* malloc, leak, main, <module> */

	l = location(p, p->sample[0]->location_id[1]); /* leak */
	CHECK(l && l->address == 0x2000 && l->n_line == 1 && l->line[0]->line == 10);
	m = l ? mapping(p, l->mapping_id) : NULL;
	CHECK(m && strcmp(str(p, m->filename), "/bin/app") == 0 && m->memory_limit > 0x3000);
	f = l && l->n_line ? function(p, l->line[0]->function_id) : NULL;
	CHECK(f && strcmp(str(p, f->name), "leak") == 0 && strcmp(str(p, f->filename), "/src/app.c") == 0);
	CHECK(f && f->system_name == 0);

	l = location(p, p->sample[1]->location_id[1]); /* the Python frame */
	m = l ? mapping(p, l->mapping_id) : NULL;
	CHECK(m && strcmp(str(p, m->filename), "[python]") == 0 && m->build_id == 0);
	CHECK(l && l->address == 0 && l->n_line == 1 && l->line[0]->line == 7);
	f = l && l->n_line ? function(p, l->line[0]->function_id) : NULL;
	CHECK(f && strcmp(str(p, f->name), "<module>") == 0 && strcmp(str(p, f->filename), "/srv/app.py") == 0);

	l = location(p, p->sample[1]->location_id[2]); /* no name: by address only */
	m = l ? mapping(p, l->mapping_id) : NULL;
	CHECK(l && l->address == 0x42 && l->n_line == 0);
	CHECK(m && strcmp(str(p, m->filename), "/lib/libx.so") == 0 && m->build_id == 0);
	perftools__profiles__profile__free_unpacked(p, NULL);
}
