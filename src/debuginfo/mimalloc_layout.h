/* What the free-threaded walker needs from DWARF: CPython's per-thread
 * mimalloc state and mimalloc's own heap, page, segment and arena structs
 * (Include/internal/mimalloc/mimalloc/types.h, Objects/mimalloc/arena.c),
 * and the object header of a build without the GIL. Resolved only when
 * PyObject has an ob_tid member; every member here is then required,
 * except the few marked optional. */
#ifndef PYHEAP_MIMALLOC_LAYOUT_H
#define PYHEAP_MIMALLOC_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "pyheap/error.h"
#include "pyheap/layout.h"

#define PH_MIMALLOC_WANTED_TYPES                                                             \
	"_PyThreadStateImpl", "_mimalloc_thread_state", "mi_heap_s", "mi_page_s",           \
	    "mi_segment_s", "mi_abandoned_pool_s", "mi_page_queue_s", "mi_arena_s",         \
	    "_Py_MIMALLOC_HEAP_GC", "_Py_MIMALLOC_HEAP_GC_PRE"

struct ph_mimalloc_layout {
	/* the object header without the GIL (Include/object.h) */
	uint64_t ob_tid, ob_gc_bits, ob_ref_local, ob_ref_shared;

	/* _PyRuntime.allocators.is_debug_enabled: the debug allocator puts two
	 * words in front of every object (optional) */
	uint64_t runtime_debug_enabled;
	/* PyInterpreterState.mimalloc.abandoned_pool */
	uint64_t interp_abandoned_pool;
	uint64_t pool_abandoned;         /* tagged segment pointer */
	uint64_t pool_abandoned_visited; /* plain segment pointer */

	/* _PyThreadStateImpl.mimalloc and _mimalloc_thread_state */
	uint64_t tstate_mimalloc;
	uint64_t mts_heaps, mts_initialized;
	uint64_t heap_size;           /* sizeof(mi_heap_t), the stride of heaps[] */
	uint64_t heap_count;          /* elements of heaps[] */
	uint64_t heap_id_gc;          /* _Py_MIMALLOC_HEAP_GC */
	uint64_t heap_id_gc_pre;      /* _Py_MIMALLOC_HEAP_GC_PRE */

	/* mi_heap_t */
	uint64_t heap_pages, heap_queue_count; /* pages[MI_BIN_FULL + 1] */
	uint64_t queue_size, queue_first, queue_last;
	uint64_t heap_thread_delayed_free, heap_page_count, heap_tag;

	/* mi_page_t, which is also a segment's slice entry */
	uint64_t page_size;
	uint64_t page_slice_count, page_slice_offset;
	struct ph_bitfield page_tag;
	uint64_t page_capacity, page_reserved, page_free, page_used, page_xblock_size;
	uint64_t page_local_free, page_xthread_free, page_xheap, page_next, page_prev;
	/* debug builds (MI_DEBUG, MI_SECURE >= 3) encode free-list links with
	 * page->keys; then this is its offset, else PH_ABSENT */
	uint64_t page_keys;

	/* mi_segment_t */
	uint64_t segment_slices;       /* offset of slices[] */
	uint64_t segment_slice_max;    /* elements of slices[]: MI_SLICES_PER_SEGMENT + 1 */
	uint64_t segment_slice_entries, segment_segment_slices, segment_kind;
	uint64_t segment_thread_id, segment_abandoned, segment_used, segment_abandoned_next;

	/* mi_arena_t (static in arena.c; the arena table is found by symbol) */
	uint64_t arena_start, arena_block_count, arena_field_count, arena_blocks_inuse;
};

struct ph_type_index;
/* NULL in *out when the build is not free-threaded. */
struct ph_error *ph_mimalloc_layout_resolve(struct ph_type_index *index,
					    struct ph_mimalloc_layout **out);
void ph_mimalloc_layout_free(struct ph_mimalloc_layout *layout);

#endif
