/* Enumerating an object's referents, labelled, the way its type's
 * tp_traverse would visit them: one file per object family in
 * src/referents/. The visitor decides what becomes of each edge (the graph
 * builder turns targets into nodes). */
#ifndef PYHEAP_REFERENTS_H
#define PYHEAP_REFERENTS_H

#include "pyheap/graph.h"
#include "pyheap/target.h"
#include "pyheap/type_table.h"

/* How a type's referents are found. */
enum ph_ref_family {
	PH_REF_NONE,        /* atomic: str, int, float, bytes, None, ... */
	PH_REF_CONSERVATIVE, /* a C type we do not know: scan its memory */
	PH_REF_DICT,
	PH_REF_LIST,
	PH_REF_TUPLE,
	PH_REF_SET,
	PH_REF_FUNCTION,
	PH_REF_CELL,
	PH_REF_METHOD,
	PH_REF_MODULE,
	PH_REF_TYPE,
	PH_REF_EXCEPTION,
	PH_REF_TRACEBACK,
	PH_REF_FRAME,
	PH_REF_GENERATOR,
	PH_REF_CODE,
	PH_REF_WEAKREF,
	PH_REF_CLASSMETHOD, /* classmethod / staticmethod: cm_callable, cm_dict */
	PH_REF_PROPERTY,
	PH_REF_MEMORYVIEW,      /* memory_traverse: the managed buffer */
	PH_REF_MANAGED_BUFFER,  /* mbuf_traverse: the exporter (a bytes, ...) */
	PH_REF_INSTANCE, /* an instance of a Python class: slots, __dict__, type, then its C base */
	/* C subclasses of dict, list, tuple (defaultdict, OrderedDict, struct
	 * sequences such as sys.float_info): the base's items, then a scan of
	 * the fields the subclass adds */
	PH_REF_DICT_SUBTYPE,
	PH_REF_LIST_SUBTYPE,
	PH_REF_TUPLE_SUBTYPE,
	PH_REF_FAMILY_COUNT,
};

struct ph_referent_visitor {
	const struct ph_target *t;
	void *ctx;
	/* One edge; name is NULL for kinds labelled by number. */
	void (*edge)(struct ph_referent_visitor *v, uint64_t target, enum ph_edge_kind kind,
		     uint64_t number, const char *name);
	/* Set when some referents could not be read (corrupt or racing memory). */
	bool truncated;
	/* Set when the conservative scan was used. */
	bool conservative;
	/* Known tracked objects, for the conservative scan. */
	bool (*is_known_object)(struct ph_referent_visitor *v, uint64_t address);
	/* The interned text of a label, cached by where it comes from: a key
	 * object's repr, a str's text, or a C string's text. The same key
	 * objects recur across millions of dicts and frames. */
	uint32_t (*label)(struct ph_referent_visitor *v, uint64_t source, int style);
	/* An edge whose label is an interned string index. */
	void (*edge_label)(struct ph_referent_visitor *v, uint64_t target, enum ph_edge_kind kind,
			   uint32_t label);
};

enum ph_label_style {
	PH_LABEL_REPR = 0,    /* a dict key: 'text', 42, <type> */
	PH_LABEL_STR = 1,     /* a str object's text (names) */
	PH_LABEL_CSTRING = 2, /* a NUL-terminated C string in the target */
};

/* Fills type->ref_family (and the base family for heap types). */
void ph_referents_classify(const struct ph_target *t, struct ph_type_entry *type);
/* Visits obj's referents. */
void ph_referents_visit(struct ph_referent_visitor *v, uint64_t obj, const struct ph_type_entry *type);

/* Formats a dict key for a label: 'text' for str, digits for small int,
 * <type> otherwise. */
void ph_referents_key_label(const struct ph_target *t, uint64_t key, char *buf, size_t size);

#endif
