/* Instances of Python classes (subtype_traverse): __slots__ of every
 * Python class on the base chain, the instance dict (tp_dictoffset, the
 * 3.11/3.12 managed dict or values, 3.13+ inline values), the class
 * itself, then the C base type's own referents. */
#include <string.h>

#include "../debuginfo/sizeof_layout.h"
#include "family.h"

enum { T_OBJECT = 6, T_OBJECT_EX = 16 };

/* __slots__: the PyMemberDef array a heap type keeps after itself (at
 * its metatype's basicsize), Py_SIZE(type) entries. */
static void walk_slots(struct ph_referent_visitor *v, uint64_t obj, uint64_t type)
{
	const struct ph_target *t = v->t;
	const struct ph_layout *l = t->layout;
	const struct ph_ref_layout *r = l->refs;
	uint64_t metatype;
	int64_t count, meta_basicsize;
	if (r->member_size == PH_ABSENT || !ph_read_ob_type(t, type, &metatype) ||
	    !ph_read_i64(t, metatype + l->tp_basicsize, &meta_basicsize) ||
	    !ph_read_i64(t, type + l->ob_size, &count) || count < 0 || count > 4096)
		return;
	uint64_t members = type + (uint64_t)meta_basicsize;
	for (int64_t i = 0; i < count; i++) {
		uint64_t def = members + (uint64_t)i * r->member_size;
		int32_t kind;
		int64_t offset;
		uint64_t name_ptr, value;
		char name[128];
		if (!ph_read(t, def + r->member_type, &kind, 4) ||
		    !ph_read_i64(t, def + r->member_offset, &offset) ||
		    !ph_read_u64(t, def + r->member_name, &name_ptr)) {
			v->truncated = true;
			return;
		}
		if (kind != T_OBJECT_EX || offset <= 0)
			continue;
		if (!ph_read_u64(t, obj + (uint64_t)offset, &value)) {
			v->truncated = true;
			continue;
		}
		if (!value)
			continue;
		uint32_t label = v->label(v, name_ptr, PH_LABEL_CSTRING);
		if (label != UINT32_MAX) {
			v->edge_label(v, value, PH_EDGE_SLOT, label);
		} else {
			strcpy(name, "?");
			emit(v, value, PH_EDGE_SLOT, 0, name);
		}
	}
}

/* Values of a split or inline table, named by the class's cached keys. */
static void walk_values(struct ph_referent_visitor *v, uint64_t type, uint64_t values_array,
			int64_t count)
{
	const struct ph_target *t = v->t;
	const struct ph_layout *l = t->layout;
	uint64_t keys = 0;
	if (l->sizes->heaptype_cached_keys != PH_ABSENT)
		ph_read_u64(t, type + l->sizes->heaptype_cached_keys, &keys);
	if (count < 0 && (!keys || !ph_read_i64(t, keys + l->dk_nentries, &count)))
		return;
	if (count < 0 || count > 65536)
		return;
	int64_t named = 0;
	uint64_t entries = 0;
	uint8_t log2_index_bytes;
	if (keys && ph_read_i64(t, keys + l->dk_nentries, &named) &&
	    l->dk_log2_index_bytes != PH_ABSENT &&
	    ph_read_u8(t, keys + l->dk_log2_index_bytes, &log2_index_bytes) && log2_index_bytes < 40)
		entries = keys + l->dk_indices + (1ull << log2_index_bytes);
	for (int64_t i = 0; i < count; i++) {
		uint64_t value, key = 0;
		if (!ph_read_u64(t, values_array + (uint64_t)i * 8, &value)) {
			v->truncated = true;
			return;
		}
		if (!value)
			continue;
		uint32_t label = UINT32_MAX;
		if (entries && i < named &&
		    ph_read_u64(t, entries + (uint64_t)i * l->unicode_entry_size + l->unicode_entry_key,
				&key) &&
		    key)
			label = v->label(v, key, PH_LABEL_STR);
		if (label != UINT32_MAX)
			v->edge_label(v, value, PH_EDGE_ATTRIBUTE, label);
		else
			emit(v, value, PH_EDGE_ATTRIBUTE, 0, "?");
	}
}

/* _PyObject_GetDictPtr for a tp_dictoffset (negative: from the end). */
static uint64_t computed_dict_pointer(const struct ph_target *t, uint64_t obj,
				      const struct ph_type_entry *type, int64_t dictoffset)
{
	if (dictoffset < 0) {
		int64_t ob_size = 0;
		if (type->itemsize)
			ph_read_i64(t, obj + t->layout->ob_size, &ob_size);
		uint64_t n = ph_magnitude(ob_size);
		uint64_t size = (type->basicsize + n * type->itemsize + 7) & ~(uint64_t)7;
		return obj + (uint64_t)dictoffset + size; /* unsigned: hostile sizes wrap, not overflow */
	}
	return obj + (uint64_t)dictoffset;
}

/* 3.13+ PyObject_VisitManagedDict. */
static void visit_managed_dict(struct ph_referent_visitor *v, uint64_t obj,
			       const struct ph_type_entry *type)
{
	const struct ph_target *t = v->t;
	const struct ph_ref_layout *r = t->layout->refs;
	uint64_t dict;
	if (!ph_read_u64(t, ph_managed_dict_address(t, obj), &dict)) {
		v->truncated = true;
		return;
	}
	uint8_t valid = 0, capacity = 0;
	uint64_t values = obj + type->basicsize; /* inline values follow the object */
	bool inline_valid = (type->flags & PH_TPFLAGS_INLINE_VALUES) && r->values_valid != PH_ABSENT &&
			    ph_read_u8(t, values + r->values_valid, &valid) && valid &&
			    ph_read_u8(t, values + r->values_capacity, &capacity);
	if (t->always_traverse_managed_dict) {
		if (dict)
			emit(v, dict, PH_EDGE_ATTRIBUTE, 0, "__dict__");
		else if (inline_valid)
			walk_values(v, type->address, values + t->layout->dict_values_values, capacity);
		return;
	}
	if (inline_valid) {
		walk_values(v, type->address, values + t->layout->dict_values_values, capacity);
		return;
	}
	emit(v, dict, PH_EDGE_ATTRIBUTE, 0, "__dict__");
}

/* subtype_traverse's __dict__ part, per version. */
static void walk_instance_dict(struct ph_referent_visitor *v, uint64_t obj,
			       const struct ph_type_entry *type)
{
	const struct ph_target *t = v->t;
	const struct ph_layout *l = t->layout;
	int64_t dictoffset = 0, base_dictoffset = 0;
	ph_read_i64(t, type->address + l->tp_dictoffset, &dictoffset);
	if (type->solid_base)
		ph_read_i64(t, type->solid_base + l->tp_dictoffset, &base_dictoffset);
	bool managed = type->flags & PH_TPFLAGS_MANAGED_DICT;
	int minor = t->version_minor;
	uint64_t word;

	if (minor == 11 && managed) {
		/* values at word -4 are visited whatever the offsets say */
		uint64_t values;
		if (ph_read_u64(t, ph_managed_dict_address(t, obj) - 8, &values) && values)
			walk_values(v, type->address, values + l->dict_values_values, -1);
	}
	if (dictoffset == base_dictoffset)
		return;
	if (managed && minor >= 13) {
		visit_managed_dict(v, obj, type);
		return;
	}
	if (managed && minor == 12) {
		/* PyDictOrValues: odd means a values pointer stored minus one */
		if (!ph_read_u64(t, ph_managed_dict_address(t, obj), &word)) {
			v->truncated = true;
			return;
		}
		if (word & 1)
			walk_values(v, type->address, (word + 1) + l->dict_values_values, -1);
		else
			emit(v, word, PH_EDGE_ATTRIBUTE, 0, "__dict__");
		return;
	}
	uint64_t pointer = managed ? ph_managed_dict_address(t, obj) : computed_dict_pointer(t, obj, type, dictoffset);
	if (!ph_read_u64(t, pointer, &word)) {
		v->truncated = true;
		return;
	}
	emit(v, word, PH_EDGE_ATTRIBUTE, 0, "__dict__");
}

void ph_walk_instance(struct ph_referent_visitor *v, uint64_t obj, const struct ph_type_entry *type)
{
	const struct ph_target *t = v->t;
	/* slots of every Python class on the tp_base chain */
	uint64_t cls = type->address;
	for (int depth = 0; cls && depth < 64; depth++) {
		uint64_t traverse;
		if (!ph_read_u64(t, cls + t->layout->tp_traverse, &traverse) ||
		    traverse != t->subtype_traverse)
			break;
		walk_slots(v, obj, cls);
		if (!ph_read_u64(t, cls + t->layout->tp_base, &cls))
			break;
	}
	walk_instance_dict(v, obj, type);
	/* the class: 3.9+ leaves it to a solid base that is a heap type
	 * with its own traverse */
	bool visit_type = true;
	if (t->version_minor >= 9 && type->solid_base) {
		uint64_t base_flags = 0, base_traverse = 0;
		ph_read_type_flags(t, type->solid_base, &base_flags);
		ph_read_u64(t, type->solid_base + t->layout->tp_traverse, &base_traverse);
		if (base_traverse && (base_flags & PH_TPFLAGS_HEAPTYPE))
			visit_type = false;
	}
	if (visit_type)
		emit(v, type->address, PH_EDGE_TYPE, 0, NULL);
	ph_walk_family(v, obj, type, type->base_ref_family);
}
