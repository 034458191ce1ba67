/* How many unwind rows to make room for (the unwind_rows map, locked kernel
 * memory of the host's, one per traced process): what the objects the
 * target maps now are likely to need, twice over for libraries it loads
 * later, and a margin, instead of the most it could ever take (8 MiB).
 *
 * An object's rows are not known without building its table (milliseconds
 * per object); its FDEs are counted from .eh_frame_hdr alone, and Debian's
 * objects have 3 to 11 rows per FDE (libc 7.6, python3.11 6.3, libjemalloc
 * 10.8, libsqlite3 10.9).  When a later library does not fit even so,
 * user/unwind_maps.c reclaims objects no longer mapped, and failing that
 * says so and counts its frames as truncated: never a wrong frame. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gelf.h>
#include "unwind_sizing.h"
#include "unwind_tables.h"

/* Rows per FDE counted, above what Debian's objects have. */
#define ROWS_PER_FDE 12
/* Room for libraries not mapped yet at the start, besides twice the rows of
 * those that are: 64 Ki rows, 512 KiB. */
#define ROWS_MARGIN (1u << 16)

/* Distinct files, by device and inode. */
struct seen_files {
	dev_t dev[UNWIND_MAX_MAPPINGS];
	ino_t ino[UNWIND_MAX_MAPPINGS];
	unsigned n;
};

static bool seen_before(struct seen_files *seen, const struct stat *st)
{
	for (unsigned i = 0; i < seen->n; i++)
		if (seen->dev[i] == st->st_dev && seen->ino[i] == st->st_ino)
			return true;
	if (seen->n < UNWIND_MAX_MAPPINGS) {
		seen->dev[seen->n] = st->st_dev;
		seen->ino[seen->n++] = st->st_ino;
	}
	return false;
}

/* FDEs in the object at path (0 when it has none or cannot be read), once
 * per file. */
static uint64_t fdes_of(const char *path, struct seen_files *seen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t *starts = NULL;
	size_t nphdr, count = 0;
	struct stat st;
	Elf *elf;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) || seen_before(seen, &st)) {
		close(fd);
		return 0;
	}
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF && elf_getphdrnum(elf, &nphdr) == 0) {
		for (size_t i = 0; i < nphdr; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_GNU_EH_FRAME) {
				if (unwind_fde_starts(elf, &ph, &starts, &count))
					count = 0;
				break;
			}
		}
	}
	free(starts);
	elf_end(elf);
	close(fd);
	return count;
}

/* FDEs of the executable file mappings of pid, each file once. */
static uint64_t mapped_fdes(pid_t pid, struct seen_files *seen)
{
	char path[64], line[4096], file[96];
	uint64_t start, end, fdes = 0;
	char perms[8];
	FILE *maps;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	if (!maps)
		return 0;
	while (fgets(line, sizeof(line), maps)) {
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s", &start, &end, perms) != 3 ||
		    perms[2] != 'x' || !strchr(line, '/'))
			continue; /* anonymous code, [vdso]: no table */
		snprintf(file, sizeof(file), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid, start, end);
		fdes += fdes_of(file, seen);
	}
	fclose(maps);
	return fdes;
}

uint32_t unwind_rows_for(pid_t pid, const char *exe, const struct allocator_list *allocators)
{
	struct seen_files *seen = calloc(1, sizeof(*seen));
	uint64_t fdes = 0, rows;

	if (!seen)
		return UNWIND_MAX_ROWS;
	if (exe) { /* spawn mode: pid still runs leaktop's own image */
		fdes += fdes_of(exe, seen);
		for (int i = 0; allocators && i < allocators->count; i++)
			fdes += fdes_of(allocators->objects[i].open_path, seen);
	} else {
		fdes = mapped_fdes(pid, seen);
	}
	free(seen);
	rows = 2 * ROWS_PER_FDE * fdes + ROWS_MARGIN;
	rows = (rows + ROWS_MARGIN - 1) / ROWS_MARGIN * ROWS_MARGIN;
	return rows < UNWIND_MAX_ROWS ? (uint32_t)rows : UNWIND_MAX_ROWS;
}
