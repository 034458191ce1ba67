/* A CPython interpreter inside the target: finding it, turning the kernel's
 * Python frames (code object, bytecode offset) into function and file:line,
 * and finding pymalloc's functions to probe. */
#ifndef LEAKTOP_PYTHON_H
#define LEAKTOP_PYTHON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "allocators.h"
#include "leaktop_types.h"
#include "symbolizer.h"

struct python;

/* How much of the Python heap the probes see. */
enum python_heap_view {
	PY_HEAP_MALLOC,	  /* only what reaches malloc (objects > 512 B, PYTHONMALLOC=malloc) */
	PY_HEAP_PYMALLOC, /* pymalloc's functions are probed: every object */
	PY_HEAP_ARENAS,	  /* pymalloc is inlined (LTO): small objects seen as 1 MiB arenas */
};

/* The interpreter mapped in pid (an object exporting _PyRuntime and
 * Py_Version), opened under root.  NULL when there is none yet; *msg (if not
 * empty) then says why one found cannot be used (unsupported version). */
struct python *python_find(pid_t pid, const char *root, char *msg, size_t msglen);
void python_free(struct python *py);

/* Whether the program at path (an ELF file, or a script whose #! line names
 * one, directly or through env and find_in_path) is a free-threaded CPython,
 * which refuses PYTHONMALLOC=malloc. */
bool python_program_free_threaded(const char *path,
				   bool (*find_in_path)(const char *name, char *out, size_t len));

/* Whether pid's program is an interpreter (named python*) or links
 * libpython, so that python_find will succeed once the loader is done. */
bool python_expected(pid_t pid);

/* An interpreter whose memory is the file mem_fd (offsets = addresses) and
 * whose PyCode_Type is at code_type; for tests and fuzzing.  Takes mem_fd. */
struct python *python_for_memory(int mem_fd, unsigned major, unsigned minor, uint64_t code_type);

/* An interpreter whose memory is the file mem_fd, with _PyRuntime at
 * runtime: its layout from the _Py_DebugOffsets block there, as for a live
 * process (3.13+); NULL (and *msg when one is to be said) when it cannot be
 * read.  For tests and fuzzing; mem_fd stays the caller's on failure. */
struct python *python_for_memory_runtime(int mem_fd, uint64_t runtime, uint64_t code_type,
					 char *msg, size_t msglen);

/* Whether the thread-local at offset (in the static TLS block, or of the
 * TLS module) holds what _Py_tss_tstate would for each thread state there is
 * (1), contradicts it (-1), or there is none yet (0).  For fuzzing: the
 * check that follows finding the thread-local in a live process. */
int python_thread_local_check(struct python *py, enum py_tstate_from from, int64_t offset,
			      uint32_t module);

/* "CPython 3.N: layout from _Py_DebugOffsets, not tested on this version"
 * for a version no test runs, else NULL. */
const char *python_untested(const struct python *py);

const char *python_object_path(const struct python *py); /* as the target sees it */
const char *python_version(const struct python *py);	   /* "3.11.2" */

/* Why its Python frames are not read (a free-threaded build), or NULL. */
const char *python_frames_off(const struct python *py);

/* Whether the offsets were read from the interpreter's _Py_DebugOffsets. */
bool python_offsets_published(const struct python *py);

/* What the kernel's stack walk needs. */
void python_bpf_config(const struct python *py, struct python_config *out);

/* Reads pymalloc's allocator tables from the live process and fills *obj with
 * probes on the functions they point to (PyObject_Malloc & co, or the arena
 * allocator when the fast path is inlined).  Returns the resulting view. */
enum python_heap_view python_allocator_probes(struct python *py, struct allocator_object *obj);

/* Runtime addresses of pymalloc's allocator tables (PyMemAllocatorEx: ctx,
 * malloc, calloc, realloc, free) of the object and mem domains, and of the
 * raw domain (plain malloc). */
struct python_tables {
	uint64_t object, mem, raw;
};
bool python_allocator_tables(const struct python *py, struct python_tables *out);

/* /proc/PID/mem of the target, read-only. */
int python_mem_fd(const struct python *py);

/* Frame of a code object at a bytecode offset (kind python), when the code
 * object at that address still has the identity the kernel's walk saw
 * (struct py_frame).  Strings live until python_free.  false (and *out an
 * unknown Python frame) when the address holds no such code object any
 * more. */
bool python_frame(struct python *py, uint64_t code, int32_t offset, uint32_t identity,
		  struct frame *out);

/* The identity (py_code_identity) of the code object at an address now, 0
 * when there is none (tests). */
uint32_t python_code_identity(const struct python *py, uint64_t code);

#endif
