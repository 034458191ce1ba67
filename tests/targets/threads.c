/* 50 short-lived threads, each keeping 4 x 512 bytes: 102400 bytes in all. */
#include <pthread.h>
#include <stdlib.h>
#include "target.h"

__attribute__((noinline)) static void *thread_keep(void *arg)
{
	for (int i = 0; i < 4; i++) {
		void *p = malloc(512); /* ALLOC:thread_keep */

		KEEP(p);
	}
	return arg;
}

int main(int argc, char **argv)
{
	wait_for_go(argc, argv);
	for (int i = 0; i < 50; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, thread_keep, NULL) == 0)
			pthread_join(t, NULL);
		usleep(20000);
	}
	say_ready();
	for (;;)
		pause();
}
