#include "sizeof_layout.h"

#include <dwarf.h>
#include <stdlib.h>

#include "pyheap/layout.h"

static uint64_t offset_of(struct ph_type_index *index, const char *type, const char *path)
{
	Dwarf_Die die;
	struct ph_member m;
	if (!ph_type_index_lookup(index, type, &die) || !ph_dwarf_member(&die, path, &m))
		return PH_ABSENT;
	return m.offset;
}

static uint64_t size_of(struct ph_type_index *index, const char *type)
{
	Dwarf_Die die;
	uint64_t size;
	if (!ph_type_index_lookup(index, type, &die) || !ph_dwarf_size(&die, &size))
		return PH_ABSENT;
	return size;
}

/* Whether a member's type is a struct (a _PyStackRef) rather than a pointer. */
static bool member_is_struct(struct ph_type_index *index, const char *type, const char *path)
{
	Dwarf_Die die;
	struct ph_member m;
	if (!ph_type_index_lookup(index, type, &die) || !ph_dwarf_member(&die, path, &m))
		return false;
	int tag = dwarf_tag(&m.type);
	return tag == DW_TAG_structure_type || tag == DW_TAG_union_type;
}

struct ph_error *ph_sizeof_layout_resolve(struct ph_type_index *index,
					  struct ph_sizeof_layout **out)
{
	struct ph_sizeof_layout *l = calloc(1, sizeof(*l));
	if (!l)
		return &ph_error_out_of_memory;
	l->list_allocated = offset_of(index, "PyListObject", "allocated");
	l->set_mask = offset_of(index, "PySetObject", "mask");
	l->set_table = offset_of(index, "PySetObject", "table");
	l->set_smalltable = offset_of(index, "PySetObject", "smalltable");
	l->setentry_size = size_of(index, "setentry");
	l->bytearray_alloc = offset_of(index, "PyByteArrayObject", "ob_alloc");
	l->long_digits = offset_of(index, "_longobject", "ob_digit");
	l->long_lv_tag = offset_of(index, "_longobject", "long_value.lv_tag");

	l->heaptype_cached_keys = offset_of(index, "PyHeapTypeObject", "ht_cached_keys");
	l->type_object_size = size_of(index, "PyTypeObject");

	l->frame_size = size_of(index, "PyFrameObject");
	l->frame_code = offset_of(index, "PyFrameObject", "f_code");
	l->frame_f_frame = offset_of(index, "PyFrameObject", "f_frame");
	l->frame_data = offset_of(index, "PyFrameObject", "_f_frame_data");
	l->iframe_size = size_of(index, "_PyInterpreterFrame");
	l->iframe_code = offset_of(index, "_PyInterpreterFrame", "f_code");
	if (l->iframe_code == PH_ABSENT) {
		l->iframe_code = offset_of(index, "_PyInterpreterFrame", "f_executable");
		l->iframe_code_tagged =
		    member_is_struct(index, "_PyInterpreterFrame", "f_executable");
	}
	l->iframe_localsplus = offset_of(index, "_PyInterpreterFrame", "localsplus");
	l->gen_iframe = offset_of(index, "PyGenObject", "gi_iframe");
	l->gen_code = offset_of(index, "PyGenObject", "gi_code");

	l->co_nlocals = offset_of(index, "PyCodeObject", "co_nlocals");
	l->co_stacksize = offset_of(index, "PyCodeObject", "co_stacksize");
	l->co_cellvars = offset_of(index, "PyCodeObject", "co_cellvars");
	l->co_freevars = offset_of(index, "PyCodeObject", "co_freevars");
	l->co_nlocalsplus = offset_of(index, "PyCodeObject", "co_nlocalsplus");
	l->co_framesize = offset_of(index, "PyCodeObject", "co_framesize");

	l->odict_fast_nodes_size = offset_of(index, "_odictobject", "od_fast_nodes_size");
	l->odict_first = offset_of(index, "_odictobject", "od_first");
	l->odict_node_size = size_of(index, "_odictnode");
	l->deque_leftindex = offset_of(index, "dequeobject", "leftindex");
	l->deque_block_size = size_of(index, "block");
	Dwarf_Die block;
	struct ph_member data;
	Dwarf_Die element;
	uint64_t count = 0;
	l->deque_block_len = PH_ABSENT;
	if (ph_type_index_lookup(index, "block", &block) && ph_dwarf_member(&block, "data", &data) &&
	    ph_dwarf_array(&data.type, &element, &count) && count > 0)
		l->deque_block_len = count;

	l->buffered_buffer = offset_of(index, "buffered", "buffer");
	l->buffered_buffer_size = offset_of(index, "buffered", "buffer_size");
	l->bytesio_buf = offset_of(index, "bytesio", "buf");
	*out = l;
	return NULL;
}

void ph_sizeof_layout_free(struct ph_sizeof_layout *layout)
{
	free(layout);
}
