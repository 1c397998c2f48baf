#include "sizeof_layout.h"

#include <stdlib.h>

#include "pyheap/layout.h"

static uint64_t offset_or_absent(struct ph_type_index *index, const char *type, const char *path)
{
	Dwarf_Die die;
	struct ph_member m;
	if (!ph_type_index_lookup(index, type, &die) || !ph_dwarf_member(&die, path, &m))
		return PH_ABSENT;
	return m.offset;
}

static uint64_t size_or_absent(struct ph_type_index *index, const char *type)
{
	Dwarf_Die die;
	uint64_t size;
	if (!ph_type_index_lookup(index, type, &die) || !ph_dwarf_size(&die, &size))
		return PH_ABSENT;
	return size;
}

struct ph_error *ph_sizeof_layout_resolve(struct ph_type_index *index,
					  struct ph_sizeof_layout **out)
{
	struct ph_sizeof_layout *l = calloc(1, sizeof(*l));
	if (!l)
		return &ph_error_out_of_memory;
	l->list_allocated = offset_or_absent(index, "PyListObject", "allocated");
	l->set_mask = offset_or_absent(index, "PySetObject", "mask");
	l->set_table = offset_or_absent(index, "PySetObject", "table");
	l->set_smalltable = offset_or_absent(index, "PySetObject", "smalltable");
	l->setentry_size = size_or_absent(index, "setentry");
	l->bytearray_alloc = offset_or_absent(index, "PyByteArrayObject", "ob_alloc");
	l->long_digits = offset_or_absent(index, "_longobject", "ob_digit");
	if (l->long_digits == PH_ABSENT)
		l->long_digits = offset_or_absent(index, "_longobject", "long_value.ob_digit");
	l->long_lv_tag = offset_or_absent(index, "_longobject", "long_value.lv_tag");
	*out = l;
	return NULL;
}

void ph_sizeof_layout_free(struct ph_sizeof_layout *layout)
{
	free(layout);
}
