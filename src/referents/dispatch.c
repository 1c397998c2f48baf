/* Which family an object belongs to, and the dispatch to its walker. */
#include <stdio.h>
#include <string.h>

#include "family.h"

static const char *const family_symbols[PH_REF_FAMILY_COUNT] = {
    [PH_REF_DICT] = "PyDict_Type",
    [PH_REF_LIST] = "PyList_Type",
    [PH_REF_TUPLE] = "PyTuple_Type",
    [PH_REF_SET] = "PySet_Type",
    [PH_REF_FUNCTION] = "PyFunction_Type",
    [PH_REF_CELL] = "PyCell_Type",
    [PH_REF_METHOD] = "PyMethod_Type",
    [PH_REF_MODULE] = "PyModule_Type",
    [PH_REF_TYPE] = "PyType_Type",
    [PH_REF_EXCEPTION] = "PyBaseException_Type",
    [PH_REF_TRACEBACK] = "PyTraceBack_Type",
    [PH_REF_FRAME] = "PyFrame_Type",
    [PH_REF_GENERATOR] = "PyGen_Type",
    [PH_REF_CODE] = "PyCode_Type",
    [PH_REF_WEAKREF] = "_PyWeakref_RefType",
    [PH_REF_CLASSMETHOD] = "PyClassMethod_Type",
    [PH_REF_PROPERTY] = "PyProperty_Type",
    [PH_REF_MEMORYVIEW] = "PyMemoryView_Type",
    [PH_REF_MANAGED_BUFFER] = "_PyManagedBuffer_Type",
};

/* Types that share a family with the one named above. */
static const struct {
	const char *symbol;
	enum ph_ref_family family;
} extra_symbols[] = {
    {"PyFrozenSet_Type", PH_REF_SET},
    {"PyCoro_Type", PH_REF_GENERATOR},
    {"PyAsyncGen_Type", PH_REF_GENERATOR},
    {"_PyWeakref_ProxyType", PH_REF_WEAKREF},
    {"_PyWeakref_CallableProxyType", PH_REF_WEAKREF},
    {"PyStaticMethod_Type", PH_REF_CLASSMETHOD},
};

static uint64_t extra_addresses[sizeof(extra_symbols) / sizeof(extra_symbols[0])];

void ph_referents_bind_symbols(struct ph_target *t)
{
	for (int i = 0; i < PH_REF_FAMILY_COUNT; i++) {
		t->ref_types[i] = 0;
		if (family_symbols[i])
			ph_image_symbol(t->image, family_symbols[i], &t->ref_types[i]);
	}
	for (size_t i = 0; i < sizeof(extra_symbols) / sizeof(extra_symbols[0]); i++) {
		extra_addresses[i] = 0;
		ph_image_symbol(t->image, extra_symbols[i].symbol, &extra_addresses[i]);
	}
	t->subtype_traverse = 0;
	ph_image_symbol(t->image, "subtype_traverse", &t->subtype_traverse);
}

static bool is_python_class(const struct ph_target *t, uint64_t type)
{
	uint64_t traverse = 0;
	return t->subtype_traverse && t->layout->tp_traverse != PH_ABSENT &&
	       ph_read_u64(t, type + t->layout->tp_traverse, &traverse) &&
	       traverse == t->subtype_traverse;
}

/* The family of a C type (not a Python class). */
static enum ph_ref_family family_of_c_type(const struct ph_target *t, uint64_t type)
{
	for (int f = 0; f < PH_REF_FAMILY_COUNT; f++)
		if (t->ref_types[f] && t->ref_types[f] == type)
			return (enum ph_ref_family)f;
	for (size_t i = 0; i < sizeof(extra_symbols) / sizeof(extra_symbols[0]); i++)
		if (extra_addresses[i] && extra_addresses[i] == type)
			return extra_symbols[i].family;
	uint64_t flags = 0;
	if (!ph_read_type_flags(t, type, &flags) || type == t->object_type)
		return PH_REF_NONE;
	if (flags & PH_TPFLAGS_TYPE_SUBCLASS)
		return PH_REF_TYPE;
	if (flags & PH_TPFLAGS_BASE_EXC_SUBCLASS)
		return PH_REF_EXCEPTION; /* C subclasses: BaseException's fields + a scan of the rest */
	if (flags & PH_TPFLAGS_DICT_SUBCLASS)
		return PH_REF_DICT_SUBTYPE;
	if (flags & PH_TPFLAGS_LIST_SUBCLASS)
		return PH_REF_LIST_SUBTYPE;
	if (flags & PH_TPFLAGS_TUPLE_SUBCLASS)
		return PH_REF_TUPLE_SUBTYPE;
	if (!(flags & PH_TPFLAGS_HAVE_GC))
		return PH_REF_NONE;
	return PH_REF_CONSERVATIVE;
}

void ph_referents_classify(const struct ph_target *t, struct ph_type_entry *entry)
{
	entry->python_class = is_python_class(t, entry->address);
	entry->base_ref_family = PH_REF_NONE;
	if (!entry->python_class) {
		entry->ref_family = family_of_c_type(t, entry->address);
		return;
	}
	entry->ref_family = PH_REF_INSTANCE;
	uint64_t type = entry->address;
	for (int depth = 0; depth < 64; depth++) {
		if (!ph_read_u64(t, type + t->layout->tp_base, &type) || !type)
			return;
		if (!is_python_class(t, type)) {
			entry->base_ref_family = family_of_c_type(t, type);
			entry->solid_base = type;
			return;
		}
	}
}
