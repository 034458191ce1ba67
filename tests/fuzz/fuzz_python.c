/* libFuzzer harness: code objects read from hostile memory (a target can hold
 * anything at the addresses its Python stack walk gave us: freed code
 * objects, torn writes), and the _Py_DebugOffsets block.  The input is the
 * target's memory; its first 16 bytes pick a code object address, a
 * bytecode offset and the identity the walk saw. */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "python.h"
#include "python_layouts.h"

#define CODE_TYPE 0x40 /* where PyCode_Type "is" in the fuzzed memory */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t code = 0;
	int32_t offset = 0;
	uint32_t identity = 0;
	struct python *py;
	struct frame f;
	int fd;

	uint64_t debug[PY_DEBUG_OFFSETS_SIZE / 8] = { 0 };
	struct python_layout layout;

	if (size < 16)
		return 0;
	/* The input as a debug offsets block, with the cookie and version so
	 * that the checks past them run. */
	memcpy(debug, data, size < sizeof(debug) ? size : sizeof(debug));
	memcpy(debug, PY_DEBUG_COOKIE, 8);
	debug[1] = 0x030d0000 | (debug[1] & 0xffff);
	if (python_layout_from_debug_offsets(debug, sizeof(debug) / 8, &layout))
		python_layout_config(&layout, &(struct python_config){ 0 });
	memcpy(&code, data, sizeof(code));
	memcpy(&offset, data + 8, sizeof(offset));
	memcpy(&identity, data + 12, sizeof(identity));
	fd = memfd_create("fuzz-python", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	/* The address's top bits (cut off below) pick the layout: 3.10-3.13. */
	py = python_for_memory(fd, 3, 10 + (unsigned)(code >> 60) % 4, CODE_TYPE);
	if (!py) {
		close(fd);
		return 0;
	}
	/* Twice: the second answer comes from the cache. */
	python_frame(py, code % (size + 64), offset, identity, &f);
	python_frame(py, code % (size + 64), offset, identity, &f);
	python_frame(py, 16, offset, identity, &f);
	/* And as the walk would have seen it: past the identity check. */
	python_frame(py, code % (size + 64), offset, python_code_identity(py, code % (size + 64)), &f);
	python_free(py);
	return 0;
}
