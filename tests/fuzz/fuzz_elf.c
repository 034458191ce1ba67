/* libFuzzer harness: an object file from a hostile target (a container's
 * libc, say) goes through everything leaktop does with it: finding allocator
 * symbols (libelf), then symbolizing addresses in it (libdwfl: symbols, DWARF
 * lines, demangling) and the call-site check. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "allocators.h"
#include "symbolizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/leaktop-fuzz-XXXXXX";
	struct allocator_object obj;
	struct symbolizer *sym;
	struct frame f;
	uint64_t addrs[8] = { 0x1000, 0x1001, 0x1040, 0x2000, 0x10000, 0x1fff0, 0, 0 };
	int fd = mkstemp(path);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	/* Addresses to resolve come partly from the input itself. */
	if (size >= 16)
		memcpy(&addrs[6], data + size - 16, 16);

	allocator_object_load(path, path, &obj);
	sym = symbolizer_new(0, NULL); /* no process: only the mapping below */
	if (sym && symbolizer_add_mapping(sym, 0x1000, 0x20000, 0, path)) {
		for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
			char buf[256];

			symbolizer_resolve(sym, addrs[i], i % 2, &f);
			frame_fallback_name(&f, buf, sizeof(buf));
		}
	}
	symbolizer_free(sym);
	unlink(path);
	return 0;
}
