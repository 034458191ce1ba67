/* CPython struct layouts per version (what the BPF walk and the code object
 * reader need). */
#ifndef LEAKTOP_PYTHON_LAYOUTS_H
#define LEAKTOP_PYTHON_LAYOUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "leaktop_types.h"

struct python_layout {
	unsigned major, minor;
	struct python_config bpf;	/* runtime left 0: found per process */
	uint32_t runtime_interpreters;	/* _PyRuntimeState.interpreters.head */
	uint32_t interp_threads;	/* PyInterpreterState: its first thread state */
	uint32_t tstate_next, tstate_thread_id; /* PyThreadState (thread_id: pthread_self) */
	uint32_t object_type;		/* PyObject.ob_type */
	uint32_t code_linetable;	/* PyCodeObject (first line, file and name:
					 * in bpf) */
	uint32_t bytes_size, bytes_data;	/* PyBytesObject: ob_size, ob_sval */
	uint32_t unicode_length, unicode_state;
	uint32_t unicode_ascii_data, unicode_compact_data;
	/* Line of the instruction at a byte offset, from co_linetable. */
	int (*line_at)(const uint8_t *table, size_t len, int first_line, int offset);
};

/* The kernel walk's configuration for the layout (python_config without the
 * per-process addresses): false when its fields do not fit the walk's reads
 * (PY_FRAME_WINDOW, PY_CODE_WINDOW). */
bool python_layout_config(const struct python_layout *l, struct python_config *out);

/* NULL when the version is not supported. */
const struct python_layout *python_layout_for(unsigned major, unsigned minor);

#endif
