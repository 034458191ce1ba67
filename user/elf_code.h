/* Where code is in an ELF file: file offsets (what uprobes take) and virtual
 * addresses (what the code and its symbols use), and function extents. */
#ifndef LEAKTOP_ELF_CODE_H
#define LEAKTOP_ELF_CODE_H

#include <gelf.h>
#include <stdbool.h>
#include <stdint.h>

/* Through the executable PT_LOAD segment that holds it; 0 / false when none. */
uint64_t elf_vaddr_to_file_offset(Elf *elf, uint64_t vaddr);
bool elf_file_offset_to_vaddr(Elf *elf, uint64_t offset, uint64_t *vaddr);

/* The size of the function symbol starting at vaddr (0 when none says). */
uint64_t elf_function_size(Elf *elf, uint64_t vaddr);

#endif
