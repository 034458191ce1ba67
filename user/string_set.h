/* Strings stored once: frames repeat the same names, files and objects. */
#ifndef LEAKTOP_STRING_SET_H
#define LEAKTOP_STRING_SET_H

/* The set's copy of str (added on first use); NULL for NULL or when out of
 * memory.  *set starts NULL; the copies live until string_set_free. */
const char *string_set_intern(void **set, const char *str);
void string_set_free(void **set);

#endif
