/* Where CPython keeps what we read, per version.  The offsets come from
 * compiling against each version's internal headers (Py_BUILD_CORE, offsetof);
 * scripts/python-offsets.c prints them for the headers at hand, so adding a
 * version is: run it, add a row, and (3.12+: the thread state is in TLS,
 * 3.13 publishes _Py_DebugOffsets) teach the BPF walk the new path. */
#include <stddef.h>
#include <stdint.h>
#include "python_layouts.h"
#include "python_linetable.h"

static const struct python_layout layouts[] = {
	{
		.major = 3, .minor = 11,
		.bpf = {
			.tstate_current = 576,		/* gilstate.tstate_current */
			.tstate_native_thread_id = 160,
			.tstate_cframe = 56,
			.cframe_current_frame = 8,
			.frame_code = 32,		/* f_code */
			.frame_previous = 48,
			.frame_prev_instr = 56,
			.code_bytecode = 184,		/* co_code_adaptive */
			.code_first_line = 72,
			.code_filename = 112,
			.code_name = 128,		/* co_qualname */
		},
		.object_type = 8,
		.code_filename = 112,
		.code_qualname = 128,
		.code_linetable = 136,
		.code_firstlineno = 72,
		.bytes_size = 16,
		.bytes_data = 32,
		.unicode_length = 16,
		.unicode_state = 32,
		.unicode_ascii_data = 48,	/* sizeof(PyASCIIObject) */
		.unicode_compact_data = 72,	/* sizeof(PyCompactUnicodeObject) */
		.line_at = python311_line_at,
	},
};

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
	const uint32_t frame_at[] = { b->frame_code, b->frame_previous, b->frame_prev_instr };
	const uint32_t frame_size[] = { 8, 8, 8 };
	const uint32_t code_at[] = { b->code_first_line, b->code_filename, b->code_name };
	const uint32_t code_size[] = { 4, 8, 8 };
	uint32_t lo, hi;
	bool fits = true;

	*out = *b;
	span(frame_at, frame_size, 3, &lo, &hi);
	out->frame_window = lo;
	fits = fits && hi - lo <= PY_FRAME_WINDOW;
	for (int i = 0; i < 3; i++)
		fits = fits && frame_at[i] % 8 == 0;
	span(code_at, code_size, 3, &lo, &hi);
	out->code_window = lo;
	out->code_window_size = hi - lo;
	fits = fits && hi - lo <= PY_CODE_WINDOW;
	for (int i = 0; i < 3; i++)
		fits = fits && (code_at[i] - lo) % 4 == 0;
	return fits;
}
