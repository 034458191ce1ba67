/* Blocks of 4 GiB and more (their sizes do not fit the record word: they go
 * to big_sizes) beside one just under: made after --wait's signal, then the
 * big one is freed at the next SIGUSR1.  Untouched: no memory is used. */
#include <stdlib.h>
#include "target.h"

__attribute__((noinline)) static void *huge(void)
{
	return malloc((5ULL << 30) + 123); /* ALLOC:huge */
}

__attribute__((noinline)) static void *just_under(void)
{
	return malloc((4ULL << 30) - 2); /* ALLOC:just_under */
}

int main(int argc, char **argv)
{
	void *big, *under;

	wait_for_go(argc, argv);
	big = huge();
	under = just_under();
	KEEP(under);
	if (!big || !under)
		return 1;
	say_ready();
	wait_for_go(argc, argv);
	free(big);
	printf("freed\n");
	fflush(stdout);
	for (;;)
		pause();
}
