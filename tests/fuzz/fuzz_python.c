/* libFuzzer harness: every reader of a CPython target's memory, on hostile
 * memory (a target can hold anything at the addresses its Python stack walk
 * gave us: freed code objects, torn writes, cyclic lists):
 *  - the _Py_DebugOffsets block of each known layout (3.13 to 3.15), as
 *    bytes, and written field by field with offsets the input picks so that
 *    the reads past the block's checks run;
 *  - code objects (names, files, line tables of each format) through the
 *    3.10-3.13 table rows and through such a block;
 *  - the thread states (the interpreter's list, each thread's thread-local).
 * The input is the target's memory; its first 16 bytes pick a code object
 * address, a bytecode offset and the identity the walk saw. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "python.h"
#include "python_layouts.h"

#define CODE_TYPE 0x40 /* where PyCode_Type "is" in the fuzzed memory */
#define RUNTIME 0x10   /* where _PyRuntime is, for the block written there */

struct input {
	const uint8_t *data;
	size_t size, next;
};

static uint8_t next_byte(struct input *in)
{
	return in->size ? in->data[in->next++ % in->size] : 0;
}

/* A field's value: what every GIL build has where the block's checks demand
 * it, else an offset the input picks inside a 256-byte struct (most of a
 * struct's fields, the sizes aside). */
static uint64_t field_value(const char *group, const char *field, void *arg)
{
	struct input *in = arg;
	const bool size = strcmp(field, "size") == 0;

	if (strcmp(group, "head") == 0)
		return 0; /* the cookie and version are set; a GIL build */
	if (strcmp(group, "pyobject") == 0)
		return size ? 16 : 8;
	if (strcmp(group, "interpreter_frame") == 0 || strcmp(group, "code_object") == 0) {
		if (size)
			return 256;
		if (strcmp(field, "localsplus") == 0 || strcmp(field, "co_code_adaptive") == 0)
			return 248;
		return next_byte(in) % 248;
	}
	if (strcmp(field, "compactunicodeobject_size") == 0)
		return 200;
	return size ? 256 : next_byte(in) % 192;
}

static void read_frames(struct python *py, uint64_t code, int32_t offset, uint32_t identity)
{
	struct frame f;

	/* Twice: the second answer comes from the cache. */
	python_frame(py, code, offset, identity, &f);
	python_frame(py, code, offset, identity, &f);
	python_frame(py, 16, offset, identity, &f);
	/* And as the walk would have seen it: past the identity check. */
	python_frame(py, code, offset, python_code_identity(py, code), &f);
}

static int memory_of(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-python", MFD_CLOEXEC);

	if (fd >= 0 && write(fd, data, size) == (ssize_t)size)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t code = 0, debug[PY_DEBUG_OFFSETS_MAX] = { 0 };
	struct input in = { data, size, 16 };
	struct python_layout layout;
	int32_t offset = 0;
	uint32_t identity = 0;
	struct python *py;
	uint8_t *image;
	size_t n;
	char msg[256];
	int fd;

	if (size < 16)
		return 0;
	memcpy(&code, data, sizeof(code));
	memcpy(&offset, data + 8, sizeof(offset));
	memcpy(&identity, data + 12, sizeof(identity));
	/* The input as a block of each known layout, cookie and version set. */
	for (unsigned minor = 13; minor <= 15; minor++) {
		memcpy(debug, data, size < sizeof(debug) ? size : sizeof(debug));
		memcpy(debug, PY_DEBUG_COOKIE, 8);
		debug[1] = 0x03000000u | minor << 16 | (debug[1] & 0xffff);
		if (python_layout_from_debug_offsets(debug, PY_DEBUG_OFFSETS_MAX, &layout))
			python_layout_config(&layout, &(struct python_config){ 0 });
	}

	/* The 3.10-3.13 table rows; the address's top bits pick one. */
	fd = memory_of(data, size);
	if (fd < 0)
		return 0;
	py = python_for_memory(fd, 3, 10 + (unsigned)(code >> 60) % 4, CODE_TYPE);
	if (!py) {
		close(fd);
		return 0;
	}
	read_frames(py, code % (size + 64), offset, identity);
	python_thread_local_check(py, PY_TSTATE_TLS, (int8_t)data[13], 0);
	python_free(py);

	/* A block of 3.13, 3.14 or 3.15 written at RUNTIME over the input, its
	 * offsets the input's: code objects and thread states read through
	 * it, the rest of the memory hostile. */
	n = python_debug_offsets_write(13 + data[8] % 3, field_value, &in, debug, PY_DEBUG_OFFSETS_MAX);
	image = malloc(size > RUNTIME + n * 8 ? size : RUNTIME + n * 8);
	if (!image)
		return 0;
	memcpy(image, data, size);
	memcpy(image + RUNTIME, debug, n * 8);
	fd = memory_of(image, size > RUNTIME + n * 8 ? size : RUNTIME + n * 8);
	free(image);
	if (fd < 0)
		return 0;
	py = python_for_memory_runtime(fd, RUNTIME, CODE_TYPE, msg, sizeof(msg));
	if (!py) {
		close(fd);
		return 0;
	}
	read_frames(py, code % (size + 64), offset, identity);
	/* The thread-local in the static TLS block, or a TLS module's. */
	python_thread_local_check(py, PY_TSTATE_TLS, (int8_t)data[13], 0);
	python_thread_local_check(py, PY_TSTATE_TLS_MODULE, data[14], data[15] % 4);
	python_free(py);
	return 0;
}
