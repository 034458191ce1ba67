/* The _Py_DebugOffsets blocks of CPython 3.14 and 3.15, which no test can run
 * here: byte images laid out field by field as the headers declare them, each
 * field read here given its own value, so that a reader taking a field from
 * the wrong position gets a wrong offset (or a block refused).
 *
 * Where the layouts come from (python/cpython, read with the project's search
 * tools; the v3.14.0 tag itself was not readable, the 3.14 branch was):
 *   3.14: Include/internal/pycore_debug_offsets.h of the 3.14 branch at
 *         3.14.0b4+ (after the beta freeze of 3.14's structs; the same struct
 *         is in the development branch of that time);
 *   3.15: the same file on main, late 2025 (thread_state grew base_frame,
 *         last_profiled_frame(_seq), holds_gil, gil_requested,
 *         current_exception, exc_state; err_stackitem, heap_type_object,
 *         tp_basicsize/tp_dictoffset, compactunicodeobject_size and gc's
 *         frame/generation_stats were added);
 *   3.13: Include/internal/pycore_runtime.h at v3.13.0 (the block of a live
 *         pyenv 3.13.0 in test_python.c).
 * The values are plausible offsets, not a real build's (no 3.14 here). */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "python.h"
#include "python_layouts.h"
#include "unit.h"

#define COOKIE 0x7970677562656478ULL /* "xdebugpy" */

static const uint64_t block_314[] = {
	/* head */ COOKIE, 0x030e00f0, 0,
	/* runtime_state: size finalizing interpreters_head */ 300000, 640, 664,
	/* interpreter_state: size id next threads_head threads_main gc
	 * imports_modules sysdict builtins ceval_gil gil_runtime_state
	 * gil_runtime_state_enabled gil_runtime_state_locked
	 * gil_runtime_state_holder code_object_generation tlbc_generation */
	200000, 8, 0, 7408, 7416, 80, 7500, 7600, 7608, 7616, 7624, 0, 7632, 7640, 7648, 0,
	/* thread_state: size prev next interp current_frame thread_id
	 * native_thread_id datastack_chunk status */
	336, 0, 8, 16, 80, 168, 176, 240, 32,
	/* interpreter_frame: size previous executable instr_ptr localsplus owner
	 * stackpointer tlbc_index */
	88, 8, 0, 56, 80, 74, 64, 0,
	/* code_object: size filename name qualname linetable firstlineno argcount
	 * localsplusnames localspluskinds co_code_adaptive co_tlbc */
	224, 112, 120, 128, 136, 68, 52, 96, 104, 216, 0,
	/* pyobject: size ob_type */ 16, 8,
	/* type_object: size tp_name tp_repr tp_flags */ 416, 24, 88, 168,
	/* tuple_object: size ob_item ob_size */ 32, 24, 16,
	/* list_object: size ob_item ob_size */ 40, 24, 16,
	/* set_object: size used table mask */ 200, 24, 40, 32,
	/* dict_object: size ma_keys ma_values */ 48, 32, 40,
	/* float_object: size ob_fval */ 24, 16,
	/* long_object: size lv_tag ob_digit */ 32, 16, 24,
	/* bytes_object: size ob_size ob_sval */ 40, 16, 32,
	/* unicode_object: size state length asciiobject_size */ 64, 32, 16, 40,
	/* gc: size collecting */ 400, 48,
	/* gen_object: size gi_name gi_iframe gi_frame_state */ 176, 24, 88, 83,
	/* llist_node: next prev */ 0, 8,
	/* debugger_support: eval_breaker remote_debugger_support
	 * remote_debugging_enabled debugger_pending_call debugger_script_path
	 * debugger_script_path_size */
	24, 4096, 30000, 0, 4, 512,
};

static const uint64_t block_315[] = {
	/* head */ COOKIE, 0x030f00a2, 0,
	/* runtime_state: size finalizing interpreters_head */ 310000, 648, 672,
	/* interpreter_state: (as 3.14) */
	210000, 8, 0, 7424, 7432, 80, 7500, 7600, 7608, 7616, 7624, 0, 7632, 7640, 7648, 0,
	/* thread_state: size prev next interp current_frame base_frame
	 * last_profiled_frame last_profiled_frame_seq thread_id native_thread_id
	 * datastack_chunk status holds_gil gil_requested current_exception
	 * exc_state */
	480, 0, 8, 16, 88, 96, 104, 112, 184, 192, 256, 40, 44, 45, 120, 128,
	/* err_stackitem: exc_value */ 0,
	/* interpreter_frame: size previous executable instr_ptr localsplus owner
	 * stackpointer tlbc_index */
	96, 8, 0, 64, 88, 82, 72, 0,
	/* code_object: size filename name qualname linetable firstlineno argcount
	 * localsplusnames localspluskinds co_code_adaptive co_tlbc */
	232, 120, 128, 136, 144, 72, 56, 104, 112, 224, 0,
	/* pyobject: size ob_type */ 16, 8,
	/* type_object: size tp_name tp_repr tp_flags tp_basicsize tp_dictoffset */
	416, 24, 88, 168, 32, 288,
	/* heap_type_object: size ht_cached_keys */ 960, 800,
	/* tuple_object */ 32, 24, 16,
	/* list_object */ 40, 24, 16,
	/* set_object */ 200, 24, 40, 32,
	/* dict_object */ 48, 32, 40,
	/* float_object */ 24, 16,
	/* long_object */ 32, 16, 24,
	/* bytes_object: size ob_size ob_sval */ 40, 16, 32,
	/* unicode_object: size state length asciiobject_size
	 * compactunicodeobject_size */
	72, 32, 16, 48, 64,
	/* gc: size collecting frame generation_stats_size generation_stats */
	520, 48, 56, 24, 64,
	/* gen_object */ 176, 24, 88, 83,
	/* llist_node */ 0, 8,
	/* debugger_support */ 24, 4096, 30000, 0, 4, 512,
};

/* What the reader must take from the blocks above. */
struct expect {
	uint32_t interpreters_head, threads_head, tstate_next, thread_id, current_frame;
	uint32_t previous, executable, instr, owner;
	uint32_t filename, qualname, linetable, first_line, adaptive;
	uint32_t bytes_size, bytes_data, unicode_state, unicode_length, ascii_data, compact_data;
};

static const struct expect expect_314 = {
	664, 7408, 8, 168, 80, 8, 0, 56, 74, 112, 128, 136, 68, 216, 16, 32, 32, 16, 40, 56,
};
static const struct expect expect_315 = {
	672, 7424, 8, 184, 88, 8, 0, 64, 82, 120, 136, 144, 72, 224, 16, 32, 32, 16, 48, 64,
};

static void check_layout(const uint64_t *block, size_t n, const struct expect *e)
{
	struct python_layout l;
	struct python_config c;

	CHECK(python_layout_from_debug_offsets(block, n, &l));
	CHECK_INT(l.runtime_interpreters, e->interpreters_head);
	CHECK_INT(l.interp_threads, e->threads_head);
	CHECK_INT(l.tstate_next, e->tstate_next);
	CHECK_INT(l.tstate_thread_id, e->thread_id);
	CHECK_INT(l.bpf.tstate_from, PY_TSTATE_TLS);
	CHECK_INT(l.bpf.tstate_frame, e->current_frame);
	CHECK_INT(l.bpf.cframe_current_frame, PY_NO_FIELD);
	CHECK_INT(l.bpf.frame_previous, e->previous);
	CHECK_INT(l.bpf.frame_code, e->executable);
	CHECK_INT(l.bpf.frame_instr, e->instr);
	CHECK_INT(l.bpf.instr_is_index, 0);
	CHECK_INT(l.bpf.frame_owner, e->owner);
	CHECK_INT(l.bpf.owner_cstack, 3); /* FRAME_OWNED_BY_INTERPRETER and up */
	CHECK_INT(l.bpf.code_filename, e->filename);
	CHECK_INT(l.bpf.code_name, e->qualname);
	CHECK_INT(l.code_linetable, e->linetable);
	CHECK_INT(l.bpf.code_first_line, e->first_line);
	CHECK_INT(l.bpf.code_bytecode, e->adaptive);
	CHECK_INT(l.object_type, 8);
	CHECK_INT(l.bytes_size, e->bytes_size);
	CHECK_INT(l.bytes_data, e->bytes_data);
	CHECK_INT(l.unicode_state, e->unicode_state);
	CHECK_INT(l.unicode_length, e->unicode_length);
	CHECK_INT(l.unicode_ascii_data, e->ascii_data);
	CHECK_INT(l.unicode_compact_data, e->compact_data);
	CHECK(!l.needs_debug_offsets);
	CHECK(l.untested);
	CHECK(l.line_at != NULL);
	CHECK(python_layout_config(&l, &c)); /* fits the kernel's reads */
}

TEST(python314_layout_from_debug_offsets)
{
	CHECK_INT(python_debug_offsets_count(14), sizeof(block_314) / 8);
	check_layout(block_314, sizeof(block_314) / 8, &expect_314);
}

TEST(python315_layout_from_debug_offsets)
{
	CHECK_INT(python_debug_offsets_count(15), sizeof(block_315) / 8);
	check_layout(block_315, sizeof(block_315) / 8, &expect_315);
}

/* Whether the block with d[at] = value still gives a layout. */
static bool accepted_with(const uint64_t *block, size_t size, size_t at, uint64_t value)
{
	uint64_t d[PY_DEBUG_OFFSETS_MAX] = { 0 };
	struct python_layout l;

	memcpy(d, block, size);
	d[at] = value;
	return python_layout_from_debug_offsets(d, PY_DEBUG_OFFSETS_MAX, &l);
}

/* A block read with another version's field order gives offsets of other
 * fields: the checks of what every GIL build has refuse it. */
TEST(python_debug_offsets_of_another_version_refused)
{
	uint64_t d[PY_DEBUG_OFFSETS_MAX] = { 0 };
	struct python_layout l;

	memcpy(d, block_314, sizeof(block_314));
	d[1] = 0x030f00f0; /* 3.14's fields, said to be 3.15's */
	CHECK(!python_layout_from_debug_offsets(d, PY_DEBUG_OFFSETS_MAX, &l));
	d[1] = 0x030d00f0; /* ... or 3.13's */
	CHECK(!python_layout_from_debug_offsets(d, PY_DEBUG_OFFSETS_MAX, &l));
	memset(d, 0, sizeof(d));
	memcpy(d, block_315, sizeof(block_315));
	d[1] = 0x030e00f0;
	CHECK(!python_layout_from_debug_offsets(d, PY_DEBUG_OFFSETS_MAX, &l));
	d[1] = 0x031000a1; /* 3.16: its layout is not known */
	CHECK(!python_layout_from_debug_offsets(d, PY_DEBUG_OFFSETS_MAX, &l));
	/* Cut short, free-threaded, or an offset outside its struct. */
	CHECK(!python_layout_from_debug_offsets(block_314, sizeof(block_314) / 8 - 1, &l));
	memcpy(d, block_314, sizeof(block_314));
	d[2] = 1;
	CHECK(!python_layout_from_debug_offsets(d, PY_DEBUG_OFFSETS_MAX, &l));
	memcpy(d, block_314, sizeof(block_314));
	d[26] = 4096; /* thread_state.current_frame */
	CHECK(!python_layout_from_debug_offsets(d, PY_DEBUG_OFFSETS_MAX, &l));
	/* What every GIL build has, which a shifted field breaks: a 16-byte
	 * PyObject, localsplus ending the frame, co_code_adaptive the code
	 * object; 3.15's PyCompactUnicodeObject past its PyASCIIObject. */
	CHECK(!accepted_with(block_314, sizeof(block_314), 50, 24));	/* pyobject.size */
	CHECK(!accepted_with(block_314, sizeof(block_314), 35, 72));	/* frame localsplus */
	CHECK(!accepted_with(block_314, sizeof(block_314), 48, 200));	/* co_code_adaptive */
	CHECK(!accepted_with(block_315, sizeof(block_315), 93, 40));	/* compactunicodeobject_size */
	CHECK(accepted_with(block_315, sizeof(block_315), 94, 1));	/* gc.size: not read */
	/* 3.14 and 3.15 have no table row to fall back on. */
	CHECK(python_layout_for(3, 14) && python_layout_for(3, 14)->needs_debug_offsets);
	CHECK(python_layout_for(3, 15) && python_layout_for(3, 15)->needs_debug_offsets);
}

/* ---- a whole process image: the block at _PyRuntime, a code object ---- */

#define RUNTIME 0x1000
#define CODE 0x3000
#define NAME 0x4000
#define FILENAME 0x4100
#define LINETABLE 0x4200
#define CODE_TYPE 0x40

/* def f(n): / a = [n] / if n: / b = bytes(n) / return a, compiled by 3.13.0
 * (the format 3.11 to 3.15 share): co_linetable and co_lines(). */
static const uint8_t linetable[] = {
	128, 0, 216, 9, 10, 136, 3, 128, 65, 222, 7, 8, 220, 12, 17, 144, 33, 139, 72, 136, 1,
	216, 11, 12, 128, 72,
};

static void put(uint8_t *to, uint64_t at, const void *v, size_t n)
{
	memcpy(to + at, v, n);
}

static void put_u64(uint8_t *to, uint64_t at, uint64_t v)
{
	put(to, at, &v, 8);
}

/* A compact ASCII str (state: kind 1, compact, ascii). */
static void put_str(uint8_t *to, uint64_t at, const char *s, const struct expect *e)
{
	uint32_t state = 1u << 2 | 1u << 5 | 1u << 6;

	put_u64(to, at, 1);
	put_u64(to, at + e->unicode_length, strlen(s));
	put(to, at + e->unicode_state, &state, 4);
	put(to, at + e->ascii_data, s, strlen(s) + 1);
}

static uint8_t mem[0x8000];

/* The block at RUNTIME and a code object at CODE, in mem. */
static void prepare(const uint64_t *block, size_t size, const struct expect *e)
{
	int32_t first_line = 1;

	memset(mem, 0, sizeof(mem));
	put(mem, RUNTIME, block, size);
	put_u64(mem, CODE, 1);			/* ob_refcnt */
	put_u64(mem, CODE + 8, CODE_TYPE);	/* ob_type */
	put(mem, CODE + e->first_line, &first_line, 4);
	put_u64(mem, CODE + e->filename, FILENAME);
	put_u64(mem, CODE + e->qualname, NAME);
	put_u64(mem, CODE + e->linetable, LINETABLE);
	put_str(mem, NAME, "Handler.f", e);
	put_str(mem, FILENAME, "/srv/m.py", e);
	put_u64(mem, LINETABLE + e->bytes_size, sizeof(linetable));
	put(mem, LINETABLE + e->bytes_data, linetable, sizeof(linetable));
}

/* The interpreter whose memory is mem. */
static struct python *open_image(char *msg, size_t msglen)
{
	struct python *py;
	int fd = memfd_create("python-image", MFD_CLOEXEC);

	if (fd < 0 || write(fd, mem, sizeof(mem)) != (ssize_t)sizeof(mem)) {
		CHECK(!"memfd");
		return NULL;
	}
	py = python_for_memory_runtime(fd, RUNTIME, CODE_TYPE, msg, msglen);
	if (!py)
		close(fd);
	return py;
}

static struct python *image(const uint64_t *block, size_t size, const struct expect *e, char *msg,
			    size_t msglen)
{
	prepare(block, size, e);
	return open_image(msg, msglen);
}

static void check_frames(const uint64_t *block, size_t size, const struct expect *e,
			 const char *untested)
{
	/* co_lines(): (0, 2, 1), (2, 8, 2), (8, 22, 3), (22, 44, 4), (44, 48, 5) */
	static const int offsets[] = { 0, 2, 6, 8, 20, 22, 42, 44, 46 };
	static const int lines[] = { 1, 2, 2, 3, 3, 4, 4, 5, 5 };
	char msg[256];
	struct python *py = image(block, size, e, msg, sizeof(msg));
	struct frame f;
	uint32_t id;

	CHECK(py != NULL);
	if (!py)
		return;
	CHECK(python_offsets_published(py));
	CHECK_STR(python_untested(py), untested);
	id = python_code_identity(py, CODE);
	CHECK(id != 0);
	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		CHECK(python_frame(py, CODE, offsets[i], id, &f));
		CHECK_STR(f.function, "Handler.f");
		CHECK_STR(f.file, "/srv/m.py");
		CHECK_INT(f.line, lines[i]);
	}
	/* Another code object's identity: not this one's frame. */
	CHECK(!python_frame(py, CODE, 0, id + 1, &f));
	python_free(py);
	/* Immortal, its ob_flags set (3.14+: above the 32-bit count): alive;
	 * freed (pymalloc's free list link over the count): not. */
	prepare(block, size, e);
	put_u64(mem, CODE, 3ULL << 30 | 4ULL << 48);
	py = open_image(msg, sizeof(msg));
	CHECK(py && python_code_identity(py, CODE) == id);
	python_free(py);
	put_u64(mem, CODE, 0x7f1234567890ULL);
	py = open_image(msg, sizeof(msg));
	CHECK(py && python_code_identity(py, CODE) == 0);
	python_free(py);
}

TEST(python314_code_objects_read_through_the_block)
{
	check_frames(block_314, sizeof(block_314), &expect_314,
		     "CPython 3.14: layout from _Py_DebugOffsets, not tested on this version");
}

TEST(python315_code_objects_read_through_the_block)
{
	check_frames(block_315, sizeof(block_315), &expect_315,
		     "CPython 3.15: layout from _Py_DebugOffsets, not tested on this version");
}

TEST(python_image_with_a_foreign_block_is_refused_and_said)
{
	uint64_t d[sizeof(block_314) / 8];
	char msg[256];

	memcpy(d, block_314, sizeof(d));
	d[1] = 0x030f00f0;
	CHECK(image(d, sizeof(d), &expect_314, msg, sizeof(msg)) == NULL);
	CHECK(strstr(msg, "not laid out as those of 3.15") != NULL);
	memcpy(d, block_314, sizeof(d));
	d[0] = 0; /* 3.14 without a block: no row to fall back on */
	d[1] = 0x030e00f0;
	CHECK(image(d, sizeof(d), &expect_314, msg, sizeof(msg)) == NULL);
}

/* The thread states: the interpreter's list (3.14's offsets, from the
 * block), each thread's thread-local 16 bytes below its thread pointer. */
#define INTERP 0x5000
#define TSTATE_A 0x7000
#define TSTATE_B 0x7400

static int thread_local_check(uint64_t b_next, uint64_t b_local)
{
	struct python *py;
	int answer;

	prepare(block_314, sizeof(block_314), &expect_314);
	put_u64(mem, RUNTIME + expect_314.interpreters_head, INTERP);
	put_u64(mem, INTERP + expect_314.threads_head, TSTATE_A);
	put_u64(mem, TSTATE_A + expect_314.tstate_next, TSTATE_B);
	put_u64(mem, TSTATE_A + expect_314.thread_id, 0x7810); /* pthread_self() */
	put_u64(mem, 0x7800, TSTATE_A);
	put_u64(mem, TSTATE_B + expect_314.tstate_next, b_next);
	put_u64(mem, TSTATE_B + expect_314.thread_id, 0x7910);
	put_u64(mem, 0x7900, b_local);
	py = open_image(NULL, 0);
	CHECK(py != NULL);
	if (!py)
		return 2;
	answer = python_thread_local_check(py, PY_TSTATE_TLS, -16, 0);
	python_free(py);
	return answer;
}

TEST(python_thread_states_checked_against_the_thread_local)
{
	CHECK_INT(thread_local_check(0, TSTATE_B), 1);	/* each thread's own */
	CHECK_INT(thread_local_check(0, 0), 1);		/* B without the GIL */
	CHECK_INT(thread_local_check(0, TSTATE_A), -1);	/* another's: not it */
	/* A list that loops (torn, or hostile memory) is not walked 10000
	 * times: looked at again later. */
	CHECK_INT(thread_local_check(TSTATE_A, TSTATE_B), 0);
	CHECK_INT(thread_local_check(TSTATE_B, TSTATE_B), 0);
}
