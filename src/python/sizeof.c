#include "sizeof.h"

#include <string.h>

#include "../debuginfo/mimalloc_layout.h"
#include "../debuginfo/sizeof_layout.h"

/* Core types are found by their exported symbols. */
static const char *const family_symbols[PH_SIZE_FAMILY_COUNT] = {
    [PH_SIZE_DICT] = "PyDict_Type",
    [PH_SIZE_ODICT] = "PyODict_Type",
    [PH_SIZE_LIST] = "PyList_Type",
    [PH_SIZE_SET] = "PySet_Type",
    [PH_SIZE_FROZENSET] = "PyFrozenSet_Type",
    [PH_SIZE_BYTEARRAY] = "PyByteArray_Type",
    [PH_SIZE_INT] = "PyLong_Type",
    [PH_SIZE_STR] = "PyUnicode_Type",
    [PH_SIZE_TYPE] = "PyType_Type",
    [PH_SIZE_CODE] = "PyCode_Type",
    [PH_SIZE_FRAME] = "PyFrame_Type",
    [PH_SIZE_GENERATOR] = "PyGen_Type",
    [PH_SIZE_COROUTINE] = "PyCoro_Type",
    [PH_SIZE_ASYNC_GENERATOR] = "PyAsyncGen_Type",
};

/* Extension types are found by tp_name (static types, and heap types made
 * from a PyType_Spec, carry "module.Name"). */
static const struct {
	const char *tp_name;
	enum ph_size_family family;
} named_families[] = {
    {"collections.deque", PH_SIZE_DEQUE},
    {"_io.BufferedReader", PH_SIZE_BUFFERED},
    {"_io.BufferedWriter", PH_SIZE_BUFFERED},
    {"_io.BufferedRandom", PH_SIZE_BUFFERED},
    {"_io.BytesIO", PH_SIZE_BYTESIO},
    /* Own __sizeof__ we do not model yet (CPython 3.8-3.14). */
    {"array.array", PH_SIZE_UNMODELLED},
    {"itertools.product", PH_SIZE_UNMODELLED},
    {"itertools.combinations", PH_SIZE_UNMODELLED},
    {"itertools.combinations_with_replacement", PH_SIZE_UNMODELLED},
    {"itertools.permutations", PH_SIZE_UNMODELLED},
    {"_pickle.Pickler", PH_SIZE_UNMODELLED},
    {"_pickle.Unpickler", PH_SIZE_UNMODELLED},
    {"_struct.Struct", PH_SIZE_UNMODELLED},
    {"StgDict", PH_SIZE_UNMODELLED},
    {"Struct", PH_SIZE_UNMODELLED},
    {"xml.etree.ElementTree.Element", PH_SIZE_UNMODELLED},
    {"mmap.mmap", PH_SIZE_UNMODELLED},
    {"decimal.Decimal", PH_SIZE_UNMODELLED},
    {"StgDict", PH_SIZE_UNMODELLED},
    {"_ctypes.CType_Type", PH_SIZE_UNMODELLED},
    {"parser.st", PH_SIZE_UNMODELLED},
};

void ph_sizeof_bind_symbols(struct ph_target *t)
{
	for (int i = 0; i < PH_SIZE_FAMILY_COUNT; i++) {
		t->family_types[i] = 0;
		if (family_symbols[i])
			ph_image_symbol(t->image, family_symbols[i], &t->family_types[i]);
	}
}

/* Whether the family's formula has every offset it needs in this build. */
static bool family_resolved(const struct ph_target *t, enum ph_size_family family)
{
	const struct ph_sizeof_layout *s = t->layout->sizes;
	int minor = t->version_minor;
	switch (family) {
	case PH_SIZE_LIST:
		return s->list_allocated != PH_ABSENT;
	case PH_SIZE_SET:
	case PH_SIZE_FROZENSET:
		return s->set_table != PH_ABSENT && s->set_mask != PH_ABSENT &&
		       s->set_smalltable != PH_ABSENT && s->setentry_size != PH_ABSENT;
	case PH_SIZE_BYTEARRAY:
		return s->bytearray_alloc != PH_ABSENT;
	case PH_SIZE_INT:
		return s->long_lv_tag != PH_ABSENT || s->long_digits != PH_ABSENT;
	case PH_SIZE_TYPE:
		return s->heaptype_cached_keys != PH_ABSENT && s->type_object_size != PH_ABSENT;
	case PH_SIZE_ODICT:
		return s->odict_fast_nodes_size != PH_ABSENT && s->odict_first != PH_ABSENT &&
		       s->odict_node_size != PH_ABSENT;
	case PH_SIZE_FRAME:
		if (s->frame_f_frame == PH_ABSENT)
			return s->frame_size != PH_ABSENT && s->frame_code != PH_ABSENT &&
			       s->co_nlocals != PH_ABSENT && s->co_stacksize != PH_ABSENT &&
			       s->co_cellvars != PH_ABSENT && s->co_freevars != PH_ABSENT;
		return s->frame_data != PH_ABSENT && s->iframe_code != PH_ABSENT &&
		       s->iframe_localsplus != PH_ABSENT &&
		       (s->co_framesize != PH_ABSENT ||
			(s->co_nlocalsplus != PH_ABSENT && s->co_stacksize != PH_ABSENT));
	case PH_SIZE_GENERATOR:
	case PH_SIZE_COROUTINE:
	case PH_SIZE_ASYNC_GENERATOR:
		if (s->gen_iframe == PH_ABSENT)
			return true; /* <= 3.10: object.__sizeof__ */
		return s->iframe_localsplus != PH_ABSENT &&
		       (s->co_framesize != PH_ABSENT ? s->iframe_code != PH_ABSENT
						      : s->gen_code != PH_ABSENT);
	case PH_SIZE_DEQUE:
		return s->deque_leftindex != PH_ABSENT && s->deque_block_size != PH_ABSENT &&
		       s->deque_block_len != PH_ABSENT;
	case PH_SIZE_BUFFERED:
		return s->buffered_buffer != PH_ABSENT && s->buffered_buffer_size != PH_ABSENT;
	case PH_SIZE_BYTESIO:
		return s->bytesio_buf != PH_ABSENT;
	case PH_SIZE_CODE:
		/* a layout file older than these fields cannot say */
		return s->co_code_adaptive != PH_ABSENT || s->co_cell2arg != PH_ABSENT;
	case PH_SIZE_UNMODELLED:
		return false;
	default:
		(void)minor;
		return true;
	}
}

static int named_family(const struct ph_target *t, uint64_t type, uint64_t flags)
{
	uint64_t tp_name;
	char name[128];
	if (!ph_read_u64(t, type + t->layout->tp_name, &tp_name) ||
	    !ph_cache_read_cstring(t->memory, tp_name, name, sizeof(name)))
		return -1;
	/* A Python class's tp_name is its bare name; only C types (static,
	 * or heap types from a spec) carry the dotted module path. */
	if ((flags & PH_TPFLAGS_HEAPTYPE) && !strchr(name, '.') && strcmp(name, "StgDict") != 0 &&
	    strcmp(name, "Struct") != 0)
		return -1;
	for (size_t i = 0; i < sizeof(named_families) / sizeof(named_families[0]); i++)
		if (strcmp(named_families[i].tp_name, name) == 0)
			return named_families[i].family;
	return -1;
}

void ph_sizeof_classify(const struct ph_target *t, struct ph_type_entry *entry)
{
	entry->size_family = PH_SIZE_DEFAULT;
	entry->size_exact = true;
	uint64_t type = entry->address;
	bool c_subclass = false; /* a C type sits between this one and its family's */
	for (int depth = 0; type && depth < 64; depth++) {
		int family = -1;
		for (int f = 0; f < PH_SIZE_FAMILY_COUNT && family < 0; f++)
			if (t->family_types[f] && t->family_types[f] == type)
				family = f;
		uint64_t flags, dict, ignored;
		if (!ph_read_type_flags(t, type, &flags))
			break;
		if (family < 0)
			family = named_family(t, type, flags);
		if (family >= 0) {
			entry->size_family = family;
			entry->size_exact = family_resolved(t, (enum ph_size_family)family);
			/* C metatypes (ctypes' PyCSimpleType...) add their own parts to
			 * a type's __sizeof__ on some versions */
			if (family == PH_SIZE_TYPE && c_subclass)
				entry->size_exact = false;
			return;
		}
		if (!(flags & PH_TPFLAGS_HEAPTYPE))
			c_subclass = true;
		/* A class overriding __sizeof__: only the target could run it. */
		if ((flags & PH_TPFLAGS_HEAPTYPE) && ph_read_u64(t, type + t->layout->tp_dict, &dict) &&
		    dict && ph_dict_get_str(t, dict, "__sizeof__", &ignored)) {
			entry->size_family = PH_SIZE_UNMODELLED;
			entry->size_exact = false;
			return;
		}
		if (!ph_read_u64(t, type + t->layout->tp_base, &type))
			break;
	}
}

/* What sys.getsizeof adds to __sizeof__() (Python/sysmodule.c). */
static uint64_t preheader(const struct ph_target *t, uint64_t obj, const struct ph_type_entry *type)
{
	const struct ph_layout *l = t->layout;
	bool gc = type->flags & PH_TPFLAGS_HAVE_GC;
	uint64_t obj_flags = 0;
	bool obj_is_type = type->flags & PH_TPFLAGS_TYPE_SUBCLASS;
	if (obj_is_type)
		ph_read_type_flags(t, obj, &obj_flags);
	if (t->version_minor <= 10) {
		/* PyObject_IS_GC: metatypes' tp_is_gc says only heap types are GC */
		if (gc && obj_is_type)
			gc = obj_flags & PH_TPFLAGS_HEAPTYPE;
		return gc ? l->gc_head_size : 0;
	}
	if (t->version_minor >= 13 && type->address == t->type_type &&
	    !(obj_flags & PH_TPFLAGS_HEAPTYPE))
		return 0; /* static types have no pre-header */
	uint64_t managed = PH_TPFLAGS_MANAGED_DICT;
	if (t->version_minor >= 12)
		managed |= PH_TPFLAGS_MANAGED_WEAKREF;
	return (gc ? l->gc_head_size : 0) + ((type->flags & managed) ? 2 * l->pointer_size : 0);
}

/* _PyObject_IsUniquelyReferenced: a reference count of one; without the
 * GIL, one local reference and no shared ones (CPython also asks that the
 * calling thread own it: we take the owner to be the thread asking). */
static bool uniquely_referenced(const struct ph_target *t, uint64_t obj)
{
	const struct ph_mimalloc_layout *m = t->layout->mimalloc;
	if (!m) {
		int64_t refcnt;
		return ph_read_i64(t, obj + t->layout->ob_refcnt, &refcnt) && refcnt == 1;
	}
	uint32_t local;
	int64_t shared;
	return ph_read_u32(t, obj + m->ob_ref_local, &local) &&
	       ph_read_i64(t, obj + m->ob_ref_shared, &shared) && local == 1 && shared == 0;
}

static uint64_t object_default(const struct ph_target *t, uint64_t obj,
			       const struct ph_type_entry *type)
{
	uint64_t size = type->basicsize;
	int64_t ob_size;
	if (type->itemsize && ph_read_i64(t, obj + t->layout->ob_size, &ob_size))
		size += (uint64_t)ob_size * type->itemsize;
	return size;
}

static uint64_t usable_fraction(uint64_t n)
{
	return (n << 1) / 3;
}

/* _PyDict_KeysSize of the version; 0 for unreadable keys. */
static uint64_t keys_size(const struct ph_target *t, uint64_t keys)
{
	const struct ph_layout *l = t->layout;
	if (l->dk_size != PH_ABSENT) {
		int64_t size;
		if (!ph_read_i64(t, keys + l->dk_size, &size) || size <= 0)
			return 0;
		uint64_t n = (uint64_t)size;
		uint64_t ixsize = n <= 0xff ? 1 : n <= 0xffff ? 2 : n <= 0xffffffffu ? 4 : 8;
		return l->keys_size + ixsize * n + l->entry_size * usable_fraction(n);
	}
	uint8_t log2_size, log2_index_bytes, kind;
	if (!ph_read_u8(t, keys + l->dk_log2_size, &log2_size) ||
	    !ph_read_u8(t, keys + l->dk_log2_index_bytes, &log2_index_bytes) ||
	    !ph_read_u8(t, keys + l->dk_kind, &kind) || log2_size > 40 || log2_index_bytes > 40)
		return 0;
	uint64_t entry = kind == 0 ? l->entry_size : l->unicode_entry_size;
	return l->keys_size + (1ull << log2_index_bytes) + usable_fraction(1ull << log2_size) * entry;
}

static uint64_t dict_sizeof(const struct ph_target *t, uint64_t obj, uint64_t basicsize)
{
	const struct ph_layout *l = t->layout;
	uint64_t size = basicsize, keys, values;
	int64_t refcnt;
	if (!ph_read_u64(t, obj + l->ma_keys, &keys) || !keys ||
	    !ph_read_u64(t, obj + l->ma_values, &values))
		return size;
	if (values) {
		if (l->dk_size != PH_ABSENT) {
			int64_t n;
			if (ph_read_i64(t, keys + l->dk_size, &n) && n > 0)
				size += usable_fraction((uint64_t)n) * l->pointer_size;
		} else {
			int64_t nentries, usable;
			if (ph_read_i64(t, keys + l->dk_nentries, &nentries) &&
			    ph_read_i64(t, keys + l->dk_usable, &usable) && nentries >= 0 && usable >= 0)
				size += ((uint64_t)nentries + (uint64_t)usable) * l->pointer_size;
		}
	}
	if (ph_read_i64(t, keys + l->dk_refcnt, &refcnt) && refcnt == 1)
		size += keys_size(t, keys);
	return size;
}

/* The code object of a frame/generator's interpreter frame. */
static bool iframe_code(const struct ph_target *t, uint64_t iframe, uint64_t *code)
{
	const struct ph_sizeof_layout *s = t->layout->sizes;
	if (!ph_read_u64(t, iframe + s->iframe_code, code))
		return false;
	if (s->iframe_code_tagged)
		*code &= ~(uint64_t)3;
	return *code != 0;
}

/* Slots of an interpreter frame for code: locals+cells+frees+stack. */
static bool frame_slots(const struct ph_target *t, uint64_t code, uint64_t *slots)
{
	const struct ph_sizeof_layout *s = t->layout->sizes;
	int32_t a, b;
	if (s->co_framesize != PH_ABSENT) {
		/* co_framesize = slots + FRAME_SPECIALS_SIZE */
		uint64_t specials = (s->iframe_size - 1) / t->layout->pointer_size;
		if (!ph_read(t, code + s->co_framesize, &a, 4) || a < 0 || (uint64_t)a < specials)
			return false;
		*slots = (uint64_t)a - specials;
		return true;
	}
	if (!ph_read(t, code + s->co_nlocalsplus, &a, 4) ||
	    !ph_read(t, code + s->co_stacksize, &b, 4) || a < 0 || b < 0)
		return false;
	*slots = (uint64_t)a + (uint64_t)b;
	return true;
}

static int64_t tuple_length(const struct ph_target *t, uint64_t tuple)
{
	int64_t n = 0;
	if (!tuple || !ph_read_i64(t, tuple + t->layout->ob_size, &n) || n < 0)
		return 0;
	return n;
}

static uint64_t frame_sizeof(const struct ph_target *t, uint64_t obj, uint64_t fallback)
{
	const struct ph_sizeof_layout *s = t->layout->sizes;
	uint64_t code, iframe, slots;
	if (s->frame_f_frame == PH_ABSENT) {
		int32_t nlocals, stacksize;
		uint64_t cellvars, freevars;
		if (!ph_read_u64(t, obj + s->frame_code, &code) || !code ||
		    !ph_read(t, code + s->co_nlocals, &nlocals, 4) ||
		    !ph_read(t, code + s->co_stacksize, &stacksize, 4) ||
		    !ph_read_u64(t, code + s->co_cellvars, &cellvars) ||
		    !ph_read_u64(t, code + s->co_freevars, &freevars))
			return fallback;
		/* unsigned: hostile counts wrap instead of overflowing */
		uint64_t extras = (uint64_t)((int64_t)stacksize + nlocals) +
				  (uint64_t)tuple_length(t, cellvars) + (uint64_t)tuple_length(t, freevars);
		return s->frame_size + (extras - 1) * t->layout->pointer_size;
	}
	if (!ph_read_u64(t, obj + s->frame_f_frame, &iframe) || !iframe ||
	    !iframe_code(t, iframe, &code) || !frame_slots(t, code, &slots))
		return fallback;
	return s->frame_data + s->iframe_localsplus + slots * t->layout->pointer_size;
}

static uint64_t generator_sizeof(const struct ph_target *t, uint64_t obj, uint64_t fallback)
{
	const struct ph_sizeof_layout *s = t->layout->sizes;
	uint64_t code, slots;
	if (s->gen_iframe == PH_ABSENT)
		return fallback; /* <= 3.10: object.__sizeof__ */
	bool found = s->co_framesize != PH_ABSENT ? iframe_code(t, obj + s->gen_iframe, &code)
						  : ph_read_u64(t, obj + s->gen_code, &code) && code;
	if (!found || !frame_slots(t, code, &slots))
		return fallback;
	return s->gen_iframe + s->iframe_localsplus + slots * t->layout->pointer_size;
}

static uint64_t str_sizeof(const struct ph_target *t, uint64_t obj, uint64_t fallback)
{
	const struct ph_layout *l = t->layout;
	struct ph_str_header h;
	if (!ph_str_header_read(t, obj, &h))
		return fallback;
	uint64_t n = h.length, size;
	bool compact_ascii = h.compact && h.ascii;
	if (compact_ascii)
		size = l->ascii_size + n + 1;
	else if (h.compact)
		size = l->compact_size + (n + 1) * h.kind;
	else
		size = l->unicode_size + (h.data ? (n + 1) * h.kind : 0);
	if (l->str_wstr != PH_ABSENT) {
		/* <= 3.11: a cached wchar_t copy, unless it is the data itself */
		uint64_t wstr;
		uint64_t wlen = n;
		if (ph_read_u64(t, obj + l->str_wstr, &wstr) && wstr &&
		    (h.kind == 0 || wstr != h.data)) {
			if (!compact_ascii)
				ph_read_u64(t, obj + l->str_wstr_length, &wlen);
			size += (wlen + 1) * 4; /* sizeof(wchar_t) on Linux */
		}
	}
	if (!compact_ascii) {
		uint64_t utf8;
		int64_t utf8_length;
		if (ph_read_u64(t, obj + l->str_utf8, &utf8) && utf8 && utf8 != h.data &&
		    ph_read_i64(t, obj + l->str_utf8_length, &utf8_length))
			size += (uint64_t)utf8_length + 1;
	}
	return size;
}

static uint64_t int_sizeof(const struct ph_target *t, uint64_t obj,
			   const struct ph_type_entry *type, uint64_t fallback)
{
	const struct ph_sizeof_layout *s = t->layout->sizes;
	if (s->long_lv_tag != PH_ABSENT) {
		uint64_t tag;
		if (!ph_read_u64(t, obj + s->long_lv_tag, &tag))
			return fallback;
		uint64_t digits = tag >> 3;
		return type->basicsize + type->itemsize * (digits ? digits : 1);
	}
	int64_t ob_size;
	if (!ph_read_i64(t, obj + t->layout->ob_size, &ob_size))
		return fallback;
	uint64_t digits = ph_magnitude(ob_size);
	if (t->version_minor >= 11 && digits == 0)
		digits = 1;
	return s->long_digits + 4 * digits;
}

/* code.__sizeof__: from 3.11 a variable-size object (rounded up to a
 * pointer, as _PyObject_VAR_SIZE does); before, the struct, the cell to
 * argument map and the opcache; always the co_extra block when set. */
static uint64_t code_sizeof(const struct ph_target *t, uint64_t obj, const struct ph_type_entry *type,
			    uint64_t size)
{
	const struct ph_sizeof_layout *s = t->layout->sizes;
	uint64_t word = t->layout->pointer_size;
	uint64_t pointer;
	if (s->co_code_adaptive != PH_ABSENT) {
		size = (size + word - 1) / word * word;
	} else {
		size = type->basicsize;
		int64_t cells;
		if (s->co_cell2arg != PH_ABSENT && ph_read_u64(t, obj + s->co_cell2arg, &pointer) &&
		    pointer && ph_read_u64(t, obj + s->co_cellvars, &pointer) && pointer &&
		    ph_read_i64(t, pointer + t->layout->ob_size, &cells) && cells > 0)
			size += (uint64_t)cells * word;
		uint64_t cache_size = 0;
		int64_t code_bytes;
		if (s->co_opcache != PH_ABSENT && s->co_opcache_size_bytes <= 8 &&
		    ph_read_u64(t, obj + s->co_opcache, &pointer) && pointer &&
		    ph_read(t, obj + s->co_opcache_size, &cache_size, s->co_opcache_size_bytes) &&
		    ph_read_u64(t, obj + s->co_code, &pointer) && pointer &&
		    ph_read_i64(t, pointer + t->layout->ob_size, &code_bytes) && code_bytes > 0)
			size += (uint64_t)code_bytes / 2 + cache_size * s->opcache_entry_size;
	}
	int64_t extras;
	if (s->co_extra != PH_ABSENT && ph_read_u64(t, obj + s->co_extra, &pointer) && pointer &&
	    ph_read_i64(t, pointer, &extras) && extras > 0 && extras < (1 << 20))
		size += 2 * word + (uint64_t)(extras - 1) * word;
	return size;
}

static uint64_t type_sizeof(const struct ph_target *t, uint64_t obj)
{
	const struct ph_layout *l = t->layout;
	uint64_t flags, cached_keys;
	if (!ph_read_type_flags(t, obj, &flags) || !(flags & PH_TPFLAGS_HEAPTYPE))
		return l->sizes->type_object_size;
	uint64_t size = l->heaptype_size;
	if (ph_read_u64(t, obj + l->sizes->heaptype_cached_keys, &cached_keys) && cached_keys)
		size += keys_size(t, cached_keys);
	return size;
}

uint64_t ph_sizeof_object(const struct ph_target *t, uint64_t obj, const struct ph_type_entry *type)
{
	const struct ph_sizeof_layout *s = t->layout->sizes;
	uint64_t size = object_default(t, obj, type);
	switch ((enum ph_size_family)type->size_family) {
	case PH_SIZE_DICT:
		size = dict_sizeof(t, obj, type->basicsize);
		break;
	case PH_SIZE_ODICT: {
		size = dict_sizeof(t, obj, type->basicsize);
		int64_t fast_nodes, used;
		uint64_t first;
		if (ph_read_i64(t, obj + s->odict_fast_nodes_size, &fast_nodes) && fast_nodes > 0)
			size += (uint64_t)fast_nodes * t->layout->pointer_size;
		if (ph_read_u64(t, obj + s->odict_first, &first) && first &&
		    ph_read_i64(t, obj + t->layout->ma_used, &used) && used > 0)
			size += (uint64_t)used * s->odict_node_size;
		break;
	}
	case PH_SIZE_LIST: {
		int64_t allocated;
		if (ph_read_i64(t, obj + s->list_allocated, &allocated) && allocated >= 0)
			size = type->basicsize + (uint64_t)allocated * t->layout->pointer_size;
		break;
	}
	case PH_SIZE_SET:
	case PH_SIZE_FROZENSET: {
		uint64_t table;
		int64_t mask;
		size = type->basicsize;
		if (ph_read_u64(t, obj + s->set_table, &table) && table != obj + s->set_smalltable &&
		    ph_read_i64(t, obj + s->set_mask, &mask) && mask >= 0)
			size += ((uint64_t)mask + 1) * s->setentry_size;
		break;
	}
	case PH_SIZE_BYTEARRAY: {
		int64_t alloc;
		if (ph_read_i64(t, obj + s->bytearray_alloc, &alloc) && alloc >= 0)
			size = type->basicsize + (uint64_t)alloc;
		break;
	}
	case PH_SIZE_INT:
		size = int_sizeof(t, obj, type, size);
		break;
	case PH_SIZE_STR:
		size = str_sizeof(t, obj, size);
		break;
	case PH_SIZE_TYPE:
		size = type_sizeof(t, obj);
		break;
	case PH_SIZE_CODE:
		size = code_sizeof(t, obj, type, size);
		break;
	case PH_SIZE_FRAME:
		size = frame_sizeof(t, obj, size);
		break;
	case PH_SIZE_GENERATOR:
	case PH_SIZE_COROUTINE:
	case PH_SIZE_ASYNC_GENERATOR:
		size = generator_sizeof(t, obj, size);
		break;
	case PH_SIZE_DEQUE: {
		int64_t leftindex, ob_size;
		if (ph_read_i64(t, obj + s->deque_leftindex, &leftindex) &&
		    ph_read_i64(t, obj + t->layout->ob_size, &ob_size)) {
			uint64_t blocks = ((uint64_t)leftindex + (uint64_t)ob_size + s->deque_block_len - 1) /
					  s->deque_block_len;
			size = type->basicsize + blocks * s->deque_block_size;
		}
		break;
	}
	case PH_SIZE_BUFFERED: {
		uint64_t buffer;
		int64_t buffer_size;
		size = type->basicsize;
		if (ph_read_u64(t, obj + s->buffered_buffer, &buffer) && buffer &&
		    ph_read_i64(t, obj + s->buffered_buffer_size, &buffer_size) && buffer_size > 0)
			size += (uint64_t)buffer_size;
		break;
	}
	case PH_SIZE_BYTESIO: {
		uint64_t buf;
		int64_t length;
		uint8_t shared = 0;
		size = type->basicsize;
		if (s->bytesio_buf_shared != PH_ABSENT &&
		    !ph_read_u8(t, obj + s->bytesio_buf_shared, &shared))
			shared = 1;
		/* the buffer counts unless shared (refcount > 1); it is a bytes
		 * object: PyBytesObject_SIZE + length, no GC header */
		if (!shared && ph_read_u64(t, obj + s->bytesio_buf, &buf) && buf &&
		    uniquely_referenced(t, buf) &&
		    ph_read_i64(t, buf + t->layout->ob_size, &length) && length >= 0) {
			uint64_t bytes_type;
			int64_t basicsize;
			if (ph_read_ob_type(t, buf, &bytes_type) &&
			    ph_read_i64(t, bytes_type + t->layout->tp_basicsize, &basicsize))
				size += (uint64_t)basicsize + (uint64_t)length;
		}
		break;
	}
	default:
		break;
	}
	return size + preheader(t, obj, type);
}
