/* Symbolization with libdwfl: one Dwfl per object file, addresses translated
 * to the object's own ELF address space, results cached per object and
 * address.  Objects, cache and strings are a store's, which the symbolizers
 * of a session's processes share: each process has only its mappings. */
#define _GNU_SOURCE
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <limits.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "grow.h"
#include "string_set.h"
#include "symbolizer.h"

/* libstdc++'s demangler (the one every C++ toolchain tool uses). */
char *__cxa_demangle(const char *mangled, char *out, size_t *len, int *status);

static const char deleted_suffix[] = " (deleted)";

struct object {
	/* Its identity: the mapped file's device and inode (as the maps give
	 * them) and name (as in the maps, " (deleted)" included), so that a
	 * file a deploy put at the same path is another object. */
	uint64_t dev, ino;
	const char *name;
	const char *path;	/* as the target sees it */
	int fd;			/* the file, for the call check; -1 if unreadable */
	Elf *elf;		/* program headers: file offset -> vaddr */
	Dwfl *dwfl;
	Dwfl_Module *mod;
	const char *build_id;	/* GNU build id in hex, NULL when none */
	off_t size;		/* of the file when read: rewritten in place (a */
	struct timespec mtime;	/* plugin copied over), it is read again */
	uint32_t refs;		/* mappings (of any process) naming it */
	bool listed;		/* in the store's tree (not replaced since) */
	bool queued;		/* in the store's unused list */
	char *debuginfo_path;	/* the host's debug directories, then the target's */
	Dwfl_Callbacks callbacks; /* (libdwfl keeps a pointer to them) */
};

struct mapping {
	uint64_t start, end, pgoff;
	struct object *obj;
};

/* Keyed by file offset, which maps one to one to the object's vaddr. */
struct cache_entry {
	const struct object *obj;
	uint64_t file_offset;
	bool return_address;
	bool ok;
	struct frame frame;
};

struct symbol_store {
	uint32_t refs;		/* symbolizers using it */
	void *objects;		/* tsearch tree of struct object, by identity */
	size_t nobjects;	/* open: listed or not */
	void *cache;		/* tsearch tree of struct cache_entry */
	size_t ncache, cache_limit; /* entries, and how many before a trim empties it */
	void *strings;		/* tsearch tree of interned strings */
	struct object **unused;	/* objects no mapping names any more: closed, */
	size_t nunused, unused_cap; /* with their cached frames, at the next trim */
};

struct symbolizer {
	struct symbol_store *store;
	pid_t pid;
	int proc_fd;		/* /proc/PID: this process, even once the PID is reused */
	char *root;
	struct mapping *maps;	/* each holds a reference to its object */
	size_t nmaps, maps_cap;
};

static const char *intern(struct symbol_store *s, const char *str)
{
	return string_set_intern(&s->strings, str);
}

static int compare_objects(const void *a, const void *b)
{
	const struct object *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return strcmp(x->name, y->name);
}

static bool ends_with(const char *str, const char *suffix)
{
	size_t n = strlen(str), k = strlen(suffix);

	return n >= k && strcmp(str + n - k, suffix) == 0;
}

/* The GNU build id of the object's ELF (its .note.gnu.build-id), in hex. */
static void read_build_id(struct symbol_store *s, struct object *obj)
{
	const unsigned char *id;
	char hex[2 * 64 + 1];
	ssize_t n = dwelf_elf_gnu_build_id(obj->elf, (const void **)&id);

	if (n <= 0 || (size_t)n > sizeof(hex) / 2)
		return;
	for (ssize_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	obj->build_id = intern(s, hex);
}

/* Opens the object's ELF and reports it to its own Dwfl at base 0 without
 * p_vaddr, so the module's addresses are the file's own vaddrs less the first
 * PT_LOAD's (the bias dwfl_module_getelf gives back: 0 for an ordinary PIE or
 * .so; ET_EXEC is always reported at its own addresses). */
static void object_load(struct symbol_store *s, struct object *obj, const char *file_name)
{
	int dwfl_fd;

	obj->elf = elf_begin(obj->fd, ELF_C_READ, NULL);
	/* Only a plain ELF goes on: libdwfl would also unpack compressed
	 * files and kernel images, under a descriptor it may then close. */
	if (!obj->elf || elf_kind(obj->elf) != ELF_K_ELF)
		return;
	read_build_id(s, obj);
	obj->dwfl = dwfl_begin(&obj->callbacks);
	if (!obj->dwfl)
		return;
	/* libdwfl closes the descriptor of a module it keeps, so it gets its
	 * own; never none, or it would open file_name, maybe another file. */
	dwfl_fd = fcntl(obj->fd, F_DUPFD_CLOEXEC, 0);
	if (dwfl_fd < 0)
		return;
	dwfl_report_begin(obj->dwfl);
	obj->mod = dwfl_report_elf(obj->dwfl, obj->path, file_name, dwfl_fd, 0, false);
	dwfl_report_end(obj->dwfl, NULL, NULL);
	if (!obj->mod)
		close(dwfl_fd);
}

/* Opens only a regular file: opening a device can have effects (a watchdog
 * arms itself), and a mapping may name one. */
static int open_regular(int dirfd, const char *path)
{
	struct stat st;
	int fd;

	if (fstatat(dirfd, path, &st, 0) || !S_ISREG(st.st_mode))
		return -1;
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd >= 0 && (fstat(fd, &st) || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* (void *: also tdestroy's callback, when the whole store goes with its
 * strings.) */
static void object_free(void *p)
{
	struct object *obj = p;

	if (obj->dwfl)
		dwfl_end(obj->dwfl);
	if (obj->elf)
		elf_end(obj->elf);
	if (obj->fd >= 0)
		close(obj->fd);
	free(obj->debuginfo_path);
	free(obj);
}

static void object_close(struct symbol_store *s, struct object *obj)
{
	/* Frames given out name it with these: they are copied (frame
	 * table) before the next trim, the only caller. */
	string_set_put(&s->strings, obj->name);
	string_set_put(&s->strings, obj->path);
	string_set_put(&s->strings, obj->build_id);
	s->nobjects--;
	object_free(obj);
}

/* Where libdwfl looks for obj's separate debug file (build id, then
 * .gnu_debuglink): the host's /usr/lib/debug first, then the target's own
 * (a container's debug packages) under root. */
static void set_debuginfo_search(struct object *obj, const char *root)
{
	if (root[0] && asprintf(&obj->debuginfo_path, ":.debug:/usr/lib/debug:%s/usr/lib/debug", root) < 0)
		obj->debuginfo_path = NULL;
	obj->callbacks.find_elf = dwfl_build_id_find_elf;
	obj->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
	obj->callbacks.section_address = dwfl_offline_section_address;
	obj->callbacks.debuginfo_path = obj->debuginfo_path ? &obj->debuginfo_path : NULL;
}

/* The file an object was read from has the size and change time it had. */
static bool object_current(const struct object *obj)
{
	struct stat st;

	if (obj->fd < 0 || fstat(obj->fd, &st))
		return true; /* nothing to compare: kept as it is */
	return st.st_size == obj->size && st.st_mtim.tv_sec == obj->mtime.tv_sec &&
	       st.st_mtim.tv_nsec == obj->mtime.tv_nsec;
}

/* No mapping names obj any more: it is closed at the next trim, unless a
 * mapping names it again by then (an exec maps the same libraries). */
static void object_put(struct symbol_store *s, struct object *obj)
{
	struct object **grown;

	if (!obj || --obj->refs || obj->queued)
		return;
	grown = grow_array(s->unused, &s->unused_cap, s->nunused + 1, sizeof(*grown), 16);
	if (!grown)
		return; /* kept open until the store goes */
	s->unused = grown;
	s->unused[s->nunused++] = obj;
	obj->queued = true;
}

/* The object with identity (dev, ino, name), mapped by sym at [start,
 * end), with a reference: opened once for all the store's processes. */
static struct object *object_get(struct symbolizer *sym, uint64_t dev, uint64_t ino, const char *name,
				 uint64_t start, uint64_t end)
{
	struct symbol_store *s = sym->store;
	struct object probe = { .dev = dev, .ino = ino, .name = name }, *obj, **found;
	char open_path[PATH_MAX + 64], *path;

	found = tfind(&probe, &s->objects, compare_objects);
	if (found && object_current(*found)) {
		(*found)->refs++;
		return *found;
	}
	if (found) { /* rewritten since: read again, the old one kept for old frames */
		(*found)->listed = false;
		tdelete(*found, &s->objects, compare_objects);
	}
	obj = calloc(1, sizeof(*obj));
	if (obj) {
		obj->fd = -1;
		s->nobjects++;
	}
	path = strdup(name);
	if (!obj || !path)
		goto fail;
	obj->dev = dev;
	obj->ino = ino;
	if (ends_with(path, deleted_suffix)) {
		/* The file at the path, if any, is not the one mapped (an
		 * upgraded library): read the mapped one through map_files. */
		path[strlen(path) - strlen(deleted_suffix)] = '\0';
		snprintf(open_path, sizeof(open_path), "map_files/%" PRIx64 "-%" PRIx64, start, end);
		if (sym->proc_fd >= 0)
			obj->fd = open_regular(sym->proc_fd, open_path);
	} else if (snprintf(open_path, sizeof(open_path), "%s%s", sym->root, path) <
		   (int)sizeof(open_path)) {
		obj->fd = open_regular(AT_FDCWD, open_path);
	}
	obj->name = intern(s, name);
	obj->path = intern(s, path);
	free(path);
	path = NULL;
	if (!obj->name || !obj->path)
		goto fail;
	set_debuginfo_search(obj, sym->root);
	/* Debug files are searched next to the path, even for a deleted file:
	 * build-id and CRC checks keep a newer version's from being taken. */
	snprintf(open_path, sizeof(open_path), "%s%s", sym->root, obj->path);
	if (obj->fd >= 0) {
		struct stat st;

		if (fstat(obj->fd, &st) == 0) {
			obj->size = st.st_size;
			obj->mtime = st.st_mtim;
		}
		object_load(s, obj, open_path); /* else: named by object only */
	}
	if (!tsearch(obj, &s->objects, compare_objects))
		goto fail;
	obj->listed = true;
	obj->refs = 1;
	return obj;
fail:
	if (obj)
		object_close(s, obj);
	free(path);
	return NULL;
}

static bool append_mapping(struct mapping **maps, size_t *n, size_t *cap, const struct mapping *m)
{
	if (*n == *cap) {
		size_t grown_cap = *cap ? 2 * *cap : 64;
		struct mapping *grown = realloc(*maps, grown_cap * sizeof(*grown));

		if (!grown)
			return false;
		*maps = grown;
		*cap = grown_cap;
	}
	(*maps)[(*n)++] = *m;
	return true;
}

bool symbolizer_refresh(struct symbolizer *s)
{
	struct mapping *maps = NULL;
	size_t n = 0, cap = 0, line_len = 0;
	char *line = NULL;
	FILE *f = NULL;
	int fd;

	/* Through /proc/PID itself: once the process is gone this fails even
	 * if the PID is reused, and the mappings we knew are kept. */
	fd = s->proc_fd >= 0 ? openat(s->proc_fd, "maps", O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0 || !(f = fdopen(fd, "r"))) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while (getline(&line, &line_len, f) > 0) {
		struct mapping m = { 0 };
		char perms[8];
		unsigned int major, minor;
		uint64_t ino;
		int path_at = 0;
		const char *name;

		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 " %n", &m.start,
			   &m.end, perms, &m.pgoff, &major, &minor, &ino, &path_at) < 7 || !path_at)
			continue;
		name = line + path_at;
		if (perms[2] != 'x' || name[0] != '/')
			continue; /* data, anonymous JIT code, [vdso]: no object to read */
		m.obj = object_get(s, makedev(major, minor), ino, name, m.start, m.end);
		if (m.obj && !append_mapping(&maps, &n, &cap, &m)) {
			object_put(s->store, m.obj);
			break;
		}
	}
	free(line);
	fclose(f);
	/* Keep what was mapped before and is not overlapped now: a library
	 * dlclose'd since a stack was recorded still names its frames. */
	for (size_t i = 0, fresh = n; i < s->nmaps; i++) {
		const struct mapping *old = &s->maps[i];
		bool overlapped = false;

		for (size_t j = 0; j < fresh && !overlapped; j++)
			overlapped = old->start < maps[j].end && maps[j].start < old->end;
		/* (Kept: its reference goes with it.) */
		if (overlapped || !append_mapping(&maps, &n, &cap, old))
			object_put(s->store, old->obj);
	}
	free(s->maps);
	s->maps = maps;
	s->nmaps = n;
	s->maps_cap = cap;
	return true;
}

static void put_mappings(struct symbolizer *s)
{
	for (size_t i = 0; i < s->nmaps; i++)
		object_put(s->store, s->maps[i].obj);
	s->nmaps = 0;
}

void symbolizer_forget_mappings(struct symbolizer *s)
{
	/* Objects and cached frames stay until the next trim (they are keyed
	 * by file): the new program's mappings take those it maps again. */
	put_mappings(s);
}

bool symbolizer_add_mapping(struct symbolizer *s, uint64_t start, uint64_t end, uint64_t pgoff,
			    const char *path)
{
	struct mapping m = { start, end, pgoff, NULL };
	char at[PATH_MAX + 64];
	struct stat st = { 0 };

	if (!path || start >= end)
		return false;
	/* The file's identity as the maps would give it (none for a file
	 * that is not there). */
	if (snprintf(at, sizeof(at), "%s%s", s->root, path) >= (int)sizeof(at) || stat(at, &st))
		memset(&st, 0, sizeof(st));
	m.obj = object_get(s, st.st_dev, st.st_ino, path, start, end);
	if (m.obj && append_mapping(&s->maps, &s->nmaps, &s->maps_cap, &m))
		return true;
	object_put(s->store, m.obj);
	return false;
}

struct symbol_store *symbol_store_new(void)
{
	struct symbol_store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	elf_version(EV_CURRENT);
	s->refs = 1;
	s->cache_limit = SYMBOLIZER_CACHE_LIMIT;
	return s;
}

void symbol_store_put(struct symbol_store *s)
{
	if (!s || --s->refs)
		return;
	/* Every symbolizer is gone, and their mappings: objects left are
	 * listed (closed through the tree) or queued, unlisted (closed here). */
	for (size_t i = 0; i < s->nunused; i++)
		if (!s->unused[i]->listed)
			object_free(s->unused[i]);
	free(s->unused);
	tdestroy(s->cache, free);
	tdestroy(s->objects, object_free);
	string_set_free(&s->strings);
	free(s);
}

struct symbolizer *symbolizer_new_shared(struct symbol_store *store, pid_t pid, const char *root)
{
	struct symbolizer *s = store ? calloc(1, sizeof(*s)) : NULL;
	char proc[32];

	if (!s)
		return NULL;
	s->pid = pid;
	s->root = strdup(root ? root : "");
	if (!s->root) {
		free(s);
		return NULL;
	}
	s->store = store;
	store->refs++;
	snprintf(proc, sizeof(proc), "/proc/%d", (int)pid);
	s->proc_fd = pid > 0 ? open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
	symbolizer_refresh(s);
	return s;
}

struct symbolizer *symbolizer_new(pid_t pid, const char *root)
{
	struct symbol_store *store = symbol_store_new();
	struct symbolizer *s = symbolizer_new_shared(store, pid, root);

	symbol_store_put(store); /* the symbolizer's reference is the one left */
	return s;
}

void symbolizer_free(struct symbolizer *s)
{
	if (!s)
		return;
	put_mappings(s);
	symbol_store_put(s->store);
	free(s->maps);
	if (s->proc_fd >= 0)
		close(s->proc_fd);
	free(s->root);
	free(s);
}

size_t symbolizer_objects(const struct symbolizer *s)
{
	return s->store->nobjects;
}

static const struct mapping *find_mapping(const struct symbolizer *s, uint64_t addr)
{
	for (size_t i = 0; i < s->nmaps; i++)
		if (addr >= s->maps[i].start && addr < s->maps[i].end)
			return &s->maps[i];
	return NULL;
}

/* File offset -> the object's virtual address, through its PT_LOAD segments. */
static bool file_offset_to_vaddr(Elf *elf, uint64_t off, uint64_t *vaddr)
{
	size_t n;
	GElf_Phdr ph;

	if (!elf || elf_getphdrnum(elf, &n))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (off >= ph.p_offset && off - ph.p_offset < ph.p_filesz) {
			*vaddr = off - ph.p_offset + ph.p_vaddr;
			return true;
		}
	}
	return false;
}

/* Does the code just before the return address at file offset `ret` end with
 * a call?  Read from the file, so it works after the target exited.  Near
 * calls are `E8 rel32` (5 bytes) or `FF /2` (opcode FF, ModRM reg field 2,
 * then 0 to 5 bytes of SIB and displacement: 2 to 7 bytes); a REX prefix
 * comes before the FF and changes nothing here.  A plausibility check, not a
 * decoder: it rejects the garbage a frame-pointer walk finds in code built
 * without frame pointers. */
static bool follows_call(const struct object *obj, uint64_t ret)
{
	unsigned char code[7] = { 0 };	/* code[7 - k] is the byte at ret - k */
	size_t n = ret < sizeof(code) ? (size_t)ret : sizeof(code);

	if (obj->fd < 0 || n == 0 ||
	    pread(obj->fd, code + sizeof(code) - n, n, (off_t)(ret - n)) != (ssize_t)n)
		return false;
	if (code[7 - 5] == 0xe8)
		return true;
	for (int k = 7; k >= 2; k--)
		if (code[7 - k] == 0xff && (code[7 - k + 1] & 0x38) == 0x10)
			return true;
	return false;
}

/* Function, file and line at `vaddr` in the object's ELF address space. */
static void describe(struct symbol_store *s, const struct object *obj, uint64_t vaddr,
		     struct frame *f)
{
	GElf_Addr bias = 0, offset = 0, addr;
	GElf_Sym sym;
	const char *name;
	Dwfl_Line *line;

	if (!obj->mod || !dwfl_module_getelf(obj->mod, &bias))
		return;
	addr = vaddr + bias;
	name = dwfl_module_addrinfo(obj->mod, addr, &offset, &sym, NULL, NULL, NULL);
	/* Only a symbol that covers the address names it: in a stripped object
	 * the nearest exported symbol below a local function is not its name. */
	if (name && (offset < sym.st_size || (sym.st_size == 0 && offset == 0))) {
		char *demangled = NULL;
		int status = -1;

		if (strncmp(name, "_Z", 2) == 0)
			demangled = __cxa_demangle(name, NULL, NULL, &status);
		f->function = intern(s, status == 0 && demangled ? demangled : name);
		free(demangled);
	}
	line = dwfl_module_getsrc(obj->mod, addr);
	if (line) {
		int lineno = 0;
		const char *file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);

		if (file && lineno > 0) {
			f->file = intern(s, file);
			f->line = lineno;
		}
	}
}

static int compare_entries(const void *a, const void *b)
{
	const struct cache_entry *x = a, *y = b;

	if (x->obj != y->obj)
		return x->obj < y->obj ? -1 : 1;
	if (x->file_offset != y->file_offset)
		return x->file_offset < y->file_offset ? -1 : 1;
	return (int)x->return_address - (int)y->return_address;
}

static void drop_entry(struct symbol_store *s, struct cache_entry *e)
{
	/* describe() interned these for the entry (the object's path is the
	 * object's). */
	string_set_put(&s->strings, e->frame.function);
	string_set_put(&s->strings, e->frame.file);
	free(e);
}

/* tdestroy has no context argument: the store whose cache is emptied. */
static struct symbol_store *trimmed;

static void drop_any_entry(void *p)
{
	drop_entry(trimmed, p);
}

/* Empties the address cache. */
static void drop_cache(struct symbol_store *s)
{
	trimmed = s;
	tdestroy(s->cache, drop_any_entry);
	trimmed = NULL;
	s->cache = NULL;
	s->ncache = 0;
}

/* Entries of objects about to be closed, collected by twalk_r. */
struct doomed {
	struct cache_entry **entries;
	size_t n, cap;
	bool failed;
};

static void collect_doomed(const void *node, VISIT which, void *arg)
{
	struct cache_entry *e = *(struct cache_entry *const *)node;
	struct doomed *d = arg;
	struct cache_entry **grown;

	if ((which != postorder && which != leaf) || e->obj->refs)
		return;
	grown = grow_array(d->entries, &d->cap, d->n + 1, sizeof(*grown), 256);
	if (!grown) {
		d->failed = true;
		return;
	}
	d->entries = grown;
	d->entries[d->n++] = e;
}

/* Closes the objects no mapping names any more (every process that mapped
 * them has let go), after their cached frames.  Objects are held only by
 * mappings and cache entries, so the store stays as big as what its live
 * processes map. */
static void close_unused(struct symbol_store *s)
{
	struct doomed d = { 0 };
	bool any = false;

	for (size_t i = 0; i < s->nunused && !any; i++)
		any = s->unused[i]->refs == 0;
	if (!any) {
		for (size_t i = 0; i < s->nunused; i++)
			s->unused[i]->queued = false;
		s->nunused = 0;
		return;
	}
	twalk_r(s->cache, collect_doomed, &d);
	if (d.failed) { /* out of memory: all entries go instead */
		drop_cache(s);
	} else {
		for (size_t i = 0; i < d.n; i++) {
			tdelete(d.entries[i], &s->cache, compare_entries);
			drop_entry(s, d.entries[i]);
		}
		s->ncache -= d.n;
	}
	free(d.entries);
	for (size_t i = 0; i < s->nunused; i++) {
		struct object *obj = s->unused[i];

		obj->queued = false;
		if (obj->refs)
			continue; /* named again meanwhile */
		if (obj->listed)
			tdelete(obj, &s->objects, compare_objects);
		object_close(s, obj);
	}
	s->nunused = 0;
}

void symbol_store_trim(struct symbol_store *s)
{
	if (s->nunused)
		close_unused(s);
	if (s->ncache > s->cache_limit)
		drop_cache(s);
}

void symbolizer_trim(struct symbolizer *sym)
{
	symbol_store_trim(sym->store);
}

void symbolizer_set_cache_limit(struct symbolizer *s, size_t entries)
{
	s->store->cache_limit = entries;
}

size_t symbolizer_cache_count(const struct symbolizer *s)
{
	return s->store->ncache;
}

bool symbolizer_resolve(struct symbolizer *s, uint64_t addr, bool return_address, struct frame *out)
{
	/* A return address belongs to the call before it: all is looked up at
	 * addr - 1, also the mapping (a call can end one). */
	uint64_t at = return_address ? addr - 1 : addr, vaddr;
	struct symbol_store *store = s->store;
	struct cache_entry probe = { 0 }, *e, **found;
	const struct mapping *m;

	memset(out, 0, sizeof(*out));
	if (return_address && addr == 0)
		return false;
	m = find_mapping(s, at);
	if (!m && symbolizer_refresh(s))
		m = find_mapping(s, at);
	if (!m)
		return false;
	probe.obj = m->obj;
	probe.file_offset = at - m->start + m->pgoff;
	probe.return_address = return_address;
	found = tfind(&probe, &store->cache, compare_entries);
	if (found) {
		*out = (*found)->frame;
		return (*found)->ok;
	}
	e = malloc(sizeof(*e));
	if (!e)
		return false;
	*e = probe;
	e->frame.object = m->obj->path;
	e->frame.build_id = m->obj->build_id;
	e->ok = !return_address || follows_call(m->obj, probe.file_offset + 1);
	if (file_offset_to_vaddr(m->obj->elf, probe.file_offset, &vaddr)) {
		if (e->ok)
			describe(store, m->obj, vaddr, &e->frame);
	} else {
		vaddr = probe.file_offset; /* unreadable object: still name it by offset */
	}
	e->frame.offset = vaddr + (return_address ? 1 : 0);
	if (!tsearch(e, &store->cache, compare_entries)) {
		drop_entry(store, e);
		return false;
	}
	store->ncache++;
	*out = e->frame;
	return e->ok;
}

const char *frame_fallback_name(const struct frame *f, char *buf, size_t len)
{
	const char *base;

	if (f->function)
		return f->function;
	if (f->object) {
		base = strrchr(f->object, '/') ? strrchr(f->object, '/') + 1 : f->object;
		snprintf(buf, len, "%s+0x%" PRIx64, base, f->offset);
	} else if (f->offset) {
		snprintf(buf, len, "[anon]+0x%" PRIx64, f->offset); /* code with no file: its address */
	} else {
		snprintf(buf, len, "[unknown]");
	}
	return buf;
}
