/* Where CPython keeps what we read, per version.  Up to 3.12 the offsets
 * come from compiling against each version's internal headers (Py_BUILD_CORE,
 * offsetof): scripts/python-offsets.c prints them for the headers at hand.
 * From 3.13 the interpreter publishes them (_Py_DebugOffsets): adding a
 * version is then writing down its block's field order (debug_3xx below, from
 * its pycore_debug_offsets.h) and a row for what the block does not say, and
 * teaching the BPF walk what changed (bpf/python_stack.bpf.h). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "python_layouts.h"
#include "python_linetable.h"

static const struct python_layout layouts[] = {
	{
		.major = 3, .minor = 10,
		.bpf = {
			.tstate_from = PY_TSTATE_RUNTIME,
			.tstate_current = 568,		/* gilstate.tstate_current */
			.tstate_thread = 176,		/* thread_id: pthread_self() */
			.thread_is_pthread = 1,
			.tstate_frame = 24,		/* frame */
			.cframe_current_frame = PY_NO_FIELD,
			.frame_code = 32,		/* PyFrameObject.f_code */
			.frame_previous = 24,		/* f_back */
			.frame_instr = 96,		/* f_lasti, in code units */
			.instr_is_index = 1,
			.frame_owner = PY_NO_FIELD,
			.code_first_line = 40,
			.code_filename = 104,
			.code_name = 112,		/* co_name: no co_qualname yet */
		},
		.runtime_interpreters = 32,
		.interp_threads = 8,		/* tstate_head */
		.tstate_next = 8,
		.tstate_thread_id = 176,
		.object_type = 8,
		.code_linetable = 120,
		.bytes_size = 16,
		.bytes_data = 32,
		.unicode_length = 16,
		.unicode_state = 32,
		.unicode_ascii_data = 48,	/* sizeof(PyASCIIObject) */
		.unicode_compact_data = 72,	/* sizeof(PyCompactUnicodeObject) */
		.line_at = python310_line_at,
	},
	{
		.major = 3, .minor = 11,
		.bpf = {
			.tstate_from = PY_TSTATE_RUNTIME,
			.tstate_current = 576,		/* gilstate.tstate_current */
			.tstate_thread = 160,		/* native_thread_id */
			.tstate_frame = 56,		/* cframe */
			.cframe_current_frame = 8,
			.frame_code = 32,		/* f_code */
			.frame_previous = 48,
			.frame_instr = 56,		/* prev_instr */
			.frame_owner = PY_NO_FIELD,	/* no entry frames */
			.code_bytecode = 184,		/* co_code_adaptive */
			.code_first_line = 72,
			.code_filename = 112,
			.code_name = 128,		/* co_qualname */
		},
		.runtime_interpreters = 40,
		.interp_threads = 16,		/* threads.head */
		.tstate_next = 8,
		.tstate_thread_id = 152,
		.object_type = 8,
		.code_linetable = 136,
		.bytes_size = 16,
		.bytes_data = 32,
		.unicode_length = 16,
		.unicode_state = 32,
		.unicode_ascii_data = 48,
		.unicode_compact_data = 72,
		.line_at = python311_line_at,
	},
	{
		.major = 3, .minor = 12,
		.bpf = {
			.tstate_from = PY_TSTATE_TLS,	/* _Py_tss_tstate */
			.tstate_frame = 56,		/* cframe */
			.cframe_current_frame = 0,
			.frame_code = 0,		/* f_code */
			.frame_previous = 8,
			.frame_instr = 56,		/* prev_instr */
			.frame_owner = 70,
			.owner_cstack = 3,		/* FRAME_OWNED_BY_CSTACK */
			.code_bytecode = 192,		/* co_code_adaptive */
			.code_first_line = 68,
			.code_filename = 112,
			.code_name = 128,		/* co_qualname */
		},
		.runtime_interpreters = 40,
		.interp_threads = 72,		/* threads.head */
		.tstate_next = 8,
		.tstate_thread_id = 136,
		.object_type = 8,
		.code_linetable = 136,
		.bytes_size = 16,
		.bytes_data = 32,
		.unicode_length = 16,
		.unicode_state = 32,
		.unicode_ascii_data = 40,	/* no more wstr */
		.unicode_compact_data = 56,
		.line_at = python311_line_at,	/* same format */
	},
	{
		.major = 3, .minor = 13,
		.bpf = {
			.tstate_from = PY_TSTATE_TLS,	/* _Py_tss_tstate */
			.tstate_frame = 72,		/* current_frame: no _PyCFrame */
			.cframe_current_frame = PY_NO_FIELD,
			.frame_code = 0,		/* f_executable */
			.frame_previous = 8,
			.frame_instr = 56,		/* instr_ptr */
			.frame_owner = 70,
			.owner_cstack = 3,		/* FRAME_OWNED_BY_CSTACK */
			.code_bytecode = 200,		/* co_code_adaptive */
			.code_first_line = 68,
			.code_filename = 112,
			.code_name = 128,		/* co_qualname */
		},
		.runtime_interpreters = 632,
		.interp_threads = 7344,		/* threads.head */
		.tstate_next = 8,
		.tstate_thread_id = 152,
		.object_type = 8,
		.code_linetable = 136,
		.bytes_size = 16,
		.bytes_data = 32,
		.unicode_length = 16,
		.unicode_state = 32,
		.unicode_ascii_data = 40,
		.unicode_compact_data = 56,
		.line_at = python311_line_at,	/* same format */
	},
	/* 3.14 and 3.15: every offset from the _Py_DebugOffsets block; here
	 * only what it does not say.  f_executable is a tagged _PyStackRef
	 * (Include/internal/pycore_stackref.h: Py_TAG_BITS 1 in 3.14, 3 on
	 * main), cleared by the walk.  Owners (pycore_interpframe_structs.h):
	 * 3.14 FRAME_OWNED_BY_INTERPRETER 3 (the eval loop's entry frame) and
	 * FRAME_OWNED_BY_CSTACK 4; 3.15 INTERPRETER 3 and THREAD_STATE 4 (the
	 * base frame): neither holds Python code. */
	{
		.major = 3, .minor = 14,
		.bpf = {
			.tstate_from = PY_TSTATE_TLS,	/* _Py_tss_tstate */
			.cframe_current_frame = PY_NO_FIELD,
			.owner_cstack = 3,
		},
		.needs_debug_offsets = true,
		.untested = true,
		.line_at = python311_line_at,	/* same format */
	},
	{
		.major = 3, .minor = 15,
		.bpf = {
			.tstate_from = PY_TSTATE_TLS,
			.cframe_current_frame = PY_NO_FIELD,
			.owner_cstack = 3,
		},
		.needs_debug_offsets = true,
		.untested = true,
		.line_at = python311_line_at,
	},
};

/* _Py_DebugOffsets per minor version: the cookie, then uint64_t fields in
 * groups (one per struct), in the order of the header that declares it:
 *   3.13: Include/internal/pycore_runtime.h (v3.13.0);
 *   3.14: Include/internal/pycore_debug_offsets.h of the 3.14 branch
 *         (3.14.0b4+, after which 3.14's structs are frozen);
 *   3.15: the same file on main (development, as of late 2025: it may still
 *         grow; a block that does not pass the checks below is refused).
 * Only the fields read here are named by their position; the rest are
 * counted.  Each group is "name: field field ...". */
struct debug_version {
	unsigned minor;
	const char *const *groups;
};

/* Groups several versions share. */
#define HEAD "head: cookie version free_threaded"
#define RUNTIME_STATE "runtime_state: size finalizing interpreters_head"
#define INTERPRETER_STATE_313 "interpreter_state: size id next threads_head gc " \
	"imports_modules sysdict builtins ceval_gil gil_runtime_state " \
	"gil_runtime_state_enabled gil_runtime_state_locked gil_runtime_state_holder"
#define INTERPRETER_STATE_314 "interpreter_state: size id next threads_head threads_main " \
	"gc imports_modules sysdict builtins ceval_gil gil_runtime_state " \
	"gil_runtime_state_enabled gil_runtime_state_locked gil_runtime_state_holder " \
	"code_object_generation tlbc_generation"
#define THREAD_STATE_313 "thread_state: size prev next interp current_frame thread_id " \
	"native_thread_id datastack_chunk status"
#define FRAME_314 "interpreter_frame: size previous executable instr_ptr localsplus owner " \
	"stackpointer tlbc_index"
#define CODE_313 "code_object: size filename name qualname linetable firstlineno " \
	"argcount localsplusnames localspluskinds co_code_adaptive"
#define CODE_314 CODE_313 " co_tlbc"
#define SEQUENCES "tuple_object: size ob_item ob_size", "list_object: size ob_item ob_size"
#define SET "set_object: size used table mask"
#define SCALARS "dict_object: size ma_keys ma_values", "float_object: size ob_fval", \
	"long_object: size lv_tag ob_digit", "bytes_object: size ob_size ob_sval"
#define UNICODE_313 "unicode_object: size state length asciiobject_size"
#define GEN_TO_END "gen_object: size gi_name gi_iframe gi_frame_state", \
	"llist_node: next prev", \
	"debugger_support: eval_breaker remote_debugger_support " \
	"remote_debugging_enabled debugger_pending_call debugger_script_path " \
	"debugger_script_path_size"

static const char *const debug_313[] = {
	HEAD, RUNTIME_STATE, INTERPRETER_STATE_313, THREAD_STATE_313,
	"interpreter_frame: size previous executable instr_ptr localsplus owner",
	CODE_313,
	"pyobject: size ob_type",
	"type_object: size tp_name tp_repr tp_flags",
	SEQUENCES, SCALARS, UNICODE_313,
	"gc: size collecting",
	NULL,
};

static const char *const debug_314[] = {
	HEAD, RUNTIME_STATE, INTERPRETER_STATE_314, THREAD_STATE_313, FRAME_314, CODE_314,
	"pyobject: size ob_type",
	"type_object: size tp_name tp_repr tp_flags",
	SEQUENCES, SET, SCALARS, UNICODE_313,
	"gc: size collecting",
	GEN_TO_END,
	NULL,
};

static const char *const debug_315[] = {
	HEAD, RUNTIME_STATE, INTERPRETER_STATE_314,
	"thread_state: size prev next interp current_frame base_frame last_profiled_frame "
	"last_profiled_frame_seq thread_id native_thread_id datastack_chunk status holds_gil "
	"gil_requested current_exception exc_state",
	"err_stackitem: exc_value",
	FRAME_314, CODE_314,
	"pyobject: size ob_type",
	"type_object: size tp_name tp_repr tp_flags tp_basicsize tp_dictoffset",
	"heap_type_object: size ht_cached_keys",
	SEQUENCES, SET, SCALARS,
	"unicode_object: size state length asciiobject_size compactunicodeobject_size",
	"gc: size collecting frame generation_stats_size generation_stats",
	GEN_TO_END,
	NULL,
};

static const struct debug_version debug_versions[] = {
	{ 13, debug_313 }, { 14, debug_314 }, { 15, debug_315 },
};

static const struct debug_version *debug_version_of(unsigned minor)
{
	for (size_t i = 0; i < sizeof(debug_versions) / sizeof(debug_versions[0]); i++)
		if (debug_versions[i].minor == minor)
			return &debug_versions[i];
	return NULL;
}

/* Calls visit(group, field, position, arg) for each field of the block in
 * order (names NUL-terminated, at most 47 characters) until it returns true;
 * returns that position, or the number of fields when none did. */
static int visit_fields(const struct debug_version *v,
			bool (*visit)(const char *group, const char *field, int at, void *arg), void *arg)
{
	char group[48], field[48];
	int at = 0;

	for (const char *const *g = v->groups; *g; g++) {
		const char *p = strchr(*g, ':');

		snprintf(group, sizeof(group), "%.*s", (int)(p - *g), *g);
		for (p++; *p;) {
			size_t n;

			p += strspn(p, " ");
			n = strcspn(p, " ");
			if (!n)
				break;
			snprintf(field, sizeof(field), "%.*s", (int)n, p);
			if (visit(group, field, at, arg))
				return at;
			at++;
			p += n;
		}
	}
	return at;
}

struct field_name {
	const char *group, *field;
};

static bool is_field(const char *group, const char *field, int at, void *arg)
{
	const struct field_name *want = arg;

	(void)at;
	return want->group && strcmp(group, want->group) == 0 && strcmp(field, want->field) == 0;
}

/* The position of group.field in the block (in uint64_t; the cookie is the
 * first), or -1; with group NULL, the number of fields of the block. */
static int debug_index(const struct debug_version *v, const char *group, const char *field)
{
	struct field_name want = { group, field };
	int at = visit_fields(v, is_field, &want);

	return !group || at < debug_index(v, NULL, NULL) ? at : -1;
}

size_t python_debug_offsets_count(unsigned minor)
{
	const struct debug_version *v = debug_version_of(minor);

	return v ? (size_t)debug_index(v, NULL, NULL) : 0;
}

struct block_writer {
	uint64_t (*value)(const char *group, const char *field, void *arg);
	void *arg;
	uint64_t *out;
};

static bool write_field(const char *group, const char *field, int at, void *arg)
{
	struct block_writer *w = arg;

	w->out[at] = w->value(group, field, w->arg);
	return false;
}

size_t python_debug_offsets_write(unsigned minor,
				  uint64_t (*value)(const char *group, const char *field, void *arg),
				  void *arg, uint64_t *out, size_t max)
{
	const struct debug_version *v = debug_version_of(minor);
	struct block_writer w = { value, arg, out };
	size_t n = python_debug_offsets_count(minor);

	if (!v || n > max)
		return 0;
	visit_fields(v, write_field, &w);
	memcpy(out, PY_DEBUG_COOKIE, 8);
	out[1] = 0x03000000u | minor << 16 | 0xf0;
	return n;
}

/* The fields read, named as in the header. */
enum {
	F_RUNTIME_SIZE, F_INTERPRETERS_HEAD,
	F_INTERP_SIZE, F_THREADS_HEAD,
	F_TSTATE_SIZE, F_TSTATE_NEXT, F_CURRENT_FRAME, F_THREAD_ID,
	F_FRAME_SIZE, F_FRAME_PREVIOUS, F_FRAME_EXECUTABLE, F_FRAME_INSTR, F_FRAME_LOCALSPLUS,
	F_FRAME_OWNER,
	F_CODE_SIZE, F_CODE_FILENAME, F_CODE_QUALNAME, F_CODE_LINETABLE, F_CODE_FIRSTLINENO,
	F_CODE_ADAPTIVE,
	F_OBJECT_SIZE, F_OBJECT_TYPE,
	F_BYTES_SIZE, F_BYTES_OB_SIZE, F_BYTES_SVAL,
	F_UNICODE_SIZE, F_UNICODE_STATE, F_UNICODE_LENGTH, F_ASCII_SIZE,
	F_COUNT,
};

static const char *const field_names[F_COUNT][2] = {
	{ "runtime_state", "size" }, { "runtime_state", "interpreters_head" },
	{ "interpreter_state", "size" }, { "interpreter_state", "threads_head" },
	{ "thread_state", "size" }, { "thread_state", "next" },
	{ "thread_state", "current_frame" }, { "thread_state", "thread_id" },
	{ "interpreter_frame", "size" }, { "interpreter_frame", "previous" },
	{ "interpreter_frame", "executable" }, { "interpreter_frame", "instr_ptr" },
	{ "interpreter_frame", "localsplus" }, { "interpreter_frame", "owner" },
	{ "code_object", "size" }, { "code_object", "filename" }, { "code_object", "qualname" },
	{ "code_object", "linetable" }, { "code_object", "firstlineno" },
	{ "code_object", "co_code_adaptive" },
	{ "pyobject", "size" }, { "pyobject", "ob_type" },
	{ "bytes_object", "size" }, { "bytes_object", "ob_size" }, { "bytes_object", "ob_sval" },
	{ "unicode_object", "size" }, { "unicode_object", "state" },
	{ "unicode_object", "length" }, { "unicode_object", "asciiobject_size" },
};

unsigned python_debug_offsets_minor(const uint64_t *d, size_t n)
{
	if (n < 3 || memcmp(d, PY_DEBUG_COOKIE, 8) != 0 || (d[1] >> 24) != 3)
		return 0;
	return (unsigned)(d[1] >> 16) & 0xff;
}

bool python_layout_from_debug_offsets(const uint64_t *d, size_t n, struct python_layout *out)
{
	const unsigned minor = python_debug_offsets_minor(d, n);
	const struct debug_version *v = debug_version_of(minor);
	const struct python_layout *base = python_layout_for(3, minor);
	uint64_t f[F_COUNT];
	int compact;
	struct python_config *b;

	if (!v || !base || n < python_debug_offsets_count(minor) || d[2])
		return false; /* unknown layout, or free-threaded */
	for (int i = 0; i < F_COUNT; i++) {
		int at = debug_index(v, field_names[i][0], field_names[i][1]);

		if (at < 0)
			return false;
		f[i] = d[at];
	}
	compact = debug_index(v, "unicode_object", "compactunicodeobject_size");
	/* Every offset inside its struct, every struct of a sane size. */
	if (f[F_RUNTIME_SIZE] > (1u << 24) || f[F_INTERP_SIZE] > (1u << 24) ||
	    f[F_TSTATE_SIZE] > 65536 || f[F_FRAME_SIZE] > 4096 || f[F_CODE_SIZE] > 4096 ||
	    f[F_UNICODE_SIZE] > 4096 || f[F_BYTES_SIZE] > 4096)
		return false;
	if (f[F_INTERPRETERS_HEAD] >= f[F_RUNTIME_SIZE] || f[F_THREADS_HEAD] >= f[F_INTERP_SIZE] ||
	    f[F_TSTATE_NEXT] >= f[F_TSTATE_SIZE] || f[F_CURRENT_FRAME] >= f[F_TSTATE_SIZE] ||
	    f[F_THREAD_ID] >= f[F_TSTATE_SIZE] || f[F_BYTES_OB_SIZE] >= f[F_BYTES_SIZE] ||
	    f[F_BYTES_SVAL] >= f[F_BYTES_SIZE] || f[F_UNICODE_STATE] >= f[F_UNICODE_SIZE] ||
	    f[F_UNICODE_LENGTH] >= f[F_UNICODE_SIZE] || f[F_ASCII_SIZE] > f[F_UNICODE_SIZE])
		return false;
	for (int i = F_FRAME_PREVIOUS; i <= F_FRAME_OWNER; i++)
		if (f[i] >= f[F_FRAME_SIZE])
			return false;
	for (int i = F_CODE_FILENAME; i <= F_CODE_ADAPTIVE; i++)
		if (f[i] >= f[F_CODE_SIZE])
			return false;
	/* What the headers say of any GIL build, so that a block read with
	 * another version's field order is refused: a PyObject is a count and
	 * a type; the frame ends with localsplus[1] (8 bytes), the code object
	 * with co_code_adaptive[1] (a char, padded to 8). */
	if (f[F_OBJECT_SIZE] != 16 || f[F_OBJECT_TYPE] != 8 ||
	    f[F_FRAME_LOCALSPLUS] + 8 != f[F_FRAME_SIZE] ||
	    f[F_CODE_SIZE] - f[F_CODE_ADAPTIVE] < 1 || f[F_CODE_SIZE] - f[F_CODE_ADAPTIVE] > 8 ||
	    (compact >= 0 && (d[compact] <= f[F_ASCII_SIZE] || d[compact] > f[F_UNICODE_SIZE])))
		return false;
	*out = *base; /* what the block does not say: owner values, line table format */
	b = &out->bpf;
	out->needs_debug_offsets = false;
	out->runtime_interpreters = (uint32_t)f[F_INTERPRETERS_HEAD];
	out->interp_threads = (uint32_t)f[F_THREADS_HEAD];
	out->tstate_next = (uint32_t)f[F_TSTATE_NEXT];
	out->tstate_thread_id = (uint32_t)f[F_THREAD_ID];
	b->tstate_frame = (uint32_t)f[F_CURRENT_FRAME];
	b->cframe_current_frame = PY_NO_FIELD;
	b->frame_code = (uint32_t)f[F_FRAME_EXECUTABLE];
	b->frame_previous = (uint32_t)f[F_FRAME_PREVIOUS];
	b->frame_instr = (uint32_t)f[F_FRAME_INSTR];
	b->instr_is_index = 0;
	b->frame_owner = (uint32_t)f[F_FRAME_OWNER];
	b->code_bytecode = (uint32_t)f[F_CODE_ADAPTIVE];
	b->code_first_line = (uint32_t)f[F_CODE_FIRSTLINENO];
	b->code_filename = (uint32_t)f[F_CODE_FILENAME];
	b->code_name = (uint32_t)f[F_CODE_QUALNAME];
	out->code_linetable = (uint32_t)f[F_CODE_LINETABLE];
	out->object_type = (uint32_t)f[F_OBJECT_TYPE];
	out->bytes_size = (uint32_t)f[F_BYTES_OB_SIZE];
	out->bytes_data = (uint32_t)f[F_BYTES_SVAL];
	out->unicode_state = (uint32_t)f[F_UNICODE_STATE];
	out->unicode_length = (uint32_t)f[F_UNICODE_LENGTH];
	out->unicode_ascii_data = (uint32_t)f[F_ASCII_SIZE];
	/* PyCompactUnicodeObject: PyASCIIObject, utf8_length, utf8 (3.15 says) */
	out->unicode_compact_data = (uint32_t)(compact >= 0 ? d[compact] : f[F_ASCII_SIZE] + 16);
	return true;
}

const struct python_layout *python_layout_for(unsigned major, unsigned minor)
{
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].major == major && layouts[i].minor == minor)
			return &layouts[i];
	return NULL;
}

/* lo..hi (hi: the end of the last field) of the fields at `at`. */
static void span(const uint32_t *at, const uint32_t *size, int n, uint32_t *lo, uint32_t *hi)
{
	*lo = UINT32_MAX;
	*hi = 0;
	for (int i = 0; i < n; i++) {
		*lo = at[i] < *lo ? at[i] : *lo;
		*hi = at[i] + size[i] > *hi ? at[i] + size[i] : *hi;
	}
}

bool python_layout_config(const struct python_layout *l, struct python_config *out)
{
	const struct python_config *b = &l->bpf;
	const bool owner = b->frame_owner != PY_NO_FIELD;
	const uint32_t frame_at[] = { b->frame_code, b->frame_previous, b->frame_instr,
				      owner ? b->frame_owner : b->frame_code };
	const uint32_t frame_size[] = { 8, 8, b->instr_is_index ? 4 : 8, owner ? 1 : 8 };
	const uint32_t code_at[] = { b->code_first_line, b->code_filename, b->code_name };
	const uint32_t code_size[] = { 4, 8, 8 };
	uint32_t lo, hi;
	bool fits = true;

	*out = *b;
	/* Windows start 8-aligned, so that fields are aligned in them. */
	span(frame_at, frame_size, 4, &lo, &hi);
	out->frame_window = lo & ~7u;
	out->frame_window_size = hi - out->frame_window;
	fits = fits && out->frame_window_size <= PY_WINDOW;
	span(code_at, code_size, 3, &lo, &hi);
	out->code_window = lo & ~7u;
	out->code_window_size = hi - out->code_window;
	fits = fits && out->code_window_size <= PY_WINDOW;
	for (int i = 0; i < 4; i++)
		fits = fits && frame_at[i] % frame_size[i] == 0;
	for (int i = 0; i < 3; i++)
		fits = fits && code_at[i] % code_size[i] == 0;
	return fits;
}
