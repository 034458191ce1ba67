/* Compact unwind tables from an object's CFI (.eh_frame), for the BPF
 * unwinder: rows sorted by file offset, see bpf/unwind.h. */
#ifndef LEAKTOP_UNWIND_TABLES_H
#define LEAKTOP_UNWIND_TABLES_H

#include <gelf.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "unwind.h"

_Static_assert(sizeof(struct unwind_row) % 8 == 0, "rows are written into an array map: 8-byte elements");

/* Rows of the ELF object open at fd (x86-64), sorted by pc, adjacent rows with
 * the same rules merged, a UNWIND_CFA_NONE row after every gap in the CFI.
 * Returns 0 with *rows malloc'd (NULL and *count 0 when the object has no
 * usable CFI), or -errno. */
int unwind_table_build(int fd, struct unwind_row **rows, size_t *count);

/* The row covering file offset pc (the last with row.pc <= pc), or NULL.
 * The BPF unwinder does the same search. */
const struct unwind_row *unwind_table_find(const struct unwind_row *rows, size_t count, uint32_t pc);

/* The FDEs' start addresses from the .eh_frame_hdr segment hdr (sorted by
 * the linker): *starts malloc'd, 0 or -errno. */
int unwind_fde_starts(Elf *elf, const GElf_Phdr *hdr, uint64_t **starts, size_t *count);

#endif
