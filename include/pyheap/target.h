/* What every object reader needs: the target's memory (through the block
 * cache), the resolved layout, and the interpreter image. Readers return
 * false for memory that is unmapped or does not look like what it should:
 * target memory is hostile input. */
#ifndef PYHEAP_TARGET_H
#define PYHEAP_TARGET_H

#include <stdbool.h>
#include <stdint.h>

#include "pyheap/image.h"
#include "pyheap/layout.h"
#include "pyheap/memory.h"

struct ph_type_table;

struct ph_target {
	struct ph_block_cache *memory;
	const struct ph_layout *layout;
	const struct ph_image *image;
	uint64_t runtime;       /* address of _PyRuntime */
	uint64_t type_type;     /* address of PyType_Type */
	uint64_t unicode_type;  /* address of PyUnicode_Type */
	uint64_t dict_type;     /* address of PyDict_Type */
	int version_minor;      /* 8 for 3.8, ...; 0 until known */
	int version_micro;
	/* gh-130327 (3.14.4+): a managed dict is always traversed, and a dict
	 * always visits its values, even when they are an object's inline values */
	bool always_traverse_managed_dict;
	uint64_t async_gen_type;   /* PyAsyncGen_Type */
	bool redact;               /* --redact: no str/bytes contents in the output */
	uint64_t family_types[32]; /* sizeof families' base types, by enum ph_size_family */
	uint64_t ref_types[32];    /* referent families' base types, by enum ph_ref_family */
	uint64_t subtype_traverse; /* the tp_traverse of Python classes, or 0 */
	uint64_t object_type;      /* PyBaseObject_Type */
	uint64_t int_type;         /* PyLong_Type */
	uint64_t set_dummy;        /* the "deleted" marker of set tables */
};

/* Type flags (Include/object.h); stable across 3.8-3.15. */
#define PH_TPFLAGS_MANAGED_DICT (1ul << 4)
#define PH_TPFLAGS_MANAGED_WEAKREF (1ul << 3)
#define PH_TPFLAGS_INLINE_VALUES (1ul << 2)
#define PH_TPFLAGS_HEAPTYPE (1ul << 9)
#define PH_TPFLAGS_HAVE_GC (1ul << 14)
#define PH_TPFLAGS_LONG_SUBCLASS (1ul << 24)
#define PH_TPFLAGS_LIST_SUBCLASS (1ul << 25)
#define PH_TPFLAGS_TUPLE_SUBCLASS (1ul << 26)
#define PH_TPFLAGS_BYTES_SUBCLASS (1ul << 27)
#define PH_TPFLAGS_UNICODE_SUBCLASS (1ul << 28)
#define PH_TPFLAGS_DICT_SUBCLASS (1ul << 29)
#define PH_TPFLAGS_BASE_EXC_SUBCLASS (1ul << 30)
#define PH_TPFLAGS_TYPE_SUBCLASS (1ul << 31)

static inline bool ph_read(const struct ph_target *t, uint64_t addr, void *buf, size_t len)
{
	return ph_cache_read(t->memory, addr, buf, len);
}

static inline bool ph_read_u64(const struct ph_target *t, uint64_t addr, uint64_t *out)
{
	return ph_cache_read(t->memory, addr, out, sizeof(*out));
}

static inline bool ph_read_i64(const struct ph_target *t, uint64_t addr, int64_t *out)
{
	return ph_cache_read(t->memory, addr, out, sizeof(*out));
}

static inline bool ph_read_u32(const struct ph_target *t, uint64_t addr, uint32_t *out)
{
	return ph_cache_read(t->memory, addr, out, sizeof(*out));
}

static inline bool ph_read_u8(const struct ph_target *t, uint64_t addr, uint8_t *out)
{
	return ph_cache_read(t->memory, addr, out, sizeof(*out));
}

/* Reads a bitfield relative to a struct at base. */
static inline bool ph_read_bitfield(const struct ph_target *t, uint64_t base,
				    const struct ph_bitfield *field, uint32_t *out)
{
	uint32_t word;
	if (!ph_cache_read(t->memory, base + field->byte, &word, sizeof(word)))
		return false;
	*out = (word >> field->bit) & ((1u << field->width) - 1);
	return true;
}

/* The object's type pointer, or false. */
static inline bool ph_read_ob_type(const struct ph_target *t, uint64_t obj, uint64_t *type)
{
	return ph_read_u64(t, obj + t->layout->ob_type, type);
}

/* Where a managed __dict__ pointer lives (MANAGED_DICT_OFFSET): the word
 * before the GC header, which free-threaded builds do not have. */
static inline uint64_t ph_managed_dict_address(const struct ph_target *t, uint64_t obj)
{
	return obj - t->layout->gc_head_size - 8;
}

/* tp_flags of a type object. */
static inline bool ph_read_type_flags(const struct ph_target *t, uint64_t type, uint64_t *flags)
{
	return ph_read_u64(t, type + t->layout->tp_flags, flags);
}

/* |v| as unsigned: defined for INT64_MIN too, which hostile memory may hold
 * in an ob_size. */
static inline uint64_t ph_magnitude(int64_t v)
{
	return v < 0 ? -(uint64_t)v : (uint64_t)v;
}

/* str objects: decodes into UTF-8 (at most max-1 bytes, NUL-terminated).
 * *truncated says whether the string was longer. False if obj is not a
 * readable str. */
bool ph_str_read(const struct ph_target *t, uint64_t obj, char *buf, size_t max,
		 bool *truncated);
/* The PEP 393 header of a str object. data is where the characters start:
 * inline for compact strings, else the data pointer as read (0 for a legacy
 * string not yet made ready). */
struct ph_str_header {
	uint64_t length;
	uint32_t kind; /* bytes per character: 1, 2 or 4; 0 for a legacy string */
	bool compact, ascii;
	uint64_t data;
};
bool ph_str_header_read(const struct ph_target *t, uint64_t obj, struct ph_str_header *h);
/* Whether obj's type is str or a subclass of it. */
bool ph_is_str(const struct ph_target *t, uint64_t obj);

/* The value of a small int (|value| < 2**60), or false. */
bool ph_int_value(const struct ph_target *t, uint64_t obj, int64_t *value);

/* dict objects: calls visit for every live (key, value) pair; stops early
 * when visit returns false. False if the dict is unreadable. */
typedef bool (*ph_dict_visit_fn)(void *ctx, uint64_t key, uint64_t value);
bool ph_dict_foreach(const struct ph_target *t, uint64_t dict, ph_dict_visit_fn visit, void *ctx);
/* The value stored under a str key, or false. */
bool ph_dict_get_str(const struct ph_target *t, uint64_t dict, const char *key, uint64_t *value);

#endif
