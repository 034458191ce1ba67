// C++ allocations that fail and throw: std::bad_alloc caught by the program,
// nothrow new returning null, then normal work.  A return probe on operator new
// would leave the kernel's trampoline address where the unwinder looks for
// the caller, and the throw would end in std::terminate.
#include <cstdio>
#include <new>
#include "target.h"

// 2^62 bytes: more than any address space holds, so every call fails.
static const size_t HUGE_SIZE = size_t(1) << 62;
static const int ROUNDS = 20;

struct Entry {
	char payload[200];
};

static Entry *kept[ROUNDS * 3];
static int nkept;

// Each round: a throwing new[] caught here, then an allocation from the same
// frame (a call at the same stack depth as the failed one), a nothrow new that
// fails, and one that succeeds.
__attribute__((noinline)) static int fail_and_recover(int round)
{
	int caught = 0;

	try {
		char *huge = new char[HUGE_SIZE];
		KEEP(huge);
	} catch (const std::bad_alloc &) {
		caught = 1;
		kept[nkept++] = new Entry; /* ALLOC:after_throw */
	}
	try {
		Entry *huge = new Entry[HUGE_SIZE / sizeof(Entry)];
		KEEP(huge);
	} catch (const std::bad_alloc &) {
		caught++;
	}
	char *none = new (std::nothrow) char[HUGE_SIZE];
	if (!none)
		caught++;
	kept[nkept++] = new (std::nothrow) Entry; /* ALLOC:nothrow_ok */
	if (round % 2 == 0)
		kept[nkept++] = new Entry; /* ALLOC:even_rounds */
	return caught;
}

int main(int argc, char **argv)
{
	int caught = 0;

	wait_for_go(argc, argv);
	for (int i = 0; i < ROUNDS; i++)
		caught += fail_and_recover(i);
	// Normal work after the failures: new/delete balanced.
	for (int i = 0; i < 1000; i++) {
		Entry *e = new Entry; /* ALLOC:balanced */
		KEEP(e);
		delete e;
	}
	std::printf("caught %d kept %d\n", caught, nkept);
	say_ready();
	for (;;)
		pause();
}
