/* Atomic output files: temporary file + rename, as node_exporter's textfile
 * collector and any other polling reader need. */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "atomic_file.h"
#include "errors.h"

static void directory_of(const char *path, char *dir, size_t len)
{
	char copy[PATH_MAX];

	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(dir, len, "%s", dirname(copy));
}

int output_path_check(const char *option, const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct stat st;

	directory_of(path, dir, sizeof(dir));
	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return fail(err, errlen, "cannot write %s %s: directory %s does not exist", option, path, dir);
	if (access(dir, W_OK))
		return fail(err, errlen, "cannot write %s %s: directory %s is not writable", option, path, dir);
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return fail(err, errlen, "cannot write %s %s: it is a directory, give a file name in it", option, path);
	/* It is replaced by a rename: never do that to a device, FIFO or socket. */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return fail(err, errlen, "cannot write %s %s: not a regular file, give a file name", option, path);
	return 0;
}

int write_file_atomically(const char *path, void (*fill)(FILE *out, const void *arg),
			  const void *arg, char *err, size_t errlen)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 32];
	FILE *out;
	int fd, e = 0;

	directory_of(path, dir, sizeof(dir));
	/* mkstemp opens with O_EXCL: it never reuses nor follows what is there.
	 * The name does not end in .prom: node_exporter skips it. */
	snprintf(tmp, sizeof(tmp), "%s/.leaktop-XXXXXX", dir);
	fd = mkstemp(tmp);
	if (fd < 0)
		return fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
	out = fdopen(fd, "w");
	if (!out) {
		e = errno;
		close(fd);
		unlink(tmp);
		return fail(err, errlen, "cannot write %s: %s", path, strerror(e));
	}
	fill(out, arg);
	if (fflush(out) || ferror(out) || fchmod(fd, 0644) || fsync(fd))
		e = errno ? errno : EIO;
	if (fclose(out) && !e)
		e = errno;
	if (!e && rename(tmp, path))
		e = errno;
	if (e) {
		unlink(tmp);
		return fail(err, errlen, "cannot write %s: %s", path, strerror(e));
	}
	return 0;
}
