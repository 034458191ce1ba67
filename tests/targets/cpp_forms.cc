// Every form of C++ operator new and delete: plain, array, nothrow, aligned
// (align_val_t), aligned nothrow, sized and aligned delete.  Each form keeps
// known blocks at its own call site, and churns blocks it frees again with the
// matching delete (which must take them all off).
#include <cstdio>
#include <new>
#include "target.h"

static const int KEEP_EACH = 8, CHURN_EACH = 100;

struct Plain {
	char payload[72];
};
struct alignas(64) Aligned {
	char payload[192];
};

static void *kept[16 * KEEP_EACH];
static int nkept;

__attribute__((noinline)) static void keep_plain()
{
	for (int i = 0; i < KEEP_EACH; i++)
		kept[nkept++] = new Plain; /* ALLOC:keep_plain */
}

__attribute__((noinline)) static void keep_array()
{
	for (int i = 0; i < KEEP_EACH; i++)
		kept[nkept++] = new char[333]; /* ALLOC:keep_array */
}

__attribute__((noinline)) static void keep_nothrow()
{
	for (int i = 0; i < KEEP_EACH; i++)
		kept[nkept++] = new (std::nothrow) Plain; /* ALLOC:keep_nothrow */
}

__attribute__((noinline)) static void keep_nothrow_array()
{
	for (int i = 0; i < KEEP_EACH; i++)
		kept[nkept++] = new (std::nothrow) char[444]; /* ALLOC:keep_nothrow_array */
}

__attribute__((noinline)) static void keep_aligned()
{
	for (int i = 0; i < KEEP_EACH; i++)
		kept[nkept++] = new Aligned; /* ALLOC:keep_aligned */
}

__attribute__((noinline)) static void keep_aligned_array()
{
	for (int i = 0; i < KEEP_EACH; i++)
		kept[nkept++] = new Aligned[3]; /* ALLOC:keep_aligned_array */
}

__attribute__((noinline)) static void keep_aligned_nothrow()
{
	for (int i = 0; i < KEEP_EACH; i++)
		kept[nkept++] = new (std::nothrow) Aligned; /* ALLOC:keep_aligned_nothrow */
}

// Freed with the matching delete: sized (Plain), aligned and sized (Aligned),
// array, aligned array.
__attribute__((noinline)) static void churn_all()
{
	for (int i = 0; i < CHURN_EACH; i++) {
		Plain *p = new Plain; /* ALLOC:churn_plain */
		KEEP(p);
		delete p;
		char *a = new char[100 + i]; /* ALLOC:churn_array */
		KEEP(a);
		delete[] a;
		Aligned *q = new Aligned; /* ALLOC:churn_aligned */
		KEEP(q);
		delete q;
		Aligned *qa = new Aligned[2]; /* ALLOC:churn_aligned_array */
		KEEP(qa);
		delete[] qa;
		Plain *n = new (std::nothrow) Plain; /* ALLOC:churn_nothrow */
		KEEP(n);
		::operator delete(n, std::nothrow);
	}
}

int main(int argc, char **argv)
{
	wait_for_go(argc, argv);
	keep_plain();
	keep_array();
	keep_nothrow();
	keep_nothrow_array();
	keep_aligned();
	keep_aligned_array();
	keep_aligned_nothrow();
	churn_all();
	say_ready();
	for (;;)
		pause();
}
