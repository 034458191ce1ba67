/* Strings stored once: frames repeat the same names, files and objects. */
#ifndef LEAKTOP_STRING_SET_H
#define LEAKTOP_STRING_SET_H

/* The set's copy of str (added on first use), with one more reference to
 * it; NULL for NULL or when out of memory.  *set starts NULL; a copy lives
 * until its references are put back, or until string_set_free. */
const char *string_set_intern(void **set, const char *str);
/* Puts back a reference string_set_intern gave (NULL: nothing). */
void string_set_put(void **set, const char *copy);
void string_set_free(void **set);

#endif
