/* Turns addresses of the target process into frames: function, file:line, object.
 *
 * Objects are opened through /proc/PID/root (so a process in a container works)
 * and symbolized with libdwfl, one Dwfl per object file, in the object's own
 * ELF address space; results are cached per object and address.  After the
 * target has exited, addresses in mappings already seen still resolve.
 *
 * Several processes (a session's workers) share one store of objects, cache
 * and strings: an object is opened and its DWARF read once for all of them,
 * found by the mapped file's identity (device, inode and name as the maps
 * give them: a file a deploy put at the same path is another object), while
 * each process's symbolizer has its own mappings (its own load addresses). */
#ifndef LEAKTOP_SYMBOLIZER_H
#define LEAKTOP_SYMBOLIZER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum frame_kind { FRAME_NATIVE, FRAME_PYTHON };

struct frame {
	const char *function; /* demangled name; NULL when unknown (never a guess) */
	const char *file;     /* source file from DWARF; NULL when not available */
	int line;	      /* source line; 0 when unknown */
	const char *object;   /* object path as the target sees it; NULL if unmapped */
	uint64_t offset;      /* address in the object's ELF address space (addr2line -e) */
	enum frame_kind kind;
	const char *build_id; /* the object's GNU build id in hex; NULL when it has none */
};

struct symbolizer;
struct symbol_store;

/* A store for symbolizers to share, with one reference, put back with
 * symbol_store_put (each symbolizer holds its own). */
struct symbol_store *symbol_store_new(void);
void symbol_store_put(struct symbol_store *store);

/* root: directory under which the target's paths are opened, normally
 * "/proc/PID/root"; NULL or "" for the host's root (used by tests).
 * symbolizer_new: with a store of its own. */
struct symbolizer *symbolizer_new_shared(struct symbol_store *store, pid_t pid, const char *root);
struct symbolizer *symbolizer_new(pid_t pid, const char *root);
/* Objects only the freed symbolizer mapped are closed at the store's next
 * trim. */
void symbolizer_free(struct symbolizer *sym);
/* Objects open in the symbolizer's store (for tests). */
size_t symbolizer_objects(const struct symbolizer *sym);

/* Re-read /proc/PID/maps (new libraries, dlopen). Done automatically when an
 * address is in no known mapping; returns false once the process is gone. */
bool symbolizer_refresh(struct symbolizer *sym);

/* Forgets every mapping (after an exec, the old program's are meaningless);
 * the next refresh reads them afresh. */
void symbolizer_forget_mappings(struct symbolizer *sym);

/* Adds a mapping of `path` (under root) at [start, end) from file offset pgoff,
 * as a line of /proc/PID/maps would; for tests and fuzzing without a process. */
bool symbolizer_add_mapping(struct symbolizer *sym, uint64_t start, uint64_t end, uint64_t pgoff,
			    const char *path);

/* Addresses resolved are cached (code is finite, but a program that loads
 * and unloads code keeps bringing new addresses): once the store's cache
 * holds more than SYMBOLIZER_CACHE_LIMIT entries (or the limit set),
 * symbolizer_trim empties it, putting back the strings it held; it also
 * closes the objects no process maps any more (symbol_store_trim: the same,
 * for the store).  Frames given out before
 * the trim (by any symbolizer of the store) lose their strings: trim only
 * between uses (stacks.c: before building a stack, whose frames are copied
 * into the frame table). */
#define SYMBOLIZER_CACHE_LIMIT 65536
void symbolizer_trim(struct symbolizer *sym);
void symbol_store_trim(struct symbol_store *store);
void symbolizer_set_cache_limit(struct symbolizer *sym, size_t entries);
size_t symbolizer_cache_count(const struct symbolizer *sym);

/* Resolve one address.  For a return address (every frame but the first), the
 * frame is looked up at addr - 1 so it names the call site, and the address
 * must directly follow a call instruction in an executable mapping; returns
 * false when it does not (a frame-pointer walk through code without frame
 * pointers yields such garbage; the caller cuts the stack there).  Strings in
 * *out belong to the symbolizer and live until symbolizer_free. */
bool symbolizer_resolve(struct symbolizer *sym, uint64_t addr, bool return_address,
			struct frame *out);

/* `object+0xOFFSET` (basename of the object) or "[unknown]" into buf; used where
 * a frame has no function name. */
const char *frame_fallback_name(const struct frame *f, char *buf, size_t len);

#endif
