/* Reading /proc/PID/maps again for allocators, without loading a file twice. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include "allocator_scan.h"
#include "grow.h"

static struct scanned_file *scanned(struct allocator_scan *scan, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < scan->nfiles; i++)
		if (scan->files[i].dev == dev && scan->files[i].ino == ino)
			return &scan->files[i];
	return NULL;
}

/* Examines a file not seen before (opened as open_path; replaced: no longer
 * at path): 1 when it is an allocator (its object then goes into list), 0
 * when not, or a negative errno. */
static int examine(struct allocator_scan *scan, dev_t dev, ino_t ino, const char *path,
		   const char *open_path, bool replaced, struct allocator_list *list)
{
	struct scanned_file *grown = grow_array(scan->files, &scan->cap, scan->nfiles + 1,
						sizeof(*grown), 64);
	struct allocator_object obj, *objects;
	bool allocator;

	if (!grown)
		return -ENOMEM;
	scan->files = grown;
	allocator = allocator_object_load(path, open_path, &obj) == 1;
	if (allocator) {
		objects = realloc(list->objects, (list->count + 1) * sizeof(*objects));
		if (!objects)
			return -ENOMEM;
		list->objects = objects;
		obj.replaced = replaced;
		list->objects[list->count++] = obj;
	}
	scan->files[scan->nfiles++] = (struct scanned_file){ dev, ino, allocator };
	return allocator;
}

int allocator_scan_maps(struct allocator_scan *scan, pid_t pid, const char *root,
			struct allocator_list *list)
{
	char maps[64], line[PATH_MAX + 128], perms[8], open_path[PATH_MAX];
	unsigned long start, end, inode;
	unsigned int major, minor;
	int path_at, mapped = 0, err = 0;
	FILE *f;

	memset(list, 0, sizeof(*list));
	snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
	f = fopen(maps, "re");
	if (!f)
		return -errno;
	while (!err && fgets(line, sizeof(line), f)) {
		struct scanned_file *file;
		char *path, *deleted;

		line[strcspn(line, "\n")] = '\0';
		path_at = 0;
		if (sscanf(line, "%lx-%lx %7s %*x %x:%x %lu %n", &start, &end, perms, &major, &minor, &inode,
			   &path_at) < 6 || !path_at)
			continue;
		path = line + path_at;
		if (perms[2] != 'x' || path[0] != '/')
			continue;
		/* A file deleted or renamed over: map_files still leads to it. */
		if ((deleted = strstr(path, " (deleted)"))) {
			*deleted = '\0';
			snprintf(open_path, sizeof(open_path), "/proc/%d/map_files/%lx-%lx", pid, start, end);
		} else {
			snprintf(open_path, sizeof(open_path), "%s%s", root ? root : "", path);
		}
		file = scanned(scan, makedev(major, minor), (ino_t)inode);
		if (file) {
			mapped += file->allocator;
		} else {
			int found = examine(scan, makedev(major, minor), (ino_t)inode, path, open_path,
					    deleted != NULL, list);

			if (found < 0)
				err = found;
			else
				mapped += found;
		}
	}
	fclose(f);
	if (err < 0) {
		allocator_list_free(list);
		return err;
	}
	return mapped;
}

void allocator_scan_free(struct allocator_scan *scan)
{
	free(scan->files);
	memset(scan, 0, sizeof(*scan));
}

int allocators_from_maps(pid_t pid, const char *root, struct allocator_list *list)
{
	struct allocator_scan scan = { 0 };
	int mapped = allocator_scan_maps(&scan, pid, root, list);

	allocator_scan_free(&scan);
	return mapped < 0 ? mapped : 0;
}
