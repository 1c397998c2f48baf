#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyheap/type_table.h"
#include "pyheap/referents.h"
#include "sizeof.h"

bool ph_type_name(const struct ph_target *t, uint64_t type, char *buf, size_t size)
{
	const struct ph_layout *l = t->layout;
	uint64_t flags;
	if (!ph_read_type_flags(t, type, &flags))
		return false;
	if (flags & PH_TPFLAGS_HEAPTYPE) {
		uint64_t dict, module_obj, qualname_obj;
		char module[512] = "", qualname[512];
		bool cut = false;
		if (!ph_read_u64(t, type + l->ht_qualname, &qualname_obj) ||
		    !ph_str_read(t, qualname_obj, qualname, sizeof(qualname), &cut))
			return false;
		/* type.__module__ of a heap type is whatever its dict holds;
		 * a missing or non-str value is shown as "?". */
		if (!ph_read_u64(t, type + l->tp_dict, &dict) || !dict ||
		    !ph_dict_get_str(t, dict, "__module__", &module_obj) ||
		    !ph_str_read(t, module_obj, module, sizeof(module), &cut))
			snprintf(module, sizeof(module), "?");
		snprintf(buf, size, "%s.%s", module, qualname);
		return true;
	}
	uint64_t tp_name;
	char name[512];
	if (!ph_read_u64(t, type + l->tp_name, &tp_name) ||
	    !ph_cache_read_cstring(t->memory, tp_name, name, sizeof(name)))
		return false;
	const char *dot = strrchr(name, '.');
	if (dot)
		snprintf(buf, size, "%s", name); /* "module.qualname" already */
	else
		snprintf(buf, size, "builtins.%s", name);
	return true;
}

void ph_type_table_init(struct ph_type_table *table)
{
	memset(table, 0, sizeof(*table));
}

void ph_type_table_free(struct ph_type_table *table)
{
	for (size_t i = 0; i < table->count; i++)
		free(table->entries[i].name);
	free(table->entries);
	free(table->slots);
	memset(table, 0, sizeof(*table));
}

static size_t hash_address(uint64_t address, size_t mask)
{
	return (size_t)((address * 0x9E3779B97F4A7C15ull) >> 20) & mask;
}

static bool grow_slots(struct ph_type_table *table)
{
	size_t count = table->slot_count ? table->slot_count * 2 : 1024;
	uint32_t *slots = calloc(count, sizeof(*slots));
	if (!slots)
		return false;
	for (size_t i = 0; i < table->count; i++) {
		size_t at = hash_address(table->entries[i].address, count - 1);
		while (slots[at])
			at = (at + 1) & (count - 1);
		slots[at] = (uint32_t)(i + 1);
	}
	free(table->slots);
	table->slots = slots;
	table->slot_count = count;
	return true;
}

/* A type object is believable when its own type is a type (a metaclass
 * with Py_TPFLAGS_TYPE_SUBCLASS) and its sizes are sane. */
static bool read_type(const struct ph_target *t, uint64_t address, struct ph_type_entry *entry)
{
	const struct ph_layout *l = t->layout;
	uint64_t metatype, metaflags;
	int64_t basicsize, itemsize;
	if (!address || (address & 7) || !ph_read_ob_type(t, address, &metatype) ||
	    !ph_read_type_flags(t, metatype, &metaflags) ||
	    !(metaflags & PH_TPFLAGS_TYPE_SUBCLASS) || !ph_read_type_flags(t, address, &entry->flags) ||
	    !ph_read_i64(t, address + l->tp_basicsize, &basicsize) ||
	    !ph_read_i64(t, address + l->tp_itemsize, &itemsize) ||
	    !ph_read_u64(t, address + l->tp_base, &entry->base) || basicsize <= 0 ||
	    basicsize > (1 << 24) || itemsize < 0 || itemsize > (1 << 16))
		return false;
	entry->address = address;
	entry->basicsize = (uint64_t)basicsize;
	entry->itemsize = (uint64_t)itemsize;
	return true;
}

struct ph_type_entry *ph_type_table_get(struct ph_type_table *table, const struct ph_target *t,
					uint64_t address)
{
	if (table->slot_count == 0 && !grow_slots(table))
		return NULL;
	size_t mask = table->slot_count - 1;
	size_t at = hash_address(address, mask);
	while (table->slots[at]) {
		struct ph_type_entry *entry = &table->entries[table->slots[at] - 1];
		if (entry->address == address)
			return entry;
		at = (at + 1) & mask;
	}
	struct ph_type_entry entry;
	memset(&entry, 0, sizeof(entry));
	if (!read_type(t, address, &entry))
		return NULL;
	char name[1100];
	if (!ph_type_name(t, address, name, sizeof(name)))
		return NULL;
	entry.name = strdup(name);
	if (!entry.name)
		return NULL;
	ph_sizeof_classify(t, &entry);
	ph_referents_classify(t, &entry);
	entry.name_string = PH_NO_STRING;
	if (table->count == table->capacity) {
		size_t capacity = table->capacity ? table->capacity * 2 : 256;
		struct ph_type_entry *grown = realloc(table->entries, capacity * sizeof(*grown));
		if (!grown) {
			free(entry.name);
			return NULL;
		}
		table->entries = grown;
		table->capacity = capacity;
	}
	table->entries[table->count++] = entry;
	if ((table->count + 1) * 2 > table->slot_count) {
		if (!grow_slots(table))
			return NULL;
	} else {
		table->slots[at] = (uint32_t)table->count;
	}
	return &table->entries[table->count - 1];
}
