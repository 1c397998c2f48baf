/* Every type object seen during a walk, keyed by address, with its
 * Python-visible qualified name and running totals. */
#ifndef PYHEAP_TYPE_TABLE_H
#define PYHEAP_TYPE_TABLE_H

#include "pyheap/target.h"

struct ph_type_entry {
	uint64_t address;
	uint64_t flags, basicsize, itemsize, base;
	char *name; /* type.__module__ + "." + type.__qualname__ */
	int size_family; /* enum ph_size_family in sizeof.h */
	bool size_exact; /* false when __sizeof__ is not modelled for this type */
	int ref_family;      /* enum ph_ref_family */
	int base_ref_family; /* for instances of Python classes: the C base's family */
	bool python_class;   /* tp_traverse is subtype_traverse */
	uint64_t solid_base; /* Python classes: the first base that is not one */
	uint64_t count;
	uint64_t total_size;
	uint32_t name_string; /* interned in the graph's strings, or PH_NO_STRING */
};

struct ph_type_table {
	struct ph_type_entry *entries;
	size_t count, capacity;
	uint32_t *slots; /* open addressing: entry index + 1, 0 = empty */
	size_t slot_count;
};

void ph_type_table_init(struct ph_type_table *table);
void ph_type_table_free(struct ph_type_table *table);
/* The entry for the type at address, reading and naming it on first
 * sight. NULL when the address is not a readable type object. */
struct ph_type_entry *ph_type_table_get(struct ph_type_table *table, const struct ph_target *t,
					uint64_t address);

/* Names a type as Python would: heap types from __module__ in their dict
 * and ht_qualname, static types by splitting tp_name. */
bool ph_type_name(const struct ph_target *t, uint64_t type, char *buf, size_t size);

#endif
