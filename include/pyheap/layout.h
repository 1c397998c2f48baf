/* Struct sizes and member offsets of one CPython build, resolved once from
 * its DWARF. Nothing here is typed in per version: where versions differ,
 * the resolver looks at which members exist. PH_ABSENT marks a member this
 * build does not have. */
#ifndef PYHEAP_LAYOUT_H
#define PYHEAP_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "pyheap/error.h"
#include "pyheap/image.h"

#define PH_ABSENT UINT64_MAX
#define PH_MAX_GC_LISTS 8

/* Free-threaded builds keep no GC lists; the walk reports objects by where
 * it found them, in the place of lists: the threads' heaps for GC objects
 * without and with a pre-header, and the same in abandoned segments. */
#define PH_MIMALLOC_SOURCES 4
extern const char *const ph_mimalloc_source_names[PH_MIMALLOC_SOURCES];

struct ph_bitfield {
	uint64_t byte; /* offset of the byte holding the field's first bit */
	int bit;
	int width;
};

struct ph_layout {
	/* _PyRuntimeState */
	uint64_t runtime_interpreters_head;
	uint64_t runtime_gc; /* 3.8: the GC state lives in the runtime; else PH_ABSENT */
	uint64_t runtime_debug_offsets_version; /* 3.13+: _Py_DebugOffsets.version */

	/* PyInterpreterState */
	uint64_t interp_next;
	uint64_t interp_gc; /* 3.9+ */
	uint64_t interp_sysdict;

	/* struct _gc_runtime_state: offsets of every list head in it, in the
	 * order generations..., permanent (or young, old..., permanent) */
	uint64_t gc_list_heads[PH_MAX_GC_LISTS];
	const char *gc_list_names[PH_MAX_GC_LISTS];
	unsigned gc_list_count;
	uint64_t gc_collecting; /* PH_ABSENT if the build has no such flag */
	bool gc_next_has_flag_bits; /* 3.14.0-3.14.4: bit0 of _gc_next is the old-space bit */

	/* PyGC_Head, in front of every GC object; 0 on free-threaded builds,
	 * which have none */
	uint64_t gc_head_size;
	uint64_t gc_next;
	uint64_t gc_prev;

	/* PyObject / PyVarObject (ob_refcnt PH_ABSENT on free-threaded builds,
	 * whose reference counts are in mimalloc->ob_ref_local/_shared) */
	uint64_t ob_refcnt;
	uint64_t ob_type;
	uint64_t ob_size;

	/* PyTypeObject / PyHeapTypeObject */
	uint64_t tp_name, tp_basicsize, tp_itemsize, tp_flags, tp_dict, tp_base;
	uint64_t tp_dictoffset;
	uint64_t heaptype_size;
	uint64_t ht_name, ht_qualname;

	/* str */
	uint64_t ascii_size;   /* sizeof(PyASCIIObject) */
	uint64_t compact_size; /* sizeof(PyCompactUnicodeObject) */
	uint64_t unicode_size; /* sizeof(PyUnicodeObject) */
	uint64_t str_length;
	struct ph_bitfield str_kind, str_compact, str_ascii;
	uint64_t str_utf8_length, str_utf8; /* in PyCompactUnicodeObject */
	uint64_t str_wstr, str_wstr_length; /* <= 3.11; else PH_ABSENT */
	uint64_t str_data_any; /* PyUnicodeObject.data.any */

	/* dict */
	uint64_t dict_size;
	uint64_t ma_used, ma_keys, ma_values;
	uint64_t keys_size; /* sizeof(PyDictKeysObject) */
	uint64_t dk_refcnt, dk_usable, dk_nentries, dk_indices;
	uint64_t dk_size;             /* <= 3.10 */
	uint64_t dk_log2_size;        /* 3.11+ */
	uint64_t dk_log2_index_bytes; /* 3.11+ */
	uint64_t dk_kind;             /* 3.11+ */
	uint64_t entry_size, entry_key, entry_value;                 /* PyDictKeyEntry */
	uint64_t unicode_entry_size, unicode_entry_key, unicode_entry_value; /* 3.11+ */
	uint64_t dict_values_values; /* offset of values[] in PyDictValues (3.11+) */

	/* containers */
	uint64_t list_items;  /* PyListObject.ob_item (a pointer) */
	uint64_t tuple_items; /* PyTupleObject.ob_item (inline) */
	uint64_t set_mask, set_table, setentry_size, setentry_key;
	uint64_t bytes_sval; /* PyBytesObject.ob_sval */

	/* sys.getsizeof families, filled by the sizeof resolver */
	struct ph_sizeof_layout *sizes;
	/* referent families (the graph) */
	struct ph_ref_layout *refs;
	/* free-threaded builds: mimalloc's heaps instead of GC lists; else NULL */
	struct ph_mimalloc_layout *mimalloc;
	uint64_t tp_traverse;

	uint64_t pointer_size;
	bool free_threaded;
};

struct ph_error *ph_layout_resolve(struct ph_image *image, struct ph_layout **out);
void ph_layout_free(struct ph_layout *layout);

#endif
