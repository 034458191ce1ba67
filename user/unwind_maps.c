/* Keeping the BPF unwinder's tables in step with the target's mappings.
 *
 * Each object file gets its rows once, in a free range of the mmapped
 * unwind_rows array, and an entry in unwind_objects (with or without a
 * table).  Objects stay while mapped; when a table does not fit, the objects
 * mapped least recently are reclaimed (plugins come and go).  Rows of a
 * reclaimed object are overwritten only once no index and no object entry
 * leads to them, and after `rows_seq` is bumped, so that a walk still in them
 * keeps only its certain frames.
 *
 * The index is written to the buffer the kernel is not reading, then made
 * active.  A walk that began before the previous flip may still be reading
 * that buffer: `seq` is bumped before it is overwritten.  Each buffer is
 * tagged with the kernel's count of code changes read before the maps
 * (struct unwind_index): a change since makes it stale, and the walks stop
 * using it until the next refresh, which unwind_maps_catch_up() makes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "unwind_maps.h"
#include "grow.h"
#include "row_ranges.h"
#include "unwind_tables.h"

/* Re-reading the maps between intervals when the last time brought nothing
 * new (a JIT flipping its code between writable and executable changes the
 * amount of code: the index goes stale with the same files mapped; misses in
 * files that cannot be read, a full table) waits this long, doubling up to
 * the most.  A stale index is not wrong meanwhile: the walks do without it. */
#define BACKOFF_FIRST_S 0.1
#define BACKOFF_MOST_S 5.0

/* An object file, by identity (its path may differ: /lib vs /usr/lib). */
struct unwind_object {
	struct unwind_object_key key;
	__u32 row_start, row_count;	/* row_count 0: no table (row_start
					 * UNWIND_ROWS_DROPPED: no room for it) */
	uint64_t last_seen;		/* the refresh that last found it mapped */
};

/* An executable file mapping of the target, from its maps. */
struct exec_mapping {
	uint64_t start, end, offset;
	struct unwind_object_key key;
	const char *name;		/* in the text of the maps */
	struct unwind_object *obj;	/* NULL: no room for it */
};

struct unwind_maps {
	pid_t pid;
	int rows_fd;			/* the unwind_rows array, written through mmap */
	int mappings_fd;
	int objects_fd;
	struct unwind_index *live;
	__u32 max_rows, max_objects;	/* of the maps, or less (LEAKTOP_UNWIND_LIMITS) */
	struct row_ranges free_rows;
	__u32 rows_written;		/* rows from here on were never written */
	struct unwind_object **objects;
	size_t nobjects, objects_cap;
	uint64_t objects_added;
	bool rows_full_said, objects_full_said;
	bool reclaimed_published;	/* a reclaimed object's rows are in the active index */

	uint64_t refreshes;
	char *text;			/* the last read of /proc/PID/maps */
	size_t text_cap;
	struct exec_mapping lines[UNWIND_MAX_MAPPINGS]; /* of that read */
	__u32 nlines;
	__u32 lines_tag;		/* the kernel's `changes` before that read */

	struct unwind_mapping published[UNWIND_MAX_MAPPINGS];
	__u32 npublished;
	__u32 published_tag;
	uint64_t publications;
	uint64_t index_changes;		/* publications with other mappings or rows */

	uint64_t misses_seen;		/* unwind_misses at the last catch-up */
	double backoff, next_catch_up;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The rows the map was made with (user/unwind_sizing.c chose them); 0 when
 * it cannot be told. */
static __u32 rows_in_map(int rows_fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(rows_fd, &info, &len) || info.max_entries > UNWIND_MAX_ROWS)
		return 0;
	return info.max_entries;
}

struct unwind_maps *unwind_maps_new(pid_t pid, int rows_fd, int mappings_fd, int objects_fd,
				    struct unwind_index *live)
{
	struct unwind_maps *u = calloc(1, sizeof(*u));
	const char *limits = getenv("LEAKTOP_UNWIND_LIMITS");
	unsigned objects, rows;

	if (!u)
		return NULL;
	u->pid = pid;
	u->rows_fd = rows_fd;
	u->mappings_fd = mappings_fd;
	u->objects_fd = objects_fd;
	u->live = live;
	u->max_objects = UNWIND_MAX_MAPPINGS;
	u->max_rows = rows_in_map(rows_fd);
	/* Smaller tables, for tests: "objects,rows". */
	if (limits && sscanf(limits, "%u,%u", &objects, &rows) == 2) {
		u->max_objects = objects < u->max_objects ? objects : u->max_objects;
		u->max_rows = rows < u->max_rows ? rows : u->max_rows;
	}
	if (!u->max_rows || !row_ranges_init(&u->free_rows, u->max_rows)) {
		free(u);
		return NULL;
	}
	return u;
}

void unwind_maps_free(struct unwind_maps *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->nobjects; i++)
		free(u->objects[i]);
	free(u->objects);
	row_ranges_release(&u->free_rows);
	free(u->text);
	free(u);
}

/* Copies rows[0..n) to row `first` of the unwind_rows map.  Only the pages
 * written are mapped, and only meanwhile: the kernel maps all of a mapped
 * array at once, which would add the whole table (8 MiB) to leaktop's RSS. */
static bool write_rows(int rows_fd, __u32 first, const struct unwind_row *rows, size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t start = (size_t)first * sizeof(*rows), end = start + n * sizeof(*rows);
	size_t map_start = start / page * page, map_len = end - map_start;
	char *map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, rows_fd, (off_t)map_start);

	if (map == MAP_FAILED)
		return false;
	memcpy(map + (start - map_start), rows, n * sizeof(*rows));
	munmap(map, map_len);
	return true;
}

/* The index the kernel would get from mappings m[0..n). */
static void index_of(const struct exec_mapping *m, __u32 n, struct unwind_mapping *out)
{
	for (__u32 i = 0; i < n; i++)
		out[i] = (struct unwind_mapping){
			.start = m[i].start, .end = m[i].end, .bias = m[i].start - m[i].offset,
			.row_start = m[i].obj ? m[i].obj->row_start : UNWIND_ROWS_DROPPED,
			.row_count = m[i].obj ? m[i].obj->row_count : 0,
		};
}

/* Makes m[0..n) the active index, tagged with `changes` as read before the
 * maps behind it. */
static void publish(struct unwind_maps *u, const struct unwind_mapping *m, __u32 n, __u32 tag)
{
	__u32 next = (u->live->active & 1) ^ 1;

	/* Walks still in the buffer about to be written see seq move. */
	__atomic_fetch_add(&u->live->seq, 1, __ATOMIC_SEQ_CST);
	for (__u32 i = 0; i < n; i++) {
		__u32 key = next * UNWIND_MAX_MAPPINGS + i;

		bpf_map_update_elem(u->mappings_fd, &key, &m[i], BPF_ANY);
	}
	/* Rows and mappings first, then the count and tag, then the switch. */
	__atomic_store_n(&u->live->count[next], n, __ATOMIC_RELEASE);
	__atomic_store_n(&u->live->tag[next], tag, __ATOMIC_RELEASE);
	__atomic_store_n(&u->live->active, next, __ATOMIC_RELEASE);
	memcpy(u->published, m, n * sizeof(*m));
	u->npublished = n;
	u->published_tag = tag;
	u->publications++;
	u->reclaimed_published = false;
}

/* Publishes the mappings of the last read of the maps as they are now. */
static void publish_lines(struct unwind_maps *u)
{
	static struct unwind_mapping index[UNWIND_MAX_MAPPINGS]; /* 32 KiB: not on the stack */

	index_of(u->lines, u->nlines, index);
	publish(u, index, u->nlines, u->lines_tag);
}

static void say_full(bool *said, const char *table, unsigned size, const char *name)
{
	if (*said)
		return;
	fprintf(stderr, "leaktop: unwind %s full (%u) with objects the target maps: %s and others unwind with "
		"frame pointers only (counted as truncated stacks)\n", table, size, name);
	*said = true;
}

static bool published_uses(const struct unwind_maps *u, const struct unwind_object *obj)
{
	for (__u32 i = 0; i < u->npublished; i++)
		if (u->published[i].row_count && u->published[i].row_start == obj->row_start)
			return true;
	return false;
}

/* Forgets objects[i] and gives its rows back. */
static void forget_object(struct unwind_maps *u, size_t i)
{
	struct unwind_object *obj = u->objects[i];

	/* Out of the kernel's reach first; its rows are written over later. */
	bpf_map_delete_elem(u->objects_fd, &obj->key);
	if (obj->row_count) {
		u->reclaimed_published |= published_uses(u, obj);
		row_ranges_give(&u->free_rows, obj->row_start, obj->row_count);
	}
	u->objects[i] = u->objects[--u->nobjects];
	free(obj);
}

/* Reclaims the object mapped least recently, if one is not mapped now. */
static bool reclaim_one(struct unwind_maps *u)
{
	size_t oldest = u->nobjects;

	for (size_t i = 0; i < u->nobjects; i++)
		if (u->objects[i]->last_seen != u->refreshes &&
		    (oldest == u->nobjects || u->objects[i]->last_seen < u->objects[oldest]->last_seen))
			oldest = i;
	if (oldest == u->nobjects)
		return false;
	forget_object(u, oldest);
	return true;
}

/* Objects left without a table for want of room get another chance once
 * others are no longer mapped (their room can be reclaimed now). */
static void retry_dropped(struct unwind_maps *u)
{
	bool unmapped = false;

	for (size_t i = 0; i < u->nobjects && !unmapped; i++)
		unmapped = u->objects[i]->last_seen == u->refreshes - 1;
	if (!unmapped)
		return;
	for (__u32 i = 0; i < u->nlines; i++)
		if (u->lines[i].obj && u->lines[i].obj->row_start == UNWIND_ROWS_DROPPED)
			u->lines[i].obj = NULL; /* added again below */
	for (size_t i = 0; i < u->nobjects;)
		if (u->objects[i]->last_seen == u->refreshes && u->objects[i]->row_start == UNWIND_ROWS_DROPPED)
			forget_object(u, i);
		else
			i++;
}

/* Puts the rows of a new object in the table; false when they do not fit
 * even with every object not mapped now reclaimed. */
static bool place_rows(struct unwind_maps *u, struct unwind_object *obj, const struct unwind_row *rows,
		       size_t n, const char *name)
{
	__u32 start;

	if (n > u->max_rows) {
		say_full(&u->rows_full_said, "rows", u->max_rows, name);
		return false;
	}
	while (!row_ranges_take(&u->free_rows, (__u32)n, &start))
		if (!reclaim_one(u)) {
			say_full(&u->rows_full_said, "rows", u->max_rows, name);
			return false;
		}
	/* No index may lead to the rows about to be overwritten, and walks
	 * begun before they were reclaimed must see rows_seq move. */
	if (u->reclaimed_published)
		publish_lines(u);
	if (start < u->rows_written)
		__atomic_fetch_add(&u->live->rows_seq, 1, __ATOMIC_SEQ_CST);
	if (!write_rows(u->rows_fd, start, rows, n)) {
		fprintf(stderr, "leaktop: cannot write the unwind rows of %s: %s\n", name, strerror(errno));
		row_ranges_give(&u->free_rows, start, (__u32)n);
		return false;
	}
	if (start + (__u32)n > u->rows_written)
		u->rows_written = start + (__u32)n;
	obj->row_start = start;
	obj->row_count = (__u32)n;
	return true;
}

static struct unwind_object *find_object(struct unwind_maps *u, const struct unwind_object_key *key)
{
	for (size_t i = 0; i < u->nobjects; i++)
		if (memcmp(&u->objects[i]->key, key, sizeof(*key)) == 0)
			return u->objects[i];
	return NULL;
}

/* A new object, its rows built from the file open at fd (-1: none); NULL
 * when the object table is full of mapped objects. */
static struct unwind_object *add_object(struct unwind_maps *u, const struct unwind_object_key *key, int fd,
					const char *name)
{
	struct unwind_object *obj, **grown;
	struct unwind_object_rows value;
	struct unwind_row *rows = NULL;
	size_t n = 0;

	if (u->nobjects >= u->max_objects && !reclaim_one(u)) {
		say_full(&u->objects_full_said, "objects", u->max_objects, name);
		return NULL;
	}
	grown = grow_array(u->objects, &u->objects_cap, u->nobjects + 1, sizeof(*grown), 64);
	obj = grown ? calloc(1, sizeof(*obj)) : NULL;
	if (!obj)
		return NULL;
	u->objects = grown;
	obj->key = *key;
	obj->last_seen = u->refreshes;
	if (fd >= 0 && unwind_table_build(fd, &rows, &n) == 0 && n && !place_rows(u, obj, rows, n, name))
		obj->row_start = UNWIND_ROWS_DROPPED;
	free(rows);
	u->objects[u->nobjects++] = obj;
	u->objects_added++;
	/* Also by file, for code not in the index; the rows are in place
	 * before the kernel can find them. */
	value = (struct unwind_object_rows){ obj->row_start, obj->row_count };
	bpf_map_update_elem(u->objects_fd, key, &value, BPF_ANY);
	return obj;
}

/* A file's identity as the kernel gives it to the unwinder (bpf/unwind.h). */
static struct unwind_object_key key_of(const struct stat *st)
{
	return (struct unwind_object_key){
		.dev = ((__u64)major(st->st_dev) << 20) | minor(st->st_dev),
		.inode = st->st_ino,
		.size = (__u64)st->st_size,
		.ctime_ns = (__u64)st->st_ctim.tv_sec * 1000000000 + (__u64)st->st_ctim.tv_nsec,
	};
}

void unwind_maps_prepare(struct unwind_maps *u, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct unwind_object_key key;
	struct stat st;

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0) {
		key = key_of(&st);
		if (!find_object(u, &key))
			add_object(u, &key, fd, path);
	}
	close(fd);
}

/* The file mapped at [start, end), through the mapping itself (the very
 * file, even deleted or in a container). */
static void map_file_path(const struct unwind_maps *u, uint64_t start, uint64_t end, char *path, size_t len)
{
	snprintf(path, len, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, u->pid, start, end);
}

/* Reads /proc/PID/maps whole into u->text; false when the process is gone. */
static bool read_maps(struct unwind_maps *u)
{
	char path[64];
	size_t len = 0;
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/maps", u->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	for (;;) {
		char *grown = grow_array(u->text, &u->text_cap, len + 65536, 1, 65536);

		if (!grown)
			break;
		u->text = grown;
		got = read(fd, u->text + len, u->text_cap - len - 1);
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	if (!u->text)
		return false;
	u->text[len] = '\0';
	return true;
}

/* The executable file mappings in u->text, in address order, each with its
 * object when it is known already (which is then seen in this refresh). */
static void parse_lines(struct unwind_maps *u)
{
	char *line = u->text, *next, path[128];
	struct stat st;

	u->nlines = 0;
	for (; line && *line && u->nlines < UNWIND_MAX_MAPPINGS; line = next) {
		struct exec_mapping *m = &u->lines[u->nlines];
		unsigned long major, minor, inode;
		char perms[8];
		int name_at = 0;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %lx:%lx %lu %n", &m->start, &m->end,
			   perms, &m->offset, &major, &minor, &inode, &name_at) < 7 || !name_at)
			continue;
		m->name = line + name_at;
		if (perms[2] != 'x' || m->name[0] != '/' || !inode)
			continue; /* anonymous code, [vdso]: frame pointers */
		/* The maps name the device and inode only: the size and change
		 * time tell a file rewritten in place from the one it was. */
		map_file_path(u, m->start, m->end, path, sizeof(path));
		if (stat(path, &st) == 0)
			m->key = key_of(&st);
		else
			m->key = (struct unwind_object_key){ (major << 20) | minor, inode, 0, 0 };
		m->obj = find_object(u, &m->key);
		if (m->obj)
			m->obj->last_seen = u->refreshes;
		u->nlines++;
	}
}

bool unwind_maps_stale(const struct unwind_maps *u)
{
	return u->publications && __atomic_load_n(&u->live->changes, __ATOMIC_ACQUIRE) != u->published_tag;
}

bool unwind_maps_refresh(struct unwind_maps *u, bool force)
{
	static struct unwind_mapping current[UNWIND_MAX_MAPPINGS]; /* 32 KiB: not on the stack */
	char path[128];

	/* Before the maps: a change while they are read leaves the index stale. */
	u->lines_tag = __atomic_load_n(&u->live->changes, __ATOMIC_ACQUIRE);
	if (!read_maps(u))
		return false;
	u->refreshes++;
	/* Every mapped object is marked seen before any is reclaimed. */
	parse_lines(u);
	if (u->rows_full_said)
		retry_dropped(u);
	for (__u32 i = 0; i < u->nlines; i++) {
		struct exec_mapping *m = &u->lines[i];
		int fd;

		if (m->obj || (m->obj = find_object(u, &m->key)))
			continue;
		map_file_path(u, m->start, m->end, path, sizeof(path));
		fd = open(path, O_RDONLY | O_CLOEXEC);
		m->obj = add_object(u, &m->key, fd, m->name);
		if (fd >= 0)
			close(fd);
	}
	index_of(u->lines, u->nlines, current);
	if (!u->publications || u->nlines != u->npublished ||
	    memcmp(current, u->published, (size_t)u->nlines * sizeof(*current)) != 0) {
		u->index_changes++;
		force = true;
	}
	if (force || u->lines_tag != u->published_tag)
		publish(u, current, u->nlines, u->lines_tag);
	return true;
}

void unwind_maps_catch_up(struct unwind_maps *u, uint64_t misses)
{
	uint64_t added = u->objects_added, changes = u->index_changes;
	double t;

	if (misses == u->misses_seen && !unwind_maps_stale(u))
		return;
	if ((t = now()) < u->next_catch_up)
		return;
	u->misses_seen = misses;
	unwind_maps_refresh(u, false);
	if (u->objects_added != added || u->index_changes != changes)
		u->backoff = 0;
	else if (u->backoff < BACKOFF_FIRST_S)
		u->backoff = BACKOFF_FIRST_S;
	else if ((u->backoff *= 2) > BACKOFF_MOST_S)
		u->backoff = BACKOFF_MOST_S;
	u->next_catch_up = t + u->backoff;
}
