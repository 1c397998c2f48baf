#include "sizeof_layout.h"

#include <stdlib.h>

#include "pyheap/layout.h"

struct ph_error *ph_sizeof_layout_resolve(struct ph_type_index *index,
					  struct ph_sizeof_layout **out)
{
	struct ph_sizeof_layout *l = calloc(1, sizeof(*l));
	if (!l)
		return &ph_error_out_of_memory;
	l->list_allocated = ph_type_index_offset(index, "PyListObject", "allocated");
	l->set_mask = ph_type_index_offset(index, "PySetObject", "mask");
	l->set_table = ph_type_index_offset(index, "PySetObject", "table");
	l->set_smalltable = ph_type_index_offset(index, "PySetObject", "smalltable");
	l->setentry_size = ph_type_index_size(index, "setentry");
	l->bytearray_alloc = ph_type_index_offset(index, "PyByteArrayObject", "ob_alloc");
	l->long_digits = ph_type_index_offset(index, "_longobject", "ob_digit");
	l->long_lv_tag = ph_type_index_offset(index, "_longobject", "long_value.lv_tag");

	l->heaptype_cached_keys = ph_type_index_offset(index, "PyHeapTypeObject", "ht_cached_keys");
	l->type_object_size = ph_type_index_size(index, "PyTypeObject");

	l->frame_size = ph_type_index_size(index, "PyFrameObject");
	l->frame_code = ph_type_index_offset(index, "PyFrameObject", "f_code");
	l->frame_f_frame = ph_type_index_offset(index, "PyFrameObject", "f_frame");
	l->frame_data = ph_type_index_offset(index, "PyFrameObject", "_f_frame_data");
	l->iframe_size = ph_type_index_size(index, "_PyInterpreterFrame");
	l->iframe_code = ph_type_index_offset(index, "_PyInterpreterFrame", "f_code");
	if (l->iframe_code == PH_ABSENT) {
		l->iframe_code = ph_type_index_offset(index, "_PyInterpreterFrame", "f_executable");
		l->iframe_code_tagged =
		    ph_type_index_member_is_aggregate(index, "_PyInterpreterFrame", "f_executable");
	}
	l->iframe_localsplus = ph_type_index_offset(index, "_PyInterpreterFrame", "localsplus");
	l->gen_iframe = ph_type_index_offset(index, "PyGenObject", "gi_iframe");
	l->gen_code = ph_type_index_offset(index, "PyGenObject", "gi_code");

	l->co_nlocals = ph_type_index_offset(index, "PyCodeObject", "co_nlocals");
	l->co_stacksize = ph_type_index_offset(index, "PyCodeObject", "co_stacksize");
	l->co_cellvars = ph_type_index_offset(index, "PyCodeObject", "co_cellvars");
	l->co_freevars = ph_type_index_offset(index, "PyCodeObject", "co_freevars");
	l->co_nlocalsplus = ph_type_index_offset(index, "PyCodeObject", "co_nlocalsplus");
	l->co_framesize = ph_type_index_offset(index, "PyCodeObject", "co_framesize");
	l->co_extra = ph_type_index_offset(index, "PyCodeObject", "co_extra");
	l->code_extra_size = ph_type_index_size(index, "_PyCodeObjectExtra");
	l->code_extra_count = ph_type_index_offset(index, "_PyCodeObjectExtra", "ce_size");

	l->co_extra = ph_type_index_offset(index, "PyCodeObject", "co_extra");
	l->co_code_adaptive = ph_type_index_offset(index, "PyCodeObject", "co_code_adaptive");
	l->co_cell2arg = ph_type_index_offset(index, "PyCodeObject", "co_cell2arg");
	l->co_code = ph_type_index_offset(index, "PyCodeObject", "co_code");
	l->co_opcache = ph_type_index_offset(index, "PyCodeObject", "co_opcache");
	l->co_opcache_size = ph_type_index_offset(index, "PyCodeObject", "co_opcache_size");
	l->co_opcache_size_bytes = PH_ABSENT;
	Dwarf_Die code;
	struct ph_member opcache_size;
	if (ph_type_index_lookup(index, "PyCodeObject", &code) &&
	    ph_dwarf_member(&code, "co_opcache_size", &opcache_size))
		ph_dwarf_size(&opcache_size.type, &l->co_opcache_size_bytes);
	l->opcache_entry_size = ph_type_index_size(index, "_PyOpcache");

	l->odict_fast_nodes_size = ph_type_index_offset(index, "_odictobject", "od_fast_nodes_size");
	l->odict_first = ph_type_index_offset(index, "_odictobject", "od_first");
	l->odict_node_size = ph_type_index_size(index, "_odictnode");
	l->deque_leftindex = ph_type_index_offset(index, "dequeobject", "leftindex");
	l->deque_block_size = ph_type_index_size(index, "block");
	Dwarf_Die block;
	struct ph_member data;
	Dwarf_Die element;
	uint64_t count = 0;
	l->deque_block_len = PH_ABSENT;
	if (ph_type_index_lookup(index, "block", &block) && ph_dwarf_member(&block, "data", &data) &&
	    ph_dwarf_array(&data.type, &element, &count) && count > 0)
		l->deque_block_len = count;

	l->buffered_buffer = ph_type_index_offset(index, "buffered", "buffer");
	l->buffered_buffer_size = ph_type_index_offset(index, "buffered", "buffer_size");
	l->bytesio_buf = ph_type_index_offset(index, "bytesio", "buf");
	l->bytesio_buf_shared = ph_type_index_offset(index, "bytesio", "buf_shared");
	*out = l;
	return NULL;
}

void ph_sizeof_layout_free(struct ph_sizeof_layout *layout)
{
	free(layout);
}
