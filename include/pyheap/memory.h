/* Reading a target's memory. Everything above this layer asks for bytes at
 * addresses through struct ph_memory_reader, so a core-file reader can later
 * replace the live one without touching the heap walk. */
#ifndef PYHEAP_MEMORY_H
#define PYHEAP_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pyheap/error.h"

enum {
	PH_PERM_READ = 1,
	PH_PERM_WRITE = 2,
	PH_PERM_EXEC = 4,
};

struct ph_memory_region {
	uint64_t start;
	uint64_t end; /* exclusive */
	unsigned perms;
	uint64_t file_offset;
	char *path; /* may be empty, "[heap]", "[stack]", ... */
};

struct ph_memory_map {
	struct ph_memory_region *regions; /* sorted by start, non-overlapping */
	size_t count;
};

/* Parses the text of /proc/PID/maps. Lines that do not parse are errors:
 * the kernel's format is fixed, so garbage means we read the wrong file. */
struct ph_error *ph_memory_map_parse(const char *text, struct ph_memory_map *out);
struct ph_error *ph_memory_map_load(pid_t pid, struct ph_memory_map *out);
void ph_memory_map_free(struct ph_memory_map *map);
/* The region containing addr, or NULL. */
const struct ph_memory_region *ph_memory_map_find(const struct ph_memory_map *map, uint64_t addr);
/* True when [addr, addr+len) lies inside readable regions. */
bool ph_memory_map_readable(const struct ph_memory_map *map, uint64_t addr, uint64_t len);

/* A source of target bytes. read() fills all of buf or fails; partial
 * reads are reported through *done so callers can keep what arrived. */
struct ph_memory_reader {
	struct ph_error *(*read)(struct ph_memory_reader *reader, uint64_t addr, void *buf,
				 size_t len, size_t *done);
	void (*destroy)(struct ph_memory_reader *reader);
	/* Optional: a pointer to len bytes at addr held in memory already (a
	 * copy), or NULL; lets the block cache skip copying them again. */
	const void *(*direct)(struct ph_memory_reader *reader, uint64_t addr, size_t len);
	uint64_t bytes_read; /* for the copy-limit figure in benchmarks */
};

static inline struct ph_error *ph_memory_read(struct ph_memory_reader *reader, uint64_t addr,
					      void *buf, size_t len, size_t *done)
{
	return reader->read(reader, addr, buf, len, done);
}

/* Live process: process_vm_readv, falling back to /proc/PID/mem when the
 * system call is unavailable. Never writes. */
struct ph_error *ph_process_reader_new(pid_t pid, struct ph_memory_reader **out);

/* A copy of every readable and writable mapping of a stopped process,
 * made in bulk (a few system calls per mapping), so the target can run
 * again while the copy is walked. Reads outside the copied mappings (the
 * read-only file mappings: code, constant strings) go to `live`, which
 * is safe because those do not change. Fails with PH_EXIT_INTERNAL when
 * the writable memory exceeds budget bytes; the caller then walks while
 * the target is stopped instead. */
struct ph_error *ph_copy_reader_new(pid_t pid, const struct ph_memory_map *map, uint64_t budget,
				    struct ph_memory_reader *live, struct ph_memory_reader **out,
				    uint64_t *copied);
/* Buffers for a copy, allocated and paged in before the target is stopped
 * (page faults on fresh memory would otherwise dominate the pause). A
 * mapping that still has the same bounds at the stop reuses its buffer. */
struct ph_copy_buffers;
struct ph_copy_buffers *ph_copy_buffers_prepare(const struct ph_memory_map *map, uint64_t budget);
void ph_copy_buffers_free(struct ph_copy_buffers *buffers);
/* ph_copy_reader_new with buffers from ph_copy_buffers_prepare (taken over). */
struct ph_error *ph_copy_reader_new_prepared(pid_t pid, const struct ph_memory_map *map,
					     uint64_t budget, struct ph_copy_buffers *buffers,
					     struct ph_memory_reader *live,
					     struct ph_memory_reader **out, uint64_t *copied);
/* Writable memory of the map, in bytes (what a copy would take). */
uint64_t ph_memory_map_writable(const struct ph_memory_map *map);

/* A cache of fixed-size blocks in front of a reader, clipped to the memory
 * map so a block never straddles into an unmapped page. The heap walk does
 * millions of small reads; this turns them into a few thousand bulk copies
 * made while the target is stopped. */
struct ph_block_cache;
struct ph_error *ph_block_cache_new(struct ph_memory_reader *backing,
				    const struct ph_memory_map *map, size_t block_size,
				    struct ph_block_cache **out);
void ph_block_cache_free(struct ph_block_cache *cache);
/* Copies len bytes at addr into buf; false when any byte is unmapped or
 * unreadable. Hot path: no allocation once the block is cached. */
bool ph_cache_read(struct ph_block_cache *cache, uint64_t addr, void *buf, size_t len);
/* Reads a NUL-terminated string of at most max-1 bytes; false if none. */
bool ph_cache_read_cstring(struct ph_block_cache *cache, uint64_t addr, char *buf, size_t max);
uint64_t ph_cache_bytes_copied(const struct ph_block_cache *cache);
/* The first error the backing reader reported other than an unmapped
 * address (e.g. the target vanished), or NULL. Owned by the cache. */
const struct ph_error *ph_cache_fatal_error(const struct ph_block_cache *cache);

#endif
