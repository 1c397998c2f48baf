/* The memory of a core's process, behind the same interface as a live
 * process's: bytes the core saved come from the core; bytes of a file
 * mapping it did not save come from the file on disk once its build-id
 * matched; anything else is unreadable, never zeros. */
#include "pyheap/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct core_reader {
	struct ph_memory_reader base;
	const struct ph_core *core;
	struct ph_mapped_files *files;
	struct ph_core_read_report report;
	void (*observe)(void *ctx, uint64_t offset, uint64_t len);
	void *observe_ctx;
};

static struct ph_error *unreadable(uint64_t addr, const char *why)
{
	return ph_error_new(PH_EXIT_INCONSISTENT, "address 0x%llx: %s", (unsigned long long)addr, why);
}

/* Bytes of a file mapping at addr, from the checked file: a pointer to
 * at most *len bytes (shortened to what the mapping holds), or NULL. */
static const void *file_bytes(struct core_reader *cr, uint64_t addr, size_t *len)
{
	const struct ph_core_file_mapping *m = ph_core_file_at(cr->core, addr);
	if (!m)
		return NULL;
	if (*len > m->end - addr)
		*len = (size_t)(m->end - addr);
	struct ph_mapped_file *file = ph_mapped_files_get(cr->files, m->path);
	if (!file)
		return NULL;
	uint64_t offset = m->file_offset + (addr - m->start);
	const void *bytes = offset >= m->file_offset ? ph_mapped_file_bytes(file, offset, *len) : NULL;
	if (!bytes && file->state != PH_MAPPED_OK)
		file->needed = true;
	return bytes;
}

static struct ph_error *core_read(struct ph_memory_reader *reader, uint64_t addr, void *buf,
				  size_t len, size_t *done)
{
	struct core_reader *cr = (struct core_reader *)reader;
	size_t scratch, got = 0;
	if (!done)
		done = &scratch;
	*done = 0;
	if (addr + len < addr)
		return unreadable(addr, "the range wraps around");
	while (got < len) {
		uint64_t at = addr + got;
		size_t want = len - got;
		const struct ph_core_segment *s = ph_core_segment_at(cr->core, at);
		if (s && at - s->vaddr < s->present) {
			uint64_t offset = s->offset + (at - s->vaddr);
			uint64_t have = s->present - (at - s->vaddr);
			size_t chunk = want < have ? want : (size_t)have;
			memcpy((char *)buf + got, cr->core->data + offset, chunk);
			if (cr->observe)
				cr->observe(cr->observe_ctx, offset, chunk);
			got += chunk;
			continue;
		}
		if (s && at - s->vaddr < s->filesz) {
			cr->report.truncated_reads++;
			*done = got;
			reader->bytes_read += got;
			return unreadable(at, "saved in the core, but the core file is truncated there");
		}
		size_t chunk = want;
		if (s && chunk > s->vaddr + s->memsz - at)
			chunk = (size_t)(s->vaddr + s->memsz - at);
		const void *bytes = file_bytes(cr, at, &chunk);
		if (!bytes) {
			cr->report.unavailable_reads++;
			if (s && (s->perms & PH_PERM_WRITE) && !ph_core_file_at(cr->core, at))
				cr->report.unsaved_anonymous_reads++;
			*done = got;
			reader->bytes_read += got;
			return unreadable(at, "not saved in the core, and no checked file holds it");
		}
		memcpy((char *)buf + got, bytes, chunk);
		cr->report.file_reads += chunk;
		got += chunk;
	}
	*done = got;
	reader->bytes_read += got;
	return NULL;
}

static const void *core_direct(struct ph_memory_reader *reader, uint64_t addr, size_t len)
{
	struct core_reader *cr = (struct core_reader *)reader;
	uint64_t offset, contiguous;
	if (ph_core_saved_offset(cr->core, addr, &offset, &contiguous)) {
		if (contiguous < len)
			return NULL;
		if (cr->observe)
			cr->observe(cr->observe_ctx, offset, len);
		return cr->core->data + offset;
	}
	const struct ph_core_segment *s = ph_core_segment_at(cr->core, addr);
	if (s && addr - s->vaddr < s->filesz)
		return NULL; /* truncated: read() counts it */
	if (s && len > s->vaddr + s->memsz - addr)
		return NULL;
	size_t chunk = len;
	const void *bytes = file_bytes(cr, addr, &chunk);
	if (!bytes || chunk != len)
		return NULL;
	cr->report.file_reads += len;
	return bytes;
}

static void core_destroy(struct ph_memory_reader *reader)
{
	free(reader);
}

struct ph_error *ph_core_reader_new(const struct ph_core *core, struct ph_mapped_files *files,
				    struct ph_memory_reader **out)
{
	struct core_reader *cr = calloc(1, sizeof(*cr));
	if (!cr)
		return &ph_error_out_of_memory;
	cr->base.read = core_read;
	cr->base.direct = core_direct;
	cr->base.destroy = core_destroy;
	cr->core = core;
	cr->files = files;
	*out = &cr->base;
	return NULL;
}

void ph_core_reader_observe(struct ph_memory_reader *reader,
			    void (*observe)(void *ctx, uint64_t offset, uint64_t len), void *ctx)
{
	struct core_reader *cr = (struct core_reader *)reader;
	cr->observe = observe;
	cr->observe_ctx = ctx;
}

const struct ph_core_read_report *ph_core_reader_report(const struct ph_memory_reader *reader)
{
	return &((const struct core_reader *)reader)->report;
}

static bool add_region(struct ph_memory_map *map, size_t *capacity, uint64_t start, uint64_t end,
		       unsigned perms, uint64_t file_offset, const char *path)
{
	if (map->count == *capacity) {
		size_t grown = *capacity ? *capacity * 2 : 64;
		void *regions = realloc(map->regions, grown * sizeof(*map->regions));
		if (!regions)
			return false;
		map->regions = regions;
		*capacity = grown;
	}
	char *copy = strdup(path ? path : "");
	if (!copy)
		return false;
	map->regions[map->count++] = (struct ph_memory_region){start, end, perms, file_offset, copy};
	return true;
}

static int compare_regions(const void *a, const void *b)
{
	const struct ph_memory_region *ra = a, *rb = b;
	return ra->start < rb->start ? -1 : ra->start > rb->start;
}

struct ph_error *ph_core_memory_map(const struct ph_core *core, struct ph_memory_map *out)
{
	out->regions = NULL;
	out->count = 0;
	size_t capacity = 0;
	for (size_t i = 0; i < core->segment_count; i++) {
		const struct ph_core_segment *s = &core->segments[i];
		const struct ph_core_file_mapping *m = ph_core_file_at(core, s->vaddr);
		if (!add_region(out, &capacity, s->vaddr, s->vaddr + s->memsz, s->perms,
				m ? m->file_offset + (s->vaddr - m->start) : 0, m ? m->path : "")) {
			ph_memory_map_free(out);
			return &ph_error_out_of_memory;
		}
	}
	/* file mappings the core left out entirely (gdb writes no segment for
	 * them): readable from the file, in the gaps between segments */
	for (size_t i = 0; i < core->file_count; i++) {
		const struct ph_core_file_mapping *m = &core->files[i];
		uint64_t at = m->start;
		while (at < m->end) {
			const struct ph_core_segment *s = ph_core_segment_at(core, at);
			if (s) {
				at = s->vaddr + s->memsz;
				continue;
			}
			/* the next segment starting inside the mapping bounds the gap */
			uint64_t gap_end = m->end;
			size_t lo = 0, hi = core->segment_count;
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;
				if (core->segments[mid].vaddr <= at)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo < core->segment_count && core->segments[lo].vaddr < gap_end)
				gap_end = core->segments[lo].vaddr;
			if (!add_region(out, &capacity, at, gap_end, PH_PERM_READ,
					m->file_offset + (at - m->start), m->path)) {
				ph_memory_map_free(out);
				return &ph_error_out_of_memory;
			}
			at = gap_end;
		}
	}
	qsort(out->regions, out->count, sizeof(*out->regions), compare_regions);
	return NULL;
}
