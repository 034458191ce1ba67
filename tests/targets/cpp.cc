// C++: the caller's name must come out demangled.
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

private:
	void *blocks[64] = {};
	int count = 0;
};
} // namespace leaky

int main(int argc, char **argv)
{
	static leaky::Cache cache;
	sigset_t set;
	int sig;

	if (argc > 1 && strcmp(argv[1], "--wait") == 0) {
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, nullptr);
		std::printf("waiting\n");
		std::fflush(stdout);
		sigwait(&set, &sig);
	}
	cache.store(10);
	std::printf("ready\n");
	std::fflush(stdout);
	for (;;)
		pause();
}
