/* Queries over DWARF type information: find named types, member offsets
 * (through anonymous structs/unions and bitfields), sizes, array bounds.
 * Only the layout resolver uses this; everything else reads the resolved
 * table in layout.h. */
#ifndef PYHEAP_DWARF_TYPES_H
#define PYHEAP_DWARF_TYPES_H

#include <elfutils/libdw.h>
#include <stdbool.h>
#include <stdint.h>

#include "pyheap/error.h"

struct ph_type_index;

/* Scans the top-level DIEs of every unit once and records the first
 * complete definition of each wanted name (struct/union tag or typedef,
 * or an enumerator of any enum). */
struct ph_error *ph_type_index_build(Dwarf *dwarf, const char *const *names, size_t count,
				     struct ph_type_index **out);
void ph_type_index_free(struct ph_type_index *index);
/* The definition for name, typedefs and qualifiers peeled; false if absent. */
bool ph_type_index_lookup(struct ph_type_index *index, const char *name, Dwarf_Die *out);

/* Offset of path in the named type, or UINT64_MAX when either is missing. */
uint64_t ph_type_index_offset(struct ph_type_index *index, const char *type, const char *path);
/* Whether path in the named type is a struct or union (typedefs peeled):
 * tells a tagged _PyStackRef (3.14+) from a plain PyObject pointer. False
 * when either is missing. */
bool ph_type_index_member_is_aggregate(struct ph_type_index *index, const char *type,
				       const char *path);
/* The value of an enumerator whose name was one of the wanted names. */
bool ph_type_index_enumerator(struct ph_type_index *index, const char *name, int64_t *value);
/* sizeof the named type, or UINT64_MAX. */
uint64_t ph_type_index_size(struct ph_type_index *index, const char *type);

struct ph_member {
	uint64_t offset;  /* bytes from the start of the outer type */
	int bit_offset;   /* bitfields: bits from `offset`; -1 otherwise */
	int bit_size;
	Dwarf_Die type;   /* typedefs and qualifiers peeled */
};

/* Resolves "a.b.c" inside type; false if any component is missing. */
bool ph_dwarf_member(Dwarf_Die *type, const char *path, struct ph_member *out);
/* sizeof(type), or false. */
bool ph_dwarf_size(Dwarf_Die *type, uint64_t *out);
/* For an array type: the element type and its number of elements. */
bool ph_dwarf_array(Dwarf_Die *type, Dwarf_Die *element, uint64_t *count);
/* Peels typedef/const/volatile. */
void ph_dwarf_peel(Dwarf_Die *type);
/* Follows a pointer type to what it points at (peeled); false if not a pointer. */
bool ph_dwarf_pointee(Dwarf_Die *type, Dwarf_Die *out);

#endif
