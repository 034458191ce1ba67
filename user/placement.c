/* Moving entry probes to instructions the kernel emulates (see placement.h).
 * Capstone decodes; the kernel's rules for what it emulates are in
 * arch/x86/kernel/uprobes.c (branch_setup_xol_ops, push_setup_xol_ops). */
#include <capstone/capstone.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>
#include "elf_code.h"
#include "placement.h"

/* The prologue walked before giving up: a probe far from the entry gains
 * nothing over one at it. */
#define MAX_PROLOGUE_INSNS 12
/* Functions bigger than this are not read whole: their probe stays put. */
#define MAX_FUNCTION_BYTES (1 << 20)
/* reg_bits() of the stack and frame pointers. */
#define STACK_REGS (1u << 8)

/* The arguments alloc_enter and free_enter read (bpf/leaktop.bpf.c). */
static const uint8_t args_read[ALLOC_FN_NAMES] = {
	[FN_MALLOC] = ARG_RDI,
	[FN_CALLOC] = ARG_RDI | ARG_RSI,
	[FN_REALLOC] = ARG_RDI | ARG_RSI,
	[FN_REALLOCARRAY] = ARG_RDI | ARG_RSI | ARG_RDX,
	[FN_POSIX_MEMALIGN] = ARG_RDI | ARG_RSI | ARG_RDX,
	[FN_ALIGNED_ALLOC] = ARG_RDI | ARG_RSI,
	[FN_MEMALIGN] = ARG_RDI | ARG_RSI,
	[FN_VALLOC] = ARG_RDI,
	[FN_PVALLOC] = ARG_RDI,
	[FN_OPERATOR_NEW] = ARG_RDI,
	[FN_OPERATOR_NEW_ARRAY] = ARG_RDI,
	[FN_MALLOCX] = ARG_RDI,
	[FN_RALLOCX] = ARG_RDI | ARG_RSI,
	[FN_XALLOCX] = ARG_RDI | ARG_RSI,
	[FN_PY_MALLOC] = ARG_RDI | ARG_RSI,
	[FN_PY_CALLOC] = ARG_RDI | ARG_RSI | ARG_RDX,
	[FN_PY_REALLOC] = ARG_RDI | ARG_RSI | ARG_RDX,
	[FN_PY_ARENA] = ARG_RDI | ARG_RSI,
	[ALLOC_FREE] = ARG_RDI,
	[ALLOC_PY_FREE] = ARG_RDI | ARG_RSI,
	[ALLOC_NEW_RETURN] = 0,
};

unsigned placement_args(int fn)
{
	/* Unknown: all three, the most careful. */
	return fn >= 0 && fn < ALLOC_FN_NAMES ? args_read[fn] : ARG_RDI | ARG_RSI | ARG_RDX;
}

/* The registers whose change ends the walk: arguments the BPF program reads,
 * the stack pointer (the return address must stay at [sp]) and the frame
 * pointer (the kernel's stack walk starts from it). */
static unsigned reg_bits(x86_reg r)
{
	switch (r) {
	case X86_REG_RDI: case X86_REG_EDI: case X86_REG_DI: case X86_REG_DIL:
		return ARG_RDI;
	case X86_REG_RSI: case X86_REG_ESI: case X86_REG_SI: case X86_REG_SIL:
		return ARG_RSI;
	case X86_REG_RDX: case X86_REG_EDX: case X86_REG_DX: case X86_REG_DL: case X86_REG_DH:
		return ARG_RDX;
	case X86_REG_RSP: case X86_REG_ESP: case X86_REG_SP: case X86_REG_SPL:
	case X86_REG_RBP: case X86_REG_EBP: case X86_REG_BP: case X86_REG_BPL:
		return STACK_REGS;
	default:
		return 0;
	}
}

/* What the kernel emulates instead of single-stepping: push reg (no prefix
 * but REX.B), jcc, jmp rel8/rel32 and nop (no operand-size prefix). */
static bool emulated(const cs_insn *in)
{
	const uint8_t *b = in->bytes;

	switch (in->size) {
	case 1:
		return (b[0] >= 0x50 && b[0] <= 0x57) || b[0] == 0x90;
	case 2:
		return (b[0] == 0x41 && b[1] >= 0x50 && b[1] <= 0x57) || (b[0] >= 0x70 && b[0] <= 0x7f) ||
		       b[0] == 0xeb;
	case 5:
		return b[0] == 0xe9;
	case 6:
		return b[0] == 0x0f && b[1] >= 0x80 && b[1] <= 0x8f;
	default:
		return false;
	}
}

static bool in_group(const cs_insn *in, uint8_t group)
{
	for (uint8_t i = 0; i < in->detail->groups_count; i++)
		if (in->detail->groups[i] == group)
			return true;
	return false;
}

/* Control leaves the straight line here (the probe could be bypassed). */
static bool leaves_line(const cs_insn *in)
{
	return in_group(in, CS_GRP_JUMP) || in_group(in, CS_GRP_CALL) || in_group(in, CS_GRP_RET) ||
	       in_group(in, CS_GRP_INT) || in_group(in, CS_GRP_IRET);
}

static bool writes(csh cs, const cs_insn *in, unsigned mask)
{
	cs_regs read, written;
	uint8_t nread, nwritten;

	if (cs_regs_access(cs, in, read, &nread, written, &nwritten) != CS_ERR_OK)
		return true; /* cannot tell: assume the worst */
	for (uint8_t i = 0; i < nwritten; i++)
		if (reg_bits((x86_reg)written[i]) & mask)
			return true;
	return false;
}

/* The first emulated instruction before anything that could bypass it or
 * change what the probe reads; 0 when there is none. */
static uint64_t first_emulated(csh cs, const cs_insn *insns, size_t n, unsigned args)
{
	for (size_t i = 0; i < n && i < MAX_PROLOGUE_INSNS; i++) {
		if (emulated(&insns[i]))
			return insns[i].address - insns[0].address;
		if (leaves_line(&insns[i]) || writes(cs, &insns[i], args | STACK_REGS))
			return 0;
	}
	return 0;
}

/* Does a direct branch or call anywhere in the function land in
 * (entry, entry + at]?  An indirect one could too, but compilers aim those
 * at switch cases and other functions, never back into a prologue. */
static bool joins_prologue(const cs_insn *insns, size_t n, uint64_t at)
{
	uint64_t entry = insns[0].address;

	for (size_t i = 0; i < n; i++) {
		const cs_x86 *x = &insns[i].detail->x86;

		if (!in_group(&insns[i], CS_GRP_JUMP) && !in_group(&insns[i], CS_GRP_CALL))
			continue;
		if (x->op_count == 1 && x->operands[0].type == X86_OP_IMM) {
			uint64_t target = (uint64_t)x->operands[0].imm;

			if (target > entry && target <= entry + at)
				return true;
		}
	}
	return false;
}

uint64_t placement_choose(const uint8_t *code, size_t len, uint64_t vaddr, unsigned args)
{
	uint64_t at = 0, decoded = 0;
	cs_insn *insns = NULL;
	size_t n;
	csh cs;

	if (!len || cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return 0;
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	n = cs_disasm(cs, code, len, vaddr, 0, &insns);
	if (n)
		decoded = insns[n - 1].address + insns[n - 1].size - vaddr;
	/* The whole function must decode, or a branch into the prologue could
	 * hide in what did not. */
	if (n && decoded == len) {
		at = first_emulated(cs, insns, n, args);
		if (at && joins_prologue(insns, n, at))
			at = 0;
	}
	if (n)
		cs_free(insns, n);
	cs_close(&cs);
	return at;
}

static uint64_t probe_place(Elf *elf, int fd, const struct alloc_probe *probe)
{
	uint64_t vaddr, size, at = 0;
	uint8_t *code;

	if (!elf_file_offset_to_vaddr(elf, probe->offset, &vaddr))
		return 0;
	size = elf_function_size(elf, vaddr);
	if (!size || size > MAX_FUNCTION_BYTES || !(code = malloc(size)))
		return 0;
	if (pread(fd, code, size, (off_t)probe->offset) == (ssize_t)size)
		at = placement_choose(code, size, vaddr, placement_args(probe->fn));
	free(code);
	return at;
}

int placement_apply(struct allocator_object *obj)
{
	int moved = 0, fd;
	Elf *elf;

	for (int i = 0; i < obj->nprobes; i++)
		obj->probes[i].at = obj->probes[i].offset;
	elf_version(EV_CURRENT);
	fd = open(obj->open_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	for (int i = 0; elf && elf_kind(elf) == ELF_K_ELF && i < obj->nprobes; i++) {
		uint64_t at;

		if (obj->probes[i].fn == ALLOC_NEW_RETURN)
			continue; /* the ret itself is what is probed */
		at = probe_place(elf, fd, &obj->probes[i]);

		obj->probes[i].at += at;
		moved += at != 0;
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return moved;
}
