/* FNV-1a, 64 bits: small, stable across runs and builds (stack ids are
 * compared between runs), good enough for hash tables of hashed keys. */
#ifndef LEAKTOP_HASH_H
#define LEAKTOP_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FNV1A_INIT 0xcbf29ce484222325ULL

static inline void fnv1a(uint64_t *h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		*h ^= p[i];
		*h *= 0x100000001b3ULL;
	}
}

/* The terminating NUL separates fields; NULL hashes as "\1", unlike "". */
static inline void fnv1a_string(uint64_t *h, const char *s)
{
	if (s)
		fnv1a(h, s, strlen(s) + 1);
	else
		fnv1a(h, "\1", 1);
}

#endif
