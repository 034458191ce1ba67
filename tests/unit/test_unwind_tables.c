/* Unwind tables built from this very binary's CFI (built with frame pointers)
 * and libc's (without), and the row search. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include "unit.h"
#include "unwind_tables.h"

/* File offset of a code address of this process, from /proc/self/maps. */
static int64_t offset_of(const void *addr, char *path, size_t len)
{
	unsigned long start, end, pgoff;
	char line[512], file[256];
	FILE *f = fopen("/proc/self/maps", "re");
	int64_t found = -1;

	while (f && fgets(line, sizeof(line), f)) {
		file[0] = '\0';
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %255s", &start, &end, &pgoff, file) < 3)
			continue;
		if ((uintptr_t)addr >= start && (uintptr_t)addr < end) {
			found = (int64_t)((uintptr_t)addr - start + pgoff);
			snprintf(path, len, "%s", file);
			break;
		}
	}
	if (f)
		fclose(f);
	return found;
}

static struct unwind_row *table_of(const void *fn, int64_t *off, size_t *n)
{
	char path[256];
	struct unwind_row *rows = NULL;
	int fd;

	*off = offset_of(fn, path, sizeof(path));
	fd = *off >= 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	*n = 0;
	if (fd >= 0 && unwind_table_build(fd, &rows, n) != 0)
		rows = NULL;
	if (fd >= 0)
		close(fd);
	return rows;
}

static void check_sorted(const struct unwind_row *rows, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (rows[i - 1].pc >= rows[i].pc) {
			CHECK(rows[i - 1].pc < rows[i].pc);
			return;
		}
}

TEST(unwind_table_of_frame_pointer_code)
{
	int64_t off;
	size_t n;
	struct unwind_row *rows = table_of((const void *)unit_register, &off, &n);
	const struct unwind_row *entry, *r;
	bool framed = false;

	CHECK(rows && n > 100);
	if (!rows)
		return;
	check_sorted(rows, n);
	/* At entry the return address is at rsp; once `push rbp; mov rbp, rsp`
	 * ran, the CFA is rbp + 16 and the caller's rbp is at CFA - 16. */
	entry = unwind_table_find(rows, n, (uint32_t)off);
	CHECK(entry && entry->pc == (uint32_t)off);
	CHECK(entry && entry->cfa == UNWIND_CFA_RSP && entry->cfa_offset == 8 &&
	      entry->rbp_offset == UNWIND_RBP_SAME);
	for (r = entry; r && r < rows + n && r->pc < off + 16; r++)
		framed = framed || (r->cfa == UNWIND_CFA_RBP && r->cfa_offset == 16 &&
				    r->rbp_offset == -16);
	CHECK(framed);
	free(rows);
}

TEST(unwind_table_of_libc)
{
	int64_t off;
	size_t n;
	struct unwind_row *rows = table_of((const void *)abort, &off, &n);
	const struct unwind_row *entry;

	CHECK(rows && n > 1000);
	if (!rows)
		return;
	check_sorted(rows, n);
	entry = unwind_table_find(rows, n, (uint32_t)off);
	CHECK(entry && entry->cfa == UNWIND_CFA_RSP && entry->cfa_offset == 8);
	free(rows);
}

TEST(unwind_table_find_takes_the_last_row_at_or_before)
{
	struct unwind_row rows[] = { { .pc = 0x100 }, { .pc = 0x110 }, { .pc = 0x200 } };

	CHECK(unwind_table_find(rows, 3, 0xff) == NULL);
	CHECK(unwind_table_find(rows, 3, 0x100) == &rows[0]);
	CHECK(unwind_table_find(rows, 3, 0x10f) == &rows[0]);
	CHECK(unwind_table_find(rows, 3, 0x110) == &rows[1]);
	CHECK(unwind_table_find(rows, 3, 0x5000) == &rows[2]);
	CHECK(unwind_table_find(rows, 0, 0x100) == NULL);
}

TEST(unwind_table_of_no_elf_is_empty)
{
	struct unwind_row *rows = (struct unwind_row *)1;
	size_t n = 1;
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);

	CHECK_INT(unwind_table_build(fd, &rows, &n), 0);
	CHECK(rows == NULL && n == 0);
	close(fd);
}
