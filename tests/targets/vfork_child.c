/* A vfork child allocating in its parent's memory: it shares the parent's
 * address space (and, until it exits, its heap) but is another process, so
 * its allocations are not the target's.  The parent's own stay counted. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "target.h"

#define PARENT_BLOCKS 10
#define PARENT_SIZE 1000
#define CHILD_BLOCKS 7
#define CHILD_SIZE 3000

/* Not static: the compiler must assume someone reads the blocks. */
void *parent_blocks[PARENT_BLOCKS];
void *child_blocks[CHILD_BLOCKS];

__attribute__((noinline)) static void parent_keeps(void)
{
	for (int i = 0; i < PARENT_BLOCKS; i++)
		parent_blocks[i] = malloc(PARENT_SIZE); /* ALLOC:parent_keeps */
}

/* Runs in the vfork child while the parent is suspended (so the two never
 * use the allocator at once); the blocks stay in the shared heap. */
__attribute__((noinline)) static void child_allocates(void)
{
	for (int i = 0; i < CHILD_BLOCKS; i++)
		child_blocks[i] = malloc(CHILD_SIZE); /* ALLOC:child_allocates */
}

int main(int argc, char **argv)
{
	pid_t child;
	int status;

	wait_for_go(argc, argv);
	parent_keeps();
	child = vfork();
	if (child == 0) {
		child_allocates();
		_exit(0);
	}
	if (child < 0 || waitpid(child, &status, 0) != child)
		return 1;
	say_ready();
	pause();
	return 0;
}
