/* A set of strings: a tsearch tree of copies. */
#define _GNU_SOURCE
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include "string_set.h"

static int compare_strings(const void *a, const void *b)
{
	return strcmp(a, b);
}

const char *string_set_intern(void **set, const char *str)
{
	char *copy, **found;

	if (!str)
		return NULL;
	found = tfind(str, set, compare_strings);
	if (found)
		return *found;
	copy = strdup(str);
	if (!copy)
		return NULL;
	found = tsearch(copy, set, compare_strings);
	if (!found || *found != copy) {
		free(copy);
		return found ? *found : NULL;
	}
	return copy;
}

void string_set_free(void **set)
{
	tdestroy(*set, free);
	*set = NULL;
}
