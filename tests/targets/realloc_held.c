/* A realloc kept under way for as long as a test wants.  Each pair of
 * SIGHUPs is one round: the first makes a 64 KiB block and reallocs it to a
 * bigger size; realloc moves it, and its copy of the old bytes waits on a
 * page the target made missing under userfaultfd ("caught").  The second
 * SIGHUP fills that page: realloc returns, everything is freed
 * ("released").  So a test can switch leaktop's duty cycle while a realloc
 * is under way.  SIGUSR2: "done". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "target.h"

#define PAGE 4096UL

static int uffd, go_pipe[2], release_pipe[2];
static struct uffdio_range held; /* the missing pages of the block */

static void wait_byte(int fd)
{
	char c;

	while (read(fd, &c, 1) != 1)
		;
}

__attribute__((noinline)) static void *held_block(size_t size)
{
	return malloc(size); /* ALLOC:held_block */
}

__attribute__((noinline)) static void *moved_block(void *p, size_t size)
{
	return realloc(p, size); /* ALLOC:moved_block */
}

static void *rounds(void *arg)
{
	for (;;) {
		void *p, *guard, *q;
		struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };

		wait_byte(go_pipe[0]);
		p = held_block(65536);
		guard = malloc(32); /* in use after p: realloc cannot grow p in place */
		if (!p || !guard)
			exit(1);
		/* The pages wholly inside the block, none of malloc's headers. */
		held.start = ((uintptr_t)p + PAGE - 1) & ~(PAGE - 1);
		held.len = (((uintptr_t)p + 65536) & ~(PAGE - 1)) - held.start;
		reg.range = held;
		if (ioctl(uffd, UFFDIO_REGISTER, &reg) ||
		    madvise((void *)(uintptr_t)held.start, held.len, MADV_DONTNEED))
			exit(1);
		q = moved_block(p, 100000);
		ioctl(uffd, UFFDIO_UNREGISTER, &held);
		free(q ? q : p);
		free(guard);
		printf("released\n");
		fflush(stdout);
	}
	return arg;
}

/* Answers the page fault of realloc's copy once the test says so. */
static void *faults(void *arg)
{
	for (;;) {
		struct uffd_msg msg;
		struct uffdio_zeropage zero = { .range = held };

		if (read(uffd, &msg, sizeof(msg)) != sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		printf("caught\n");
		fflush(stdout);
		wait_byte(release_pipe[0]);
		zero.range = held;
		if (ioctl(uffd, UFFDIO_ZEROPAGE, &zero))
			exit(1);
	}
	return arg;
}

int main(int argc, char **argv)
{
	struct uffdio_api api = { .api = UFFD_API };
	bool holding = false;
	pthread_t worker, handler;
	sigset_t set;
	int sig;

	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) || pipe(go_pipe) || pipe(release_pipe)) {
		perror("userfaultfd");
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL); /* threads inherit it: main takes them */
	wait_for_go(argc, argv);
	if (pthread_create(&worker, NULL, rounds, NULL) || pthread_create(&handler, NULL, faults, NULL))
		return 1;
	say_ready();
	for (;;) {
		sigwait(&set, &sig);
		if (sig == SIGUSR2)
			break;
		if (write(holding ? release_pipe[1] : go_pipe[1], "", 1) != 1)
			return 1;
		holding = !holding;
	}
	printf("done\n");
	fflush(stdout);
	for (;;)
		pause();
}
