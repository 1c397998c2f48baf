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
	PH_PERM_SHARED = 8, /* 's' in /proc/PID/maps: not copy-on-write */
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

/* A set of page addresses (4 KiB aligned). Adding is cheap; call
 * ph_page_set_normalize (sort, drop duplicates) before a lookup. */
struct ph_page_set {
	uint64_t *pages;
	size_t count, capacity;
};
bool ph_page_set_add(struct ph_page_set *set, uint64_t page);
bool ph_page_set_add_all(struct ph_page_set *set, const struct ph_page_set *more);
void ph_page_set_normalize(struct ph_page_set *set);
/* How many pages of the (normalized) set lie in [start, end). */
size_t ph_page_set_count_in(const struct ph_page_set *set, uint64_t start, uint64_t end);
void ph_page_set_free(struct ph_page_set *set);

#define PH_PAGE_SIZE 4096ull

/* [start, end), page aligned. */
struct ph_address_range {
	uint64_t start, end;
};

/* Whether a copy of the target holds this mapping: readable and writable
 * (anything that can change while the target runs), and not device or
 * kernel-provided memory. */
bool ph_memory_region_copyable(const struct ph_memory_region *region);
/* Bytes of the copyable mappings of the map (what a whole copy takes). */
uint64_t ph_memory_map_writable(const struct ph_memory_map *map);

/* Private anonymous memory: a page the process never touched reads as
 * zeros, and reading it through process_vm_readv makes the kernel commit
 * it in the target (seen: 1 GiB of an untouched mapping became 1 GiB of
 * the target's RSS). Copies leave such pages out. */
bool ph_memory_region_untouched_reads_zero(const struct ph_memory_region *region);
/* /proc/PID/pagemap, read-only. */
struct ph_error *ph_pagemap_open(pid_t pid, int *fd);
/* Calls run(ctx, start, end) for each run of pages of [start, end) that
 * are in memory or in swap (so hold what the process wrote), in order.
 * run returning false is out of memory. */
struct ph_error *ph_pagemap_touched_runs(int fd, uint64_t start, uint64_t end,
					 bool (*run)(void *ctx, uint64_t start, uint64_t end),
					 void *ctx);

/* A copy of chosen ranges of a stopped process's memory, made in bulk (a
 * few process_vm_readv calls of up to 1024 pieces), so the target can run
 * again while the copy is walked.
 *
 * Reads inside the ranges are served from the copy. Reads of copyable
 * memory outside them (skipped: payload nobody expected to need) fail and
 * are recorded as missed pages, so the caller can stop again and copy them
 * too; they are never read from the running process, which has moved on.
 * Reads outside copyable memory (read-only file mappings: code, constant
 * strings, which do not change) go to `live`. */
struct ph_copy_buffers;
/* One buffer of `bytes`, in huge pages, paged in now, before the stop
 * (page faults on fresh memory would otherwise dominate the pause). NULL
 * when it does not fit the memory budget. */
struct ph_copy_buffers *ph_copy_buffers_prepare(uint64_t bytes);
void ph_copy_buffers_free(struct ph_copy_buffers *buffers);
/* ranges: sorted, disjoint, page aligned, each inside one copyable region
 * of map. buffers (may be NULL) is taken over; what it cannot hold is
 * allocated here. */
struct ph_error *ph_copy_reader_new(pid_t pid, const struct ph_memory_map *map,
				    const struct ph_address_range *ranges, size_t range_count,
				    struct ph_copy_buffers *buffers, struct ph_memory_reader *live,
				    struct ph_memory_reader **out, uint64_t *copied);
/* Pages reads wanted from skipped memory so far (normalized); owned by
 * the reader. */
const struct ph_page_set *ph_copy_reader_missed(struct ph_memory_reader *copy_reader);
/* Bytes of the ranges that were private anonymous pages the target had
 * never touched at the stop: served as zeros, never read. */
uint64_t ph_copy_reader_untouched(struct ph_memory_reader *copy_reader);

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
/* From now on, remember which pages reads asked for (not whole blocks). */
void ph_cache_record_pages(struct ph_block_cache *cache);
/* The pages asked for since ph_cache_record_pages, added to out. */
bool ph_cache_recorded_pages(const struct ph_block_cache *cache, struct ph_page_set *out);
/* The first error the backing reader reported other than an unmapped
 * address (e.g. the target vanished), or NULL. Owned by the cache. */
const struct ph_error *ph_cache_fatal_error(const struct ph_block_cache *cache);

#endif
