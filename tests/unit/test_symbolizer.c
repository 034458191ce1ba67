/* The symbolizer on the test process itself (names, lines, libraries, the
 * call-site check, refusals where a name would be a guess), and on the small
 * ELF files of the fuzz corpus mapped by hand, whose bytes are known. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <libelf.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "symbolizer.h"
#include "unit.h"

static void *return_address;
static int call_line;

__attribute__((noinline)) static void record_return_address(void)
{
	return_address = __builtin_return_address(0);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void symbolized_caller(void)
{
	call_line = __LINE__ + 1;
	record_return_address();
	__asm__ volatile("" ::: "memory"); /* not a tail call */
}

static bool ends_with(const char *str, const char *suffix)
{
	size_t n = str ? strlen(str) : 0, k = strlen(suffix);

	return str && n >= k && strcmp(str + n - k, suffix) == 0;
}

/* libc's own malloc: under ASan, plain `malloc` is the interceptor in libasan. */
static void *libc_function(const char *name)
{
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD), *fn;

	if (!libc)
		return NULL;
	fn = dlsym(libc, name);
	dlclose(libc);
	return fn;
}

/* A file of tests/fuzz/corpus/elf, from the repository root or next to the
 * build directory holding this executable. */
static const char *corpus_file(const char *name, char *buf, size_t len)
{
	char exe[PATH_MAX], rel[PATH_MAX], *slash;
	ssize_t n;

	buf[0] = '\0';
	snprintf(rel, sizeof(rel), "tests/fuzz/corpus/elf/%s", name);
	if (len >= PATH_MAX && realpath(rel, buf))
		return buf;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		for (int up = 0; up < 2 && (slash = strrchr(exe, '/')); up++)
			*slash = '\0';
		snprintf(buf, len, "%s/%s", exe, rel);
		if (access(buf, R_OK) == 0)
			return buf;
	}
	fprintf(stderr, "corpus file %s not found\n", rel);
	return NULL;
}

TEST(symbolizer_names_caller_file_and_line)
{
	struct symbolizer *sym = symbolizer_new(getpid(), NULL);
	char self[PATH_MAX] = "";
	struct frame f;

	CHECK(realpath("/proc/self/exe", self));
	symbolized_caller();
	CHECK(symbolizer_resolve(sym, (uint64_t)(uintptr_t)return_address, true, &f));
	CHECK_STR(f.function, "symbolized_caller");
	CHECK(ends_with(f.file, "/test_symbolizer.c"));
	CHECK_INT(f.line, call_line);
	CHECK(f.object && strcmp(f.object, self) == 0);
	/* Frame 0 is taken as it is: the function's own first instruction. */
	CHECK(symbolizer_resolve(sym, (uint64_t)(uintptr_t)&symbolized_caller, false, &f));
	CHECK_STR(f.function, "symbolized_caller");
	CHECK(ends_with(f.file, "/test_symbolizer.c"));
	symbolizer_free(sym);
}

TEST(symbolizer_names_libc_functions)
{
	struct symbolizer *sym = symbolizer_new(getpid(), "");
	void *fn = libc_function("malloc");
	struct frame f;

	CHECK(fn != NULL);
	CHECK(symbolizer_resolve(sym, (uint64_t)(uintptr_t)fn, false, &f));
	CHECK(f.function && strstr(f.function, "malloc")); /* or __libc_malloc */
	CHECK(ends_with(f.object, "/libc.so.6"));
	CHECK(symbolizer_resolve(sym, (uint64_t)(uintptr_t)libc_function("getppid"), false, &f));
	CHECK(f.function && strstr(f.function, "getppid"));
	symbolizer_free(sym);
}

/* libc's DWARF is in a separate file (libc6-dbg), found by build-id. */
TEST(symbolizer_finds_separate_debuginfo_by_build_id)
{
	struct symbolizer *sym = symbolizer_new(getpid(), NULL);
	const unsigned char *id;
	char debug_file[PATH_MAX];
	struct frame f;
	Elf *elf;
	ssize_t len;
	int fd, at;

	CHECK(symbolizer_resolve(sym, (uint64_t)(uintptr_t)libc_function("getppid"), false, &f));
	fd = f.object ? open(f.object, O_RDONLY) : -1;
	CHECK(fd >= 0);
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	len = elf ? dwelf_elf_gnu_build_id(elf, (const void **)&id) : -1;
	CHECK(len > 1);
	at = snprintf(debug_file, sizeof(debug_file), "/usr/lib/debug/.build-id/%02x/", id[0]);
	for (ssize_t i = 1; i < len; i++)
		at += snprintf(debug_file + at, sizeof(debug_file) - (size_t)at, "%02x", id[i]);
	snprintf(debug_file + at, sizeof(debug_file) - (size_t)at, ".debug");
	/* scripts/install-deps.sh installs libc6-dbg: its absence is a failure,
	 * not a pass with nothing checked. */
	CHECK(access(debug_file, R_OK) == 0);
	CHECK(f.file != NULL);
	CHECK(f.line > 0);
	elf_end(elf);
	close(fd);
	symbolizer_free(sym);
}

TEST(symbolizer_rejects_what_is_no_frame)
{
	struct symbolizer *sym = symbolizer_new(getpid(), NULL);
	int on_stack = 0;
	struct frame f;

	CHECK(!symbolizer_resolve(sym, 8, false, &f)); /* unmapped */
	CHECK(!symbolizer_resolve(sym, 8, true, &f));
	CHECK(!symbolizer_resolve(sym, 0, true, &f));
	CHECK(!symbolizer_resolve(sym, (uint64_t)(uintptr_t)&on_stack, false, &f)); /* not code */
	CHECK(!symbolizer_resolve(sym, (uint64_t)(uintptr_t)&return_address, false, &f)); /* data */
	/* A function's entry does not follow a call instruction. */
	CHECK(!symbolizer_resolve(sym, (uint64_t)(uintptr_t)&symbolized_caller, true, &f));
	symbolizer_free(sym);
}

TEST(symbolizer_caches_and_keeps_strings)
{
	struct symbolizer *sym = symbolizer_new(getpid(), NULL);
	struct frame a, b;

	symbolized_caller();
	CHECK(symbolizer_resolve(sym, (uint64_t)(uintptr_t)return_address, true, &a));
	CHECK(symbolizer_resolve(sym, (uint64_t)(uintptr_t)return_address, true, &b));
	CHECK(a.function == b.function && a.file == b.file && a.object == b.object);
	CHECK(a.offset == b.offset && a.line == b.line);
	/* The same address as frame 0 is another lookup (not at addr - 1). */
	CHECK(symbolizer_resolve(sym, (uint64_t)(uintptr_t)return_address, false, &b));
	CHECK(a.object == b.object && a.offset == b.offset);
	symbolizer_free(sym);
}

/* A library loaded after the maps were read is found on the next miss. */
TEST(symbolizer_sees_libraries_loaded_later)
{
	struct symbolizer *sym = symbolizer_new(getpid(), NULL);
	void *lib = dlopen("libresolv.so.2", RTLD_NOW), *fn = lib ? dlsym(lib, "__b64_ntop") : NULL;
	struct frame f;

	CHECK(fn != NULL);
	CHECK(symbolizer_resolve(sym, (uint64_t)(uintptr_t)fn, false, &f));
	CHECK(f.function && strstr(f.function, "b64_ntop"));
	CHECK(ends_with(f.object, "/libresolv.so.2"));
	symbolizer_free(sym);
	if (lib)
		dlclose(lib);
}

/* Once the target is gone (and its /proc entry with it), what was mapped
 * still resolves: the objects stay open. */
TEST(symbolizer_resolves_after_the_process_exited)
{
	pid_t child = fork();
	struct symbolizer *sym;
	struct frame f;

	if (child == 0) {
		for (;;)
			pause();
	}
	CHECK(child > 0);
	if (child <= 0)
		return;
	symbolized_caller(); /* forked with the same layout: the child has these too */
	sym = symbolizer_new(child, NULL);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	CHECK(!symbolizer_refresh(sym));
	CHECK(symbolizer_resolve(sym, (uint64_t)(uintptr_t)return_address, true, &f));
	CHECK_STR(f.function, "symbolized_caller");
	CHECK_INT(f.line, call_line);
	CHECK(symbolizer_resolve(sym, (uint64_t)(uintptr_t)libc_function("getppid"), false, &f));
	CHECK(f.function && strstr(f.function, "getppid"));
	CHECK(!symbolizer_resolve(sym, 8, false, &f));
	symbolizer_free(sym);
}

/* cxx_dwarf.so (DWARF from /tmp/seed.cc) mapped as the loader would, text at
 * base + 0x1000.  Its code, by objdump:
 *   1010: ff d0 call *%rax            (in _init, local, no size)
 *   10c0: __do_global_dtors_aux       (local, no size)
 *   10e2: e8 .. call __cxa_finalize
 *   10ec: c6 05 .. movb               (7 bytes, no call)
 *   110a: seed::Box::grow(int), 8 bytes, seed.cc:2; 110d: e9 .. jmp (tail call)
 *   1112: malloc_like, 5 bytes;  1118: _fini, local */
#define BASE 0x7f0000000000ULL

TEST(symbolizer_object_with_dwarf)
{
	struct symbolizer *sym = symbolizer_new(0, NULL);
	char path[PATH_MAX];
	struct frame f;

	CHECK(corpus_file("cxx_dwarf.so", path, sizeof(path)));
	CHECK(symbolizer_add_mapping(sym, BASE + 0x1000, BASE + 0x2000, 0x1000, path));
	CHECK(symbolizer_resolve(sym, BASE + 0x110a, false, &f));
	CHECK_STR(f.function, "seed::Box::grow(int)");
	CHECK_STR(f.file, "/tmp/seed.cc");
	CHECK_INT(f.line, 2);
	CHECK_STR(f.object, path);
	CHECK_INT(f.offset, 0x110a);
	/* Return addresses: after `call rel32`, after `call *%rax`.  A symbol
	 * without a size names only its first byte, so these have no name. */
	CHECK(symbolizer_resolve(sym, BASE + 0x10e7, true, &f));
	CHECK(f.function == NULL);
	CHECK_INT(f.offset, 0x10e7);
	CHECK(symbolizer_resolve(sym, BASE + 0x1012, true, &f));
	CHECK(f.function == NULL);
	CHECK(symbolizer_resolve(sym, BASE + 0x10c0, false, &f));
	CHECK_STR(f.function, "__do_global_dtors_aux");
	/* After a movb, and after a jmp (a tail call returns elsewhere). */
	CHECK(!symbolizer_resolve(sym, BASE + 0x10f3, true, &f));
	CHECK(!symbolizer_resolve(sym, BASE + 0x1112, true, &f));
	/* Beyond the mapping. */
	CHECK(!symbolizer_resolve(sym, BASE + 0x2000, false, &f));
	symbolizer_free(sym);
}

TEST(symbolizer_file_offset_to_vaddr)
{
	struct symbolizer *sym = symbolizer_new(0, NULL);
	char path[PATH_MAX];
	struct frame f;

	/* The data segment: file offset 0x2df8 is vaddr 0x3df8, one page on. */
	CHECK(corpus_file("cxx_dwarf.so", path, sizeof(path)));
	CHECK(symbolizer_add_mapping(sym, BASE + 0x3000, BASE + 0x4000, 0x2000, path));
	CHECK(symbolizer_resolve(sym, BASE + 0x3e00, false, &f));
	CHECK_INT(f.offset, 0x3e00);
	/* ET_EXEC: module addresses are its own (_start at 0x401000). */
	CHECK(corpus_file("static_tiny", path, sizeof(path)));
	CHECK(symbolizer_add_mapping(sym, 0x401000, 0x402000, 0x1000, path));
	CHECK(symbolizer_resolve(sym, 0x401004, false, &f));
	CHECK_STR(f.function, "_start");
	CHECK_INT(f.offset, 0x401004);
	symbolizer_free(sym);
}

/* The same object stripped: only .dynsym is left.  An address in a local
 * function gets no name, not the exported symbol before it. */
TEST(symbolizer_stripped_object_gets_no_guessed_name)
{
	struct symbolizer *sym = symbolizer_new(0, NULL);
	char path[PATH_MAX], buf[64];
	struct frame f;

	CHECK(corpus_file("cxx_stripped.so", path, sizeof(path)));
	CHECK(symbolizer_add_mapping(sym, BASE + 0x1000, BASE + 0x2000, 0x1000, path));
	CHECK(symbolizer_resolve(sym, BASE + 0x110a, false, &f));
	CHECK_STR(f.function, "seed::Box::grow(int)");
	CHECK(f.file == NULL);
	CHECK_INT(f.line, 0);
	CHECK(symbolizer_resolve(sym, BASE + 0x1118, false, &f)); /* _fini */
	CHECK(f.function == NULL);
	CHECK_INT(f.offset, 0x1118);
	CHECK_STR(frame_fallback_name(&f, buf, sizeof(buf)), "cxx_stripped.so+0x1118");
	CHECK(symbolizer_resolve(sym, BASE + 0x10e7, true, &f));
	CHECK(f.function == NULL);
	symbolizer_free(sym);
}

TEST(symbolizer_survives_odd_objects)
{
	struct symbolizer *sym = symbolizer_new(0, NULL);
	char path[PATH_MAX];
	struct frame f;

	/* Missing: named by object and offset only; its bytes cannot be read. */
	CHECK(symbolizer_add_mapping(sym, 0x10000, 0x20000, 0x3000, "/nonexistent/libgone.so"));
	CHECK(symbolizer_resolve(sym, 0x10010, false, &f));
	CHECK(f.function == NULL);
	CHECK_STR(f.object, "/nonexistent/libgone.so");
	CHECK_INT(f.offset, 0x3010);
	CHECK(!symbolizer_resolve(sym, 0x10010, true, &f));
	/* Deleted: the path is shown without the suffix. */
	CHECK(symbolizer_add_mapping(sym, 0x20000, 0x30000, 0, "/nonexistent/libold.so (deleted)"));
	CHECK(symbolizer_resolve(sym, 0x20010, false, &f));
	CHECK_STR(f.object, "/nonexistent/libold.so");
	/* Not ELF, a directory, a truncated ELF: no names, no crash. */
	CHECK(symbolizer_add_mapping(sym, 0x30000, 0x40000, 0, "/proc/self/status"));
	CHECK(symbolizer_resolve(sym, 0x30010, false, &f));
	CHECK(f.function == NULL);
	CHECK(symbolizer_add_mapping(sym, 0x40000, 0x50000, 0, "/"));
	CHECK(symbolizer_resolve(sym, 0x40010, false, &f));
	CHECK(corpus_file("truncated", path, sizeof(path)));
	CHECK(symbolizer_add_mapping(sym, 0x50000, 0x60000, 0, path));
	symbolizer_resolve(sym, 0x50010, false, &f);
	symbolizer_resolve(sym, 0x50010, true, &f);
	CHECK(!symbolizer_add_mapping(sym, 0x60000, 0x60000, 0, path)); /* empty */
	symbolizer_free(sym);
}

TEST(frame_fallback_names)
{
	struct frame named = { "f", NULL, 0, "/x/libfoo.so", 0x10 };
	struct frame nameless = { NULL, NULL, 0, "/usr/lib/x86_64-linux-gnu/libc.so.6", 0x98930 };
	struct frame unknown = { 0 };
	char buf[64];

	CHECK_STR(frame_fallback_name(&named, buf, sizeof(buf)), "f");
	CHECK_STR(frame_fallback_name(&nameless, buf, sizeof(buf)), "libc.so.6+0x98930");
	CHECK_STR(frame_fallback_name(&unknown, buf, sizeof(buf)), "[unknown]");
}

/* The address cache stays under its limit: past it, a trim empties it (its
 * strings put back), and what is resolved afterwards is named as before. */
TEST(symbolizer_cache_is_bounded)
{
	struct symbolizer *sym = symbolizer_new(getpid(), NULL);
	uint64_t base = (uint64_t)(uintptr_t)&symbolized_caller;
	struct frame f;
	size_t most = 0;

	symbolizer_set_cache_limit(sym, 100);
	for (int round = 0; round < 20; round++) {
		for (uint64_t i = 0; i < 30; i++)
			symbolizer_resolve(sym, base + (uint64_t)round * 30 + i, false, &f);
		symbolizer_trim(sym);
		if (symbolizer_cache_count(sym) > most)
			most = symbolizer_cache_count(sym);
	}
	CHECK(most <= 100);
	symbolized_caller();
	CHECK(symbolizer_resolve(sym, (uint64_t)(uintptr_t)return_address, true, &f));
	CHECK(f.function && strcmp(f.function, "symbolized_caller") == 0);
	CHECK_INT(f.line, call_line);
	symbolizer_free(sym);
}

/* Two processes of one store map the same file at different bases (ASLR):
 * it is opened once, and each process's addresses are translated with its
 * own mapping. */
TEST(symbolizer_store_shares_objects_translated_per_process)
{
	struct symbol_store *store = symbol_store_new();
	struct symbolizer *a = symbolizer_new_shared(store, 0, NULL), *b = symbolizer_new_shared(store, 0, NULL);
	const uint64_t other = 0x7f1234560000ULL;
	char path[PATH_MAX];
	struct frame f;

	symbol_store_put(store); /* the symbolizers hold it */
	CHECK(corpus_file("cxx_dwarf.so", path, sizeof(path)));
	CHECK(symbolizer_add_mapping(a, BASE + 0x1000, BASE + 0x2000, 0x1000, path));
	CHECK(symbolizer_add_mapping(b, other + 0x1000, other + 0x2000, 0x1000, path));
	CHECK_INT(symbolizer_objects(a), 1);
	CHECK(symbolizer_resolve(a, BASE + 0x110a, false, &f));
	CHECK_STR(f.function, "seed::Box::grow(int)");
	CHECK_INT(f.line, 2);
	CHECK_INT(f.offset, 0x110a);
	CHECK(symbolizer_resolve(b, other + 0x110a, false, &f)); /* from the cache */
	CHECK_STR(f.function, "seed::Box::grow(int)");
	CHECK_INT(f.line, 2);
	CHECK_INT(f.offset, 0x110a);
	CHECK(symbolizer_resolve(b, other + 0x10c0, false, &f));
	CHECK_STR(f.function, "__do_global_dtors_aux");
	/* Each has only its own mappings. */
	CHECK(!symbolizer_resolve(b, BASE + 0x110a, false, &f));
	CHECK(!symbolizer_resolve(a, other + 0x110a, false, &f));
	/* One process gone: the other still names its frames; an object no
	 * process maps any more is closed at the next trim, not before. */
	symbolizer_free(a);
	symbolizer_trim(b);
	CHECK_INT(symbolizer_objects(b), 1);
	CHECK(symbolizer_resolve(b, other + 0x110a, false, &f));
	CHECK_STR(f.function, "seed::Box::grow(int)");
	symbolizer_forget_mappings(b); /* an exec: mapped again at once, kept */
	CHECK(symbolizer_add_mapping(b, other + 0x1000, other + 0x2000, 0x1000, path));
	symbolizer_trim(b);
	CHECK_INT(symbolizer_objects(b), 1);
	CHECK(symbolizer_resolve(b, other + 0x110a, false, &f));
	CHECK_STR(f.function, "seed::Box::grow(int)");
	symbolizer_forget_mappings(b);
	CHECK_INT(symbolizer_objects(b), 1);
	symbolizer_trim(b);
	CHECK_INT(symbolizer_objects(b), 0);
	CHECK_INT(symbolizer_cache_count(b), 0);
	symbolizer_free(b);
}

static bool copy_file(const char *from, const char *to)
{
	char buf[4096];
	ssize_t n = 0;
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	bool ok = in >= 0 && out >= 0;

	while (ok && (n = read(in, buf, sizeof(buf))) > 0)
		ok = write(out, buf, (size_t)n) == n;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return ok && n == 0;
}

/* A deploy puts another file at the same path (a new inode, renamed over
 * the old): a process started since maps the new one, and must be named by
 * it, not by what an older process of the store read at that path. */
TEST(symbolizer_store_tells_a_replaced_file_apart)
{
	struct symbol_store *store = symbol_store_new();
	struct symbolizer *old = symbolizer_new_shared(store, 0, NULL), *new = symbolizer_new_shared(store, 0, NULL);
	char dwarf[PATH_MAX], stripped[PATH_MAX], dir[] = "/tmp/leaktop-unit-XXXXXX", path[PATH_MAX + 16],
		next[PATH_MAX + 16];
	struct frame f;

	symbol_store_put(store);
	CHECK(corpus_file("cxx_dwarf.so", dwarf, sizeof(dwarf)));
	CHECK(corpus_file("cxx_stripped.so", stripped, sizeof(stripped)));
	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/libseed.so", dir);
	snprintf(next, sizeof(next), "%s/libseed.so.new", dir);
	CHECK(copy_file(dwarf, path));
	CHECK(symbolizer_add_mapping(old, BASE + 0x1000, BASE + 0x2000, 0x1000, path));
	CHECK(copy_file(stripped, next));
	CHECK(rename(next, path) == 0);
	CHECK(symbolizer_add_mapping(new, BASE + 0x1000, BASE + 0x2000, 0x1000, path));
	CHECK_INT(symbolizer_objects(new), 2);
	CHECK(symbolizer_resolve(old, BASE + 0x110a, false, &f));
	CHECK_STR(f.file, "/tmp/seed.cc"); /* the old file's DWARF */
	CHECK(symbolizer_resolve(new, BASE + 0x110a, false, &f));
	CHECK(f.file == NULL);		   /* the stripped one's: none */
	CHECK_STR(f.function, "seed::Box::grow(int)");
	unlink(path);
	rmdir(dir);
	symbolizer_free(old);
	symbolizer_free(new);
}
