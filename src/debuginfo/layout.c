/* Resolves struct ph_layout from DWARF. Required members missing from the
 * DWARF make the build unsupported, with the struct and member named;
 * optional ones become PH_ABSENT. */
#include "pyheap/layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyheap/dwarf_types.h"
#include "mimalloc_layout.h"
#include "ref_layout.h"
#include "sizeof_layout.h"

static const char *const wanted_types[] = {
    "_PyRuntimeState", "PyInterpreterState", "PyGC_Head", "PyObject", "PyVarObject",
    "PyTypeObject", "PyHeapTypeObject", "PyASCIIObject", "PyCompactUnicodeObject",
    "PyUnicodeObject", "PyDictObject", "_dictkeysobject", "PyDictKeyEntry", "PyDictUnicodeEntry",
    "_dictvalues", "PyTupleObject", PH_SIZEOF_WANTED_TYPES, PH_REF_WANTED_TYPES,
    PH_MIMALLOC_WANTED_TYPES,
};

const char *const ph_mimalloc_source_names[PH_MIMALLOC_SOURCES] = {
    "heap_gc", "heap_gc_pre", "abandoned_gc", "abandoned_gc_pre"};

struct resolver {
	struct ph_type_index *index;
	struct ph_error *err; /* first failure; later calls become no-ops */
};

static bool type_die(struct resolver *r, const char *type, Dwarf_Die *die, bool required)
{
	if (r->err)
		return false;
	if (ph_type_index_lookup(r->index, type, die))
		return true;
	if (required)
		r->err = ph_error_new(PH_EXIT_UNSUPPORTED,
				      "the interpreter's DWARF has no definition of %s", type);
	return false;
}

/* Offset of path inside type; PH_ABSENT (or an error if required). */
static uint64_t member(struct resolver *r, const char *type, const char *path, bool required)
{
	Dwarf_Die die;
	if (!type_die(r, type, &die, required))
		return PH_ABSENT;
	struct ph_member m;
	if (ph_dwarf_member(&die, path, &m))
		return m.offset;
	if (required && !r->err)
		r->err = ph_error_new(PH_EXIT_UNSUPPORTED,
				      "the interpreter's DWARF has no member %s in %s", path, type);
	return PH_ABSENT;
}

static uint64_t size_of(struct resolver *r, const char *type, bool required)
{
	Dwarf_Die die;
	uint64_t size;
	if (!type_die(r, type, &die, required))
		return PH_ABSENT;
	if (ph_dwarf_size(&die, &size))
		return size;
	if (required && !r->err)
		r->err = ph_error_new(PH_EXIT_UNSUPPORTED, "the interpreter's DWARF has no size for %s",
				      type);
	return PH_ABSENT;
}

static struct ph_bitfield bitfield(struct resolver *r, const char *type, const char *path)
{
	struct ph_bitfield field = {PH_ABSENT, 0, 0};
	Dwarf_Die die;
	struct ph_member m;
	if (!type_die(r, type, &die, true))
		return field;
	if (!ph_dwarf_member(&die, path, &m) || m.bit_offset < 0) {
		r->err = ph_error_new(PH_EXIT_UNSUPPORTED,
				      "the interpreter's DWARF has no bitfield %s in %s", path, type);
		return field;
	}
	field.byte = m.offset;
	field.bit = m.bit_offset;
	field.width = m.bit_size;
	return field;
}

/* The GC state: which lists exist decides how we walk, not the version. */
static void resolve_gc_lists(struct resolver *r, struct ph_layout *layout, Dwarf_Die *state)
{
	struct ph_member m;
	Dwarf_Die element;
	uint64_t count, element_size;
	layout->gc_list_count = 0;
	static const char *const generation_names[] = {"generation0", "generation1", "generation2",
						       "generation3"};
	static const char *const old_names[] = {"old0", "old1", "old2", "old3"};

	const char *array_name = NULL;
	const char *const *names = NULL;
	if (ph_dwarf_member(state, "generations", &m)) {
		array_name = "generations";
		names = generation_names;
	} else if (ph_dwarf_member(state, "young", &m)) {
		/* 3.14.0-3.14.4 incremental collector */
		struct ph_member head;
		Dwarf_Die young = m.type;
		if (!ph_dwarf_member(&young, "head", &head)) {
			r->err = ph_error_new(PH_EXIT_UNSUPPORTED, "gc state 'young' has no head");
			return;
		}
		layout->gc_list_heads[layout->gc_list_count] = m.offset + head.offset;
		layout->gc_list_names[layout->gc_list_count++] = "young";
		layout->gc_next_has_flag_bits = true;
		if (!ph_dwarf_member(state, "old", &m)) {
			r->err = ph_error_new(PH_EXIT_UNSUPPORTED, "gc state has 'young' but no 'old'");
			return;
		}
		array_name = "old";
		names = old_names;
	} else {
		r->err = ph_error_new(PH_EXIT_UNSUPPORTED,
				      "the GC state has neither 'generations' nor 'young'/'old'");
		return;
	}
	(void)array_name;
	if (!ph_dwarf_array(&m.type, &element, &count) || count == 0 || count > 4 ||
	    !ph_dwarf_size(&element, &element_size)) {
		r->err = ph_error_new(PH_EXIT_UNSUPPORTED, "unexpected GC generation array in DWARF");
		return;
	}
	struct ph_member head;
	if (!ph_dwarf_member(&element, "head", &head)) {
		r->err = ph_error_new(PH_EXIT_UNSUPPORTED, "GC generation has no 'head'");
		return;
	}
	for (uint64_t i = 0; i < count; i++) {
		layout->gc_list_heads[layout->gc_list_count] = m.offset + i * element_size + head.offset;
		layout->gc_list_names[layout->gc_list_count++] = names[i];
	}
	if (ph_dwarf_member(state, "permanent_generation.head", &m)) {
		layout->gc_list_heads[layout->gc_list_count] = m.offset;
		layout->gc_list_names[layout->gc_list_count++] = "permanent";
	}
	layout->gc_collecting = ph_dwarf_member(state, "collecting", &m) ? m.offset : PH_ABSENT;
}

struct ph_error *ph_layout_resolve(struct ph_image *image, struct ph_layout **out)
{
	struct ph_layout *layout = calloc(1, sizeof(*layout));
	if (!layout)
		return &ph_error_out_of_memory;
	struct resolver r = {NULL, NULL};
	struct ph_error *err = ph_type_index_build(image->dwarf, wanted_types,
						   sizeof(wanted_types) / sizeof(wanted_types[0]),
						   &r.index);
	if (err) {
		free(layout);
		return err;
	}
	layout->pointer_size = 8;

	/* Free-threaded builds have no GC lists: objects live in mimalloc's
	 * per-thread heaps (python/mimalloc_walk.c). */
	layout->free_threaded = member(&r, "PyObject", "ob_tid", false) != PH_ABSENT;

	layout->runtime_interpreters_head = member(&r, "_PyRuntimeState", "interpreters.head", true);
	layout->runtime_gc = member(&r, "_PyRuntimeState", "gc", false);
	layout->runtime_debug_offsets_version =
	    member(&r, "_PyRuntimeState", "debug_offsets.version", false);
	layout->interp_next = member(&r, "PyInterpreterState", "next", true);
	layout->interp_gc = member(&r, "PyInterpreterState", "gc", false);
	layout->interp_sysdict = member(&r, "PyInterpreterState", "sysdict", true);

	Dwarf_Die owner, gc_state;
	struct ph_member gc_member;
	const char *owner_name =
	    layout->runtime_gc != PH_ABSENT ? "_PyRuntimeState" : "PyInterpreterState";
	if (!r.err && layout->runtime_gc == PH_ABSENT && layout->interp_gc == PH_ABSENT)
		r.err = ph_error_new(PH_EXIT_UNSUPPORTED,
				     "neither _PyRuntimeState nor PyInterpreterState has a 'gc' member");
	if (type_die(&r, owner_name, &owner, true) && ph_dwarf_member(&owner, "gc", &gc_member)) {
		gc_state = gc_member.type;
		resolve_gc_lists(&r, layout, &gc_state);
	}

	layout->gc_head_size = size_of(&r, "PyGC_Head", true);
	layout->gc_next = member(&r, "PyGC_Head", "_gc_next", true);
	layout->gc_prev = member(&r, "PyGC_Head", "_gc_prev", true);
	if (layout->free_threaded) {
		/* The GC state keeps its list heads there, unused; the walk
		 * reports objects by where in mimalloc it found them. */
		layout->gc_list_count = PH_MIMALLOC_SOURCES;
		for (unsigned i = 0; i < PH_MIMALLOC_SOURCES; i++) {
			layout->gc_list_names[i] = ph_mimalloc_source_names[i];
			layout->gc_list_heads[i] = 0;
		}
		layout->gc_head_size = 0;
	}

	layout->ob_refcnt = member(&r, "PyObject", "ob_refcnt", !layout->free_threaded);
	layout->ob_type = member(&r, "PyObject", "ob_type", true);
	layout->ob_size = member(&r, "PyVarObject", "ob_size", true);

	layout->tp_name = member(&r, "PyTypeObject", "tp_name", true);
	layout->tp_basicsize = member(&r, "PyTypeObject", "tp_basicsize", true);
	layout->tp_itemsize = member(&r, "PyTypeObject", "tp_itemsize", true);
	layout->tp_flags = member(&r, "PyTypeObject", "tp_flags", true);
	layout->tp_dict = member(&r, "PyTypeObject", "tp_dict", true);
	layout->tp_base = member(&r, "PyTypeObject", "tp_base", true);
	layout->tp_dictoffset = member(&r, "PyTypeObject", "tp_dictoffset", true);
	layout->heaptype_size = size_of(&r, "PyHeapTypeObject", true);
	layout->ht_name = member(&r, "PyHeapTypeObject", "ht_name", true);
	layout->ht_qualname = member(&r, "PyHeapTypeObject", "ht_qualname", true);

	layout->ascii_size = size_of(&r, "PyASCIIObject", true);
	layout->compact_size = size_of(&r, "PyCompactUnicodeObject", true);
	layout->unicode_size = size_of(&r, "PyUnicodeObject", true);
	layout->str_length = member(&r, "PyASCIIObject", "length", true);
	layout->str_kind = bitfield(&r, "PyASCIIObject", "state.kind");
	layout->str_compact = bitfield(&r, "PyASCIIObject", "state.compact");
	layout->str_ascii = bitfield(&r, "PyASCIIObject", "state.ascii");
	layout->str_utf8_length = member(&r, "PyCompactUnicodeObject", "utf8_length", true);
	layout->str_utf8 = member(&r, "PyCompactUnicodeObject", "utf8", true);
	layout->str_wstr = member(&r, "PyASCIIObject", "wstr", false);
	layout->str_wstr_length = member(&r, "PyCompactUnicodeObject", "wstr_length", false);
	layout->str_data_any = member(&r, "PyUnicodeObject", "data.any", true);

	layout->dict_size = size_of(&r, "PyDictObject", true);
	layout->ma_used = member(&r, "PyDictObject", "ma_used", true);
	layout->ma_keys = member(&r, "PyDictObject", "ma_keys", true);
	layout->ma_values = member(&r, "PyDictObject", "ma_values", true);
	layout->keys_size = size_of(&r, "_dictkeysobject", true);
	layout->dk_refcnt = member(&r, "_dictkeysobject", "dk_refcnt", true);
	layout->dk_usable = member(&r, "_dictkeysobject", "dk_usable", true);
	layout->dk_nentries = member(&r, "_dictkeysobject", "dk_nentries", true);
	layout->dk_indices = member(&r, "_dictkeysobject", "dk_indices", true);
	layout->dk_size = member(&r, "_dictkeysobject", "dk_size", false);
	layout->dk_log2_size = member(&r, "_dictkeysobject", "dk_log2_size", false);
	layout->dk_log2_index_bytes = member(&r, "_dictkeysobject", "dk_log2_index_bytes", false);
	layout->dk_kind = member(&r, "_dictkeysobject", "dk_kind", false);
	if (!r.err && layout->dk_size == PH_ABSENT &&
	    (layout->dk_log2_size == PH_ABSENT || layout->dk_log2_index_bytes == PH_ABSENT))
		r.err = ph_error_new(PH_EXIT_UNSUPPORTED,
				     "PyDictKeysObject has neither dk_size nor dk_log2_size");
	layout->entry_size = size_of(&r, "PyDictKeyEntry", true);
	layout->entry_key = member(&r, "PyDictKeyEntry", "me_key", true);
	layout->entry_value = member(&r, "PyDictKeyEntry", "me_value", true);
	bool unicode_entries = layout->dk_kind != PH_ABSENT;
	layout->unicode_entry_size = size_of(&r, "PyDictUnicodeEntry", unicode_entries);
	layout->unicode_entry_key = member(&r, "PyDictUnicodeEntry", "me_key", unicode_entries);
	layout->unicode_entry_value = member(&r, "PyDictUnicodeEntry", "me_value", unicode_entries);
	layout->dict_values_values = member(&r, "_dictvalues", "values", unicode_entries);

	layout->tp_traverse = member(&r, "PyTypeObject", "tp_traverse", true);
	layout->list_items = member(&r, "PyListObject", "ob_item", true);
	layout->tuple_items = member(&r, "PyTupleObject", "ob_item", true);
	layout->set_mask = member(&r, "PySetObject", "mask", true);
	layout->set_table = member(&r, "PySetObject", "table", true);
	layout->setentry_size = size_of(&r, "setentry", true);
	layout->setentry_key = member(&r, "setentry", "key", true);
	layout->bytes_sval = member(&r, "PyBytesObject", "ob_sval", false);
	if (!r.err)
		r.err = ph_sizeof_layout_resolve(r.index, &layout->sizes);
	if (!r.err)
		r.err = ph_ref_layout_resolve(r.index, layout, &layout->refs);
	if (!r.err)
		r.err = ph_mimalloc_layout_resolve(r.index, &layout->mimalloc);

	ph_type_index_free(r.index);
	if (r.err) {
		ph_layout_free(layout);
		return r.err;
	}
	*out = layout;
	return NULL;
}

void ph_layout_free(struct ph_layout *layout)
{
	if (!layout)
		return;
	ph_sizeof_layout_free(layout->sizes);
	ph_ref_layout_free(layout->refs);
	ph_mimalloc_layout_free(layout->mimalloc);
	free(layout);
}
