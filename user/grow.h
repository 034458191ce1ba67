/* Growable arrays: one way to make room, instead of a realloc loop in every
 * file. */
#ifndef LEAKTOP_GROW_H
#define LEAKTOP_GROW_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Room for `need` elements of `size` bytes in `array`, whose capacity is
 * *cap: the capacity doubles (from `first`) until they fit, and the new
 * elements are zeroed.  Returns the array, perhaps moved; NULL when out of
 * memory, with `array` and *cap as they were. */
static inline void *grow_array(void *array, size_t *cap, size_t need, size_t size, size_t first)
{
	size_t n = *cap ? *cap : first;
	char *grown;

	if (need <= *cap)
		return array;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return NULL;
		n *= 2;
	}
	if (n > SIZE_MAX / size)
		return NULL;
	grown = realloc(array, n * size);
	if (!grown)
		return NULL;
	memset(grown + *cap * size, 0, (n - *cap) * size);
	*cap = n;
	return grown;
}

#endif
