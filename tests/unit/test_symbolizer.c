/* The symbolizer on the test process itself: names, lines, libraries, and
 * refusals where a name would be a guess. */
#include <stdlib.h>
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

TEST(symbolizer_names_caller_file_and_line)
{
	struct symbolizer *sym = symbolizer_new(getpid(), NULL);
	struct frame f;

	symbolized_caller();
	CHECK(symbolizer_resolve(sym, (uint64_t)return_address, true, &f));
	CHECK_STR(f.function, "symbolized_caller");
	CHECK(f.file && strstr(f.file, "test_symbolizer.c"));
	CHECK_INT(f.line, call_line);
	CHECK(f.object && strstr(f.object, "unit_tests"));
	symbolizer_free(sym);
}

TEST(symbolizer_names_libc_functions)
{
	struct symbolizer *sym = symbolizer_new(getpid(), "");
	void *(*volatile fn)(size_t) = malloc;
	struct frame f;

	/* Under ASan, malloc is ASan's interceptor (named malloc too); getppid
	 * is not intercepted and shows a function of libc itself. */
	CHECK(symbolizer_resolve(sym, (uint64_t)(uintptr_t)fn, false, &f));
	CHECK(f.function && strstr(f.function, "malloc"));
	CHECK(symbolizer_resolve(sym, (uint64_t)(uintptr_t)&getppid, false, &f));
	CHECK(f.function && strstr(f.function, "getppid"));
	CHECK(f.object && strstr(f.object, "libc.so.6"));
	symbolizer_free(sym);
}

TEST(symbolizer_rejects_what_is_no_frame)
{
	struct symbolizer *sym = symbolizer_new(getpid(), NULL);
	int on_stack = 0;
	struct frame f;

	CHECK(!symbolizer_resolve(sym, 8, false, &f));		/* unmapped */
	CHECK(!symbolizer_resolve(sym, (uint64_t)(uintptr_t)&on_stack, false, &f)); /* not code */
	/* A function's entry does not follow a call instruction. */
	CHECK(!symbolizer_resolve(sym, (uint64_t)(uintptr_t)&symbolized_caller, true, &f));
	CHECK(symbolizer_resolve(sym, (uint64_t)(uintptr_t)&symbolized_caller, false, &f));
	CHECK_STR(f.function, "symbolized_caller");
	symbolizer_free(sym);
}

TEST(symbolizer_caches_and_keeps_strings)
{
	struct symbolizer *sym = symbolizer_new(getpid(), NULL);
	struct frame a, b;

	symbolized_caller();
	CHECK(symbolizer_resolve(sym, (uint64_t)return_address, true, &a));
	CHECK(symbolizer_resolve(sym, (uint64_t)return_address, true, &b));
	CHECK(a.function == b.function && a.file == b.file && a.offset == b.offset);
	symbolizer_free(sym);
}

TEST(frame_fallback_names)
{
	struct frame named = { "f", NULL, 0, "/x/libfoo.so", 0x10 };
	struct frame nameless = { NULL, NULL, 0, "/x/libfoo.so", 0x98930 };
	struct frame unknown = { 0 };
	char buf[64];

	CHECK_STR(frame_fallback_name(&named, buf, sizeof(buf)), "f");
	CHECK_STR(frame_fallback_name(&nameless, buf, sizeof(buf)), "libfoo.so+0x98930");
	CHECK_STR(frame_fallback_name(&unknown, buf, sizeof(buf)), "[unknown]");
}
