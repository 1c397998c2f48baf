#include "mimalloc_layout.h"

#include <stdlib.h>

#include "pyheap/dwarf_types.h"

struct resolver {
	struct ph_type_index *index;
	struct ph_error *err; /* the first missing member */
};

static uint64_t need(struct resolver *r, const char *type, const char *path)
{
	uint64_t offset = ph_type_index_offset(r->index, type, path);
	if (offset == PH_ABSENT && !r->err)
		r->err = ph_error_new(PH_EXIT_UNSUPPORTED,
				      "free-threaded build: the interpreter's DWARF has no member %s "
				      "in %s",
				      path, type);
	return offset;
}

static uint64_t need_size(struct resolver *r, const char *type)
{
	uint64_t size = ph_type_index_size(r->index, type);
	if ((size == PH_ABSENT || size == 0) && !r->err)
		r->err = ph_error_new(PH_EXIT_UNSUPPORTED,
				      "free-threaded build: the interpreter's DWARF has no size for %s",
				      type);
	return size;
}

/* Elements of the array member path of type. */
static uint64_t need_count(struct resolver *r, const char *type, const char *path)
{
	Dwarf_Die die, element;
	struct ph_member m;
	uint64_t count = 0;
	if (ph_type_index_lookup(r->index, type, &die) && ph_dwarf_member(&die, path, &m) &&
	    ph_dwarf_array(&m.type, &element, &count) && count > 0)
		return count;
	if (!r->err)
		r->err = ph_error_new(PH_EXIT_UNSUPPORTED,
				      "free-threaded build: %s.%s is not an array of known length in "
				      "the interpreter's DWARF",
				      type, path);
	return PH_ABSENT;
}

static uint64_t need_enumerator(struct resolver *r, const char *name)
{
	int64_t value;
	if (ph_type_index_enumerator(r->index, name, &value) && value >= 0)
		return (uint64_t)value;
	if (!r->err)
		r->err = ph_error_new(PH_EXIT_UNSUPPORTED,
				      "free-threaded build: the interpreter's DWARF has no enumerator "
				      "%s",
				      name);
	return PH_ABSENT;
}

static struct ph_bitfield need_bitfield(struct resolver *r, const char *type, const char *path)
{
	struct ph_bitfield field = {PH_ABSENT, 0, 0};
	Dwarf_Die die;
	struct ph_member m;
	if (ph_type_index_lookup(r->index, type, &die) && ph_dwarf_member(&die, path, &m) &&
	    m.bit_offset >= 0) {
		field.byte = m.offset;
		field.bit = m.bit_offset;
		field.width = m.bit_size;
	} else if (!r->err) {
		r->err = ph_error_new(PH_EXIT_UNSUPPORTED,
				      "free-threaded build: the interpreter's DWARF has no bitfield %s "
				      "in %s",
				      path, type);
	}
	return field;
}

struct ph_error *ph_mimalloc_layout_resolve(struct ph_type_index *index,
					    struct ph_mimalloc_layout **out)
{
	*out = NULL;
	if (ph_type_index_offset(index, "PyObject", "ob_tid") == PH_ABSENT)
		return NULL; /* a build with the GIL */
	struct ph_mimalloc_layout *m = calloc(1, sizeof(*m));
	if (!m)
		return &ph_error_out_of_memory;
	struct resolver r = {index, NULL};

	m->ob_tid = need(&r, "PyObject", "ob_tid");
	m->ob_gc_bits = need(&r, "PyObject", "ob_gc_bits");
	m->ob_ref_local = need(&r, "PyObject", "ob_ref_local");
	m->ob_ref_shared = need(&r, "PyObject", "ob_ref_shared");

	m->runtime_debug_enabled =
	    ph_type_index_offset(index, "_PyRuntimeState", "allocators.is_debug_enabled");
	m->interp_abandoned_pool = need(&r, "PyInterpreterState", "mimalloc.abandoned_pool");
	m->pool_abandoned = need(&r, "mi_abandoned_pool_s", "abandoned");
	m->pool_abandoned_visited = need(&r, "mi_abandoned_pool_s", "abandoned_visited");

	m->tstate_mimalloc = need(&r, "_PyThreadStateImpl", "mimalloc");
	m->mts_heaps = need(&r, "_mimalloc_thread_state", "heaps");
	m->mts_initialized = need(&r, "_mimalloc_thread_state", "initialized");
	m->heap_count = need_count(&r, "_mimalloc_thread_state", "heaps");
	m->heap_size = need_size(&r, "mi_heap_s");
	m->heap_id_gc = need_enumerator(&r, "_Py_MIMALLOC_HEAP_GC");
	m->heap_id_gc_pre = need_enumerator(&r, "_Py_MIMALLOC_HEAP_GC_PRE");

	m->heap_pages = need(&r, "mi_heap_s", "pages");
	m->heap_queue_count = need_count(&r, "mi_heap_s", "pages");
	m->queue_size = need_size(&r, "mi_page_queue_s");
	m->queue_first = need(&r, "mi_page_queue_s", "first");
	m->queue_last = need(&r, "mi_page_queue_s", "last");
	m->heap_thread_delayed_free = need(&r, "mi_heap_s", "thread_delayed_free");
	m->heap_page_count = need(&r, "mi_heap_s", "page_count");
	m->heap_tag = need(&r, "mi_heap_s", "tag");

	m->page_size = need_size(&r, "mi_page_s");
	m->page_slice_count = need(&r, "mi_page_s", "slice_count");
	m->page_slice_offset = need(&r, "mi_page_s", "slice_offset");
	m->page_tag = need_bitfield(&r, "mi_page_s", "tag");
	m->page_capacity = need(&r, "mi_page_s", "capacity");
	m->page_reserved = need(&r, "mi_page_s", "reserved");
	m->page_free = need(&r, "mi_page_s", "free");
	m->page_used = need(&r, "mi_page_s", "used");
	m->page_xblock_size = need(&r, "mi_page_s", "xblock_size");
	m->page_local_free = need(&r, "mi_page_s", "local_free");
	m->page_xthread_free = need(&r, "mi_page_s", "xthread_free");
	m->page_xheap = need(&r, "mi_page_s", "xheap");
	m->page_next = need(&r, "mi_page_s", "next");
	m->page_prev = need(&r, "mi_page_s", "prev");
	m->page_keys = ph_type_index_offset(index, "mi_page_s", "keys");

	m->segment_slices = need(&r, "mi_segment_s", "slices");
	m->segment_slice_max = need_count(&r, "mi_segment_s", "slices");
	m->segment_slice_entries = need(&r, "mi_segment_s", "slice_entries");
	m->segment_segment_slices = need(&r, "mi_segment_s", "segment_slices");
	m->segment_kind = need(&r, "mi_segment_s", "kind");
	m->segment_thread_id = need(&r, "mi_segment_s", "thread_id");
	m->segment_abandoned = need(&r, "mi_segment_s", "abandoned");
	m->segment_used = need(&r, "mi_segment_s", "used");
	m->segment_abandoned_next = need(&r, "mi_segment_s", "abandoned_next");

	m->arena_start = need(&r, "mi_arena_s", "start");
	m->arena_block_count = need(&r, "mi_arena_s", "block_count");
	m->arena_field_count = need(&r, "mi_arena_s", "field_count");
	m->arena_blocks_inuse = need(&r, "mi_arena_s", "blocks_inuse");

	/* Debug builds (Py_DEBUG sets MI_DEBUG, hence MI_ENCODE_FREELIST) keep
	 * page->keys and encode every free-list link with them. */
	if (!r.err && m->page_keys != PH_ABSENT)
		r.err = ph_error_new(PH_EXIT_UNSUPPORTED,
				     "this free-threaded CPython is a debug build (Py_DEBUG): its "
				     "mimalloc encodes free-list links with per-page keys, which pyheap "
				     "does not decode; snapshot a release build (configured without "
				     "--with-pydebug)");
	/* The walker reads these as whole machine words or bytes. */
	if (!r.err && (m->heap_count <= m->heap_id_gc_pre || m->heap_count <= m->heap_id_gc ||
		       m->segment_slice_max < 2 || m->heap_queue_count > 4096 ||
		       m->segment_slice_max > (1u << 20)))
		r.err = ph_error_new(PH_EXIT_UNSUPPORTED,
				     "free-threaded build: unexpected mimalloc array sizes in DWARF");
	if (r.err) {
		free(m);
		return r.err;
	}
	*out = m;
	return NULL;
}

void ph_mimalloc_layout_free(struct ph_mimalloc_layout *layout)
{
	free(layout);
}
