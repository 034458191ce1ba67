/* CPython's line table: bytecode offset -> source line (pure, no I/O). */
#ifndef LEAKTOP_PYTHON_LINETABLE_H
#define LEAKTOP_PYTHON_LINETABLE_H

#include <stddef.h>
#include <stdint.h>

/* The line of the instruction at byte offset `offset` of a code object whose
 * co_linetable is table[0..len) and whose co_firstlineno is first_line.  0
 * when the instruction has no line or the table does not cover it.  A
 * negative offset (a frame that has not started) is the first line, as
 * CPython has it.  Formats: 3.10's (Objects/lnotab_notes.txt), and the
 * "location table" of 3.11 to 3.13 (Objects/locations.md). */
int python310_line_at(const uint8_t *table, size_t len, int first_line, int offset);
int python311_line_at(const uint8_t *table, size_t len, int first_line, int offset);

#endif
