/* Internal to the free-threaded walk: mimalloc's segment geometry, a
 * segment's slices, and the check that no segment holding objects was
 * missed because a thread was moving it (exiting, or reclaiming it from the
 * abandoned pool) when the target stopped. */
#ifndef PYHEAP_MIMALLOC_SEGMENTS_H
#define PYHEAP_MIMALLOC_SEGMENTS_H

#include <stddef.h>

#include "../debuginfo/mimalloc_layout.h"
#include "pyheap/gc_walk.h"

/* mimalloc's compile-time constants for 64-bit targets (types.h): slices
 * of 64 KiB; blocks of MI_HUGE_BLOCK_SIZE or more take their size from the
 * page. The slices per segment come from the DWARF (slices[] has one more
 * element than that); arenas hand out memory in blocks of one segment. */
#define PH_MI_SLICE_SHIFT 16
#define PH_MI_HUGE_BLOCK_SIZE (2ull << 30)

/* A slice entry of a segment, the fields a scan needs. */
struct ph_mi_slice {
	uint32_t slice_count, xblock_size, used;
	unsigned tag;
};

bool ph_mi_slice_read(const struct ph_target *t, uint64_t slice, struct ph_mi_slice *out);

/* What a walk saw: every page it visited and every segment they are in,
 * sorted on demand. */
struct ph_mi_seen {
	uint64_t *pages;
	size_t page_count, page_capacity;
	uint64_t *segments;
	size_t segment_count, segment_capacity;
	bool out_of_memory;
};

bool ph_mi_seen_add(struct ph_mi_seen *seen, uint64_t page, uint64_t segment);
void ph_mi_seen_free(struct ph_mi_seen *seen);

/* PH_WALK_OK, or PH_WALK_INCONSISTENT with the reason in problem: a used
 * page tagged as a GC heap, with blocks in use, that the walk did not
 * visit, in a segment it saw or in any segment of mimalloc's arenas. */
enum ph_walk_status ph_mi_check_transit(const struct ph_target *t, uint64_t segment_size,
					struct ph_mi_seen *seen, char *problem, size_t size);

#endif
