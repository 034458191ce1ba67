/* The pprof view: a report as a perftools.profiles.Profile message (the C
 * code protobuf-c generates at build time from pprof's own profile.proto),
 * packed by protobuf-c and gzip-compressed by zlib.  Strings, functions,
 * mappings and locations are stored once each, found through search trees. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <search.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "atomic_file.h"
#include "errors.h"
#include "grow.h"
#include "output_pprof.h"
#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile pb_profile;
typedef Perftools__Profiles__ValueType pb_value_type;
typedef Perftools__Profiles__Sample pb_sample;
typedef Perftools__Profiles__Label pb_label;
typedef Perftools__Profiles__Mapping pb_mapping;
typedef Perftools__Profiles__Location pb_location;
typedef Perftools__Profiles__Line pb_line;
typedef Perftools__Profiles__Function pb_function;

/* The pseudo-mapping of every Python frame (docs/pprof.md): a viewer tells
 * Python frames from native ones by it.  pprof takes a name in brackets for
 * no file, as it does the kernel's [vdso]. */
#define PYTHON_MAPPING "[python]"
#define NVALUES 3
#define NCOMMENTS 4

struct string_entry {
	const char *text;
	int64_t index;
};

struct location_entry {
	pb_location location;	/* first: the entry is freed through it */
	pb_line line, *lines[1];
};

struct sample_entry {
	pb_sample sample;
	int64_t values[NVALUES];
	pb_label label, *labels[1];
	char id[17];
};

/* Messages stored once: found through the tree, listed in order of ids. */
struct table {
	void *tree;
	void **items;
	size_t n, cap;
};

struct builder {
	void *string_tree;
	char **strings;
	size_t nstrings, strings_cap;
	struct table functions, mappings, locations;
	bool failed;		/* out of memory */
};

static int compare_strings(const void *a, const void *b)
{
	return strcmp(((const struct string_entry *)a)->text, ((const struct string_entry *)b)->text);
}

static int compare_int64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int compare_functions(const void *a, const void *b)
{
	const pb_function *x = a, *y = b;
	int c = compare_int64(x->name, y->name);

	if (!c)
		c = compare_int64(x->filename, y->filename);
	return c ? c : compare_int64(x->system_name, y->system_name);
}

static int compare_mappings(const void *a, const void *b)
{
	const pb_mapping *x = a, *y = b;
	int c = compare_int64(x->filename, y->filename);

	return c ? c : compare_int64(x->build_id, y->build_id);
}

static int compare_uint64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int compare_locations(const void *a, const void *b)
{
	const struct location_entry *x = a, *y = b;
	int c = compare_uint64(x->location.mapping_id, y->location.mapping_id);

	if (!c)
		c = compare_uint64(x->location.address, y->location.address);
	if (!c)
		c = compare_uint64(x->line.function_id, y->line.function_id);
	return c ? c : compare_int64(x->line.line, y->line.line);
}

/* Index of text in the string table (added on first use); 0 ("") for NULL.
 * The text must outlive the builder. */
static int64_t string_index(struct builder *b, const char *text)
{
	struct string_entry probe = { text, 0 }, *e, **found;
	char **grown;

	if (!text || !*text)
		return 0;
	found = tfind(&probe, &b->string_tree, compare_strings);
	if (found)
		return (*found)->index;
	grown = grow_array(b->strings, &b->strings_cap, b->nstrings + 1, sizeof(*grown), 256);
	e = grown ? malloc(sizeof(*e)) : NULL;
	if (grown)
		b->strings = grown;
	if (e)
		*e = (struct string_entry){ text, (int64_t)b->nstrings };
	if (!e || !tsearch(e, &b->string_tree, compare_strings)) {
		free(e);
		b->failed = true;
		return 0;
	}
	b->strings[b->nstrings++] = (char *)text; /* protobuf-c only reads it */
	return e->index;
}

/* The entry of t equal to probe, or a new copy of it (*added) with the next
 * id (ids count from 1, in the order of t->items); NULL when out of memory. */
static void *intern(struct builder *b, struct table *t, int (*compare)(const void *, const void *),
		    const void *probe, size_t size, bool *added)
{
	void **found = tfind(probe, &t->tree, compare), **grown, *e;

	*added = false;
	if (found)
		return *found;
	grown = grow_array(t->items, &t->cap, t->n + 1, sizeof(*grown), 256);
	e = grown ? malloc(size) : NULL;
	if (grown)
		t->items = grown;
	if (e)
		memcpy(e, probe, size);
	if (!e || !tsearch(e, &t->tree, compare)) {
		free(e);
		b->failed = true;
		return NULL;
	}
	t->items[t->n++] = e;
	*added = true;
	return e;
}

static uint64_t function_id(struct builder *b, const struct frame *f)
{
	pb_function probe = PERFTOOLS__PROFILES__FUNCTION__INIT, *fn;
	bool added;

	if (!f->function)
		return 0;
	/* No system_name: the mangled name is not known (and pprof would take
	 * it as a name to simplify, "<module>" to nothing). */
	probe.name = string_index(b, f->function);
	probe.filename = string_index(b, f->file);
	probe.id = b->functions.n + 1;
	fn = intern(b, &b->functions, compare_functions, &probe, sizeof(probe), &added);
	return fn ? fn->id : 0;
}

/* The object of a native frame (with its build id), or the Python
 * pseudo-mapping; 0 for code in no file. */
static pb_mapping *mapping_of(struct builder *b, const struct frame *f)
{
	pb_mapping probe = PERFTOOLS__PROFILES__MAPPING__INIT;
	bool added;

	if (f->kind != FRAME_PYTHON && !f->object)
		return NULL;
	probe.filename = string_index(b, f->kind == FRAME_PYTHON ? PYTHON_MAPPING : f->object);
	probe.build_id = f->kind == FRAME_PYTHON ? 0 : string_index(b, f->build_id);
	/* Symbolized already: pprof must not look the addresses up again. */
	probe.has_functions = probe.has_filenames = probe.has_line_numbers = true;
	probe.id = b->mappings.n + 1;
	return intern(b, &b->mappings, compare_mappings, &probe, sizeof(probe), &added);
}

static uint64_t location_id(struct builder *b, const struct frame *f)
{
	struct location_entry probe = { .location = PERFTOOLS__PROFILES__LOCATION__INIT,
					.line = PERFTOOLS__PROFILES__LINE__INIT }, *e;
	pb_mapping *m = mapping_of(b, f);
	bool added;

	probe.location.mapping_id = m ? m->id : 0;
	/* Native: the offset in the object's ELF address space; Python: none. */
	probe.location.address = f->kind == FRAME_PYTHON ? 0 : f->offset;
	probe.line.function_id = function_id(b, f);
	probe.line.line = probe.line.function_id && f->line > 0 ? f->line : 0;
	probe.location.id = b->locations.n + 1;
	e = intern(b, &b->locations, compare_locations, &probe, sizeof(probe), &added);
	if (!e)
		return 0;
	if (added && e->line.function_id) {
		e->lines[0] = &e->line; /* its own line, not the probe's */
		e->location.line = e->lines;
		e->location.n_line = 1;
	}
	if (m && f->kind != FRAME_PYTHON && m->memory_limit <= f->offset)
		m->memory_limit = f->offset + 1;
	return e->location.id;
}

/* A shared library's name: "libc.so.6", "libfoo.so" (pprof's own test). */
static bool library_name(const char *path)
{
	const char *so = strstr(path, ".so");

	for (; so; so = strstr(so + 1, ".so"))
		if (so[3] == '\0' || so[3] == '.' || so[3] == '_')
			return true;
	return false;
}

/* pprof takes mapping[0] for the main binary (its name in the header):
 * the first mapping of a file that is no library moves to the front; the
 * ids, which locations refer to, stay as they are. */
static void main_binary_first(struct builder *b, pb_mapping **mappings)
{
	for (size_t i = 0; i < b->mappings.n; i++) {
		const char *name = b->strings[mappings[i]->filename];
		pb_mapping *m = mappings[i];

		if (name[0] == '[' || library_name(name))
			continue;
		memmove(mappings + 1, mappings, i * sizeof(*mappings));
		mappings[0] = m;
		return;
	}
}

static void fill_samples(struct builder *b, const struct report *r, struct sample_entry *samples,
			 pb_sample **pointers, uint64_t *location_ids, int64_t label_key)
{
	for (size_t i = 0; i < r->count; i++) {
		const struct report_stack *s = &r->stacks[i];
		struct sample_entry *e = &samples[i];

		perftools__profiles__sample__init(&e->sample);
		perftools__profiles__label__init(&e->label);
		for (int j = 0; j < s->nframes; j++)
			location_ids[j] = location_id(b, s->frames[j]);
		e->sample.location_id = location_ids;
		e->sample.n_location_id = (size_t)s->nframes;
		location_ids += s->nframes;
		e->values[0] = s->bytes;
		e->values[1] = s->allocs;
		e->values[2] = llround(s->growth);
		e->sample.value = e->values;
		e->sample.n_value = NVALUES;
		snprintf(e->id, sizeof(e->id), "%016" PRIx64, s->id);
		e->label.key = label_key;
		e->label.str = string_index(b, e->id);
		e->labels[0] = &e->label;
		e->sample.label = e->labels;
		e->sample.n_label = 1;
		pointers[i] = &e->sample;
	}
}

static int gzip(const uint8_t *in, size_t len, unsigned char **out, size_t *out_len)
{
	z_stream z = { 0 };
	unsigned char *buf;
	uLong bound;
	int rc;

	if (len > UINT32_MAX ||
	    deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16 /* gzip */, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	bound = deflateBound(&z, (uLong)len);
	buf = malloc(bound);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = buf;
	z.avail_out = (uInt)bound;
	rc = buf ? deflate(&z, Z_FINISH) : Z_MEM_ERROR;
	*out_len = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

static void no_free(void *p)
{
	(void)p;
}

static void table_free(struct table *t)
{
	tdestroy(t->tree, no_free); /* the entries are freed through items */
	for (size_t i = 0; i < t->n; i++)
		free(t->items[i]);
	free(t->items);
}

static void builder_free(struct builder *b)
{
	tdestroy(b->string_tree, free);
	free(b->strings);
	table_free(&b->functions);
	table_free(&b->mappings);
	table_free(&b->locations);
}

/* The comments pprof -comments shows: what the figures are. */
static size_t comments(const struct report *r, char text[NCOMMENTS][160])
{
	size_t n = 0;

	snprintf(text[n++], 160, "leaktop: outstanding heap of PID %d (%s), by allocation stack", (int)r->pid,
		 r->comm ? r->comm : "?");
	snprintf(text[n++], 160, "lost events: %" PRIu64 " (allocations not counted)", r->lost_events);
	if (r->sample_bytes)
		snprintf(text[n++], 160, "sampled: one allocation per %" PRIu64 " bytes on average; figures are estimates",
			 r->sample_bytes);
	if (r->duty_cycle > 0 && r->duty_cycle < 1)
		snprintf(text[n++], 160, "duty cycle %.3f: figures are scaled by its inverse", r->duty_cycle);
	return n;
}

int pprof_encode(const struct report *r, unsigned char **out, size_t *len, char *err, size_t errlen)
{
	struct builder b = { 0 };
	pb_profile profile = PERFTOOLS__PROFILES__PROFILE__INIT;
	pb_value_type types[NVALUES], *type_pointers[NVALUES], period_type;
	static const char *const names[NVALUES][2] = {
		{ "inuse_space", "bytes" }, { "inuse_objects", "count" },
		{ "growth_space", "bytes_per_second" } };
	char comment_text[NCOMMENTS][160];
	int64_t comment_index[NCOMMENTS];
	size_t ncomments = comments(r, comment_text), nlocations = 0;
	struct sample_entry *samples = calloc(r->count ? r->count : 1, sizeof(*samples));
	pb_sample **sample_pointers = calloc(r->count ? r->count : 1, sizeof(*sample_pointers));
	uint64_t *location_ids;
	uint8_t *packed = NULL;
	int rc = -1;

	for (size_t i = 0; i < r->count; i++)
		nlocations += (size_t)r->stacks[i].nframes;
	location_ids = calloc(nlocations ? nlocations : 1, sizeof(*location_ids));
	b.strings = grow_array(NULL, &b.strings_cap, 1, sizeof(*b.strings), 256);
	if (b.strings)
		b.strings[b.nstrings++] = ""; /* string_table[0] is "" */
	for (int i = 0; i < NVALUES; i++) {
		perftools__profiles__value_type__init(&types[i]);
		types[i].type = string_index(&b, names[i][0]);
		types[i].unit = string_index(&b, names[i][1]);
		type_pointers[i] = &types[i];
	}
	perftools__profiles__value_type__init(&period_type);
	period_type.type = string_index(&b, "space");
	period_type.unit = string_index(&b, "bytes");
	for (size_t i = 0; i < ncomments; i++)
		comment_index[i] = string_index(&b, comment_text[i]);
	if (samples && sample_pointers && location_ids && b.strings)
		fill_samples(&b, r, samples, sample_pointers, location_ids, string_index(&b, "stack_id"));
	else
		b.failed = true;

	profile.sample_type = type_pointers;
	profile.n_sample_type = NVALUES;
	profile.sample = sample_pointers;
	profile.n_sample = r->count;
	/* The tables as the arrays of message pointers the profile holds. */
	profile.mapping = calloc(b.mappings.n + 1, sizeof(*profile.mapping));
	profile.location = calloc(b.locations.n + 1, sizeof(*profile.location));
	profile.function = calloc(b.functions.n + 1, sizeof(*profile.function));
	if (!profile.mapping || !profile.location || !profile.function)
		b.failed = true;
	for (size_t i = 0; !b.failed && i < b.mappings.n; i++)
		profile.mapping[i] = b.mappings.items[i];
	for (size_t i = 0; !b.failed && i < b.locations.n; i++)
		profile.location[i] = b.locations.items[i];
	for (size_t i = 0; !b.failed && i < b.functions.n; i++)
		profile.function[i] = b.functions.items[i];
	if (!b.failed)
		main_binary_first(&b, profile.mapping);
	profile.n_mapping = b.mappings.n;
	profile.n_location = b.locations.n;
	profile.n_function = b.functions.n;
	/* Whole seconds apart: nanoseconds since 1970 are beyond a double's precision. */
	profile.time_nanos = (int64_t)floor(r->time) * 1000000000 + llround((r->time - floor(r->time)) * 1e9);
	profile.duration_nanos = llround(r->elapsed_s * 1e9);
	profile.period_type = &period_type;
	profile.period = r->sample_bytes ? (int64_t)r->sample_bytes : 1; /* exact: every byte */
	profile.comment = comment_index;
	profile.n_comment = ncomments;
	profile.default_sample_type = types[0].type;
	profile.string_table = b.strings;
	profile.n_string_table = b.nstrings;

	if (!b.failed) {
		size_t size = perftools__profiles__profile__get_packed_size(&profile);

		packed = malloc(size ? size : 1);
		if (packed && perftools__profiles__profile__pack(&profile, packed) == size &&
		    gzip(packed, size, out, len) == 0)
			rc = 0;
	}
	if (rc)
		fail(err, errlen, "cannot build the pprof profile: out of memory");
	free(packed);
	free(profile.mapping);
	free(profile.location);
	free(profile.function);
	free(location_ids);
	free(sample_pointers);
	free(samples);
	builder_free(&b);
	return rc;
}

struct blob {
	const unsigned char *data;
	size_t len;
};

static void fill(FILE *out, const void *arg)
{
	const struct blob *blob = arg;

	fwrite(blob->data, 1, blob->len, out);
}

int pprof_write(const char *path, const struct report *r, char *err, size_t errlen)
{
	struct blob blob;
	unsigned char *data;
	int rc;

	if (pprof_encode(r, &data, &blob.len, err, errlen))
		return -1;
	blob.data = data;
	rc = write_file_atomically(path, fill, &blob, err, errlen);
	free(data);
	return rc;
}
