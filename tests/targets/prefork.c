/* A prefork server in miniature: the parent builds a big table, then forks
 * workers that inherit it.  Each worker frees its copy of the table (a block
 * it did not allocate), waits for SIGUSR1, leaks BLOCKS blocks of BLOCK_SIZE
 * bytes and says "leaked PID".  Usage: prefork NWORKERS [--wait] */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include "target.h"

#define TABLE_SIZE (8 << 20)
#define BLOCKS 100
#define BLOCK_SIZE 10000

static volatile sig_atomic_t go;

static void on_go(int sig)
{
	(void)sig;
	go = 1;
}

__attribute__((noinline)) static char *build_table(void)
{
	char *table = malloc(TABLE_SIZE); /* ALLOC:build_table */

	memset(table, 1, TABLE_SIZE);
	return table;
}

__attribute__((noinline)) static void worker_leak(void)
{
	void *p = malloc(BLOCK_SIZE); /* ALLOC:worker_leak */

	memset(p, 2, BLOCK_SIZE);
	KEEP(p);
}

static void worker(char *table)
{
	free(table); /* the parent's block: not this process's to count */
	printf("worker %d\n", getpid());
	fflush(stdout);
	while (!go)
		pause();
	for (int i = 0; i < BLOCKS; i++)
		worker_leak();
	printf("leaked %d\n", getpid());
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_go };
	int n = argc > 1 ? atoi(argv[1]) : 2;
	char *table;

	sigset_t set;

	sigaction(SIGUSR1, &sa, NULL);
	wait_for_go(argc, argv); /* (blocks SIGUSR1: the workers wait for theirs) */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	table = build_table();
	for (int i = 0; i < n; i++)
		if (fork() == 0)
			worker(table);
	say_ready();
	for (;;)
		pause();
}
