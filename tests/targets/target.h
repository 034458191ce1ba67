/* Shared by the test targets: the --wait handshake and keeping blocks alive.
 * With --wait a target blocks until SIGUSR1 (sent once leaktop is attached),
 * so that the allocations under test happen while probes are live. */
#ifndef TARGET_H
#define TARGET_H

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Keeps the compiler from optimizing an allocation away. */
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

/* Whether `flag` is among the target's arguments. */
static inline int has_flag(int argc, char **argv, const char *flag)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], flag) == 0)
			return 1;
	return 0;
}

static inline void wait_for_go(int argc, char **argv)
{
	sigset_t set;
	int sig;

	if (!has_flag(argc, argv, "--wait"))
		return;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("waiting\n");
	fflush(stdout);
	sigwait(&set, &sig);
}

static inline void say_ready(void)
{
	printf("ready\n");
	fflush(stdout);
}

#endif
