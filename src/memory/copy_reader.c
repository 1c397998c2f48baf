#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "pyheap/memory.h"

struct copied_region {
	uint64_t start, end;
	unsigned char *data;
	bool mapped; /* data is an mmap (prepared), else calloc */
};

struct ph_copy_buffers {
	struct copied_region *regions;
	size_t count;
};

struct copy_reader {
	struct ph_memory_reader base;
	struct ph_memory_reader *live; /* not owned */
	struct copied_region *regions; /* sorted */
	size_t count;
	const struct copied_region *last; /* reads cluster: try it first */
};

static bool worth_copying(const struct ph_memory_region *r)
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
		if (worth_copying(&map->regions[i]))
			total += map->regions[i].end - map->regions[i].start;
	return total;
}

static const struct copied_region *find(struct copy_reader *cr, uint64_t addr)
{
	if (cr->last && addr >= cr->last->start && addr < cr->last->end)
		return cr->last;
	size_t lo = 0, hi = cr->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (addr < cr->regions[mid].start)
			hi = mid;
		else if (addr >= cr->regions[mid].end)
			lo = mid + 1;
		else
			return cr->last = &cr->regions[mid];
	}
	return NULL;
}

static const void *copy_direct(struct ph_memory_reader *reader, uint64_t addr, size_t len)
{
	struct copy_reader *cr = (struct copy_reader *)reader;
	const struct copied_region *r = find(cr, addr);
	if (!r || len > r->end - addr)
		return NULL;
	return r->data + (addr - r->start);
}

static struct ph_error *copy_read(struct ph_memory_reader *reader, uint64_t addr, void *buf,
				  size_t len, size_t *done)
{
	struct copy_reader *cr = (struct copy_reader *)reader;
	const struct copied_region *r = find(cr, addr);
	if (!r)
		return ph_memory_read(cr->live, addr, buf, len, done);
	size_t n = len < r->end - addr ? len : (size_t)(r->end - addr);
	memcpy(buf, r->data + (addr - r->start), n);
	*done = n;
	if (n < len)
		return ph_error_new(PH_EXIT_INCONSISTENT, "address 0x%llx is not readable",
				    (unsigned long long)(addr + n));
	return NULL;
}

static void release(struct copied_region *r)
{
	if (!r->data)
		return;
	if (r->mapped)
		munmap(r->data, r->end - r->start);
	else
		free(r->data);
	r->data = NULL;
}

static void copy_destroy(struct ph_memory_reader *reader)
{
	struct copy_reader *cr = (struct copy_reader *)reader;
	for (size_t i = 0; i < cr->count; i++)
		release(&cr->regions[i]);
	free(cr->regions);
	free(cr);
}

struct ph_copy_buffers *ph_copy_buffers_prepare(const struct ph_memory_map *map, uint64_t budget)
{
	if (ph_memory_map_writable(map) > budget)
		return NULL;
	struct ph_copy_buffers *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->regions = calloc(map->count ? map->count : 1, sizeof(*b->regions));
	if (!b->regions) {
		free(b);
		return NULL;
	}
	for (size_t i = 0; i < map->count; i++) {
		const struct ph_memory_region *m = &map->regions[i];
		if (!worth_copying(m))
			continue;
		void *data = mmap(NULL, m->end - m->start, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (data == MAP_FAILED)
			continue;
		b->regions[b->count++] = (struct copied_region){m->start, m->end, data, true};
	}
	return b;
}

void ph_copy_buffers_free(struct ph_copy_buffers *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->count; i++)
		release(&b->regions[i]);
	free(b->regions);
	free(b);
}

/* A prepared buffer for exactly [start, end), taken out of b, or NULL. */
static unsigned char *take_buffer(struct ph_copy_buffers *b, uint64_t start, uint64_t end)
{
	if (!b)
		return NULL;
	size_t lo = 0, hi = b->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->regions[mid].start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < b->count && b->regions[lo].start == start && b->regions[lo].end == end &&
	    b->regions[lo].data) {
		unsigned char *data = b->regions[lo].data;
		b->regions[lo].data = NULL;
		return data;
	}
	return NULL;
}

/* process_vm_readv with many remote pieces per call; pages that fail
 * (a mapping that changed) stay zero, which the walk will find
 * inconsistent and retry. */
static struct ph_error *copy_region(pid_t pid, struct copied_region *r, uint64_t *copied)
{
	enum { PIECE = 4 << 20 };
	uint64_t at = r->start;
	while (at < r->end) {
		struct iovec local[64], remote[64];
		int n = 0;
		uint64_t chunk_start = at;
		while (n < 64 && at < r->end) {
			size_t len = r->end - at < PIECE ? (size_t)(r->end - at) : PIECE;
			local[n] = (struct iovec){r->data + (at - r->start), len};
			remote[n] = (struct iovec){(void *)(uintptr_t)at, len};
			at += len;
			n++;
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
		if ((uint64_t)got < at - chunk_start)
			at = chunk_start + (uint64_t)got + 4096; /* skip the page that failed */
		if (at > r->end)
			at = r->end;
	}
	return NULL;
}

struct ph_error *ph_copy_reader_new(pid_t pid, const struct ph_memory_map *map, uint64_t budget,
				    struct ph_memory_reader *live, struct ph_memory_reader **out,
				    uint64_t *copied)
{
	return ph_copy_reader_new_prepared(pid, map, budget, NULL, live, out, copied);
}

struct ph_error *ph_copy_reader_new_prepared(pid_t pid, const struct ph_memory_map *map,
					     uint64_t budget, struct ph_copy_buffers *buffers,
					     struct ph_memory_reader *live,
					     struct ph_memory_reader **out, uint64_t *copied)
{
	uint64_t total = ph_memory_map_writable(map);
	if (total > budget)
		return ph_error_new(PH_EXIT_INTERNAL, "writable memory %llu bytes exceeds the copy budget",
				    (unsigned long long)total);
	struct copy_reader *cr = calloc(1, sizeof(*cr));
	if (!cr)
		return &ph_error_out_of_memory;
	cr->base.read = copy_read;
	cr->base.destroy = copy_destroy;
	cr->base.direct = copy_direct;
	cr->live = live;
	cr->regions = calloc(map->count ? map->count : 1, sizeof(*cr->regions));
	if (!cr->regions) {
		free(cr);
		return &ph_error_out_of_memory;
	}
	*copied = 0;
	struct ph_error *err = NULL;
	for (size_t i = 0; i < map->count && !err; i++) {
		const struct ph_memory_region *m = &map->regions[i];
		if (!worth_copying(m))
			continue;
		struct copied_region *r = &cr->regions[cr->count];
		r->start = m->start;
		r->end = m->end;
		r->data = take_buffer(buffers, m->start, m->end);
		r->mapped = r->data != NULL;
		/* calloc for mappings that appeared since: untouched pages of a big
		 * mapping cost nothing until read */
		if (!r->data)
			r->data = calloc(1, m->end - m->start);
		if (!r->data) {
			err = &ph_error_out_of_memory;
			break;
		}
		cr->count++;
		err = copy_region(pid, r, copied);
	}
	ph_copy_buffers_free(buffers);
	if (err) {
		copy_destroy(&cr->base);
		return err;
	}
	cr->base.bytes_read = *copied;
	*out = &cr->base;
	return NULL;
}
