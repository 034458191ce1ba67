/* Where CPython keeps what we read, per version.  The offsets come from
 * compiling against each version's internal headers (Py_BUILD_CORE, offsetof);
 * scripts/python-offsets.c prints them for the headers at hand, so adding a
 * version is: run it, add a row, and (3.12+: the thread state is in TLS,
 * 3.13 publishes _Py_DebugOffsets) teach the BPF walk the new path. */
#include <stddef.h>
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
