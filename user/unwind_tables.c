/* Unwind tables from CFI with libdw.
 *
 * The FDEs are enumerated through .eh_frame_hdr's sorted search table (every
 * linked object has one); for each FDE libdw evaluates the CFA program
 * (dwarf_cfi_addrframe) and says over which pc range each state holds
 * (dwarf_frame_info), which gives the rows.  Only what the BPF unwinder can
 * follow is kept: CFA = rsp/rbp + N, rbp saved at CFA + N or unchanged,
 * return address at CFA - 8; anything else becomes a row the unwinder treats
 * as "no CFI" (frame pointers). */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "grow.h"
#include "unwind_tables.h"

/* DWARF register numbers of x86-64. */
#define REG_RBP 6
#define REG_RSP 7
#define REG_RA 16

struct row_list {
	struct unwind_row *rows;
	size_t count, capacity;
};

static int push(struct row_list *l, const struct unwind_row *r)
{
	if (l->count && l->rows[l->count - 1].pc == r->pc) {
		l->rows[l->count - 1] = *r; /* an empty range: the later state wins */
		return 0;
	}
	struct unwind_row *grown = grow_array(l->rows, &l->capacity, l->count + 1, sizeof(*grown), 4096);

	if (!grown)
		return -ENOMEM;
	l->rows = grown;
	l->rows[l->count++] = *r;
	return 0;
}

/* A register rule "saved at CFA + N": libdw gives [DW_OP_call_frame_cfa] or
 * [DW_OP_call_frame_cfa, DW_OP_plus_uconst N] (N wraps for negative offsets). */
static bool saved_at_cfa(const Dwarf_Op *ops, size_t nops, int64_t *offset)
{
	if (nops < 1 || nops > 2 || ops[0].atom != DW_OP_call_frame_cfa)
		return false;
	*offset = nops == 2 && ops[1].atom == DW_OP_plus_uconst ? (int64_t)ops[1].number : 0;
	return nops == 1 || ops[1].atom == DW_OP_plus_uconst;
}

/* The rules of one frame state, as a row (pc filled in by the caller). */
static struct unwind_row row_of(Dwarf_Frame *frame)
{
	struct unwind_row row = { .cfa = UNWIND_CFA_NONE };
	Dwarf_Op ops_mem[3], *ops;
	size_t nops;
	int64_t offset;
	int reg = -1;

	if (dwarf_frame_register(frame, REG_RA, ops_mem, &ops, &nops) == 0 && nops == 0 &&
	    ops == ops_mem) {
		row.cfa = UNWIND_CFA_END; /* return address undefined: outermost */
		return row;
	}
	if (dwarf_frame_register(frame, REG_RA, ops_mem, &ops, &nops) != 0 ||
	    !saved_at_cfa(ops, nops, &offset) || offset != -8)
		return row;
	if (dwarf_frame_cfa(frame, &ops, &nops) != 0 || nops != 1)
		return row;
	if (ops[0].atom == DW_OP_bregx) {
		reg = (int)ops[0].number;
		offset = (int64_t)ops[0].number2;
	} else if (ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31) {
		reg = ops[0].atom - DW_OP_breg0;
		offset = (int64_t)ops[0].number;
	}
	if ((reg != REG_RSP && reg != REG_RBP) || offset < INT16_MIN || offset > INT16_MAX)
		return row; /* frames over 32 KiB: frame pointers */
	row.cfa = reg == REG_RSP ? UNWIND_CFA_RSP : UNWIND_CFA_RBP;
	row.cfa_offset = (int16_t)offset;

	row.rbp_offset = UNWIND_RBP_UNKNOWN;
	if (dwarf_frame_register(frame, REG_RBP, ops_mem, &ops, &nops) != 0)
		return row;
	if (nops == 0 && ops == NULL)
		row.rbp_offset = UNWIND_RBP_SAME;
	else if (saved_at_cfa(ops, nops, &offset) && offset < 0 && offset > UNWIND_RBP_UNKNOWN)
		row.rbp_offset = (int8_t)offset;
	return row;
}

struct segments {
	GElf_Phdr load[16];
	int nload;
};

/* File offset of vaddr (in an executable PT_LOAD), or -1. */
static int64_t file_offset(const struct segments *s, uint64_t vaddr)
{
	for (int i = 0; i < s->nload; i++) {
		const GElf_Phdr *p = &s->load[i];

		if (vaddr >= p->p_vaddr && vaddr < p->p_vaddr + p->p_filesz)
			return (int64_t)(vaddr - p->p_vaddr + p->p_offset);
	}
	return -1;
}

/* Only .eh_frame_hdr's usual table encoding (4-byte, relative to the header)
 * is read. */
int unwind_fde_starts(Elf *elf, const GElf_Phdr *hdr, uint64_t **starts, size_t *count)
{
	/* A chunk, not elf_rawfile(): reading the whole file after sections
	 * were read makes libelf lose track of (leak) their data. */
	Elf_Data *chunk = hdr->p_filesz >= 4 ?
		elf_getdata_rawchunk(elf, (int64_t)hdr->p_offset, hdr->p_filesz, ELF_T_BYTE) : NULL;
	const unsigned char *h;
	size_t ptr_size, n;
	uint32_t n32;

	*starts = NULL;
	*count = 0;
	if (!chunk || !chunk->d_buf)
		return 0;
	h = chunk->d_buf;
	if (h[0] != 1 || h[2] != DW_EH_PE_udata4 || h[3] != (DW_EH_PE_datarel | DW_EH_PE_sdata4))
		return 0;
	switch (h[1] & 0x0f) { /* eh_frame_ptr: skipped */
	case DW_EH_PE_udata4:
	case DW_EH_PE_sdata4:
		ptr_size = 4;
		break;
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
	case DW_EH_PE_absptr:
		ptr_size = 8;
		break;
	default:
		return 0;
	}
	if (4 + ptr_size + 4 > hdr->p_filesz)
		return 0;
	memcpy(&n32, h + 4 + ptr_size, 4);
	n = n32;
	if (n > (hdr->p_filesz - 8 - ptr_size) / 8)
		return 0;
	*starts = malloc((n ? n : 1) * sizeof(**starts));
	if (!*starts)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int32_t rel;

		memcpy(&rel, h + 8 + ptr_size + 8 * i, 4);
		(*starts)[i] = hdr->p_vaddr + (uint64_t)(int64_t)rel;
	}
	*count = n;
	return 0;
}

/* Rows of the FDE starting at `start`, up to `limit` (the next FDE). */
static int fde_rows(Dwarf_CFI *cfi, const struct segments *seg, uint64_t start, uint64_t limit,
		    struct row_list *out)
{
	uint64_t addr = start;

	while (addr < limit) {
		Dwarf_Frame *frame;
		Dwarf_Addr from, to;
		struct unwind_row row = { .cfa = UNWIND_CFA_NONE };
		int64_t off = file_offset(seg, addr);
		int err;

		if (off < 0 || off > UINT32_MAX)
			return 0;
		row.pc = (uint32_t)off;
		if (dwarf_cfi_addrframe(cfi, addr, &frame) != 0)
			return push(out, &row); /* a gap after this FDE */
		if (dwarf_frame_info(frame, &from, &to, NULL) < 0 || to <= addr) {
			free(frame);
			return push(out, &row);
		}
		row = row_of(frame);
		row.pc = (uint32_t)off;
		free(frame);
		err = push(out, &row);
		if (err)
			return err;
		addr = to;
	}
	return 0;
}

static bool same_rules(const struct unwind_row *a, const struct unwind_row *b)
{
	return a->cfa == b->cfa && a->cfa_offset == b->cfa_offset && a->rbp_offset == b->rbp_offset;
}

static size_t merge(struct unwind_row *rows, size_t n)
{
	size_t kept = 0;

	for (size_t i = 0; i < n; i++)
		if (!kept || !same_rules(&rows[kept - 1], &rows[i]))
			rows[kept++] = rows[i];
	return kept;
}

int unwind_table_build(int fd, struct unwind_row **rows, size_t *count)
{
	struct row_list list = { 0 };
	struct segments seg = { .nload = 0 };
	GElf_Phdr eh_hdr = { .p_type = PT_NULL };
	uint64_t *starts = NULL;
	size_t nphdr, nstarts = 0;
	Dwarf_CFI *cfi = NULL;
	Elf *elf;
	int err = 0;

	*rows = NULL;
	*count = 0;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return -EINVAL;
	if (elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &nphdr) != 0)
		goto out;
	for (size_t i = 0; i < nphdr; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph))
			continue;
		if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) && seg.nload < 16)
			seg.load[seg.nload++] = ph;
		else if (ph.p_type == PT_GNU_EH_FRAME)
			eh_hdr = ph;
	}
	if (eh_hdr.p_type != PT_GNU_EH_FRAME || !(cfi = dwarf_getcfi_elf(elf)))
		goto out;
	err = unwind_fde_starts(elf, &eh_hdr, &starts, &nstarts);
	for (size_t i = 0; i < nstarts && !err; i++) {
		if (i && starts[i] == starts[i - 1])
			continue;
		err = fde_rows(cfi, &seg, starts[i], i + 1 < nstarts ? starts[i + 1] : UINT64_MAX, &list);
	}
	if (!err) {
		*count = merge(list.rows, list.count);
		*rows = list.rows;
		list.rows = NULL;
	}
out:
	free(list.rows);
	free(starts);
	if (cfi)
		dwarf_cfi_end(cfi);
	elf_end(elf);
	return err;
}

const struct unwind_row *unwind_table_find(const struct unwind_row *rows, size_t count, uint32_t pc)
{
	size_t lo = 0, hi = count; /* answer in [lo - 1, hi) */

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rows[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &rows[lo - 1] : NULL;
}
