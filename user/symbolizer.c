/* Symbolization with libdwfl: one Dwfl per object file, addresses translated
 * to the object's own ELF address space, results cached per object and
 * address.  Strings are interned and live as long as the symbolizer. */
#define _GNU_SOURCE
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "symbolizer.h"

/* libstdc++'s demangler (the one every C++ toolchain tool uses). */
char *__cxa_demangle(const char *mangled, char *out, size_t *len, int *status);

struct object {
	char *path;		/* as the target sees it (interned) */
	int fd;			/* for the call-instruction check; -1 if unreadable */
	Elf *elf;		/* program headers: file offset -> vaddr */
	Dwfl *dwfl;
	Dwfl_Module *mod;
};

struct mapping {
	uint64_t start, end, pgoff;
	struct object *obj;
};

struct cache_entry {
	const struct object *obj;
	uint64_t vaddr;
	bool return_address;
	bool ok;
	struct frame frame;
};

struct symbolizer {
	pid_t pid;
	char root[256];
	struct mapping *maps;
	size_t nmaps;
	struct object **objects;
	size_t nobjects;
	void *cache;	/* tsearch tree of struct cache_entry */
	void *strings;	/* tsearch tree of interned strings */
};

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo, /* .gnu_debuglink, build-id */
	.section_address = dwfl_offline_section_address,
};

static const char *intern(struct symbolizer *s, const char *str)
{
	char *copy, **found;

	if (!str)
		return NULL;
	found = tfind(str, &s->strings, (int (*)(const void *, const void *))strcmp);
	if (found)
		return *found;
	copy = strdup(str);
	if (!copy)
		return NULL;
	found = tsearch(copy, &s->strings, (int (*)(const void *, const void *))strcmp);
	if (!found || *found != copy) {
		free(copy);
		return found ? *found : NULL;
	}
	return copy;
}

static struct object *object_open(struct symbolizer *s, const char *path)
{
	char open_path[PATH_MAX];
	struct object *obj, **grown;

	for (size_t i = 0; i < s->nobjects; i++)
		if (strcmp(s->objects[i]->path, path) == 0)
			return s->objects[i];
	grown = realloc(s->objects, (s->nobjects + 1) * sizeof(*grown));
	obj = calloc(1, sizeof(*obj));
	if (!grown || !obj) {
		free(obj);
		if (grown)
			s->objects = grown;
		return NULL;
	}
	s->objects = grown;
	s->objects[s->nobjects++] = obj;
	obj->path = (char *)intern(s, path);
	snprintf(open_path, sizeof(open_path), "%s%s", s->root, path);
	obj->fd = open(open_path, O_RDONLY | O_CLOEXEC);
	if (obj->fd < 0)
		return obj; /* frames in it get the object name only */
	obj->elf = elf_begin(obj->fd, ELF_C_READ, NULL);
	if (!obj->elf || elf_kind(obj->elf) != ELF_K_ELF)
		return obj;
	obj->dwfl = dwfl_begin(&offline_callbacks);
	if (!obj->dwfl)
		return obj;
	dwfl_report_begin(obj->dwfl);
	/* libdwfl owns the descriptor it is given. */
	obj->mod = dwfl_report_elf(obj->dwfl, path, open_path, dup(obj->fd), 0, false);
	dwfl_report_end(obj->dwfl, NULL, NULL);
	return obj;
}

static void object_close(struct object *obj)
{
	if (obj->dwfl)
		dwfl_end(obj->dwfl);
	if (obj->elf)
		elf_end(obj->elf);
	if (obj->fd >= 0)
		close(obj->fd);
	free(obj);
}

bool symbolizer_refresh(struct symbolizer *s)
{
	char path[64], line[PATH_MAX + 128], perms[8];
	struct mapping *maps = NULL;
	size_t n = 0, cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", s->pid);
	f = fopen(path, "re");
	if (!f)
		return false; /* gone: keep the mappings we knew */
	while (fgets(line, sizeof(line), f)) {
		struct mapping m = { 0 };
		int path_at = 0;
		char *file, *deleted;

		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*x:%*x %*u %n", &m.start,
			   &m.end, perms, &m.pgoff, &path_at) < 4 || !path_at)
			continue;
		file = line + path_at;
		if (perms[2] != 'x' || file[0] != '/')
			continue; /* data, anonymous JIT code, [vdso]: no object to read */
		if ((deleted = strstr(file, " (deleted)")))
			*deleted = '\0';
		m.obj = object_open(s, file);
		if (!m.obj)
			continue;
		if (n == cap) {
			struct mapping *grown = realloc(maps, (cap = cap ? 2 * cap : 64) * sizeof(*grown));

			if (!grown)
				break;
			maps = grown;
		}
		maps[n++] = m;
	}
	fclose(f);
	/* Keep what was mapped before and is not overlapped now: a library
	 * dlclose'd since a stack was recorded still names its frames. */
	for (size_t i = 0; i < s->nmaps; i++) {
		const struct mapping *old = &s->maps[i];
		bool overlapped = false;

		for (size_t j = 0; j < n && !overlapped; j++)
			overlapped = old->start < maps[j].end && maps[j].start < old->end;
		if (overlapped)
			continue;
		if (n == cap) {
			struct mapping *grown = realloc(maps, (cap = cap ? 2 * cap : 64) * sizeof(*grown));

			if (!grown)
				break;
			maps = grown;
		}
		maps[n++] = *old;
	}
	free(s->maps);
	s->maps = maps;
	s->nmaps = n;
	return true;
}

bool symbolizer_add_mapping(struct symbolizer *s, uint64_t start, uint64_t end, uint64_t pgoff,
			    const char *path)
{
	struct mapping *grown = realloc(s->maps, (s->nmaps + 1) * sizeof(*grown));
	struct object *obj = object_open(s, path);

	if (grown)
		s->maps = grown;
	if (!grown || !obj)
		return false;
	s->maps[s->nmaps++] = (struct mapping){ start, end, pgoff, obj };
	return true;
}

struct symbolizer *symbolizer_new(pid_t pid, const char *root)
{
	struct symbolizer *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	elf_version(EV_CURRENT);
	s->pid = pid;
	snprintf(s->root, sizeof(s->root), "%s", root ? root : "");
	symbolizer_refresh(s);
	return s;
}


void symbolizer_free(struct symbolizer *s)
{
	if (!s)
		return;
	tdestroy(s->cache, free);
	for (size_t i = 0; i < s->nobjects; i++)
		object_close(s->objects[i]);
	free(s->objects);
	free(s->maps);
	tdestroy(s->strings, free);
	free(s);
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
		if (off >= ph.p_offset && off < ph.p_offset + ph.p_filesz) {
			*vaddr = off - ph.p_offset + ph.p_vaddr;
			return true;
		}
	}
	return false;
}

/* Does the code just before this return address end with a call?  Near calls
 * are `E8 rel32` (5 bytes) or `FF /2` with a ModRM operand (2 to 7 bytes,
 * maybe after a REX prefix).  A plausibility check, not a decoder: it rejects
 * the garbage a frame-pointer walk finds in code without frame pointers. */
static bool follows_call(const struct object *obj, uint64_t file_offset)
{
	unsigned char b[7];

	if (obj->fd < 0 || file_offset < sizeof(b) ||
	    pread(obj->fd, b, sizeof(b), (off_t)(file_offset - sizeof(b))) != (ssize_t)sizeof(b))
		return false;
	if (b[7 - 5] == 0xe8)
		return true;
	for (int len = 2; len <= 7; len++) {
		unsigned char opcode = b[7 - len], modrm = b[7 - len + 1];

		if (opcode == 0xff && (modrm & 0x38) == 0x10)
			return true;
	}
	return false;
}

static void describe(struct symbolizer *s, const struct object *obj, uint64_t vaddr, struct frame *f)
{
	GElf_Addr bias = 0, offset = 0;
	GElf_Sym sym;
	const char *name;
	Dwfl_Line *line;

	if (!obj->mod || !dwfl_module_getelf(obj->mod, &bias))
		return;
	name = dwfl_module_addrinfo(obj->mod, vaddr + bias, &offset, &sym, NULL, NULL, NULL);
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
	line = dwfl_module_getsrc(obj->mod, vaddr + bias);
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
	if (x->vaddr != y->vaddr)
		return x->vaddr < y->vaddr ? -1 : 1;
	return (int)x->return_address - (int)y->return_address;
}

bool symbolizer_resolve(struct symbolizer *s, uint64_t addr, bool return_address, struct frame *out)
{
	const struct mapping *m = find_mapping(s, addr);
	struct cache_entry probe = { 0 }, *e, **found;
	uint64_t file_offset, vaddr;

	memset(out, 0, sizeof(*out));
	if (!m && symbolizer_refresh(s))
		m = find_mapping(s, addr);
	if (!m)
		return false;
	file_offset = addr - m->start + m->pgoff;
	if (!file_offset_to_vaddr(m->obj->elf, file_offset, &vaddr))
		vaddr = file_offset; /* unreadable object: still name it by offset */

	probe.obj = m->obj;
	probe.vaddr = vaddr;
	probe.return_address = return_address;
	found = tfind(&probe, &s->cache, compare_entries);
	if (found) {
		*out = (*found)->frame;
		return (*found)->ok;
	}
	e = malloc(sizeof(*e));
	if (!e)
		return false;
	*e = probe;
	e->frame.object = m->obj->path;
	e->frame.offset = vaddr;
	e->ok = !return_address || follows_call(m->obj, file_offset);
	if (e->ok)
		/* A return address belongs to the call before it: look up addr - 1. */
		describe(s, m->obj, return_address ? vaddr - 1 : vaddr, &e->frame);
	if (!tsearch(e, &s->cache, compare_entries)) {
		free(e);
		return false;
	}
	*out = e->frame;
	return e->ok;
}

const char *frame_fallback_name(const struct frame *f, char *buf, size_t len)
{
	const char *base;

	if (f->function) {
		snprintf(buf, len, "%s", f->function);
	} else if (f->object) {
		base = strrchr(f->object, '/') ? strrchr(f->object, '/') + 1 : f->object;
		snprintf(buf, len, "%s+0x%" PRIx64, base, f->offset);
	} else {
		snprintf(buf, len, "[unknown]");
	}
	return buf;
}
