/* Offsets the sys.getsizeof() model needs, per object family. Every one
 * is optional: a family whose structs are missing from the DWARF (e.g. a
 * module built as a separate .so) is reported as not exactly sized. */
#ifndef PYHEAP_SIZEOF_LAYOUT_H
#define PYHEAP_SIZEOF_LAYOUT_H

#include <stdint.h>

#include "pyheap/dwarf_types.h"
#include "pyheap/error.h"

#define PH_SIZEOF_WANTED_TYPES                                                               \
	"PyListObject", "PySetObject", "setentry", "PyByteArrayObject", "_longobject",        \
	    "PyFrameObject", "_PyInterpreterFrame", "PyGenObject", "PyCodeObject",           \
	    "_odictobject", "_odictnode", "dequeobject", "block", "buffered", "bytesio",     \
	    "PyBytesObject", "_PyOpcache", "_PyCodeObjectExtra"

struct ph_sizeof_layout {
	uint64_t list_allocated;
	uint64_t set_mask, set_table, set_smalltable, setentry_size;
	uint64_t bytearray_alloc;
	uint64_t long_digits; /* offsetof(PyLongObject, ob_digit) before 3.12 */
	uint64_t long_lv_tag; /* 3.12+: long_value.lv_tag */

	uint64_t heaptype_cached_keys;
	uint64_t type_object_size; /* sizeof(PyTypeObject) */

	/* frames */
	uint64_t frame_size;        /* sizeof(PyFrameObject) (<= 3.10 formula) */
	uint64_t frame_code;        /* PyFrameObject.f_code (<= 3.10) */
	uint64_t frame_f_frame;     /* PyFrameObject.f_frame (3.11+) */
	uint64_t frame_data;        /* PyFrameObject._f_frame_data (3.11+) */
	uint64_t iframe_size;       /* sizeof(_PyInterpreterFrame) */
	uint64_t iframe_code;       /* f_code (3.11-3.12) or f_executable (3.13+) */
	bool iframe_code_tagged;    /* f_executable is a _PyStackRef (3.14+) */
	uint64_t iframe_localsplus;
	uint64_t gen_iframe;        /* PyGenObject.gi_iframe (3.11+) */
	uint64_t gen_code;          /* PyGenObject.gi_code (3.11) */

	/* code objects */
	uint64_t co_nlocals, co_stacksize, co_cellvars, co_freevars; /* <= 3.10 */
	uint64_t co_nlocalsplus;  /* 3.11 */
	uint64_t co_framesize;    /* 3.12+ */
	/* code.__sizeof__: co_extra (all), co_code_adaptive (3.11+: a
	 * variable-size object), co_cell2arg and the opcache (<= 3.10) */
	uint64_t co_extra, co_code_adaptive, co_cell2arg, co_code;
	uint64_t co_opcache, co_opcache_size, co_opcache_size_bytes, opcache_entry_size;
	uint64_t code_extra_size, code_extra_count; /* sizeof(_PyCodeObjectExtra), ce_size */

	/* collections */
	uint64_t odict_fast_nodes_size, odict_first, odict_node_size;
	uint64_t deque_leftindex, deque_block_size, deque_block_len;

	/* _io */
	uint64_t buffered_buffer, buffered_buffer_size;
	uint64_t bytesio_buf;
	uint64_t bytesio_buf_shared; /* free-threaded 3.14+: the buffer is shared */
};

struct ph_type_index;
struct ph_error *ph_sizeof_layout_resolve(struct ph_type_index *index,
					  struct ph_sizeof_layout **out);
void ph_sizeof_layout_free(struct ph_sizeof_layout *layout);

#endif
