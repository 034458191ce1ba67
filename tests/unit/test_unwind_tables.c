/* Unwind tables built from this very binary's CFI (built with frame pointers)
 * and libc's (without), and the row search. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Every row readelf prints for libc's CFI (no frame pointers: rules change
 * in the middle of functions, at each push, pop and stack adjustment) is the
 * row the table gives for that address, where the table can hold the rule
 * (CFA = rsp or rbp + offset; rbp unchanged or saved at CFA + offset). */
TEST(unwind_table_rows_match_readelf_mid_function)
{
	const char *libc = "/lib/x86_64-linux-gnu/libc.so.6";
	char line[512], names[16][16];
	struct unwind_row *rows = NULL;
	size_t n = 0;
	int fd = open(libc, O_RDONLY | O_CLOEXEC), ncols = 0, rbp_col = -1, ra_col = -1, compared = 0, mid = 0;
	bool in_fde = false;
	FILE *out;

	CHECK(fd >= 0 && unwind_table_build(fd, &rows, &n) == 0 && n > 1000);
	if (fd >= 0)
		close(fd);
	out = popen("readelf --debug-dump=frames-interp /lib/x86_64-linux-gnu/libc.so.6 2>/dev/null", "r");
	CHECK(out != NULL);
	while (out && rows && fgets(line, sizeof(line), out)) {
		unsigned long long loc;
		char cfa[32], *p;
		int used, offset;

		if (strstr(line, " CIE ") || strstr(line, " FDE ")) {
			in_fde = strstr(line, " FDE ") != NULL; /* a CIE's rows are no code's */
			continue;
		}
		if (strncmp(line, "   LOC", 6) == 0) { /* the columns of this FDE */
			ncols = 0;
			rbp_col = ra_col = -1;
			p = line + 6;
			while (ncols < 16 && sscanf(p, "%15s%n", names[ncols], &used) == 1) {
				if (strcmp(names[ncols], "rbp") == 0)
					rbp_col = ncols;
				if (strcmp(names[ncols], "ra") == 0)
					ra_col = ncols;
				ncols++;
				p += used;
			}
			continue;
		}
		if (!in_fde || sscanf(line, "%llx %31s%n", &loc, cfa, &used) != 2 || strlen(line) < 20 ||
		    line[16] != ' ')
			continue;
		/* Text is mapped at its file offset in libc (p_vaddr == p_offset). */
		const struct unwind_row *r = unwind_table_find(rows, n, (uint32_t)loc);
		char rbp[16] = "u", ra[16] = "";

		p = line + used;
		for (int col = 1; col < ncols; col++) { /* col 0 is CFA */
			char value[16];
			int skip;

			if (sscanf(p, "%15s%n", value, &skip) != 1)
				break;
			p += skip;
			if (col == rbp_col)
				snprintf(rbp, sizeof(rbp), "%s", value);
			if (col == ra_col)
				snprintf(ra, sizeof(ra), "%s", value);
		}
		/* What the table cannot hold (the walk falls back there): a return
		 * address not at CFA - 8, a frame over 32 KiB. */
		if (strcmp(ra, "c-8") != 0 || (sscanf(cfa, "%*3s+%d", &offset) == 1 && offset > INT16_MAX))
			continue;
		if (r && getenv("UNWIND_TEST_VERBOSE"))
			fprintf(stderr, "%llx: row pc %x cfa %d%+d rbp %d | %s", loc, r->pc, r->cfa,
				r->cfa_offset, r->rbp_offset, line);
		if (sscanf(cfa, "rsp+%d", &offset) == 1) {
			CHECK(r && r->cfa == UNWIND_CFA_RSP && r->cfa_offset == offset);
		} else if (sscanf(cfa, "rbp+%d", &offset) == 1) {
			CHECK(r && r->cfa == UNWIND_CFA_RBP && r->cfa_offset == offset);
		} else {
			continue; /* an expression: not representable, the walk stops there */
		}
		if (strcmp(rbp, "u") == 0)
			CHECK(r && r->rbp_offset == UNWIND_RBP_SAME);
		else if (sscanf(rbp, "c%d", &offset) == 1 && offset >= -127)
			CHECK(r && r->rbp_offset == offset);
		if (!r) {
			fprintf(stderr, "no row at %llx (readelf: %s)", loc, line);
			break;
		}
		compared++;
		mid += r->cfa != UNWIND_CFA_RSP || r->cfa_offset != 8;
	}
	if (out)
		pclose(out);
	/* libc has tens of thousands of rows, most of them mid-function (rows
	 * whose rules the table does not hold, r15 say, are merged into the row
	 * before: the one covering the address is checked). */
	CHECK(compared > 10000 && mid > 5000);
	free(rows);
}
