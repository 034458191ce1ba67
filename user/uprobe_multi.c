/* uprobe_multi links, created with the bpf() system call directly: libbpf
 * 1.1 and Debian 12's linux/bpf.h predate them. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include "uprobe_multi.h"

#define UPROBE_MULTI_RETURN 1u /* BPF_F_UPROBE_MULTI_RETURN */

/* bpf_attr's link_create, as BPF_LINK_CREATE reads it for uprobe_multi. */
struct link_create_uprobe_multi {
	uint32_t prog_fd, target_fd, attach_type, flags;
	uint64_t path, offsets, ref_ctr_offsets, cookies;
	uint32_t cnt, multi_flags, pid;
};

static int link_create(int prog_fd, const char *path, const uint64_t *offsets,
		       const uint64_t *cookies, uint32_t n, bool retprobe, int pid)
{
	struct link_create_uprobe_multi attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_fd = (uint32_t)prog_fd;
	attr.attach_type = UPROBE_MULTI_ATTACH_TYPE;
	attr.path = (uint64_t)(uintptr_t)path;
	attr.offsets = (uint64_t)(uintptr_t)offsets;
	attr.cookies = (uint64_t)(uintptr_t)cookies;
	attr.cnt = n;
	attr.multi_flags = retprobe ? UPROBE_MULTI_RETURN : 0;
	attr.pid = (uint32_t)pid;
	fd = (int)syscall(SYS_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : fd;
}

int uprobe_multi_attach(int prog_fd, const char *path, const uint64_t *offsets,
			const uint64_t *cookies, uint32_t n, bool retprobe, pid_t pid)
{
	return link_create(prog_fd, path, offsets, cookies, n, retprobe, (int)pid);
}

/* As libbpf does: a link on "/" (no regular file) fails with EBADF where the
 * link type exists, and a negative PID with EINVAL where the PID filter
 * takes the whole process. */
bool uprobe_multi_supported(void)
{
	static const struct bpf_insn ret0[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = UPROBE_MULTI_ATTACH_TYPE);
	const char *off = getenv("LEAKTOP_NO_UPROBE_MULTI");
	uint64_t offset = 0;
	int prog, fd_any, fd_neg;
	bool ok;

	if (off && strcmp(off, "0") != 0)
		return false;
	prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "leaktop_probe", "GPL", ret0, 2, &opts);
	if (prog < 0)
		return false;
	fd_any = link_create(prog, "/", &offset, NULL, 1, false, 0);
	fd_neg = link_create(prog, "/", &offset, NULL, 1, false, -1);
	ok = fd_any == -EBADF && fd_neg == -EINVAL;
	if (fd_any >= 0)
		close(fd_any);
	if (fd_neg >= 0)
		close(fd_neg);
	close(prog);
	return ok;
}

bool uprobe_multi_filters_thread_group(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 12);
}
