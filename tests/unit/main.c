/* Runs the unit tests: all of them (no argument), one (its name), or lists them
 * (--list).  Prints "N passed, N failed" last when running all. */
#include <stdlib.h>
#include "unit.h"

static struct unit_test *tests;
int unit_failures;

void unit_register(struct unit_test *t)
{
	struct unit_test **p = &tests;

	while (*p && strcmp((*p)->name, t->name) < 0)
		p = &(*p)->next;
	t->next = *p;
	*p = t;
}

static int run(struct unit_test *t)
{
	int before = unit_failures;

	t->fn();
	printf("%s %s\n", unit_failures == before ? "PASS" : "FAIL", t->name);
	return unit_failures == before;
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;

	if (argc > 1 && strcmp(argv[1], "--list") == 0) {
		for (struct unit_test *t = tests; t; t = t->next)
			printf("%s\n", t->name);
		return 0;
	}
	for (struct unit_test *t = tests; t; t = t->next) {
		if (argc > 1 && strcmp(argv[1], t->name) != 0)
			continue;
		if (run(t))
			passed++;
		else
			failed++;
	}
	if (argc > 1 && passed + failed == 0) {
		fprintf(stderr, "no test named %s\n", argv[1]);
		return 2;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
