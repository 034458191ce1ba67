/* Keeping the BPF unwinder's tables in step with the target's mappings.
 *
 * Rows go into the mmapped unwind_rows array, appended per object and never
 * moved, so an index being read in the kernel always points at valid rows.
 * The index is written to the buffer the kernel is not reading, then made
 * active.  A walk that began before the previous flip may still be reading
 * that buffer: `seq` is bumped before it is overwritten, and such a walk
 * then keeps only its certain frames.  Each buffer is tagged with the
 * kernel's count of unmaps read before the maps (struct unwind_index): an
 * unmap since makes it stale, and the walks stop using it until the next
 * refresh, which unwind_maps_stale() asks for. */
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
#include <unistd.h>
#include <bpf/bpf.h>
#include "unwind_maps.h"
#include "grow.h"
#include "unwind_tables.h"

/* An object file, by device and inode (its path may differ: /lib vs /usr/lib). */
struct unwind_object {
	unsigned long dev_major, dev_minor, inode;
	__u32 row_start, row_count;
};

struct unwind_maps {
	pid_t pid;
	int mappings_fd;
	int objects_fd;
	struct unwind_index *live;
	int rows_fd;			/* the unwind_rows array, written through mmap */
	__u32 max_rows, max_objects;	/* of the maps, or less (LEAKTOP_UNWIND_LIMITS) */
	__u32 rows_used;
	bool full_reported;
	struct unwind_object *objects;
	size_t nobjects, objects_cap;
	struct unwind_mapping published[UNWIND_MAX_MAPPINGS];
	__u32 npublished;
	__u32 published_tag;		/* the kernel's `changes` before those maps were read */
	bool ever_published;
};

struct unwind_maps *unwind_maps_new(pid_t pid, int rows_fd, int mappings_fd, int objects_fd,
				    struct unwind_index *live)
{
	struct unwind_maps *u = calloc(1, sizeof(*u));
	const char *limits = getenv("LEAKTOP_UNWIND_LIMITS");
	unsigned objects, rows;

	if (!u)
		return NULL;
	u->max_objects = UNWIND_MAX_MAPPINGS;
	u->max_rows = UNWIND_MAX_ROWS;
	/* Smaller tables, for tests: "objects,rows". */
	if (limits && sscanf(limits, "%u,%u", &objects, &rows) == 2) {
		u->max_objects = objects < u->max_objects ? objects : u->max_objects;
		u->max_rows = rows < u->max_rows ? rows : u->max_rows;
	}
	u->pid = pid;
	u->rows_fd = rows_fd;
	u->mappings_fd = mappings_fd;
	u->objects_fd = objects_fd;
	u->live = live;
	return u;
}

void unwind_maps_free(struct unwind_maps *u)
{
	if (!u)
		return;
	free(u->objects);
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

/* Builds the rows of a newly seen object from the file open at fd. */
static void build_rows(struct unwind_maps *u, struct unwind_object *obj, int fd, const char *name)
{
	struct unwind_row *rows;
	size_t n;

	if (unwind_table_build(fd, &rows, &n) != 0 || !n)
		return; /* no table: frame pointers for this object */
	if (n <= u->max_rows - u->rows_used && u->nobjects <= u->max_objects) {
		if (!write_rows(u->rows_fd, u->rows_used, rows, n)) {
			fprintf(stderr, "leaktop: cannot write the unwind rows of %s: %s\n", name, strerror(errno));
			free(rows);
			return;
		}
		struct unwind_object_key key = { (obj->dev_major << 20) | obj->dev_minor, obj->inode };
		struct unwind_object_rows value = { u->rows_used, (__u32)n };

		obj->row_start = u->rows_used;
		obj->row_count = (__u32)n;
		u->rows_used += (__u32)n;
		/* Also by file, for code not in the mapping index yet; the rows
		 * are in place before the kernel can find them. */
		bpf_map_update_elem(u->objects_fd, &key, &value, BPF_ANY);
	} else if (!u->full_reported) {
		fprintf(stderr, "leaktop: unwind tables full (%u rows, %u objects): %s and later objects unwind with frame pointers only\n",
			u->max_rows, u->max_objects, name);
		u->full_reported = true;
	}
	free(rows);
}

static struct unwind_object *find_object(struct unwind_maps *u, unsigned long major,
					 unsigned long minor, unsigned long inode)
{
	for (size_t i = 0; i < u->nobjects; i++) {
		struct unwind_object *obj = &u->objects[i];

		if (obj->inode == inode && obj->dev_major == major && obj->dev_minor == minor)
			return obj;
	}
	return NULL;
}

/* A new object entry, its rows built from fd (-1: none). */
static struct unwind_object *add_object(struct unwind_maps *u, unsigned long major,
					unsigned long minor, unsigned long inode, int fd,
					const char *name)
{
	struct unwind_object *obj, *grown;

	grown = grow_array(u->objects, &u->objects_cap, u->nobjects + 1, sizeof(*grown), 64);
	if (!grown)
		return NULL;
	u->objects = grown;
	obj = &u->objects[u->nobjects++];
	*obj = (struct unwind_object){ major, minor, inode, 0, 0 };
	if (fd >= 0)
		build_rows(u, obj, fd, name);
	return obj;
}

/* The object of a mapping, its rows read through the mapping itself
 * (/proc/PID/map_files: the very file, even deleted or in a container). */
static struct unwind_object *object_for(struct unwind_maps *u, unsigned long major,
					unsigned long minor, unsigned long inode, const char *name,
					uint64_t start, uint64_t end)
{
	struct unwind_object *obj = find_object(u, major, minor, inode);
	char path[128];
	int fd;

	if (obj)
		return obj;
	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, u->pid, start, end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	obj = add_object(u, major, minor, inode, fd, name);
	if (fd >= 0)
		close(fd);
	return obj;
}

void unwind_maps_prepare(struct unwind_maps *u, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && !find_object(u, major(st.st_dev), minor(st.st_dev), st.st_ino))
		add_object(u, major(st.st_dev), minor(st.st_dev), st.st_ino, fd, path);
	close(fd);
}

/* The executable file mappings of the target, in address order. */
static int read_mappings(struct unwind_maps *u, struct unwind_mapping *out)
{
	char path[64], line[4096 + 256], perms[8], file[4096];
	unsigned long major, minor, inode;
	uint64_t start, end, offset;
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", u->pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && n < (int)UNWIND_MAX_MAPPINGS) {
		struct unwind_object *obj;

		file[0] = '\0';
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %lx:%lx %lu %4095[^\n]", &start,
			   &end, perms, &offset, &major, &minor, &inode, file) < 7)
			continue;
		if (perms[2] != 'x' || file[0] != '/' || !inode)
			continue; /* anonymous code, [vdso]: frame pointers */
		obj = object_for(u, major, minor, inode, file, start, end);
		out[n++] = (struct unwind_mapping){
			.start = start, .end = end, .bias = start - offset,
			.row_start = obj ? obj->row_start : 0, .row_count = obj ? obj->row_count : 0,
		};
	}
	fclose(f);
	return n;
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
	u->ever_published = true;
}

bool unwind_maps_stale(const struct unwind_maps *u)
{
	return u->ever_published && __atomic_load_n(&u->live->changes, __ATOMIC_ACQUIRE) != u->published_tag;
}

bool unwind_maps_refresh(struct unwind_maps *u, bool force)
{
	static struct unwind_mapping current[UNWIND_MAX_MAPPINGS]; /* 32 KiB: not on the stack */
	/* Before the maps: an unmap while they are read leaves the index stale. */
	__u32 tag = __atomic_load_n(&u->live->changes, __ATOMIC_ACQUIRE);
	int n = read_mappings(u, current);

	if (n < 0)
		return false;
	if (force || !u->ever_published || tag != u->published_tag || (__u32)n != u->npublished ||
	    memcmp(current, u->published, (size_t)n * sizeof(*current)) != 0)
		publish(u, current, (__u32)n, tag);
	return true;
}
