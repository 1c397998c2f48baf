/* Offsets the sys.getsizeof() model needs, per object family. */
#ifndef PYHEAP_SIZEOF_LAYOUT_H
#define PYHEAP_SIZEOF_LAYOUT_H

#include <stdint.h>

#include "pyheap/dwarf_types.h"
#include "pyheap/error.h"

#define PH_SIZEOF_WANTED_TYPES                                                               \
	"PyListObject", "PySetObject", "setentry", "PyByteArrayObject", "_longobject",        \
	    "PyBytesObject", "PyFrameObject", "_PyInterpreterFrame", "PyGenObject",          \
	    "PyCodeObject", "_longobject", "PyTupleObject"

struct ph_sizeof_layout {
	uint64_t list_allocated;
	uint64_t set_mask, set_table, set_smalltable, setentry_size;
	uint64_t bytearray_alloc;
	uint64_t long_digits;   /* offsetof(PyLongObject, ob_digit) */
	uint64_t long_lv_tag;   /* 3.12+: long_value.lv_tag; else PH_ABSENT */
};

struct ph_type_index;
struct ph_error *ph_sizeof_layout_resolve(struct ph_type_index *index,
					  struct ph_sizeof_layout **out);
void ph_sizeof_layout_free(struct ph_sizeof_layout *layout);

#endif
