/* Finding CPython (3.10 to 3.15) in a target and reading its code objects
 * and allocator tables from /proc/PID/mem.  Nothing here relies on debug
 * info: the interpreter's exported symbols (_PyRuntime, Py_Version or
 * Py_GetVersion, PyCode_Type, PyObject_Malloc & co, the functions returning
 * the thread state) read with a disassembler, the _Py_DebugOffsets block of
 * 3.13+, and the version's struct layout (python_layouts.c) are enough. */
#define _GNU_SOURCE
#include <capstone/capstone.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libgen.h>
#include <limits.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "python.h"
#include "python_layouts.h"

/* Exported symbols we look up in the interpreter object. */
enum python_symbol {
	SYM_RUNTIME,		/* _PyRuntime */
	SYM_VERSION,		/* Py_Version: PY_VERSION_HEX, 3.11+ */
	SYM_CODE_TYPE,		/* PyCode_Type: tells a code object from garbage */
	SYM_OBJECT_MALLOC,	/* PyObject_Malloc: leads to the _PyObject table */
	SYM_MEM_MALLOC,		/* PyMem_Malloc: leads to the _PyMem table */
	SYM_ARENA_GETTER,	/* PyObject_GetArenaAllocator: leads to the arena table */
	SYM_RAW_MALLOC,		/* PyMem_RawMalloc: leads to the _PyMem_Raw table */
	SYM_GET_VERSION,	/* Py_GetVersion: PY_VERSION before Py_Version (3.10) */
	SYM_TSTATE_GET,		/* functions returning _Py_tss_tstate (3.12+): */
	SYM_TSTATE_GET2,	/* they say where the thread-local is */
	SYM_TSTATE_GET3,
	SYM_COUNT,
};

static const char *const symbol_names[SYM_COUNT] = {
	"_PyRuntime", "Py_Version", "PyCode_Type", "PyObject_Malloc", "PyMem_Malloc",
	"PyObject_GetArenaAllocator", "PyMem_RawMalloc", "Py_GetVersion",
	"_PyThreadState_GetCurrent", "PyThreadState_GetUnchecked", "_PyThreadState_UncheckedGet",
};

/* A code object, read once. */
struct code_info {
	uint64_t addr;
	bool valid;
	uint32_t identity;	/* py_code_identity when read; 0: no code object */
	char *function;		/* co_qualname */
	char *file;		/* co_filename */
	int first_line;
	uint8_t *linetable;
	size_t linetable_len;
};

struct python {
	char path[PATH_MAX];	  /* as the target sees it */
	char open_path[PATH_MAX]; /* under /proc/PID/root */
	char version[32];
	const struct python_layout *layout;
	struct python_layout debug_layout; /* from its _Py_DebugOffsets (3.13+) */
	const char *frames_off;	  /* why Python frames are not read, or NULL */
	char untested[96];	  /* said when no test runs its version */
	uint64_t symbols[SYM_COUNT]; /* ELF virtual addresses, 0 when absent */
	int64_t bias;		  /* runtime address - ELF virtual address */
	struct python_config tls; /* tstate_from, tls_offset, tls_module (3.12+) */
	uint64_t text_start, text_end; /* its executable mappings */
	int mem_fd;		  /* /proc/PID/mem */
	void *codes;		  /* tsearch tree of struct code_info *, by addr */
};

static bool read_mem(const struct python *py, uint64_t addr, void *buf, size_t len)
{
	return addr && pread(py->mem_fd, buf, len, (off_t)addr) == (ssize_t)len;
}

static uint64_t read_u64(const struct python *py, uint64_t addr)
{
	uint64_t v = 0;

	return read_mem(py, addr, &v, sizeof(v)) ? v : 0;
}

/* The exported symbols of an object; false when it is no ELF. */
static bool read_symbols(const char *open_path, uint64_t symbols[SYM_COUNT])
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Sym sym;
	Elf *elf;
	int fd;

	memset(symbols, 0, SYM_COUNT * sizeof(*symbols));
	fd = open(open_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && (scn = elf_nextscn(elf, scn))) {
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
			const char *name;

			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			for (int s = 0; name && s < SYM_COUNT; s++)
				if (strcmp(name, symbol_names[s]) == 0)
					symbols[s] = sym.st_value;
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return true;
}

/* ELF virtual address <-> file offset through the PT_LOAD segments. */
static bool segment_of(const char *open_path, uint64_t value, bool by_offset, GElf_Phdr *out)
{
	size_t n = 0;
	bool found = false;
	Elf *elf;
	int fd = open(open_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf && elf_getphdrnum(elf, &n) == 0) {
		for (size_t i = 0; i < n && !found; i++) {
			GElf_Phdr ph;

			if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
				continue;
			uint64_t start = by_offset ? ph.p_offset : ph.p_vaddr;

			if (value >= start && value < start + ph.p_filesz) {
				*out = ph;
				found = true;
			}
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return found;
}

/* Load bias of `path` in pid: from its mapping with the lowest file offset. */
static bool find_bias(pid_t pid, struct python *py)
{
	char maps[64], line[PATH_MAX + 128];
	uint64_t best_start = 0, best_pgoff = UINT64_MAX;
	GElf_Phdr ph;
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
	f = fopen(maps, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, pgoff;
		char perms[8];
		int path_at = 0;

		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%llx-%llx %7s %llx %*x:%*x %*u %n", &start, &end, perms, &pgoff,
			   &path_at) < 4 || !path_at)
			continue;
		if (strcmp(line + path_at, py->path) != 0)
			continue;
		if (perms[2] == 'x') {
			if (!py->text_start || start < py->text_start)
				py->text_start = start;
			if (end > py->text_end)
				py->text_end = end;
		}
		if (pgoff < best_pgoff) {
			best_pgoff = pgoff;
			best_start = start;
		}
	}
	fclose(f);
	if (best_pgoff == UINT64_MAX || !segment_of(py->open_path, best_pgoff, true, &ph))
		return false;
	py->bias = (int64_t)(best_start - best_pgoff + ph.p_offset - ph.p_vaddr);
	return py->text_end > py->text_start;
}

/* Candidate objects: executable mappings named like an interpreter
 * (python3.11, libpython3.11.so.1.0, ...). */
static bool looks_like_python(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return strncmp(base, "python", 6) == 0 || strncmp(base, "libpython", 9) == 0;
}

/* What the first instructions of an exported function reveal. */
struct function_scan {
	uint64_t refs[16];	/* memory loaded or branched through (ELF vaddrs),
				 * RIP-relative or through a GOT slot, in order */
	int nrefs;
	uint64_t immediates[16]; /* immediates and RIP-relative lea targets */
	int nimmediates;
};

/* len bytes of the interpreter's file at ELF virtual address vaddr; those
 * past the end of its segment (a function at the very end) read as 0. */
static bool read_file_at(const struct python *py, uint64_t vaddr, void *buf, size_t len)
{
	GElf_Phdr ph;
	size_t left;
	bool ok;
	int fd;

	memset(buf, 0, len);
	if (!vaddr || !segment_of(py->open_path, vaddr, false, &ph))
		return false;
	left = ph.p_vaddr + ph.p_filesz - vaddr;
	len = len < left ? len : left;
	fd = open(py->open_path, O_RDONLY | O_CLOEXEC);
	ok = fd >= 0 && pread(fd, buf, len, (off_t)(vaddr - ph.p_vaddr + ph.p_offset)) == (ssize_t)len;
	if (fd >= 0)
		close(fd);
	return ok;
}

static bool is_load(unsigned id)
{
	return id == X86_INS_MOV || id == X86_INS_MOVAPS || id == X86_INS_MOVUPS ||
	       id == X86_INS_MOVDQA || id == X86_INS_MOVDQU || id == X86_INS_MOVQ;
}

/* The first instructions of a function, up to its return or tail call.
 * Only loads and branches count as references: instrumented builds (PGO
 * training, gcov) add counters that are read-modify-written. */
static bool scan_function(const struct python *py, uint64_t vaddr, struct function_scan *out)
{
	uint64_t got[X86_REG_ENDING] = { 0 }; /* registers loaded RIP-relative */
	uint8_t code[256];
	cs_insn *insns;
	size_t n;
	csh cs;

	memset(out, 0, sizeof(*out));
	if (!read_file_at(py, vaddr, code, sizeof(code)) ||
	    cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return false;
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	n = cs_disasm(cs, code, sizeof(code), vaddr, 64, &insns);
	for (size_t i = 0; i < n; i++) {
		const cs_x86 *x = &insns[i].detail->x86;
		unsigned id = insns[i].id;
		bool branch = id == X86_INS_JMP || id == X86_INS_CALL;

		for (int o = 0; o < x->op_count; o++) {
			const cs_x86_op *op = &x->operands[o];
			uint64_t next = insns[i].address + insns[i].size, ref = 0;
			bool load = is_load(id) && o == 1 && x->operands[0].type == X86_OP_REG;

			if (op->type == X86_OP_IMM && out->nimmediates < 16)
				out->immediates[out->nimmediates++] = (uint64_t)op->imm;
			if (op->type != X86_OP_MEM)
				continue;
			if (op->mem.base == X86_REG_RIP && id == X86_INS_LEA) {
				if (out->nimmediates < 16)
					out->immediates[out->nimmediates++] = next + (uint64_t)op->mem.disp;
				continue;
			}
			if (op->mem.base == X86_REG_RIP) {
				ref = next + (uint64_t)op->mem.disp;
				if (load && x->operands[0].reg < X86_REG_ENDING)
					got[x->operands[0].reg] = ref;
			} else if (op->mem.base > X86_REG_INVALID && op->mem.base < X86_REG_ENDING &&
				   got[op->mem.base]) {
				/* Through a pointer loaded from the GOT (3.12+ reach
				 * _PyRuntime so in a shared build): what it points at. */
				uint64_t target = read_u64(py, got[op->mem.base] + (uint64_t)py->bias);

				ref = target ? target - (uint64_t)py->bias + (uint64_t)op->mem.disp : 0;
			}
			if (ref && (load || branch) && out->nrefs < 16)
				out->refs[out->nrefs++] = ref;
		}
		if (id == X86_INS_RET || (id == X86_INS_JMP && i > 0))
			break;
	}
	cs_free(insns, n);
	cs_close(&cs);
	return true;
}

/* Before Py_Version (3.11), the version is PY_VERSION, a string that
 * Py_GetVersion formats: "3.10.13". */
static uint32_t version_from_string(const struct python *py)
{
	struct function_scan scan;

	if (!scan_function(py, py->symbols[SYM_GET_VERSION], &scan))
		return 0;
	for (int i = 0; i < scan.nimmediates; i++) {
		char text[16] = "";
		unsigned major, minor, micro;
		int end = 0;

		if (read_file_at(py, scan.immediates[i], text, sizeof(text) - 1) &&
		    sscanf(text, "%u.%u.%u%n", &major, &minor, &micro, &end) == 3 && major == 3 &&
		    minor < 100 && micro < 100)
			return major << 24 | minor << 16 | micro << 8;
	}
	return 0;
}

/* The value of the thread-local py->tls for the thread whose thread
 * pointer is tp (as the kernel's walk reads it: bpf/python_stack.bpf.h). */
static uint64_t thread_local_of(const struct python *py, uint64_t tp)
{
	uint64_t dtv, block;

	if (py->tls.tstate_from == PY_TSTATE_TLS)
		return read_u64(py, tp + (uint64_t)py->tls.tls_offset);
	dtv = read_u64(py, tp + 8);
	if (!dtv || read_u64(py, dtv - 16) < py->tls.tls_module)
		return 0;
	block = read_u64(py, dtv + (uint64_t)py->tls.tls_module * 16);
	return block && block != UINT64_MAX ? read_u64(py, block + (uint64_t)py->tls.tls_offset) : 0;
}

/* Whether a list walked node by node has come back to a node seen (a
 * list of thread states read while it changes, or hostile memory): Brent's
 * method, *mark moved at steps 1, 2, 4, 8...  step counts from 0; mark
 * starts at the head. */
static bool looped(uint64_t node, uint64_t *mark, int step)
{
	if (node && node == *mark)
		return true;
	if ((step & (step + 1)) == 0)
		*mark = node;
	return false;
}

/* Whether the thread-local found holds what _Py_tss_tstate would: for each
 * thread state of the main interpreter, itself while the thread holds the
 * GIL, else NULL.  thread_id is pthread_self(), the thread pointer.  Nothing
 * to contradict when no thread holds the GIL now.  -1: contradicted; 0: no
 * interpreter yet (a program starting); 1: plausible. */
static int thread_local_plausible(const struct python *py)
{
	const struct python_layout *l = py->layout;
	uint64_t interp = read_u64(py, py->symbols[SYM_RUNTIME] + (uint64_t)py->bias + l->runtime_interpreters);
	uint64_t tstate = interp ? read_u64(py, interp + l->interp_threads) : 0, mark = tstate;

	if (!tstate)
		return 0;
	for (int i = 0; tstate && i < 10000; i++) {
		uint64_t value = thread_local_of(py, read_u64(py, tstate + l->tstate_thread_id));

		if (value && value != tstate)
			return -1;
		tstate = read_u64(py, tstate + l->tstate_next);
		if (looped(tstate, &mark, i))
			return 0; /* torn (threads coming and going): looked at again later */
	}
	return 1;
}

int python_thread_local_check(struct python *py, enum py_tstate_from from, int64_t offset,
			      uint32_t module)
{
	py->tls = (struct python_config){ .tstate_from = from, .tls_offset = offset, .tls_module = module };
	return thread_local_plausible(py);
}

/* Where 3.12+ keeps the thread state, _Py_tss_tstate: found in a function
 * that returns it, as the compiler reaches it: a load into %rax of the
 * executable's static TLS (`mov %fs:OFFSET`, or the offset from a GOT slot
 * and then `mov %fs:(%reg)`), or of a shared library's TLS block (`lea
 * tls_index, %rdi; call __tls_get_addr`, then a load at a displacement).
 * Other thread-locals read on the way (profiling counters) are not loads
 * into %rax; the result is then checked against the thread states.
 * Returns thread_local_plausible's answer for the one found (-1: none). */
static int find_thread_local(struct python *py)
{
	int plausible;

	for (int s = SYM_TSTATE_GET; s <= SYM_TSTATE_GET3; s++) {
		uint64_t got[X86_REG_ENDING] = { 0 }, tls_index = 0;
		bool called = false, found = false;
		uint8_t code[256];
		cs_insn *insns;
		size_t n;
		csh cs;

		if (!read_file_at(py, py->symbols[s], code, sizeof(code)) ||
		    cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
			continue;
		cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
		n = cs_disasm(cs, code, sizeof(code), py->symbols[s], 64, &insns);
		for (size_t i = 0; i < n && !found && insns[i].id != X86_INS_RET; i++) {
			const cs_x86 *x = &insns[i].detail->x86;
			const cs_x86_op *dst = &x->operands[0], *src = &x->operands[1];
			uint64_t next = insns[i].address + insns[i].size;

			if (insns[i].id == X86_INS_CALL) {
				called = tls_index != 0;
				continue;
			}
			if (x->op_count != 2 || dst->type != X86_OP_REG || src->type != X86_OP_MEM)
				continue;
			if (insns[i].id == X86_INS_LEA && dst->reg == X86_REG_RDI && src->mem.base == X86_REG_RIP)
				tls_index = next + (uint64_t)src->mem.disp;
			if (insns[i].id != X86_INS_MOV)
				continue;
			if (src->mem.base == X86_REG_RIP && dst->reg < X86_REG_ENDING)
				got[dst->reg] = next + (uint64_t)src->mem.disp;
			if (dst->reg != X86_REG_RAX || src->mem.index != X86_REG_INVALID)
				continue;
			if (src->mem.segment == X86_REG_FS && src->mem.base == X86_REG_INVALID) {
				py->tls.tls_offset = src->mem.disp;
				found = true;
			} else if (src->mem.segment == X86_REG_FS && src->mem.base < X86_REG_ENDING &&
				   got[src->mem.base]) {
				py->tls.tls_offset = (int64_t)read_u64(py, got[src->mem.base] + (uint64_t)py->bias) +
						     src->mem.disp;
				found = true;
			} else if (called && src->mem.base == X86_REG_RAX && src->mem.segment == X86_REG_INVALID) {
				uint64_t index[2] = { 0, 0 }; /* module id, offset */

				if (read_mem(py, tls_index + (uint64_t)py->bias, index, sizeof(index)) &&
				    index[0] && index[0] <= UINT32_MAX) {
					py->tls.tls_module = (uint32_t)index[0];
					py->tls.tls_offset = (int64_t)index[1] + src->mem.disp;
					found = true;
				}
			}
			if (found)
				py->tls.tstate_from = py->tls.tls_module ? PY_TSTATE_TLS_MODULE : PY_TSTATE_TLS;
		}
		cs_free(insns, n);
		cs_close(&cs);
		if (found && (plausible = thread_local_plausible(py)) >= 0)
			return plausible;
		py->tls = (struct python_config){ .tstate_from = PY_TSTATE_RUNTIME };
	}
	return -1;
}

/* Whether the ELF file at path names a libpython among its needed libraries
 * (its name in needed[], when given). */
static bool needed_libpython(const char *path, char *needed, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf = fd < 0 ? NULL : elf_begin(fd, ELF_C_READ_MMAP, NULL);
	Elf_Scn *scn = NULL;
	bool found = false;

	while (elf && !found && (scn = elf_nextscn(elf, scn))) {
		Elf_Data *data;
		GElf_Shdr shdr;
		GElf_Dyn dyn;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_DYNAMIC ||
		    !(data = elf_getdata(scn, NULL)) || !shdr.sh_entsize)
			continue;
		for (size_t i = 0; i < shdr.sh_size / shdr.sh_entsize && !found; i++) {
			const char *name;

			if (!gelf_getdyn(data, (int)i, &dyn) || dyn.d_tag != DT_NEEDED)
				continue;
			name = elf_strptr(elf, shdr.sh_link, dyn.d_un.d_val);
			found = name && strncmp(name, "libpython", 9) == 0;
			if (found && needed)
				snprintf(needed, len, "%s", name);
		}
	}
	if (elf)
		elf_end(elf);
	if (fd >= 0)
		close(fd);
	return found;
}

static bool needs_libpython(const char *path)
{
	return needed_libpython(path, NULL, 0);
}

/* A shared libpython that the program itself links (DT_NEEDED) is in static
 * TLS: its block is at the same distance below the thread pointer in every
 * thread, so that the kernel's walk can read the thread state in one step
 * instead of three (the DTV, the block, the variable).  Measured from the
 * thread states there are, all agreeing; one dlopen()ed keeps the DTV walk
 * (its blocks can be allocated per thread, anywhere). */
static void prefer_static_tls(struct python *py, pid_t pid)
{
	const struct python_layout *l = py->layout;
	uint64_t interp = read_u64(py, py->symbols[SYM_RUNTIME] + (uint64_t)py->bias + l->runtime_interpreters);
	uint64_t tstate = interp ? read_u64(py, interp + l->interp_threads) : 0, mark = tstate;
	int64_t offset = 0;
	char exe[64];

	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	if (py->tls.tstate_from != PY_TSTATE_TLS_MODULE || !needs_libpython(exe))
		return;
	for (int i = 0; tstate && i < 10000; i++) {
		uint64_t tp = read_u64(py, tstate + l->tstate_thread_id);
		uint64_t block = read_u64(py, read_u64(py, tp + 8) + (uint64_t)py->tls.tls_module * 16);
		int64_t here = (int64_t)(block - tp) + py->tls.tls_offset;

		if (!tp || !block || block == UINT64_MAX || (offset && here != offset))
			return;
		offset = here;
		tstate = read_u64(py, tstate + l->tstate_next);
		if (looped(tstate, &mark, i))
			return;
	}
	if (offset) {
		py->tls.tstate_from = PY_TSTATE_TLS;
		py->tls.tls_offset = offset;
		py->tls.tls_module = 0;
	}
}

/* 3.13+: the _Py_DebugOffsets block at the start of _PyRuntime.  A
 * free-threaded build (no GIL, mimalloc, another object header) gets no
 * Python frames; a GIL build takes its offsets from the block, checked
 * against its version (hex: Py_Version's).  false (and *msg) when the
 * interpreter's frames cannot be read. */
static bool use_debug_offsets(struct python *py, uint32_t hex, const char *path, char *msg,
			      size_t msglen)
{
	const uint64_t runtime = py->symbols[SYM_RUNTIME] + (uint64_t)py->bias;
	uint64_t debug[PY_DEBUG_OFFSETS_MAX] = { 0 };
	unsigned minor;
	size_t n;

	if (!read_mem(py, runtime, debug, 3 * 8) || memcmp(debug, PY_DEBUG_COOKIE, 8) != 0) {
		if (!py->layout->needs_debug_offsets)
			return true; /* up to 3.12: the table's row */
		snprintf(msg, msglen, "%s is Python %s but has no _Py_DebugOffsets block: its Python frames are not read; native frames only",
			 path, py->version);
		return false;
	}
	minor = python_debug_offsets_minor(debug, 3);
	if (debug[1] >> 16 != hex >> 16) {
		snprintf(msg, msglen, "%s is Python %s but its _Py_DebugOffsets say %u.%u: its Python frames are not read; native frames only",
			 path, py->version, (unsigned)(debug[1] >> 24), (unsigned)(debug[1] >> 16) & 0xff);
		return false;
	}
	if (debug[2]) {
		py->frames_off = "a free-threaded build (no GIL): its frames are not read (native frames only)";
		return true;
	}
	/* Just the block: it can be longer in a version whose layout is not
	 * known, but a known one is read whole or not at all. */
	n = python_debug_offsets_count(minor);
	if (!n || !read_mem(py, runtime, debug, n * 8) ||
	    !python_layout_from_debug_offsets(debug, n, &py->debug_layout)) {
		snprintf(msg, msglen, "%s is Python %s: its _Py_DebugOffsets are not laid out as those of 3.%u known to leaktop; native frames only",
			 path, py->version, minor);
		return false;
	}
	py->layout = &py->debug_layout;
	if (py->layout->untested)
		snprintf(py->untested, sizeof(py->untested),
			 "CPython 3.%u: layout from _Py_DebugOffsets, not tested on this version", minor);
	return true;
}

static struct python *try_object(pid_t pid, const char *root, const char *path, char *msg,
				 size_t msglen)
{
	struct python *py = calloc(1, sizeof(*py));
	char mem[64];
	uint32_t hex = 0;

	if (!py)
		return NULL;
	py->mem_fd = -1;
	snprintf(py->path, sizeof(py->path), "%s", path);
	snprintf(py->open_path, sizeof(py->open_path), "%s%s", root ? root : "", path);
	if (!read_symbols(py->open_path, py->symbols) || !py->symbols[SYM_RUNTIME] ||
	    !(py->symbols[SYM_VERSION] || py->symbols[SYM_GET_VERSION]) || !find_bias(pid, py))
		goto not_python;
	snprintf(mem, sizeof(mem), "/proc/%d/mem", pid);
	py->mem_fd = open(mem, O_RDONLY | O_CLOEXEC);
	if (py->mem_fd < 0)
		goto not_python;
	if (py->symbols[SYM_VERSION])
		read_mem(py, py->symbols[SYM_VERSION] + (uint64_t)py->bias, &hex, sizeof(hex));
	else
		hex = version_from_string(py);
	if (!hex)
		goto not_python;
	snprintf(py->version, sizeof(py->version), "%u.%u.%u", hex >> 24, (hex >> 16) & 0xff,
		 (hex >> 8) & 0xff);
	py->layout = python_layout_for(hex >> 24, (hex >> 16) & 0xff);
	if (!py->layout) {
		snprintf(msg, msglen, "%s is Python %s: its Python frames are not supported yet (3.10 to 3.15 are); native frames only",
			 path, py->version);
		goto not_python;
	}
	if (!use_debug_offsets(py, hex, path, msg, msglen))
		goto not_python;
	py->tls.tstate_from = PY_TSTATE_RUNTIME;
	if (!py->frames_off && py->layout->bpf.tstate_from != PY_TSTATE_RUNTIME) {
		int found = find_thread_local(py);

		if (found > 0) {
			prefer_static_tls(py, pid);
			return py;
		}
		if (found == 0)
			goto not_python; /* not started yet: looked for again later */
		snprintf(msg, msglen, "%s is Python %s: its thread state was not found (no known code reads _Py_tss_tstate); native frames only",
			 path, py->version);
		goto not_python;
	}
	return py;
not_python:
	python_free(py);
	return NULL;
}

/* 1 when the ELF program at path is a free-threaded CPython (3.13t+): the
 * _Py_DebugOffsets head in _PyRuntime's initial contents says so for a
 * static build, the ABI flag of the libpython it links ("libpython3.13t")
 * for a shared one; 0 when not, -1 when it is no CPython we can tell. */
static int free_threaded_elf(const char *path)
{
	uint64_t symbols[SYM_COUNT], head[3] = { 0 };
	char needed[64] = "";
	const char *abi;
	GElf_Phdr ph;
	int fd;

	if (!read_symbols(path, symbols))
		return -1;
	if (symbols[SYM_RUNTIME]) {
		if (!segment_of(path, symbols[SYM_RUNTIME], false, &ph) || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return -1;
		if (pread(fd, head, sizeof(head), (off_t)(symbols[SYM_RUNTIME] - ph.p_vaddr + ph.p_offset)) != sizeof(head))
			head[0] = 0;
		close(fd);
		return memcmp(head, PY_DEBUG_COOKIE, 8) == 0 ? head[2] != 0 : 0;
	}
	if (!needed_libpython(path, needed, sizeof(needed)))
		return -1;
	/* libpython3.13t.so.1.0: the ABI flags follow the version */
	abi = needed + strlen("libpython");
	abi += strspn(abi, "0123456789.");
	return *abi == 't';
}

bool python_program_free_threaded(const char *path,
				   bool (*find_in_path)(const char *name, char *out, size_t len))
{
	char line[PATH_MAX], interp[PATH_MAX];
	FILE *f = fopen(path, "re");
	char *p, *word;

	if (!f)
		return false;
	if (!fgets(line, sizeof(line), f) || strncmp(line, "#!", 2) != 0) {
		fclose(f);
		return free_threaded_elf(path) == 1;
	}
	fclose(f);
	/* A script: its interpreter, directly or through env (one level). */
	p = line + 2;
	word = strtok(p, " \t\n");
	if (!word)
		return false;
	if (strcmp(basename(word), "env") == 0) {
		while ((word = strtok(NULL, " \t\n")) && word[0] == '-')
			;
		if (!word || !find_in_path(word, interp, sizeof(interp)))
			return false;
		word = interp;
	}
	return free_threaded_elf(word) == 1;
}

bool python_expected(pid_t pid)
{
	char exe[64], path[PATH_MAX];
	ssize_t n;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	n = readlink(exe, path, sizeof(path) - 1);
	if (n <= 0)
		return false;
	path[n] = '\0';
	return looks_like_python(path) || needs_libpython(exe);
}

struct python *python_find(pid_t pid, const char *root, char *msg, size_t msglen)
{
	char maps[64], line[PATH_MAX + 128], perms[8];
	struct python *py = NULL;
	FILE *f;

	if (msglen)
		msg[0] = '\0';
	snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
	f = fopen(maps, "re");
	if (!f)
		return NULL;
	while (!py && fgets(line, sizeof(line), f)) {
		int path_at = 0;

		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%*x-%*x %7s %*x %*x:%*x %*u %n", perms, &path_at) < 1 || !path_at)
			continue;
		if (perms[2] == 'x' && line[path_at] == '/' && looks_like_python(line + path_at))
			py = try_object(pid, root, line + path_at, msg, msglen);
	}
	fclose(f);
	return py;
}

static void free_code(void *node)
{
	struct code_info *c = node;

	free(c->function);
	free(c->file);
	free(c->linetable);
	free(c);
}

void python_free(struct python *py)
{
	if (!py)
		return;
	if (py->mem_fd >= 0)
		close(py->mem_fd);
	tdestroy(py->codes, free_code);
	free(py);
}

const char *python_object_path(const struct python *py)
{
	return py->path;
}

const char *python_version(const struct python *py)
{
	return py->version;
}

const char *python_frames_off(const struct python *py)
{
	return py->frames_off;
}

bool python_offsets_published(const struct python *py)
{
	return py->layout == &py->debug_layout;
}

struct python *python_for_memory(int mem_fd, unsigned major, unsigned minor, uint64_t code_type)
{
	struct python *py = calloc(1, sizeof(*py));

	if (!py)
		return NULL;
	py->mem_fd = mem_fd;
	py->layout = python_layout_for(major, minor);
	py->symbols[SYM_CODE_TYPE] = code_type;
	snprintf(py->version, sizeof(py->version), "%u.%u", major, minor);
	if (!py->layout || py->layout->needs_debug_offsets) {
		free(py);
		return NULL;
	}
	return py;
}

struct python *python_for_memory_runtime(int mem_fd, uint64_t runtime, uint64_t code_type,
					 char *msg, size_t msglen)
{
	struct python *py = calloc(1, sizeof(*py));
	uint64_t head[2] = { 0, 0 };
	uint32_t hex;

	if (msglen)
		msg[0] = '\0';
	if (!py)
		return NULL;
	py->mem_fd = mem_fd;
	py->symbols[SYM_RUNTIME] = runtime;
	py->symbols[SYM_CODE_TYPE] = code_type;
	hex = read_mem(py, runtime, head, sizeof(head)) ? (uint32_t)head[1] : 0;
	snprintf(py->version, sizeof(py->version), "%u.%u", hex >> 24, (hex >> 16) & 0xff);
	py->layout = python_layout_for(hex >> 24, (hex >> 16) & 0xff);
	if (!py->layout || !use_debug_offsets(py, hex, "memory", msg, msglen)) {
		py->mem_fd = -1; /* the caller's */
		python_free(py);
		return NULL;
	}
	return py;
}

const char *python_untested(const struct python *py)
{
	return py->untested[0] ? py->untested : NULL;
}

void python_bpf_config(const struct python *py, struct python_config *out)
{
	/* Every layout in python_layouts.c fits the kernel's reads (the unit
	 * tests say so); one that did not would get no walk rather than a
	 * wrong one. */
	bool fits = python_layout_config(py->layout, out);

	out->runtime = fits && !py->frames_off ? py->symbols[SYM_RUNTIME] + (uint64_t)py->bias : 0;
	out->tstate_from = py->tls.tstate_from;
	out->tls_offset = py->tls.tls_offset;
	out->tls_module = py->tls.tls_module;
	out->text_start = py->text_start;
	out->text_end = py->text_end;
}

/* ---- code objects ---- */

static void put_utf8(char **p, uint32_t c)
{
	unsigned char *o = (unsigned char *)*p;

	if (c < 0x80) {
		*o++ = (unsigned char)c;
	} else if (c < 0x800) {
		*o++ = (unsigned char)(0xc0 | (c >> 6));
		*o++ = (unsigned char)(0x80 | (c & 0x3f));
	} else if (c < 0x10000) {
		*o++ = (unsigned char)(0xe0 | (c >> 12));
		*o++ = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		*o++ = (unsigned char)(0x80 | (c & 0x3f));
	} else {
		*o++ = (unsigned char)(0xf0 | ((c >> 18) & 0x07));
		*o++ = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
		*o++ = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		*o++ = (unsigned char)(0x80 | (c & 0x3f));
	}
	*p = (char *)o;
}

/* A str object as UTF-8 (compact strings only, which code names always are). */
static char *read_str(const struct python *py, uint64_t addr)
{
	const struct python_layout *l = py->layout;
	uint64_t length = 0;
	uint32_t state = 0;
	unsigned kind;
	bool ascii;
	char *out, *p;
	uint8_t *raw;

	if (!read_mem(py, addr + l->unicode_length, &length, sizeof(length)) ||
	    !read_mem(py, addr + l->unicode_state, &state, sizeof(state)) || length > 4096)
		return NULL;
	/* state: interned:2, kind:3, compact:1, ascii:1, ready:1 */
	kind = (state >> 2) & 7;
	ascii = (state >> 6) & 1;
	if (!((state >> 5) & 1) || (kind != 1 && kind != 2 && kind != 4))
		return NULL;
	raw = malloc(length * kind + 1);
	out = malloc(length * 4 + 1);
	if (!raw || !out ||
	    !read_mem(py, addr + (ascii ? l->unicode_ascii_data : l->unicode_compact_data), raw, length * kind)) {
		free(raw);
		free(out);
		return NULL;
	}
	p = out;
	for (uint64_t i = 0; i < length; i++) {
		uint32_t c = kind == 1 ? raw[i] : kind == 2 ? ((uint16_t *)raw)[i] : ((uint32_t *)raw)[i];

		put_utf8(&p, c > 0x10ffff ? 0xfffd : c);
	}
	*p = '\0';
	free(raw);
	return out;
}

/* The identity (py_code_identity) of the code object at addr, as the
 * kernel's walk computes it; 0 when addr holds no code object. */
static uint32_t read_identity(const struct python *py, uint64_t addr)
{
	const struct python_config *l = &py->layout->bpf;
	uint64_t refs = read_u64(py, addr); /* ob_refcnt */
	int32_t first_line = 0;

	/* A freed object keeps its fields, but pymalloc puts its free list
	 * link where the reference count was (malloc's free also clobbers
	 * ob_type): a live one has a count between 1 and 2^32 - 1 (immortal)
	 * there, and above it nothing but, from 3.14, ob_overflow (0) and
	 * ob_flags (immortal, statically allocated: Include/object.h). */
	uint64_t above = py->layout->minor >= 14 ? refs >> 32 & 0xffff : refs >> 32;

	if (!py->symbols[SYM_CODE_TYPE] || !(uint32_t)refs || above ||
	    read_u64(py, addr + py->layout->object_type) != py->symbols[SYM_CODE_TYPE] + (uint64_t)py->bias ||
	    !read_mem(py, addr + l->code_first_line, &first_line, sizeof(first_line)))
		return 0;
	return py_code_identity((uint32_t)first_line, read_u64(py, addr + l->code_filename),
				read_u64(py, addr + l->code_name));
}

static void read_code(struct python *py, struct code_info *c)
{
	const struct python_layout *l = py->layout;
	uint64_t table, size = 0;
	int32_t first_line = 0;

	/* A freed and reused address must not be read as a code object. */
	c->identity = read_identity(py, c->addr);
	if (!c->identity)
		return;
	c->function = read_str(py, read_u64(py, c->addr + l->bpf.code_name));
	c->file = read_str(py, read_u64(py, c->addr + l->bpf.code_filename));
	if (read_mem(py, c->addr + l->bpf.code_first_line, &first_line, sizeof(first_line)))
		c->first_line = first_line;
	table = read_u64(py, c->addr + l->code_linetable);
	if (table && read_mem(py, table + l->bytes_size, &size, sizeof(size)) && size < (1 << 20)) {
		c->linetable = malloc(size ? size : 1);
		if (c->linetable && read_mem(py, table + l->bytes_data, c->linetable, size))
			c->linetable_len = size;
	}
	c->valid = c->function || c->file;
}

uint32_t python_code_identity(const struct python *py, uint64_t code)
{
	return read_identity(py, code);
}

static int compare_codes(const void *a, const void *b)
{
	uint64_t x = ((const struct code_info *)a)->addr, y = ((const struct code_info *)b)->addr;

	return x < y ? -1 : x > y;
}

bool python_frame(struct python *py, uint64_t code, int32_t offset, uint32_t identity,
		  struct frame *out)
{
	struct code_info probe = { .addr = code }, *c, **found;

	memset(out, 0, sizeof(*out));
	out->kind = FRAME_PYTHON;
	found = tfind(&probe, &py->codes, compare_codes);
	if (found) {
		c = *found;
		/* Code objects come and go (exec, lambdas, imports): what was read
		 * at this address before may be another one than the walk saw. */
		if (c->identity != identity) {
			free(c->function);
			free(c->file);
			free(c->linetable);
			*c = (struct code_info){ .addr = code };
			read_code(py, c);
		}
	} else {
		c = calloc(1, sizeof(*c));
		if (!c)
			return false;
		c->addr = code;
		read_code(py, c);
		if (!tsearch(c, &py->codes, compare_codes)) {
			free_code(c);
			return false;
		}
	}
	/* The walk's code object is gone (freed, its address reused): its
	 * frame is unknown, not the new one's. */
	if (!c->valid || c->identity != identity)
		return false;
	out->function = c->function;
	out->file = c->file;
	out->line = py->layout->line_at(c->linetable, c->linetable_len, c->first_line, offset);
	return true;
}

/* ---- pymalloc ---- */

/* The table a function reads: the address T such that it loads both T and
 * T + stride (a PyObject_Malloc-like function: ctx and the malloc slot, 8;
 * PyObject_GetArenaAllocator copies the arena table: 16). */
static uint64_t table_of(const struct function_scan *s, uint64_t stride)
{
	for (int i = 0; i < s->nrefs; i++)
		for (int j = 0; j < s->nrefs; j++)
			if (s->refs[j] == s->refs[i] + stride)
				return s->refs[i];
	return 0;
}

/* A runtime address inside the interpreter object -> file offset for a uprobe. */
static uint64_t file_offset(const struct python *py, uint64_t addr)
{
	GElf_Phdr ph;
	uint64_t vaddr = addr - (uint64_t)py->bias;

	if (!addr || !segment_of(py->open_path, vaddr, false, &ph) || !(ph.p_flags & PF_X))
		return 0;
	return vaddr - ph.p_vaddr + ph.p_offset;
}

/* Probes malloc, calloc, realloc and free of the table at vaddr `table`
 * (PyMemAllocatorEx: ctx, malloc, calloc, realloc, free). */
static void probe_table(const struct python *py, uint64_t table, struct allocator_object *obj)
{
	uint64_t slots[5];

	if (!read_mem(py, table + (uint64_t)py->bias, slots, sizeof(slots)))
		return;
	allocator_object_add_probe(obj, FN_PY_MALLOC, file_offset(py, slots[1]));
	allocator_object_add_probe(obj, FN_PY_CALLOC, file_offset(py, slots[2]));
	allocator_object_add_probe(obj, FN_PY_REALLOC, file_offset(py, slots[3]));
	allocator_object_add_probe(obj, ALLOC_PY_FREE, file_offset(py, slots[4]));
}

/* Does the function compare the table's malloc slot with the default
 * allocator's address?  Then the default's fast path is inlined at each call
 * site (LTO's speculative devirtualization) and probes on it see little. */
static bool devirtualized(const struct python *py, const struct function_scan *s, uint64_t table)
{
	uint64_t slot = read_u64(py, table + 8 + (uint64_t)py->bias);

	for (int i = 0; slot && i < s->nimmediates; i++)
		if (s->immediates[i] == slot || s->immediates[i] + (uint64_t)py->bias == slot)
			return true;
	return false;
}

enum python_heap_view python_allocator_probes(struct python *py, struct allocator_object *obj)
{
	struct function_scan object_malloc, mem_malloc, arenas;
	uint64_t object_table, mem_table;

	memset(obj, 0, sizeof(*obj));
	snprintf(obj->path, sizeof(obj->path), "%s", py->path);
	snprintf(obj->open_path, sizeof(obj->open_path), "%s", py->open_path);
	if (!scan_function(py, py->symbols[SYM_OBJECT_MALLOC], &object_malloc) ||
	    !(object_table = table_of(&object_malloc, 8)))
		return PY_HEAP_MALLOC;
	if (!devirtualized(py, &object_malloc, object_table)) {
		probe_table(py, object_table, obj);
		if (scan_function(py, py->symbols[SYM_MEM_MALLOC], &mem_malloc) &&
		    (mem_table = table_of(&mem_malloc, 8)))
			probe_table(py, mem_table, obj);
		return obj->nprobes ? PY_HEAP_PYMALLOC : PY_HEAP_MALLOC;
	}
	/* The arena allocator (ctx, alloc, free) is called through its table. */
	if (scan_function(py, py->symbols[SYM_ARENA_GETTER], &arenas) && table_of(&arenas, 16)) {
		uint64_t slots[3];

		if (read_mem(py, table_of(&arenas, 16) + (uint64_t)py->bias, slots, sizeof(slots))) {
			allocator_object_add_probe(obj, FN_PY_ARENA, file_offset(py, slots[1]));
			allocator_object_add_probe(obj, ALLOC_PY_FREE, file_offset(py, slots[2]));
		}
	}
	return obj->nprobes == 2 ? PY_HEAP_ARENAS : PY_HEAP_MALLOC;
}

bool python_allocator_tables(const struct python *py, struct python_tables *out)
{
	struct function_scan scan;
	const int symbols[3] = { SYM_OBJECT_MALLOC, SYM_MEM_MALLOC, SYM_RAW_MALLOC };
	uint64_t *tables[3] = { &out->object, &out->mem, &out->raw };

	for (int i = 0; i < 3; i++) {
		uint64_t table;

		if (!scan_function(py, py->symbols[symbols[i]], &scan) || !(table = table_of(&scan, 8)))
			return false;
		*tables[i] = table + (uint64_t)py->bias;
	}
	return true;
}

int python_mem_fd(const struct python *py)
{
	return py->mem_fd;
}
