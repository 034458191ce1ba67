/* Locating allocator functions with libelf: symbol tables to file offsets. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "allocators.h"
#include "elf_code.h"
#include "return_sites.h"

const char *const alloc_fn_names[ALLOC_FN_NAMES] = {
	[FN_MALLOC] = "malloc",
	[FN_CALLOC] = "calloc",
	[FN_REALLOC] = "realloc",
	[FN_REALLOCARRAY] = "reallocarray",
	[FN_POSIX_MEMALIGN] = "posix_memalign",
	[FN_ALIGNED_ALLOC] = "aligned_alloc",
	[FN_MEMALIGN] = "memalign",
	[FN_VALLOC] = "valloc",
	[FN_PVALLOC] = "pvalloc",
	[FN_OPERATOR_NEW] = "operator new",
	[FN_OPERATOR_NEW_ARRAY] = "operator new[]",
	[FN_MALLOCX] = "mallocx",
	[FN_RALLOCX] = "rallocx",
	[FN_XALLOCX] = "xallocx",
	[FN_PY_MALLOC] = "PyObject_Malloc",
	[FN_PY_CALLOC] = "PyObject_Calloc",
	[FN_PY_REALLOC] = "PyObject_Realloc",
	[FN_PY_ARENA] = "pymalloc arena",
	[ALLOC_FREE] = "free",
	[ALLOC_PY_FREE] = "PyObject_Free",
	[ALLOC_NEW_RETURN] = "operator new's return",
};

/* Symbols probed, by (unversioned) name.  C++ operators are matched mangled:
 * they are not thin wrappers everywhere (tcmalloc's do not call malloc), and
 * where they do call malloc (libstdc++) the nested call is counted once, at
 * the operator, whose caller is then the C++ code that said `new`. */
static const struct {
	const char *name;
	int fn;
} alloc_symbols[] = {
	{ "malloc", FN_MALLOC },
	{ "calloc", FN_CALLOC },
	{ "realloc", FN_REALLOC },
	{ "reallocarray", FN_REALLOCARRAY },
	{ "posix_memalign", FN_POSIX_MEMALIGN },
	{ "aligned_alloc", FN_ALIGNED_ALLOC },
	{ "memalign", FN_MEMALIGN },
	{ "valloc", FN_VALLOC },
	{ "pvalloc", FN_PVALLOC },
	{ "free", ALLOC_FREE },
	{ "mallocx", FN_MALLOCX },
	{ "rallocx", FN_RALLOCX },
	{ "xallocx", FN_XALLOCX },
	{ "dallocx", ALLOC_FREE },
	{ "sdallocx", ALLOC_FREE },
	{ "_Znwm", FN_OPERATOR_NEW },
	{ "_ZnwmRKSt9nothrow_t", FN_OPERATOR_NEW },
	{ "_ZnwmSt11align_val_t", FN_OPERATOR_NEW },
	{ "_ZnwmSt11align_val_tRKSt9nothrow_t", FN_OPERATOR_NEW },
	{ "_Znam", FN_OPERATOR_NEW_ARRAY },
	{ "_ZnamRKSt9nothrow_t", FN_OPERATOR_NEW_ARRAY },
	{ "_ZnamSt11align_val_t", FN_OPERATOR_NEW_ARRAY },
	{ "_ZnamSt11align_val_tRKSt9nothrow_t", FN_OPERATOR_NEW_ARRAY },
	{ "_ZdlPv", ALLOC_FREE },
	{ "_ZdlPvm", ALLOC_FREE },
	{ "_ZdlPvRKSt9nothrow_t", ALLOC_FREE },
	{ "_ZdlPvSt11align_val_t", ALLOC_FREE },
	{ "_ZdlPvmSt11align_val_t", ALLOC_FREE },
	{ "_ZdlPvSt11align_val_tRKSt9nothrow_t", ALLOC_FREE },
	{ "_ZdaPv", ALLOC_FREE },
	{ "_ZdaPvm", ALLOC_FREE },
	{ "_ZdaPvRKSt9nothrow_t", ALLOC_FREE },
	{ "_ZdaPvSt11align_val_t", ALLOC_FREE },
	{ "_ZdaPvmSt11align_val_t", ALLOC_FREE },
	{ "_ZdaPvSt11align_val_tRKSt9nothrow_t", ALLOC_FREE },
};

/* "malloc@@GLIBC_2.2.5" and "malloc" both name malloc. */
static int symbol_fn(const char *name)
{
	size_t len = strcspn(name, "@");

	for (size_t i = 0; i < sizeof(alloc_symbols) / sizeof(alloc_symbols[0]); i++)
		if (strlen(alloc_symbols[i].name) == len && strncmp(name, alloc_symbols[i].name, len) == 0)
			return alloc_symbols[i].fn;
	return -1;
}

bool alloc_fn_frees_old_block(int fn)
{
	return fn == FN_REALLOC || fn == FN_REALLOCARRAY || fn == FN_RALLOCX || fn == FN_XALLOCX ||
	       fn == FN_PY_REALLOC;
}

/* Adds a probe unless its offset is probed already (aliases such as glibc's
 * aligned_alloc and memalign share their code: one probe, the first name). */
void allocator_object_add_probe(struct allocator_object *obj, int fn, uint64_t offset)
{
	if (!offset || obj->nprobes == MAX_ALLOC_PROBES)
		return;
	for (int i = 0; i < obj->nprobes; i++)
		if (obj->probes[i].offset == offset)
			return;
	obj->probes[obj->nprobes++] = (struct alloc_probe){ fn, offset, offset };
}

static bool has_fn(const struct allocator_object *obj, int fn)
{
	for (int i = 0; i < obj->nprobes; i++)
		if (obj->probes[i].fn == fn)
			return true;
	return false;
}

static void scan_symbols(Elf *elf, Elf_Scn *scn, GElf_Shdr *sh, struct allocator_object *obj)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t count = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;
	GElf_Sym sym;

	for (size_t i = 0; data && i < count; i++) {
		const char *name;
		int fn;

		if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF || !sym.st_value)
			continue;
		if (GELF_ST_TYPE(sym.st_info) != STT_FUNC)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name || (fn = symbol_fn(name)) < 0)
			continue;
		allocator_object_add_probe(obj, fn, elf_vaddr_to_file_offset(elf, sym.st_value));
	}
}

int allocator_object_load(const char *path, const char *open_path, struct allocator_object *obj)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	Elf *elf;
	int fd;

	memset(obj, 0, sizeof(*obj));
	snprintf(obj->path, sizeof(obj->path), "%s", path);
	snprintf(obj->open_path, sizeof(obj->open_path), "%s", open_path);
	elf_version(EV_CURRENT);
	fd = open(open_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		if (elf)
			elf_end(elf);
		close(fd);
		return -1;
	}
	/* .dynsym of shared libraries, .symtab of (static) executables. */
	while ((scn = elf_nextscn(elf, scn))) {
		if (gelf_getshdr(scn, &sh) && (sh.sh_type == SHT_DYNSYM || sh.sh_type == SHT_SYMTAB))
			scan_symbols(elf, scn, &sh, obj);
	}
	return_sites_add(obj, elf, obj->new_left_out, sizeof(obj->new_left_out));
	elf_end(elf);
	close(fd);
	return has_fn(obj, ALLOC_FREE) && (has_fn(obj, FN_MALLOC) || has_fn(obj, FN_OPERATOR_NEW));
}

static int add_object(struct allocator_list *list, const char *path, const char *root)
{
	struct allocator_object obj, *grown;
	char open_path[PATH_MAX];

	for (int i = 0; i < list->count; i++)
		if (strcmp(list->objects[i].path, path) == 0)
			return 0;
	snprintf(open_path, sizeof(open_path), "%s%s", root ? root : "", path);
	if (allocator_object_load(path, open_path, &obj) != 1)
		return 0;
	grown = realloc(list->objects, (list->count + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	list->objects = grown;
	list->objects[list->count++] = obj;
	return 0;
}

/* The PT_INTERP of an executable (its dynamic loader); false when static. */
static bool program_interpreter(const char *exe, char *out, size_t len)
{
	bool found = false;
	size_t n = 0;
	GElf_Phdr ph;
	Elf *elf;
	int fd;

	elf_version(EV_CURRENT);
	fd = open(exe, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF && !elf_getphdrnum(elf, &n)) {
		for (size_t i = 0; i < n && !found; i++) {
			if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_INTERP)
				continue;
			if (ph.p_filesz < len && pread(fd, out, ph.p_filesz, (off_t)ph.p_offset) == (ssize_t)ph.p_filesz) {
				out[ph.p_filesz] = '\0';
				found = out[0] == '/';
			}
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return found;
}

/* Runs `interp --list exe` and adds every library it resolves
 * ("libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)"). */
static int add_loader_libraries(const char *interp, const char *exe, struct allocator_list *list)
{
	char line[PATH_MAX + 128], *arrow, *end;
	int fds[2], status, err = 0;
	FILE *f;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(fds[1], STDOUT_FILENO);
		if (null >= 0)
			dup2(null, STDERR_FILENO);
		execl(interp, interp, "--list", exe, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	while (f && fgets(line, sizeof(line), f)) {
		/* "\tlibc.so.6 => /path (0x...)" or "\t/lib64/ld-linux... (0x...)" */
		char *path = (arrow = strstr(line, "=> ")) ? arrow + 3 : line + strspn(line, " \t");

		if (*path != '/' || !(end = strstr(path, " (")))
			continue;
		*end = '\0';
		if (!err)
			err = add_object(list, path, NULL);
	}
	if (f)
		fclose(f);
	else
		close(fds[0]);
	waitpid(pid, &status, 0);
	return err;
}

int allocators_for_program(const char *exe, struct allocator_list *list)
{
	char interp[PATH_MAX], line[PATH_MAX];
	int err;
	FILE *f;

	memset(list, 0, sizeof(*list));
	/* A script: the interpreter named by its #! line is what runs. */
	f = fopen(exe, "re");
	if (f && fgets(line, sizeof(line), f) && strncmp(line, "#!", 2) == 0) {
		char *prog = line + 2 + strspn(line + 2, " \t");

		prog[strcspn(prog, " \t\n")] = '\0';
		fclose(f);
		f = NULL;
		if (*prog == '/' && strcmp(prog, exe) != 0) {
			char resolved[PATH_MAX];

			snprintf(resolved, sizeof(resolved), "%s", prog);
			return allocators_for_program(resolved, list);
		}
	}
	if (f)
		fclose(f);
	err = add_object(list, exe, NULL);
	if (!err && program_interpreter(exe, interp, sizeof(interp)))
		err = add_loader_libraries(interp, exe, list);
	return err;
}

void allocator_list_free(struct allocator_list *list)
{
	free(list->objects);
	list->objects = NULL;
	list->count = 0;
}
