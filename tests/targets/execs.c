/* Keeps 5000 bytes, then exec's itself; the new image keeps 7000 bytes. */
#include <stdlib.h>
#include "target.h"

__attribute__((noinline)) static void before_exec(void)
{
	void *p = malloc(5000); /* ALLOC:before_exec */

	KEEP(p);
}

__attribute__((noinline)) static void after_exec(void)
{
	void *p = malloc(7000); /* ALLOC:after_exec */

	KEEP(p);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--after") == 0) {
		after_exec();
		printf("exec'd\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	wait_for_go(argc, argv);
	before_exec();
	say_ready();
	/* With --wait, the exec waits for the test's next SIGUSR1 (it has read
	 * the report of before), not for a time that load can make too short. */
	if (has_flag(argc, argv, "--wait")) {
		sigset_t set;
		int sig;

		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigwait(&set, &sig);
	} else {
		usleep(1500000);
	}
	execl("/proc/self/exe", argv[0], "--after", (char *)NULL);
	return 1;
}
