#include "mimalloc_segments.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARENAS 1024
#define MAX_ARENA_BLOCKS (1u << 22)

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static bool contains(const uint64_t *sorted, size_t count, uint64_t value)
{
	return count && bsearch(&value, sorted, count, sizeof(*sorted), compare_u64);
}

bool ph_mi_slice_read(const struct ph_target *t, uint64_t slice, struct ph_mi_slice *out)
{
	const struct ph_mimalloc_layout *m = t->layout->mimalloc;
	uint8_t tag_bytes[2];
	if (!ph_read_u32(t, slice + m->page_slice_count, &out->slice_count) ||
	    !ph_read_u32(t, slice + m->page_xblock_size, &out->xblock_size) ||
	    !ph_read_u32(t, slice + m->page_used, &out->used) ||
	    !ph_read(t, slice + m->page_tag.byte, tag_bytes, sizeof(tag_bytes)))
		return false;
	unsigned word = tag_bytes[0] | (unsigned)tag_bytes[1] << 8;
	out->tag = (word >> m->page_tag.bit) & ((1u << m->page_tag.width) - 1);
	return true;
}

static bool push(uint64_t **array, size_t *count, size_t *capacity, uint64_t value)
{
	if (*count == *capacity) {
		size_t grown_capacity = *capacity ? *capacity * 2 : 256;
		uint64_t *grown = realloc(*array, grown_capacity * sizeof(*grown));
		if (!grown)
			return false;
		*array = grown;
		*capacity = grown_capacity;
	}
	(*array)[(*count)++] = value;
	return true;
}

bool ph_mi_seen_add(struct ph_mi_seen *seen, uint64_t page, uint64_t segment)
{
	if (!push(&seen->pages, &seen->page_count, &seen->page_capacity, page) ||
	    ((seen->segment_count == 0 || seen->segments[seen->segment_count - 1] != segment) &&
	     !push(&seen->segments, &seen->segment_count, &seen->segment_capacity, segment))) {
		seen->out_of_memory = true;
		return false;
	}
	return true;
}

void ph_mi_seen_free(struct ph_mi_seen *seen)
{
	free(seen->pages);
	free(seen->segments);
	memset(seen, 0, sizeof(*seen));
}

/* The first used page of segment, tagged as a GC heap and with blocks in
 * use, that the walk did not visit; 0 if none. *unreadable when the
 * segment's slices cannot be followed. */
static uint64_t unvisited_page(const struct ph_target *t, uint64_t segment,
			       const struct ph_mi_seen *seen, bool *unreadable)
{
	const struct ph_mimalloc_layout *m = t->layout->mimalloc;
	uint64_t entries, slices = segment + m->segment_slices;
	struct ph_mi_slice s;
	*unreadable = true;
	if (!ph_read_u64(t, segment + m->segment_slice_entries, &entries) ||
	    entries > m->segment_slice_max || !ph_mi_slice_read(t, slices, &s) || s.slice_count == 0)
		return 0;
	/* slices[0] is the segment's own metadata */
	for (uint64_t index = s.slice_count; index < entries; index += s.slice_count) {
		uint64_t slice = slices + index * m->page_size;
		if (!ph_mi_slice_read(t, slice, &s) || s.slice_count == 0)
			return 0;
		if (s.xblock_size > 0 && s.used > 0 &&
		    (s.tag == m->heap_id_gc || s.tag == m->heap_id_gc_pre) &&
		    !contains(seen->pages, seen->page_count, slice)) {
			*unreadable = false;
			return slice;
		}
	}
	*unreadable = false;
	return 0;
}

/* Every segment mimalloc's arenas hand out: an in-use block starts one
 * (a huge segment spans several blocks). */
static enum ph_walk_status check_arenas(const struct ph_target *t, uint64_t segment_size,
					const struct ph_mi_seen *seen, char *problem, size_t size)
{
	const struct ph_mimalloc_layout *m = t->layout->mimalloc;
	uint64_t arenas, count_address, count;
	/* static in arena.c: without the symbols there is nothing to check */
	if (!ph_image_symbol(t->image, "mi_arenas", &arenas) ||
	    !ph_image_symbol(t->image, "mi_arena_count", &count_address) ||
	    !ph_read_u64(t, count_address, &count) || count > MAX_ARENAS)
		return PH_WALK_OK;
	uint64_t budget = MAX_ARENA_BLOCKS; /* over all arenas: hostile counts end here */
	for (uint64_t i = 0; i < count; i++) {
		uint64_t arena, start, blocks, fields;
		if (!ph_read_u64(t, arenas + i * 8, &arena) || !arena)
			continue;
		if (!ph_read_u64(t, arena + m->arena_start, &start) ||
		    !ph_read_u64(t, arena + m->arena_block_count, &blocks) ||
		    !ph_read_u64(t, arena + m->arena_field_count, &fields) || fields > (1u << 16) ||
		    blocks > fields * 64 || blocks > budget || (start & (segment_size - 1)))
			continue;
		budget -= blocks;
		uint64_t word = 0, word_index = UINT64_MAX;
		for (uint64_t b = 0; b < blocks; b++) {
			if (b / 64 != word_index) {
				word_index = b / 64;
				if (!ph_read_u64(t, arena + m->arena_blocks_inuse + word_index * 8, &word))
					break;
			}
			if (!(word & (1ull << (b % 64))))
				continue;
			uint64_t segment = start + b * segment_size, segment_slices;
			if (!ph_read_u64(t, segment + m->segment_segment_slices, &segment_slices) ||
			    segment_slices == 0 || segment_slices > blocks * (segment_size >> PH_MI_SLICE_SHIFT))
				continue;
			/* a huge segment covers the blocks after its first */
			uint64_t covered = ((segment_slices << PH_MI_SLICE_SHIFT) + segment_size - 1) / segment_size;
			if (contains(seen->segments, seen->segment_count, segment)) {
				b += covered - 1;
				continue;
			}
			bool unreadable;
			uint64_t page = unvisited_page(t, segment, seen, &unreadable);
			if (page) {
				snprintf(problem, size,
					 "mimalloc segment 0x%llx holds objects (page 0x%llx) but is in no "
					 "thread's heaps and not in the abandoned pool: a thread is moving it",
					 (unsigned long long)segment, (unsigned long long)page);
				return PH_WALK_INCONSISTENT;
			}
			if (!unreadable)
				b += covered - 1;
		}
	}
	return PH_WALK_OK;
}

enum ph_walk_status ph_mi_check_transit(const struct ph_target *t, uint64_t segment_size,
					struct ph_mi_seen *seen, char *problem, size_t size)
{
	if (seen->page_count > 1) /* qsort takes no NULL, even for nothing */
		qsort(seen->pages, seen->page_count, sizeof(*seen->pages), compare_u64);
	if (seen->segment_count > 1) /* qsort takes no NULL, even for nothing */
		qsort(seen->segments, seen->segment_count, sizeof(*seen->segments), compare_u64);
	size_t unique = 0;
	for (size_t i = 0; i < seen->segment_count; i++)
		if (unique == 0 || seen->segments[unique - 1] != seen->segments[i])
			seen->segments[unique++] = seen->segments[i];
	seen->segment_count = unique;
	/* a segment the walk went through: every page with objects in it was
	 * in a heap's queues (or the pool's segment was walked whole) */
	for (size_t i = 0; i < seen->segment_count; i++) {
		bool unreadable;
		uint64_t page = unvisited_page(t, seen->segments[i], seen, &unreadable);
		if (unreadable || page) {
			snprintf(problem, size,
				 "mimalloc segment 0x%llx: page 0x%llx holds objects but is in no "
				 "heap's queues: a thread is moving it",
				 (unsigned long long)seen->segments[i], (unsigned long long)page);
			return PH_WALK_INCONSISTENT;
		}
	}
	return check_arenas(t, segment_size, seen, problem, size);
}
