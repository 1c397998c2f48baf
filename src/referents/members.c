/* Families described by their struct's object members (function, cell,
 * method, module, exception, traceback, weakref, classmethod, property,
 * type, code), the conservative scan, and the dispatch by family. */
#include <string.h>

#include "family.h"

/* Python-level names for C members, where Python has one. */
static const char *const python_names[][2] = {
    {"func_globals", "__globals__"},   {"func_closure", "__closure__"},
    {"func_defaults", "__defaults__"}, {"func_kwdefaults", "__kwdefaults__"},
    {"func_dict", "__dict__"},         {"func_code", "__code__"},
    {"func_module", "__module__"},     {"func_name", "__name__"},
    {"func_qualname", "__qualname__"}, {"func_doc", "__doc__"},
    {"func_annotations", "__annotations__"}, {"func_builtins", "__builtins__"},
    {"func_typeparams", "__type_params__"}, {"func_annotate", "__annotate__"},
    {"im_func", "__func__"},           {"im_self", "__self__"},
    {"ob_ref", "cell_contents"},       {"md_dict", "__dict__"},
    {"traceback", "__traceback__"},    {"context", "__context__"},
    {"cause", "__cause__"},            {"notes", "__notes__"},
    {"dict", "__dict__"},              {"tp_dict", "__dict__"},
    {"tp_mro", "__mro__"},             {"tp_bases", "__bases__"},
    {"tp_base", "__base__"},           {"ht_qualname", "__qualname__"},
    {"ht_name", "__name__"},           {"ht_module", "__module__ object"},
    {"cm_callable", "__func__"},       {"cm_dict", "__dict__"},
    {"prop_get", "fget"},              {"prop_set", "fset"},
    {"prop_del", "fdel"},              {"prop_doc", "__doc__"},
    {"prop_name", "__name__"},         {"wr_callback", "__callback__"},
};

static const char *python_name(const char *member)
{
	for (size_t i = 0; i < sizeof(python_names) / sizeof(python_names[0]); i++)
		if (strcmp(python_names[i][0], member) == 0)
			return python_names[i][1];
	return member;
}

static bool skipped(const char *name, const char *const *skip)
{
	for (; skip && *skip; skip++)
		if (strcmp(*skip, name) == 0)
			return true;
	return false;
}

void ph_emit_object_members(struct ph_referent_visitor *v, uint64_t obj,
			    const struct ph_object_members *members, const char *const *skip)
{
	for (unsigned i = 0; i < members->count; i++) {
		const char *name = members->names[i];
		/* weak references and the object header never keep anything alive */
		if (strstr(name, "weakreflist") || strcmp(name, "ob_type") == 0 ||
		    skipped(name, skip))
			continue;
		emit_member(v, obj, members->offsets[i], python_name(name));
	}
}

void ph_emit_only_members(struct ph_referent_visitor *v, uint64_t obj,
			  const struct ph_object_members *members, const char *const *only)
{
	for (const char *const *name = only; *name; name++)
		for (unsigned i = 0; i < members->count; i++)
			if (strcmp(members->names[i], *name) == 0)
				emit_member(v, obj, members->offsets[i], python_name(*name));
}

/* An extension module's m_traverse visits what its state holds: scan it. */
static void walk_module_state(struct ph_referent_visitor *v, uint64_t obj)
{
	const struct ph_target *t = v->t;
	const struct ph_ref_layout *r = t->layout->refs;
	uint64_t def, state, traverse;
	int64_t size;
	if (r->md_def == PH_ABSENT || r->md_state == PH_ABSENT || r->def_m_size == PH_ABSENT ||
	    r->def_m_traverse == PH_ABSENT || !ph_read_u64(t, obj + r->md_def, &def) || !def ||
	    !ph_read_u64(t, def + r->def_m_traverse, &traverse) || !traverse ||
	    !ph_read_i64(t, def + r->def_m_size, &size) || size <= 0 ||
	    !ph_read_u64(t, obj + r->md_state, &state) || !state)
		return;
	/* offsets in labels are relative to the state, shown from the module */
	ph_walk_conservative(v, state, 0, (uint64_t)size);
}

/* Words in [from, to) that point at a known tracked object. */
void ph_walk_conservative(struct ph_referent_visitor *v, uint64_t obj, uint64_t from, uint64_t to)
{
	if (!v->is_known_object || to <= from || to - from > (1u << 20))
		return;
	v->conservative = true;
	uint64_t words[512];
	for (uint64_t at = from; at < to; at += sizeof(words)) {
		uint64_t len = to - at < sizeof(words) ? to - at : sizeof(words);
		len &= ~(uint64_t)7;
		if (!len || !ph_read(v->t, obj + at, words, (size_t)len))
			return;
		for (uint64_t i = 0; i < len / 8; i++)
			if (words[i] && v->is_known_object(v, words[i]))
				emit(v, words[i], PH_EDGE_CONSERVATIVE, at + i * 8, NULL);
	}
}

/* A C subclass of dict, list or tuple: what its base's traverse visits,
 * the type when it is a heap type (3.9+), and a scan of the fields the
 * subclass adds after the base's struct (defaultdict's default_factory,
 * OrderedDict's instance dict). A tuple's items are its tail: nothing is
 * added after them. */
static void walk_c_subtype(struct ph_referent_visitor *v, uint64_t obj,
			   const struct ph_type_entry *type, int family)
{
	const struct ph_target *t = v->t;
	const struct ph_layout *l = t->layout;
	if (family == PH_REF_DICT_SUBTYPE)
		ph_walk_dict(v, obj);
	else
		ph_walk_sequence(v, obj, family == PH_REF_LIST_SUBTYPE);
	if (!type)
		return;
	uint64_t c_type = type->python_class ? type->solid_base : type->address;
	uint64_t flags = 0, basicsize = 0;
	if (!c_type || !ph_read_type_flags(t, c_type, &flags) ||
	    !ph_read_u64(t, c_type + l->tp_basicsize, &basicsize))
		return;
	if (!type->python_class && (flags & PH_TPFLAGS_HEAPTYPE) && t->version_minor >= 9)
		emit(v, c_type, PH_EDGE_TYPE, 0, NULL);
	uint64_t base_end = family == PH_REF_DICT_SUBTYPE ? l->dict_size
			    : family == PH_REF_LIST_SUBTYPE ? l->list_items + 2 * l->pointer_size
							    : basicsize;
	if (base_end != PH_ABSENT && basicsize > base_end)
		ph_walk_conservative(v, obj, base_end, basicsize);
}

/* A C type whose referents pyheap does not model: scan its memory. */
static void walk_unmodelled(struct ph_referent_visitor *v, uint64_t obj, const struct ph_type_entry *type)
{
	if (!type)
		return;
	/* since 3.9 a heap type's traverse must visit the type */
	if ((type->flags & PH_TPFLAGS_HEAPTYPE) && v->t->version_minor >= 9)
		emit(v, type->address, PH_EDGE_TYPE, 0, NULL);
	/* the scan starts after the object header (ob_type), which is longer
	 * on free-threaded builds */
	ph_walk_conservative(v, obj, v->t->layout->ob_type + 8, type->basicsize);
}

void ph_walk_family(struct ph_referent_visitor *v, uint64_t obj, const struct ph_type_entry *type,
		    int family)
{
	const struct ph_ref_layout *r = v->t->layout->refs;
	static const char *const function_skip[] = {"func_weakreflist", NULL};
	static const char *const weakref_skip[] = {"wr_object", "wr_prev", "wr_next", NULL};
	switch ((enum ph_ref_family)family) {
	case PH_REF_NONE:
		return;
	case PH_REF_DICT:
		ph_walk_dict(v, obj);
		return;
	case PH_REF_LIST:
		ph_walk_sequence(v, obj, true);
		return;
	case PH_REF_TUPLE:
		ph_walk_sequence(v, obj, false);
		return;
	case PH_REF_SET:
		ph_walk_set(v, obj);
		return;
	case PH_REF_FUNCTION:
		ph_emit_object_members(v, obj, &r->function, function_skip);
		return;
	case PH_REF_CELL:
		ph_emit_object_members(v, obj, &r->cell, NULL);
		return;
	case PH_REF_METHOD:
		ph_emit_object_members(v, obj, &r->method, NULL);
		return;
	case PH_REF_MODULE: {
		/* module_traverse: md_dict (and a C module's m_traverse, which
		 * only the module's own code knows) */
		static const char *const only[] = {"md_dict", NULL};
		walk_module_state(v, obj);
		ph_emit_only_members(v, obj, &r->module, only);
		return;
	}
	case PH_REF_EXCEPTION:
		ph_emit_object_members(v, obj, &r->exception, NULL);
		if (type && type->basicsize > r->exception.struct_size && type->ref_family != PH_REF_INSTANCE)
			ph_walk_conservative(v, obj, r->exception.struct_size, type->basicsize);
		return;
	case PH_REF_TRACEBACK:
		ph_emit_object_members(v, obj, &r->traceback, NULL);
		return;
	case PH_REF_WEAKREF:
		ph_emit_object_members(v, obj, &r->weakref, weakref_skip);
		return;
	case PH_REF_CLASSMETHOD:
		ph_emit_object_members(v, obj, &r->classmethod, NULL);
		return;
	case PH_REF_PROPERTY:
		ph_emit_object_members(v, obj, &r->property, NULL);
		return;
	case PH_REF_TYPE: {
		/* type_traverse: names and __slots__ are strings, subclasses
		 * weak references, so only these can be in a cycle */
		static const char *const only[] = {"tp_dict", "tp_cache", "tp_mro", "tp_bases",
						   "tp_base", NULL};
		static const char *const heap_only[] = {"ht_module", NULL};
		ph_emit_only_members(v, obj, &r->type, only);
		uint64_t flags;
		if (ph_read_type_flags(v->t, obj, &flags) && (flags & PH_TPFLAGS_HEAPTYPE))
			ph_emit_only_members(v, obj, &r->heaptype, heap_only);
		return;
	}
	case PH_REF_CODE:
		/* Every member: they keep their objects alive (names, line
		 * tables, local names) whether or not a traverse reports them
		 * (code has none before free-threaded builds, whose
		 * code_traverse visits co_consts only: the others cannot be in
		 * a cycle). */
		ph_emit_object_members(v, obj, &r->code, NULL);
		return;
	case PH_REF_FRAME:
		ph_walk_frame_object(v, obj);
		return;
	case PH_REF_GENERATOR:
		ph_walk_generator(v, obj);
		return;
	case PH_REF_INSTANCE:
		if (type)
			ph_walk_instance(v, obj, type);
		return;
	case PH_REF_MEMORYVIEW:
		/* (a layout file older than these fields: as before) */
		if (r->memoryview_mbuf == PH_ABSENT)
			walk_unmodelled(v, obj, type);
		else
			emit_member(v, obj, r->memoryview_mbuf, "mbuf");
		return;
	case PH_REF_MANAGED_BUFFER:
		/* the exporter, which memoryview.obj returns: often a bytes
		 * (untracked) far bigger than the view that keeps it */
		if (r->mbuf_master_obj == PH_ABSENT)
			walk_unmodelled(v, obj, type);
		else
			emit_member(v, obj, r->mbuf_master_obj, "obj");
		return;
	case PH_REF_CONSERVATIVE:
		walk_unmodelled(v, obj, type);
		return;
	case PH_REF_DICT_SUBTYPE:
	case PH_REF_LIST_SUBTYPE:
	case PH_REF_TUPLE_SUBTYPE:
		walk_c_subtype(v, obj, type, family);
		return;
	case PH_REF_FAMILY_COUNT:
		return;
	}
}

void ph_referents_visit(struct ph_referent_visitor *v, uint64_t obj, const struct ph_type_entry *type)
{
	ph_walk_family(v, obj, type, type->ref_family);
}
