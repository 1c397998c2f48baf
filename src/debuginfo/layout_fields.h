/* Every field of the layout tables, listed once: the layout file writer
 * and reader expand these lists, so a field added to a table and to its
 * list is saved and restored with no other change. */
#ifndef PYHEAP_LAYOUT_FIELDS_H
#define PYHEAP_LAYOUT_FIELDS_H

#define PH_LAYOUT_U64_FIELDS(X)                                                              \
	X(runtime_interpreters_head) X(runtime_gc) X(runtime_debug_offsets_version)          \
	X(interp_next) X(interp_gc) X(interp_sysdict) X(gc_collecting) X(gc_head_size)      \
	X(gc_next) X(gc_prev) X(ob_refcnt) X(ob_type) X(ob_size) X(tp_name) X(tp_basicsize) \
	X(tp_itemsize) X(tp_flags) X(tp_dict) X(tp_base) X(tp_dictoffset) X(heaptype_size)  \
	X(ht_name) X(ht_qualname) X(ascii_size) X(compact_size) X(unicode_size)             \
	X(str_length) X(str_utf8_length) X(str_utf8) X(str_wstr) X(str_wstr_length)         \
	X(str_data_any) X(dict_size) X(ma_used) X(ma_keys) X(ma_values) X(keys_size)        \
	X(dk_refcnt) X(dk_usable) X(dk_nentries) X(dk_indices) X(dk_size) X(dk_log2_size)   \
	X(dk_log2_index_bytes) X(dk_kind) X(entry_size) X(entry_key) X(entry_value)         \
	X(unicode_entry_size) X(unicode_entry_key) X(unicode_entry_value)                   \
	X(dict_values_values) X(list_items) X(tuple_items) X(set_mask) X(set_table)         \
	X(setentry_size) X(setentry_key) X(bytes_sval) X(tp_traverse) X(pointer_size)

#define PH_LAYOUT_BOOL_FIELDS(X) X(gc_next_has_flag_bits) X(free_threaded)

#define PH_LAYOUT_BITFIELDS(X) X(str_kind) X(str_compact) X(str_ascii)

#define PH_SIZEOF_U64_FIELDS(X)                                                              \
	X(list_allocated) X(set_mask) X(set_table) X(set_smalltable) X(setentry_size)       \
	X(bytearray_alloc) X(long_digits) X(long_lv_tag) X(heaptype_cached_keys)            \
	X(type_object_size) X(frame_size) X(frame_code) X(frame_f_frame) X(frame_data)      \
	X(iframe_size) X(iframe_code) X(iframe_localsplus) X(gen_iframe) X(gen_code)        \
	X(co_nlocals) X(co_stacksize) X(co_cellvars) X(co_freevars) X(co_nlocalsplus)       \
	X(co_framesize) X(odict_fast_nodes_size) X(odict_first) X(odict_node_size)          \
	X(deque_leftindex) X(deque_block_size) X(deque_block_len) X(buffered_buffer)        \
	X(buffered_buffer_size) X(bytesio_buf)

/* Added after layout files were first written: a file without them is still
 * read, with the field absent (PH_ABSENT). */
#define PH_SIZEOF_U64_LATER_FIELDS(X)                                                        \
	X(co_extra) X(code_extra_size) X(code_extra_count) X(bytesio_buf_shared)           \
	X(co_code_adaptive) X(co_cell2arg) X(co_code) X(co_opcache) X(co_opcache_size)      \
	X(co_opcache_size_bytes) X(opcache_entry_size)

#define PH_SIZEOF_BOOL_FIELDS(X) X(iframe_code_tagged)

#define PH_REF_U64_FIELDS(X)                                                                 \
	X(member_size) X(member_name) X(member_type) X(member_offset) X(tp_members)         \
	X(tb_lasti) X(tb_lineno) X(md_dict) X(interp_threads_head) X(interp_modules)        \
	X(interp_builtins) X(tstate_next) X(tstate_id) X(tstate_thread_id) X(tstate_frame)  \
	X(tstate_cframe) X(cframe_current_frame) X(tstate_current_frame) X(co_nlocals)      \
	X(co_varnames) X(co_cellvars) X(co_freevars) X(co_nlocalsplus)                      \
	X(co_localsplusnames) X(co_localspluskinds) X(co_name) X(co_qualname)               \
	X(co_filename) X(co_firstlineno) X(co_lnotab) X(co_linetable) X(co_code)            \
	X(co_code_adaptive) X(f_back) X(f_code) X(f_localsplus) X(f_valuestack)             \
	X(f_stacktop) X(f_stackdepth) X(f_lasti) X(f_lineno) X(f_frame) X(f_frame_data)     \
	X(iframe_code) X(iframe_funcobj) X(iframe_globals) X(iframe_builtins)               \
	X(iframe_locals) X(iframe_frame_obj) X(iframe_previous) X(iframe_owner)             \
	X(iframe_localsplus) X(iframe_stacktop) X(iframe_stackpointer) X(iframe_instr)      \
	X(gen_frame) X(gen_iframe) X(gen_frame_state) X(gen_exc_value) X(gen_exc_type)      \
	X(gen_exc_traceback) X(asyncgen_finalizer) X(co_firsttraceable) X(values_embedded)  \
	X(values_valid) X(values_capacity) X(values_size) X(tstate_native_thread_id)        \
	X(md_def) X(md_state) X(def_m_size) X(def_m_traverse)

/* Fields added after layout files were first written: a file without them
 * still loads; they are then absent, and the objects they serve are
 * scanned conservatively, as before. */
#define PH_REF_OPTIONAL_U64_FIELDS(X) X(memoryview_mbuf) X(mbuf_master_obj)

#define PH_REF_BOOL_FIELDS(X) X(iframe_code_tagged) X(iframe_instr_is_prev)

#define PH_REF_MEMBER_LISTS(X)                                                               \
	X(function) X(cell) X(method) X(module) X(exception) X(traceback) X(weakref)         \
	X(classmethod) X(property) X(type) X(heaptype) X(code) X(frame_object) X(generator)  \
	X(iframe)

#define PH_MIMALLOC_U64_FIELDS(X)                                                            \
	X(ob_tid) X(ob_gc_bits) X(ob_ref_local) X(ob_ref_shared) X(runtime_debug_enabled)   \
	X(interp_abandoned_pool) X(pool_abandoned) X(pool_abandoned_visited)                \
	X(tstate_mimalloc) X(mts_heaps) X(mts_initialized) X(heap_size) X(heap_count)       \
	X(heap_id_gc) X(heap_id_gc_pre) X(heap_pages) X(heap_queue_count) X(queue_size)     \
	X(queue_first) X(queue_last) X(heap_thread_delayed_free) X(heap_page_count)         \
	X(heap_tag) X(page_size) X(page_slice_count) X(page_slice_offset) X(page_capacity)  \
	X(page_reserved) X(page_free) X(page_used) X(page_xblock_size) X(page_local_free)   \
	X(page_xthread_free) X(page_xheap) X(page_next) X(page_prev) X(page_keys)           \
	X(segment_slices) X(segment_slice_max) X(segment_slice_entries)                     \
	X(segment_segment_slices) X(segment_kind) X(segment_thread_id) X(segment_abandoned) \
	X(segment_used) X(segment_abandoned_next) X(arena_start) X(arena_block_count)       \
	X(arena_field_count) X(arena_blocks_inuse)

#define PH_MIMALLOC_BITFIELDS(X) X(page_tag)

/* Every symbol pyheap looks up, by the name it asks for. */
#define PH_LAYOUT_SYMBOLS                                                                    \
	"_PyRuntime", "Py_Version", "_PySet_Dummy", "subtype_traverse", "PyBaseObject_Type",  \
	    "PyAsyncGen_Type", "PyBaseException_Type", "PyByteArray_Type", "PyCell_Type",     \
	    "PyClassMethod_Type", "PyCode_Type", "PyCoro_Type", "PyDict_Type",               \
	    "PyFrame_Type", "PyFrozenSet_Type", "PyFunction_Type", "PyGen_Type",             \
	    "PyList_Type", "PyLong_Type", "PyMethod_Type", "PyModule_Type", "PyODict_Type",  \
	    "PyProperty_Type", "PySet_Type", "PyStaticMethod_Type", "PyTraceBack_Type",      \
	    "PyTuple_Type", "PyType_Type", "PyUnicode_Type", "_PyWeakref_CallableProxyType", \
	    "_PyWeakref_ProxyType", "_PyWeakref_RefType", "PyMemoryView_Type",                \
	    "_PyManagedBuffer_Type", "mi_arenas", "mi_arena_count"

#endif
