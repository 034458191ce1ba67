/* A set of strings: a tsearch tree of copies, each with a reference count
 * just before its text. */
#define _GNU_SOURCE
#include <search.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "string_set.h"

struct copy {
	uint32_t refs;
	char text[];
};

static struct copy *copy_of(const char *text)
{
	return (struct copy *)(text - offsetof(struct copy, text));
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(a, b);
}

const char *string_set_intern(void **set, const char *str)
{
	struct copy *copy;
	char **found;
	size_t len;

	if (!str)
		return NULL;
	found = tfind(str, set, compare_strings);
	if (found) {
		copy = copy_of(*found);
		if (copy->refs < UINT32_MAX) /* never freed then */
			copy->refs++;
		return *found;
	}
	len = strlen(str);
	copy = malloc(sizeof(*copy) + len + 1);
	if (!copy)
		return NULL;
	copy->refs = 1;
	memcpy(copy->text, str, len + 1);
	found = tsearch(copy->text, set, compare_strings);
	if (!found || *found != copy->text) {
		free(copy);
		return NULL;
	}
	return copy->text;
}

void string_set_put(void **set, const char *text)
{
	struct copy *copy;

	if (!text)
		return;
	copy = copy_of(text);
	if (copy->refs == UINT32_MAX || --copy->refs)
		return;
	tdelete(text, set, compare_strings);
	free(copy);
}

static void free_copy(void *text)
{
	free(copy_of(text));
}

void string_set_free(void **set)
{
	tdestroy(*set, free_copy);
	*set = NULL;
}
