// Linked with tcmalloc: its operator new/delete do not go through malloc.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

struct Record {
	char data[200];
};

static Record *kept[32];

__attribute__((noinline)) static void keep_records()
{
	for (int i = 0; i < 32; i++) {
		kept[i] = new Record; /* ALLOC:keep_records */
		__asm__ volatile("" : : "r"(kept[i]) : "memory");
	}
}

__attribute__((noinline)) static void churn_records()
{
	for (int i = 0; i < 100; i++) {
		Record *r = new Record; /* ALLOC:churn_records */
		__asm__ volatile("" : : "r"(r) : "memory");
		delete r;
	}
}

__attribute__((noinline)) static void keep_tc_malloc()
{
	for (int i = 0; i < 10; i++)
		__asm__ volatile("" : : "r"(malloc(5555)) : "memory"); /* ALLOC:keep_tc_malloc */
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--wait") == 0) {
		sigset_t set;
		int sig;

		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, nullptr);
		std::printf("waiting\n");
		std::fflush(stdout);
		sigwait(&set, &sig);
	}
	keep_records();
	churn_records();
	keep_tc_malloc();
	std::printf("ready\n");
	std::fflush(stdout);
	for (;;)
		pause();
}
