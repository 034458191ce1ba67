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
	bool needs_debug_offsets;	/* the row says only what the block does not
					 * (3.14+): its offsets come from the block */
	bool untested;			/* no test runs this version */
	/* Line of the instruction at a byte offset, from co_linetable. */
	int (*line_at)(const uint8_t *table, size_t len, int first_line, int offset);
};

/* The kernel walk's configuration for the layout (python_config without the
 * per-process addresses): false when its fields do not fit the walk's reads
 * (PY_WINDOW bytes each). */
bool python_layout_config(const struct python_layout *l, struct python_config *out);

/* CPython 3.13+ publishes its offsets at the start of _PyRuntime, a
 * _Py_DebugOffsets block: the cookie, the version (PY_VERSION_HEX), whether
 * the build is free-threaded, then offsets (uint64_t each).  Its own layout
 * changes between minor versions: those known are 3.13 to 3.15. */
#define PY_DEBUG_COOKIE "xdebugpy"
#define PY_DEBUG_OFFSETS_MAX 128 /* uint64_t: more than any known block */

/* The minor version a block d[0..n) says (n in uint64_t), 0 when it is no
 * CPython 3 block. */
unsigned python_debug_offsets_minor(const uint64_t *d, size_t n);

/* How many uint64_t the block of 3.minor has (the cookie is one), 0 when its
 * layout is not known. */
size_t python_debug_offsets_count(unsigned minor);

/* Writes the block of 3.minor into out[0..max): the cookie, the version
 * (3.minor.0), each other field's value from value(group, field, arg),
 * names as in the header.  For fuzzing; returns the block's length, 0 when
 * the layout is not known. */
size_t python_debug_offsets_write(unsigned minor,
				  uint64_t (*value)(const char *group, const char *field, void *arg),
				  void *arg, uint64_t *out, size_t max);

/* The layout of a GIL build from its _Py_DebugOffsets block d[0..n), its
 * version's table row for what the block does not say; false when the block
 * is not a sane one of a version whose block layout is known. */
bool python_layout_from_debug_offsets(const uint64_t *d, size_t n, struct python_layout *out);

/* NULL when the version is not supported. */
const struct python_layout *python_layout_for(unsigned major, unsigned minor);

#endif
