// C++: the caller's name must come out demangled.  Usage: cpp [--wait] [--objects N]
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace leaky {
class Cache {
public:
	__attribute__((noinline)) void store(int n)
	{
		for (int i = 0; i < n && count < 64; i++) {
			blocks[count] = malloc(1234); /* ALLOC:store */
			__asm__ volatile("" : : "r"(blocks[count]) : "memory");
			count++;
		}
	}

	struct Entry {
		char payload[96];
	};

	__attribute__((noinline)) void store_objects(int n)
	{
		for (int i = 0; i < n && objects < 64; i++) {
			entries[objects] = new Entry; /* ALLOC:store_objects */
			__asm__ volatile("" : : "r"(entries[objects]) : "memory");
			arrays[objects] = new char[500]; /* ALLOC:store_arrays */
			__asm__ volatile("" : : "r"(arrays[objects]) : "memory");
			objects++;
		}
	}

	__attribute__((noinline)) void churn_objects(int n)
	{
		for (int i = 0; i < n; i++) {
			Entry *e = new Entry; /* ALLOC:churn_objects */
			__asm__ volatile("" : : "r"(e) : "memory");
			delete e;
		}
	}

private:
	void *blocks[64] = {};
	Entry *entries[64] = {};
	char *arrays[64] = {};
	int count = 0, objects = 0;
};
} // namespace leaky

int main(int argc, char **argv)
{
	static leaky::Cache cache;
	sigset_t set;
	int sig, objects = 7;

	/* --objects N: calls of store_objects' loop (up to 64). */
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--objects") == 0)
			objects = atoi(argv[i + 1]);

	if (argc > 1 && strcmp(argv[1], "--wait") == 0) {
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, nullptr);
		std::printf("waiting\n");
		std::fflush(stdout);
		sigwait(&set, &sig);
	}
	cache.store(10);
	cache.store_objects(objects);
	cache.churn_objects(50);
	std::printf("ready\n");
	std::fflush(stdout);
	for (;;)
		pause();
}
