#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pyheap/big_alloc.h"
#include "pyheap/memory.h"

struct copied_range {
	uint64_t start, end;
	unsigned char *data;
};

struct ph_copy_buffers {
	unsigned char *arena;
	uint64_t size;
};

struct copy_reader {
	struct ph_memory_reader base;
	struct ph_memory_reader *live; /* not owned */
	struct copied_range *ranges;   /* sorted */
	size_t count;
	struct ph_address_range *copyable; /* the copyable regions, sorted */
	size_t copyable_count;
	unsigned char *arena, *extra; /* owned: where the ranges' bytes live */
	const struct copied_range *last; /* reads cluster: try it first */
	struct ph_page_set missed;
	uint64_t untouched; /* bytes of the ranges the target never touched: zeros, not read */
};

bool ph_memory_region_copyable(const struct ph_memory_region *r)
{
	if ((r->perms & (PH_PERM_READ | PH_PERM_WRITE)) != (PH_PERM_READ | PH_PERM_WRITE))
		return false;
	return strcmp(r->path, "[vvar]") != 0 && strcmp(r->path, "[vsyscall]") != 0 &&
	       strncmp(r->path, "/dev/", 5) != 0; /* device memory: not ours to touch */
}

uint64_t ph_memory_map_writable(const struct ph_memory_map *map)
{
	uint64_t total = 0;
	for (size_t i = 0; i < map->count; i++)
		if (ph_memory_region_copyable(&map->regions[i]))
			total += map->regions[i].end - map->regions[i].start;
	return total;
}

static const struct copied_range *find(struct copy_reader *cr, uint64_t addr)
{
	if (cr->last && addr >= cr->last->start && addr < cr->last->end)
		return cr->last;
	size_t lo = 0, hi = cr->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (addr < cr->ranges[mid].start)
			hi = mid;
		else if (addr >= cr->ranges[mid].end)
			lo = mid + 1;
		else
			return cr->last = &cr->ranges[mid];
	}
	return NULL;
}

/* The copyable region holding addr, or NULL. */
static const struct ph_address_range *copyable_at(const struct copy_reader *cr, uint64_t addr)
{
	size_t lo = 0, hi = cr->copyable_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (addr < cr->copyable[mid].start)
			hi = mid;
		else if (addr >= cr->copyable[mid].end)
			lo = mid + 1;
		else
			return &cr->copyable[mid];
	}
	return NULL;
}

/* Start of the first copied range above addr, or UINT64_MAX. */
static uint64_t next_copied(const struct copy_reader *cr, uint64_t addr)
{
	size_t lo = 0, hi = cr->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cr->ranges[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < cr->count ? cr->ranges[lo].start : UINT64_MAX;
}

static const void *copy_direct(struct ph_memory_reader *reader, uint64_t addr, size_t len)
{
	struct copy_reader *cr = (struct copy_reader *)reader;
	const struct copied_range *r = find(cr, addr);
	if (!r || len > r->end - addr)
		return NULL;
	return r->data + (addr - r->start);
}

static struct ph_error *copy_read(struct ph_memory_reader *reader, uint64_t addr, void *buf,
				  size_t len, size_t *done)
{
	struct copy_reader *cr = (struct copy_reader *)reader;
	unsigned char *out = buf;
	size_t got = 0;
	while (got < len) {
		uint64_t at = addr + got;
		size_t want = len - got;
		const struct copied_range *r = find(cr, at);
		if (r) {
			size_t n = want < r->end - at ? want : (size_t)(r->end - at);
			memcpy(out + got, r->data + (at - r->start), n);
			got += n;
			continue;
		}
		const struct ph_address_range *skipped = copyable_at(cr, at);
		if (skipped) {
			/* memory of the stop that was not copied: the caller must
			 * stop again and take it */
			uint64_t end = at + want < at ? UINT64_MAX : at + want;
			uint64_t next = next_copied(cr, at);
			if (end > next)
				end = next;
			if (end > skipped->end)
				end = skipped->end;
			for (uint64_t page = at & ~(PH_PAGE_SIZE - 1); page < end; page += PH_PAGE_SIZE)
				ph_page_set_add(&cr->missed, page);
			*done = got;
			return ph_error_new(PH_EXIT_INCONSISTENT,
					    "address 0x%llx was not copied at the stop",
					    (unsigned long long)at);
		}
		/* not writable: constant while the target runs */
		size_t live_done = 0;
		struct ph_error *err = ph_memory_read(cr->live, at, out + got, want, &live_done);
		got += live_done;
		if (err) {
			*done = got;
			return err;
		}
	}
	*done = got;
	return NULL;
}

static void copy_destroy(struct ph_memory_reader *reader)
{
	struct copy_reader *cr = (struct copy_reader *)reader;
	ph_big_free(cr->arena);
	ph_big_free(cr->extra);
	free(cr->ranges);
	free(cr->copyable);
	ph_page_set_free(&cr->missed);
	free(cr);
}

const struct ph_page_set *ph_copy_reader_missed(struct ph_memory_reader *copy_reader)
{
	struct copy_reader *cr = (struct copy_reader *)copy_reader;
	ph_page_set_normalize(&cr->missed);
	return &cr->missed;
}

struct ph_copy_buffers *ph_copy_buffers_prepare(uint64_t bytes)
{
	if (bytes == 0 || bytes > SIZE_MAX)
		return NULL;
	struct ph_copy_buffers *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->arena = ph_big_alloc((size_t)bytes);
	if (!b->arena) {
		free(b);
		return NULL;
	}
	b->size = bytes;
	ph_big_prefault(b->arena, (size_t)bytes);
	return b;
}

void ph_copy_buffers_free(struct ph_copy_buffers *b)
{
	if (!b)
		return;
	ph_big_free(b->arena);
	free(b);
}

/* process_vm_readv with up to IOV_MAX pieces per call; pages that fail (a
 * mapping that changed) stay zero, which the walk will find inconsistent
 * and retry. */
static struct ph_error *copy_ranges(pid_t pid, struct copied_range *ranges, size_t count,
				    uint64_t *copied)
{
	/* the kernel moves at most about 2 GiB per call (MAX_RW_COUNT) and
	 * reports the rest as not read: stay under it */
	enum { PIECES = 1024, PIECE = 64 << 20 };
	const uint64_t per_call = (uint64_t)1 << 30;
	static struct iovec local[PIECES], remote[PIECES];
	size_t index = 0;
	uint64_t at = count ? ranges[0].start : 0;
	while (index < count) {
		int n = 0;
		size_t first_index = index;
		uint64_t first_at = at;
		uint64_t batch = 0;
		while (n < PIECES && index < count && batch < per_call) {
			struct copied_range *r = &ranges[index];
			uint64_t len = r->end - at < PIECE ? r->end - at : PIECE;
			local[n] = (struct iovec){r->data + (at - r->start), (size_t)len};
			remote[n] = (struct iovec){(void *)(uintptr_t)at, (size_t)len};
			n++;
			at += len;
			batch += len;
			if (at == r->end && ++index < count)
				at = ranges[index].start;
		}
		ssize_t got = process_vm_readv(pid, local, (unsigned long)n, remote, (unsigned long)n, 0);
		if (got < 0) {
			if (errno == ESRCH)
				return ph_error_new(PH_EXIT_TARGET_GONE, "process %d is gone", (int)pid);
			if (errno == ENOSYS || errno == EPERM)
				return ph_error_new(PH_EXIT_INTERNAL, "process_vm_readv: %s", strerror(errno));
			got = 0;
		}
		*copied += (uint64_t)got;
		uint64_t wanted = 0;
		for (int i = 0; i < n; i++)
			wanted += remote[i].iov_len;
		if ((uint64_t)got == wanted)
			continue;
		/* stopped at a page that failed: resume after it */
		uint64_t left = (uint64_t)got;
		int i = 0;
		while (left >= remote[i].iov_len) {
			left -= remote[i].iov_len;
			i++;
		}
		uint64_t failed = (uint64_t)(uintptr_t)remote[i].iov_base + left;
		uint64_t resume = (failed & ~(PH_PAGE_SIZE - 1)) + PH_PAGE_SIZE;
		index = first_index;
		at = first_at;
		while (index < count && ranges[index].end <= resume)
			index++;
		if (index < count)
			at = resume > ranges[index].start ? resume : ranges[index].start;
	}
	return NULL;
}

/* The parts of the ranges to read: all of each, except pages of private
 * anonymous memory the target never touched, which stay zero in the
 * buffers (fresh memory) and are never read: reading them would commit
 * them in the target. */
struct touched_pieces {
	struct copied_range *items;
	size_t count, capacity;
	uint64_t bytes;
	const struct copied_range *range; /* the range being split */
};

static bool add_piece(void *ctx, uint64_t start, uint64_t end)
{
	struct touched_pieces *p = ctx;
	if (p->count == p->capacity) {
		size_t capacity = p->capacity ? p->capacity * 2 : 256;
		struct copied_range *grown = realloc(p->items, capacity * sizeof(*grown));
		if (!grown)
			return false;
		p->items = grown;
		p->capacity = capacity;
	}
	p->items[p->count++] =
	    (struct copied_range){start, end, p->range->data + (start - p->range->start)};
	p->bytes += end - start;
	return true;
}

static struct ph_error *touched_pieces(pid_t pid, const struct ph_memory_map *map,
				       struct copy_reader *cr, struct touched_pieces *pieces)
{
	int pagemap = -1;
	struct ph_error *err = NULL;
	uint64_t planned = 0;
	for (size_t i = 0; i < cr->count && !err; i++) {
		const struct copied_range *r = &cr->ranges[i];
		planned += r->end - r->start;
		const struct ph_memory_region *region = ph_memory_map_find(map, r->start);
		pieces->range = r;
		if (region && ph_memory_region_untouched_reads_zero(region)) {
			if (pagemap < 0) {
				err = ph_pagemap_open(pid, &pagemap);
				if (err)
					break;
			}
			err = ph_pagemap_touched_runs(pagemap, r->start, r->end, add_piece, pieces);
		} else if (!add_piece(pieces, r->start, r->end)) {
			err = &ph_error_out_of_memory;
		}
	}
	if (pagemap >= 0)
		close(pagemap);
	if (!err)
		cr->untouched = planned - pieces->bytes;
	return err;
}

uint64_t ph_copy_reader_untouched(struct ph_memory_reader *copy_reader)
{
	return ((struct copy_reader *)copy_reader)->untouched;
}

struct ph_error *ph_copy_reader_new(pid_t pid, const struct ph_memory_map *map,
				    const struct ph_address_range *ranges, size_t range_count,
				    struct ph_copy_buffers *buffers, struct ph_memory_reader *live,
				    struct ph_memory_reader **out, uint64_t *copied)
{
	*copied = 0;
	struct copy_reader *cr = calloc(1, sizeof(*cr));
	if (!cr) {
		ph_copy_buffers_free(buffers);
		return &ph_error_out_of_memory;
	}
	cr->base.read = copy_read;
	cr->base.destroy = copy_destroy;
	cr->base.direct = copy_direct;
	cr->live = live;
	uint64_t arena_size = 0;
	if (buffers) {
		cr->arena = buffers->arena;
		arena_size = buffers->size;
		free(buffers);
	}
	cr->ranges = calloc(range_count ? range_count : 1, sizeof(*cr->ranges));
	cr->copyable = calloc(map->count ? map->count : 1, sizeof(*cr->copyable));
	if (!cr->ranges || !cr->copyable) {
		copy_destroy(&cr->base);
		return &ph_error_out_of_memory;
	}
	for (size_t i = 0; i < map->count; i++)
		if (ph_memory_region_copyable(&map->regions[i]))
			cr->copyable[cr->copyable_count++] =
			    (struct ph_address_range){map->regions[i].start, map->regions[i].end};
	/* Ranges go into the prepared buffer while they fit; the rest (the
	 * map grew since it was prepared) into fresh memory, faulted in while
	 * the target waits. A range never straddles the two. */
	uint64_t offset = 0, extra_size = 0;
	for (size_t i = 0; i < range_count; i++) {
		uint64_t len = ranges[i].end - ranges[i].start;
		if (extra_size == 0 && offset + len <= arena_size)
			offset += len;
		else
			extra_size += len;
	}
	if (extra_size) {
		cr->extra = extra_size <= SIZE_MAX ? ph_big_alloc((size_t)extra_size) : NULL;
		if (!cr->extra) {
			copy_destroy(&cr->base);
			return ph_budget_refusal() ? ph_budget_error("copying the target's memory", extra_size)
						   : &ph_error_out_of_memory;
		}
	}
	offset = 0;
	uint64_t extra_offset = 0;
	for (size_t i = 0; i < range_count; i++) {
		uint64_t len = ranges[i].end - ranges[i].start;
		unsigned char *data;
		if (extra_offset == 0 && offset + len <= arena_size) {
			data = cr->arena + offset;
			offset += len;
		} else {
			data = cr->extra + extra_offset;
			extra_offset += len;
		}
		cr->ranges[cr->count++] = (struct copied_range){ranges[i].start, ranges[i].end, data};
	}
	struct touched_pieces pieces = {NULL, 0, 0, 0, NULL};
	struct ph_error *err = touched_pieces(pid, map, cr, &pieces);
	if (!err)
		err = copy_ranges(pid, pieces.items, pieces.count, copied);
	free(pieces.items);
	if (err) {
		copy_destroy(&cr->base);
		return err;
	}
	cr->base.bytes_read = *copied;
	*out = &cr->base;
	return NULL;
}
