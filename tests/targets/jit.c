/* Code with no file behind it (a JIT, an ffi closure) calling malloc: a stub
 * written into anonymous memory, then made executable (W^X, as JITs do),
 * calls malloc(size) and returns.  After "ready", allocates 4096 bytes
 * through it every 5 ms, keeping at most 256 blocks at a time (the oldest
 * is freed), and makes the stub writable and executable again in between,
 * as a JIT patching its code does, until killed. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "target.h"

typedef void *(*alloc_fn)(size_t);

__attribute__((noinline)) static void *through_stub(alloc_fn stub, size_t size)
{
	void *p = stub(size);

	KEEP(p);
	return p;
}

int main(int argc, char **argv)
{
	/* sub $8,%rsp; movabs $malloc,%rax; call *%rax; add $8,%rsp; ret */
	unsigned char code[] = { 0x48, 0x83, 0xec, 0x08, 0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
				 0xff, 0xd0, 0x48, 0x83, 0xc4, 0x08, 0xc3 };
	struct timespec tick = { 0, 5 * 1000 * 1000 };
	static void *blocks[256];
	alloc_fn target = malloc, stub;
	void *mem;

	memcpy(code + 6, &target, sizeof(target));
	mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	memcpy(mem, code, sizeof(code));
	if (mprotect(mem, 4096, PROT_READ | PROT_EXEC))
		return 1;
	*(void **)&stub = mem;
	wait_for_go(argc, argv);
	say_ready();
	for (unsigned i = 0;; i++) {
		free(blocks[i % 256]);
		blocks[i % 256] = through_stub(stub, 4096);
		nanosleep(&tick, NULL);
		if (mprotect(mem, 4096, PROT_READ | PROT_WRITE) || mprotect(mem, 4096, PROT_READ | PROT_EXEC))
			return 1;
	}
}
