/* Finding operator new's ret instructions (see return_sites.h): capstone
 * decodes, .eh_frame_hdr's FDE starts give the extent of code reached by a jump, the
 * relocations name what a PLT stub jumps to. */
#include <capstone/capstone.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "elf_code.h"
#include "return_sites.h"
#include "unwind_tables.h"

/* Code pieces followed per operator: its body, a cold part, a tail call or
 * two.  More means code leaktop does not understand: the operator is left
 * out rather than half traced. */
#define MAX_PIECES 8
/* Nobody's operator new is this big; past it, something is wrong. */
#define MAX_PIECE_BYTES 4096

struct piece {
	uint64_t start, end;
};

struct scan {
	Elf *elf;
	uint64_t *fde_starts;	/* sorted; a function or cold part each */
	size_t nfdes;
	const uint64_t *entries;
	int nentries;
	struct piece pieces[MAX_PIECES];
	int npieces;
	uint64_t *sites;
	int nsites, max;
};

/* The section holding vaddr, and its name. */
static Elf_Scn *section_at(Elf *elf, uint64_t vaddr, const char **name)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	GElf_Shdr sh;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_PROGBITS && vaddr >= sh.sh_addr &&
		    vaddr < sh.sh_addr + sh.sh_size) {
			*name = elf_strptr(elf, shstrndx, sh.sh_name);
			return scn;
		}
	return NULL;
}

/* The bytes at [vaddr, vaddr + len) when one section holds them all. */
static const uint8_t *code_at(Elf *elf, uint64_t vaddr, uint64_t len)
{
	const char *name = NULL;
	Elf_Scn *scn = section_at(elf, vaddr, &name);
	Elf_Data *data;
	GElf_Shdr sh;

	if (!scn || !gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_EXECINSTR) ||
	    !(data = elf_getdata(scn, NULL)) || !data->d_buf || vaddr + len > sh.sh_addr + data->d_size)
		return NULL;
	return (const uint8_t *)data->d_buf + (vaddr - sh.sh_addr);
}

/* The function a PLT stub at vaddr jumps to, when this object defines it
 * (0 otherwise): the stub jumps through a GOT slot that a JUMP_SLOT or
 * GLOB_DAT relocation fills with the symbol's address. */
static uint64_t plt_target(Elf *elf, csh cs, uint64_t vaddr)
{
	const uint8_t *code = code_at(elf, vaddr, 16);
	uint64_t got = 0, target = 0;
	cs_insn *insns;
	size_t n;

	if (!code)
		return 0;
	n = cs_disasm(cs, code, 16, vaddr, 3, &insns); /* endbr64; [bnd] jmp *slot(%rip) */
	for (size_t i = 0; i < n && !got; i++) {
		const cs_x86 *x = &insns[i].detail->x86;

		if (insns[i].id == X86_INS_JMP && x->op_count == 1 && x->operands[0].type == X86_OP_MEM &&
		    x->operands[0].mem.base == X86_REG_RIP)
			got = insns[i].address + insns[i].size + (uint64_t)x->operands[0].mem.disp;
	}
	if (n)
		cs_free(insns, n);
	for (Elf_Scn *scn = NULL; got && !target && (scn = elf_nextscn(elf, scn));) {
		Elf_Scn *symscn;
		Elf_Data *data, *symdata;
		GElf_Shdr sh, symsh;

		/* Hostile files: only a relocation section tied to a symbol table. */
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || !sh.sh_entsize ||
		    !(symscn = elf_getscn(elf, sh.sh_link)) || !gelf_getshdr(symscn, &symsh) ||
		    (symsh.sh_type != SHT_DYNSYM && symsh.sh_type != SHT_SYMTAB) ||
		    !(data = elf_getdata(scn, NULL)) || !(symdata = elf_getdata(symscn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Rela rela;
			GElf_Sym sym;

			if (!gelf_getrela(data, (int)i, &rela) || rela.r_offset != got)
				continue;
			if (gelf_getsym(symdata, (int)GELF_R_SYM(rela.r_info), &sym) &&
			    sym.st_shndx != SHN_UNDEF && GELF_ST_TYPE(sym.st_info) == STT_FUNC)
				target = sym.st_value;
			break;
		}
	}
	return target;
}

static bool is_entry(const struct scan *s, uint64_t vaddr)
{
	for (int i = 0; i < s->nentries; i++)
		if (s->entries[i] == vaddr)
			return true;
	return false;
}

/* Where the FDE holding vaddr ends (the next one starts); 0 when none holds it. */
static uint64_t fde_end(const struct scan *s, uint64_t vaddr)
{
	size_t lo = 0, hi = s->nfdes;

	while (lo < hi) { /* the first start > vaddr */
		size_t mid = (lo + hi) / 2;

		if (s->fde_starts[mid] <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && lo < s->nfdes ? s->fde_starts[lo] : 0;
}

/* Queues the code from vaddr to the end of its function (or of the cold
 * part it starts in, each has its own CFI entry). */
static bool follow(struct scan *s, uint64_t vaddr)
{
	uint64_t end;

	if (is_entry(s, vaddr))
		return true;
	for (int i = 0; i < s->npieces; i++)
		if (vaddr >= s->pieces[i].start && vaddr < s->pieces[i].end)
			return true; /* a jump within what is queued already */
	end = fde_end(s, vaddr);
	if (!end || s->npieces == MAX_PIECES || end - vaddr > MAX_PIECE_BYTES)
		return false;
	s->pieces[s->npieces++] = (struct piece){ vaddr, end };
	return true;
}

/* Collects the rets of one piece and queues where its jumps leave it. */
static bool scan_piece(struct scan *s, csh cs, const struct piece *p)
{
	const uint8_t *code = code_at(s->elf, p->start, p->end - p->start);
	bool ok = code != NULL;
	cs_insn *insns = NULL;
	size_t n = 0;

	if (ok)
		n = cs_disasm(cs, code, p->end - p->start, p->start, 0, &insns);
	for (size_t i = 0; ok && i < n; i++) {
		const cs_insn *in = &insns[i];
		const cs_x86 *x = &in->detail->x86;
		uint64_t target;

		if (in->id == X86_INS_RET) {
			if (s->nsites == s->max)
				ok = false;
			else
				s->sites[s->nsites++] = in->address;
			continue;
		}
		if (!cs_insn_group(cs, in, CS_GRP_JUMP))
			continue;
		if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM) {
			ok = false; /* indirect: could go anywhere */
			continue;
		}
		target = (uint64_t)x->operands[0].imm;
		if (target >= p->start && target < p->end)
			continue;
		const char *section = NULL;

		if (section_at(s->elf, target, &section) && section &&
		    strncmp(section, ".plt", 4) == 0 && !(target = plt_target(s->elf, cs, target)))
			ok = false; /* a tail call into another object */
		else
			ok = follow(s, target);
	}
	if (n)
		cs_free(insns, n);
	return ok;
}

static void load_fde_starts(struct scan *s)
{
	size_t n = 0;
	GElf_Phdr ph;

	if (elf_getphdrnum(s->elf, &n))
		return;
	for (size_t i = 0; i < n; i++)
		if (gelf_getphdr(s->elf, (int)i, &ph) && ph.p_type == PT_GNU_EH_FRAME &&
		    unwind_fde_starts(s->elf, &ph, &s->fde_starts, &s->nfdes))
			s->nfdes = 0;
}

int return_sites_find(Elf *elf, uint64_t vaddr, const uint64_t *entries, int nentries,
		      uint64_t *sites, int max)
{
	struct scan s = { .elf = elf, .entries = entries, .nentries = nentries, .sites = sites,
			  .max = max };
	uint64_t size = elf_function_size(elf, vaddr);
	bool ok = true;
	csh cs;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return -1;
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	load_fde_starts(&s);
	/* The entry itself is queued even when it is in `entries`. */
	if (size && size <= MAX_PIECE_BYTES)
		s.pieces[s.npieces++] = (struct piece){ vaddr, vaddr + size };
	else
		ok = false;
	for (int i = 0; ok && i < s.npieces; i++)
		ok = scan_piece(&s, cs, &s.pieces[i]);
	free(s.fde_starts);
	cs_close(&cs);
	return ok ? s.nsites : -1;
}

static bool is_operator_new(int fn)
{
	return fn == FN_OPERATOR_NEW || fn == FN_OPERATOR_NEW_ARRAY;
}

int return_sites_add(struct allocator_object *obj, Elf *elf, char *dropped, size_t len)
{
	uint64_t entries[MAX_ALLOC_PROBES], sites[MAX_ALLOC_PROBES];
	int nentries = 0, ndropped = 0, nprobes = obj->nprobes;

	if (len)
		dropped[0] = '\0';
	for (int i = 0; i < nprobes; i++) {
		uint64_t vaddr;

		if (is_operator_new(obj->probes[i].fn) &&
		    elf_file_offset_to_vaddr(elf, obj->probes[i].offset, &vaddr))
			entries[nentries++] = vaddr;
	}
	for (int i = 0; i < nprobes; i++) {
		struct alloc_probe *probe = &obj->probes[i];
		uint64_t vaddr = 0;
		int n = -1;

		if (!is_operator_new(probe->fn))
			continue;
		if (elf_file_offset_to_vaddr(elf, probe->offset, &vaddr))
			n = return_sites_find(elf, vaddr, entries, nentries, sites, MAX_ALLOC_PROBES);
		if (n > 0 && obj->nprobes + n > MAX_ALLOC_PROBES)
			n = -1;
		if (n < 0) {
			/* Not traced at all rather than traced where it cannot be
			 * seen returning (fn -1 marks it gone). */
			size_t used = strlen(dropped);

			snprintf(dropped + used, len - used, "%s%s at %#llx", used ? ", " : "",
				 alloc_fn_names[probe->fn], (unsigned long long)vaddr);
			probe->fn = -1;
			ndropped++;
			continue;
		}
		for (int j = 0; j < n; j++)
			allocator_object_add_probe(obj, ALLOC_NEW_RETURN, elf_vaddr_to_file_offset(elf, sites[j]));
	}
	/* Close the gaps the dropped ones left. */
	int kept = 0;

	for (int i = 0; i < obj->nprobes; i++)
		if (obj->probes[i].fn >= 0)
			obj->probes[kept++] = obj->probes[i];
	obj->nprobes = kept;
	return ndropped;
}
