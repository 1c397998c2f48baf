#include "sizeof.h"

#include "../debuginfo/sizeof_layout.h"

static const char *const family_symbols[PH_SIZE_FAMILY_COUNT] = {
    [PH_SIZE_DEFAULT] = "PyBaseObject_Type", [PH_SIZE_DICT] = "PyDict_Type",
    [PH_SIZE_LIST] = "PyList_Type",          [PH_SIZE_SET] = "PySet_Type",
    [PH_SIZE_FROZENSET] = "PyFrozenSet_Type", [PH_SIZE_BYTEARRAY] = "PyByteArray_Type",
    [PH_SIZE_INT] = "PyLong_Type",           [PH_SIZE_STR] = "PyUnicode_Type",
    [PH_SIZE_BYTES] = "PyBytes_Type",        [PH_SIZE_TUPLE] = "PyTuple_Type",
    [PH_SIZE_TYPE] = "PyType_Type",
};

void ph_sizeof_bind_symbols(struct ph_target *t)
{
	for (int i = 0; i < PH_SIZE_FAMILY_COUNT; i++) {
		t->family_types[i] = 0;
		if (family_symbols[i])
			ph_image_symbol(t->image, family_symbols[i], &t->family_types[i]);
	}
}

void ph_sizeof_classify(const struct ph_target *t, struct ph_type_entry *entry)
{
	entry->size_family = PH_SIZE_DEFAULT;
	entry->size_exact = true;
	uint64_t type = entry->address;
	for (int depth = 0; type && depth < 64; depth++) {
		for (int f = 0; f < PH_SIZE_FAMILY_COUNT; f++) {
			if (t->family_types[f] && t->family_types[f] == type) {
				entry->size_family = f;
				return;
			}
		}
		uint64_t flags, dict, ignored;
		if (!ph_read_type_flags(t, type, &flags))
			break;
		/* A class of ours overriding __sizeof__: only the target
		 * could compute it. */
		if ((flags & PH_TPFLAGS_HEAPTYPE) && ph_read_u64(t, type + t->layout->tp_dict, &dict) &&
		    dict && ph_dict_get_str(t, dict, "__sizeof__", &ignored)) {
			entry->size_exact = false;
			return;
		}
		if (!ph_read_u64(t, type + t->layout->tp_base, &type))
			break;
	}
}

/* What sys.getsizeof adds to __sizeof__(): the GC header, and from 3.11 on
 * the managed dict/weakref pre-header. */
static uint64_t preheader(const struct ph_target *t, const struct ph_type_entry *type)
{
	uint64_t size = 0;
	if (type->flags & PH_TPFLAGS_HAVE_GC)
		size += t->layout->gc_head_size;
	if (t->version_minor >= 11) {
		uint64_t managed = PH_TPFLAGS_MANAGED_DICT;
		if (t->version_minor >= 12)
			managed |= PH_TPFLAGS_MANAGED_WEAKREF;
		if (type->flags & managed)
			size += 2 * t->layout->pointer_size;
	}
	return size;
}

static uint64_t default_sizeof(const struct ph_target *t, uint64_t obj,
			       const struct ph_type_entry *type)
{
	uint64_t size = type->basicsize;
	if (type->itemsize) {
		int64_t ob_size;
		if (ph_read_i64(t, obj + t->layout->ob_size, &ob_size))
			size += (uint64_t)ob_size * type->itemsize;
	}
	return size;
}

uint64_t ph_sizeof_object(const struct ph_target *t, uint64_t obj, const struct ph_type_entry *type)
{
	const struct ph_sizeof_layout *s = t->layout->sizes;
	uint64_t size = default_sizeof(t, obj, type);
	switch (type->size_family) {
	case PH_SIZE_LIST: {
		int64_t allocated;
		if (s->list_allocated != PH_ABSENT &&
		    ph_read_i64(t, obj + s->list_allocated, &allocated) && allocated >= 0)
			size = type->basicsize + (uint64_t)allocated * t->layout->pointer_size;
		break;
	}
	case PH_SIZE_SET:
	case PH_SIZE_FROZENSET: {
		uint64_t table;
		int64_t mask;
		size = type->basicsize;
		if (s->set_table != PH_ABSENT && ph_read_u64(t, obj + s->set_table, &table) &&
		    table != obj + s->set_smalltable && ph_read_i64(t, obj + s->set_mask, &mask) &&
		    mask >= 0)
			size += ((uint64_t)mask + 1) * s->setentry_size;
		break;
	}
	default:
		break;
	}
	return size + preheader(t, type);
}
