/* A model of sys.getsizeof(): per-family __sizeof__ formulas plus the GC
 * header and pre-header that getsizeof adds (rules per version, read from
 * CPython's sysmodule.c; every size and offset from DWARF). Families are
 * found by walking a type's tp_base chain to a known type; a class that
 * defines __sizeof__ itself cannot be reproduced from memory and is
 * flagged inexact. */
#ifndef PYHEAP_SIZEOF_H
#define PYHEAP_SIZEOF_H

#include "pyheap/target.h"
#include "pyheap/type_table.h"

enum ph_size_family {
	PH_SIZE_DEFAULT, /* object.__sizeof__: basicsize + itemsize * ob_size */
	PH_SIZE_DICT,
	PH_SIZE_ODICT,
	PH_SIZE_LIST,
	PH_SIZE_SET,
	PH_SIZE_FROZENSET,
	PH_SIZE_BYTEARRAY,
	PH_SIZE_INT,
	PH_SIZE_STR,
	PH_SIZE_TYPE,
	PH_SIZE_FRAME,
	PH_SIZE_GENERATOR,
	PH_SIZE_COROUTINE,
	PH_SIZE_ASYNC_GENERATOR,
	PH_SIZE_DEQUE,
	PH_SIZE_BUFFERED,
	PH_SIZE_BYTESIO,
	PH_SIZE_CODE,
	PH_SIZE_UNMODELLED, /* has its own __sizeof__ we do not reproduce */
	PH_SIZE_FAMILY_COUNT,
};

/* Looks up the family base types' addresses in the image. */
void ph_sizeof_bind_symbols(struct ph_target *t);
/* Sets entry->size_family and entry->size_exact. */
void ph_sizeof_classify(const struct ph_target *t, struct ph_type_entry *entry);
/* sys.getsizeof(obj); *exact (optional) turns false when a field needed
 * for this object could not be read. */
uint64_t ph_sizeof_object(const struct ph_target *t, uint64_t obj, const struct ph_type_entry *type);

#endif
