/* Where CPython keeps what we read, per version.  The offsets come from
 * compiling against each version's internal headers (Py_BUILD_CORE, offsetof);
 * scripts/python-offsets.c prints them for the headers at hand, so adding a
 * version is: run it, add a row, and teach the BPF walk what changed
 * (bpf/python_stack.bpf.h). */
#include <stddef.h>
#include <stdint.h>
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
};

/* CPython 3.13's _Py_DebugOffsets (Include/internal/pycore_runtime.h): the
 * cookie, then uint64_t fields; these are the indexes of those read here. */
enum {
	D_VERSION = 1, D_FREE_THREADED,
	D_RUNTIME_SIZE, D_INTERPRETERS_HEAD = 5,
	D_INTERP_SIZE, D_THREADS_HEAD = 9,
	D_TSTATE_SIZE = 19, D_TSTATE_NEXT = 21, D_CURRENT_FRAME = 23, D_THREAD_ID,
	D_FRAME_SIZE = 28, D_FRAME_PREVIOUS, D_FRAME_EXECUTABLE, D_FRAME_INSTR, D_FRAME_LOCALSPLUS,
	D_FRAME_OWNER,
	D_CODE_SIZE, D_CODE_FILENAME, D_CODE_NAME, D_CODE_QUALNAME, D_CODE_LINETABLE,
	D_CODE_FIRSTLINENO, D_CODE_ADAPTIVE = 43,
	D_OBJECT_SIZE, D_OBJECT_TYPE,
	D_BYTES_SIZE = 64, D_BYTES_OB_SIZE, D_BYTES_SVAL,
	D_UNICODE_SIZE, D_UNICODE_STATE, D_UNICODE_LENGTH, D_ASCII_SIZE,
	D_COUNT = 73,
};

bool python_layout_from_debug_offsets(const uint64_t *d, size_t n, struct python_layout *out)
{
	const struct python_layout *base;
	struct python_config *b;

	if (n < D_COUNT || memcmp(d, PY_DEBUG_COOKIE, 8) != 0 || (d[D_VERSION] >> 16) != 0x030d ||
	    d[D_FREE_THREADED] || !(base = python_layout_for(3, 13)))
		return false;
	/* Every offset inside its struct, every struct of a sane size. */
	for (int i = D_RUNTIME_SIZE + 1; i <= D_INTERPRETERS_HEAD; i++)
		if (d[i] >= d[D_RUNTIME_SIZE])
			return false;
	if (d[D_THREADS_HEAD] >= d[D_INTERP_SIZE] || d[D_TSTATE_NEXT] >= d[D_TSTATE_SIZE] ||
	    d[D_CURRENT_FRAME] >= d[D_TSTATE_SIZE] || d[D_THREAD_ID] >= d[D_TSTATE_SIZE] ||
	    d[D_OBJECT_TYPE] >= d[D_OBJECT_SIZE] || d[D_BYTES_OB_SIZE] >= d[D_BYTES_SIZE] ||
	    d[D_BYTES_SVAL] >= d[D_BYTES_SIZE] || d[D_UNICODE_STATE] >= d[D_UNICODE_SIZE] ||
	    d[D_UNICODE_LENGTH] >= d[D_UNICODE_SIZE] || d[D_ASCII_SIZE] > d[D_UNICODE_SIZE] ||
	    d[D_RUNTIME_SIZE] > (1u << 24) || d[D_INTERP_SIZE] > (1u << 24))
		return false;
	for (int i = D_FRAME_PREVIOUS; i <= D_FRAME_OWNER; i++)
		if (d[i] >= d[D_FRAME_SIZE] || d[D_FRAME_SIZE] > 4096)
			return false;
	for (int i = D_CODE_FILENAME; i <= D_CODE_ADAPTIVE; i++)
		if (d[i] > d[D_CODE_SIZE] || d[D_CODE_SIZE] > 4096)
			return false;
	*out = *base; /* what the block does not say: owner values, line table format */
	b = &out->bpf;
	out->runtime_interpreters = (uint32_t)d[D_INTERPRETERS_HEAD];
	out->interp_threads = (uint32_t)d[D_THREADS_HEAD];
	out->tstate_next = (uint32_t)d[D_TSTATE_NEXT];
	out->tstate_thread_id = (uint32_t)d[D_THREAD_ID];
	b->tstate_frame = (uint32_t)d[D_CURRENT_FRAME];
	b->frame_code = (uint32_t)d[D_FRAME_EXECUTABLE];
	b->frame_previous = (uint32_t)d[D_FRAME_PREVIOUS];
	b->frame_instr = (uint32_t)d[D_FRAME_INSTR];
	b->frame_owner = (uint32_t)d[D_FRAME_OWNER];
	b->code_bytecode = (uint32_t)d[D_CODE_ADAPTIVE];
	b->code_first_line = (uint32_t)d[D_CODE_FIRSTLINENO];
	b->code_filename = (uint32_t)d[D_CODE_FILENAME];
	b->code_name = (uint32_t)d[D_CODE_QUALNAME];
	out->code_linetable = (uint32_t)d[D_CODE_LINETABLE];
	out->object_type = (uint32_t)d[D_OBJECT_TYPE];
	out->bytes_size = (uint32_t)d[D_BYTES_OB_SIZE];
	out->bytes_data = (uint32_t)d[D_BYTES_SVAL];
	out->unicode_state = (uint32_t)d[D_UNICODE_STATE];
	out->unicode_length = (uint32_t)d[D_UNICODE_LENGTH];
	out->unicode_ascii_data = (uint32_t)d[D_ASCII_SIZE];
	/* PyCompactUnicodeObject: PyASCIIObject, utf8_length, utf8 */
	out->unicode_compact_data = (uint32_t)d[D_ASCII_SIZE] + 16;
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
