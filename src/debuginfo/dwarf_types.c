#include "pyheap/dwarf_types.h"

#include <dwarf.h>
#include <stdlib.h>
#include <string.h>

struct index_entry {
	const char *name;
	bool found;
	Dwarf_Die die;
};

struct ph_type_index {
	struct index_entry *entries;
	size_t count;
};

void ph_dwarf_peel(Dwarf_Die *type)
{
	for (int depth = 0; depth < 64; depth++) {
		int tag = dwarf_tag(type);
		if (tag != DW_TAG_typedef && tag != DW_TAG_const_type && tag != DW_TAG_volatile_type &&
		    tag != DW_TAG_restrict_type && tag != DW_TAG_atomic_type)
			return;
		Dwarf_Attribute attr;
		Dwarf_Die next;
		if (!dwarf_attr(type, DW_AT_type, &attr) || !dwarf_formref_die(&attr, &next))
			return;
		*type = next;
	}
}

static bool is_complete(Dwarf_Die *die)
{
	Dwarf_Die peeled = *die;
	ph_dwarf_peel(&peeled);
	int tag = dwarf_tag(&peeled);
	if (tag != DW_TAG_structure_type && tag != DW_TAG_union_type)
		return false;
	return !dwarf_hasattr(&peeled, DW_AT_declaration);
}

/* Enums are often anonymous (typedef'd, and the typedef dropped when
 * unused): a wanted name may be one of their enumerators, which then finds
 * the enum. Returns how many wanted names it found. */
static size_t index_enumerators(struct ph_type_index *index, Dwarf_Die *enumeration)
{
	Dwarf_Die child;
	size_t found = 0;
	if (dwarf_hasattr(enumeration, DW_AT_declaration) || dwarf_child(enumeration, &child) != 0)
		return 0;
	do {
		const char *name = dwarf_diename(&child);
		if (dwarf_tag(&child) != DW_TAG_enumerator || !name)
			continue;
		for (size_t i = 0; i < index->count; i++) {
			struct index_entry *e = &index->entries[i];
			if (e->found || strcmp(e->name, name) != 0)
				continue;
			e->die = *enumeration;
			e->found = true;
			found++;
		}
	} while (dwarf_siblingof(&child, &child) == 0);
	return found;
}

struct ph_error *ph_type_index_build(Dwarf *dwarf, const char *const *names, size_t count,
				     struct ph_type_index **out)
{
	struct ph_type_index *index = calloc(1, sizeof(*index));
	if (!index)
		return &ph_error_out_of_memory;
	index->entries = calloc(count, sizeof(*index->entries));
	if (!index->entries) {
		free(index);
		return &ph_error_out_of_memory;
	}
	index->count = count;
	for (size_t i = 0; i < count; i++)
		index->entries[i].name = names[i];

	size_t missing = count;
	Dwarf_Off offset = 0, next;
	size_t header_size;
	/* NULL type-signature pointers: walk .debug_info, not .debug_types. */
	while (missing > 0 && dwarf_next_unit(dwarf, offset, &next, &header_size, NULL, NULL, NULL,
					      NULL, NULL, NULL) == 0) {
		Dwarf_Die unit, child;
		if (dwarf_offdie(dwarf, offset + header_size, &unit) && dwarf_child(&unit, &child) == 0) {
			do {
				int tag = dwarf_tag(&child);
				if (tag != DW_TAG_structure_type && tag != DW_TAG_typedef &&
				    tag != DW_TAG_union_type && tag != DW_TAG_enumeration_type)
					continue;
				if (tag == DW_TAG_enumeration_type) {
					missing -= index_enumerators(index, &child);
					continue;
				}
				const char *name = dwarf_diename(&child);
				if (!name)
					continue;
				for (size_t i = 0; i < count; i++) {
					struct index_entry *e = &index->entries[i];
					if (e->found || strcmp(e->name, name) != 0)
						continue;
					if (!is_complete(&child))
						break;
					e->die = child;
					ph_dwarf_peel(&e->die);
					e->found = true;
					missing--;
					break;
				}
			} while (dwarf_siblingof(&child, &child) == 0);
		}
		offset = next;
	}
	*out = index;
	return NULL;
}

void ph_type_index_free(struct ph_type_index *index)
{
	if (!index)
		return;
	free(index->entries);
	free(index);
}

bool ph_type_index_lookup(struct ph_type_index *index, const char *name, Dwarf_Die *out)
{
	for (size_t i = 0; i < index->count; i++) {
		if (index->entries[i].found && strcmp(index->entries[i].name, name) == 0) {
			*out = index->entries[i].die;
			return true;
		}
	}
	return false;
}

static bool member_location(Dwarf_Die *member, uint64_t *offset)
{
	Dwarf_Attribute attr;
	if (!dwarf_attr(member, DW_AT_data_member_location, &attr)) {
		*offset = 0; /* union members */
		return true;
	}
	Dwarf_Word value;
	if (dwarf_formudata(&attr, &value) == 0) {
		*offset = value;
		return true;
	}
	/* Old producers encode the offset as DW_OP_plus_uconst. */
	Dwarf_Op *ops;
	size_t nops;
	if (dwarf_getlocation(&attr, &ops, &nops) == 0 && nops == 1 &&
	    ops[0].atom == DW_OP_plus_uconst) {
		*offset = ops[0].number;
		return true;
	}
	return false;
}

/* For a bitfield member, sets out->bit_offset/bit_size and the byte in which
 * the field starts, relative to the struct that declares it. */
static bool member_bits(Dwarf_Die *member, uint64_t location, struct ph_member *out)
{
	Dwarf_Attribute attr;
	Dwarf_Word bit_size, value;
	out->bit_offset = -1;
	out->bit_size = 0;
	out->offset = location;
	if (!dwarf_attr(member, DW_AT_bit_size, &attr) || dwarf_formudata(&attr, &bit_size) != 0)
		return true;
	uint64_t bits;
	if (dwarf_attr(member, DW_AT_data_bit_offset, &attr) && dwarf_formudata(&attr, &value) == 0) {
		bits = value; /* DWARF 4+: from the start of the struct */
	} else if (dwarf_attr(member, DW_AT_bit_offset, &attr) &&
		   dwarf_formudata(&attr, &value) == 0) {
		/* DWARF 2/3: counted from the most significant bit of the
		 * storage unit; we only run on little-endian targets. */
		Dwarf_Word storage;
		if (!dwarf_attr(member, DW_AT_byte_size, &attr) ||
		    dwarf_formudata(&attr, &storage) != 0)
			return false;
		bits = location * 8 + storage * 8 - value - bit_size;
	} else {
		return false;
	}
	out->offset = bits / 8;
	out->bit_offset = (int)(bits % 8);
	out->bit_size = (int)bit_size;
	return true;
}

static bool find_member(Dwarf_Die *type, const char *name, size_t name_len, uint64_t base,
			struct ph_member *out, int depth)
{
	if (depth > 8)
		return false;
	Dwarf_Die peeled = *type, child;
	ph_dwarf_peel(&peeled);
	if (dwarf_child(&peeled, &child) != 0)
		return false;
	do {
		if (dwarf_tag(&child) != DW_TAG_member)
			continue;
		uint64_t offset;
		if (!member_location(&child, &offset))
			continue;
		Dwarf_Attribute attr;
		Dwarf_Die member_type;
		if (!dwarf_attr(&child, DW_AT_type, &attr) || !dwarf_formref_die(&attr, &member_type))
			continue;
		const char *member_name = dwarf_diename(&child);
		if (!member_name) {
			/* Anonymous struct/union: its members belong to us. */
			if (find_member(&member_type, name, name_len, base + offset, out, depth + 1))
				return true;
			continue;
		}
		if (strlen(member_name) != name_len || memcmp(member_name, name, name_len) != 0)
			continue;
		out->type = member_type;
		ph_dwarf_peel(&out->type);
		if (!member_bits(&child, offset, out))
			return false;
		out->offset += base;
		return true;
	} while (dwarf_siblingof(&child, &child) == 0);
	return false;
}

bool ph_dwarf_member(Dwarf_Die *type, const char *path, struct ph_member *out)
{
	Dwarf_Die current = *type;
	uint64_t total = 0;
	const char *component = path;
	for (;;) {
		const char *dot = strchr(component, '.');
		size_t len = dot ? (size_t)(dot - component) : strlen(component);
		struct ph_member found;
		if (!find_member(&current, component, len, 0, &found, 0))
			return false;
		total += found.offset;
		if (!dot) {
			*out = found;
			out->offset = total;
			return true;
		}
		if (found.bit_offset >= 0)
			return false;
		current = found.type;
		component = dot + 1;
	}
}

bool ph_dwarf_size(Dwarf_Die *type, uint64_t *out)
{
	Dwarf_Die peeled = *type;
	ph_dwarf_peel(&peeled);
	Dwarf_Word size;
	if (dwarf_aggregate_size(&peeled, &size) != 0)
		return false;
	*out = size;
	return true;
}

bool ph_dwarf_array(Dwarf_Die *type, Dwarf_Die *element, uint64_t *count)
{
	Dwarf_Die peeled = *type;
	ph_dwarf_peel(&peeled);
	if (dwarf_tag(&peeled) != DW_TAG_array_type)
		return false;
	Dwarf_Attribute attr;
	if (!dwarf_attr(&peeled, DW_AT_type, &attr) || !dwarf_formref_die(&attr, element))
		return false;
	ph_dwarf_peel(element);
	Dwarf_Die sub;
	*count = 0;
	if (dwarf_child(&peeled, &sub) != 0)
		return true; /* flexible array member */
	do {
		if (dwarf_tag(&sub) != DW_TAG_subrange_type)
			continue;
		Dwarf_Word value;
		if (dwarf_attr(&sub, DW_AT_count, &attr) && dwarf_formudata(&attr, &value) == 0)
			*count = value;
		else if (dwarf_attr(&sub, DW_AT_upper_bound, &attr) &&
			 dwarf_formudata(&attr, &value) == 0)
			*count = value + 1;
		return true;
	} while (dwarf_siblingof(&sub, &sub) == 0);
	return true;
}

bool ph_dwarf_pointee(Dwarf_Die *type, Dwarf_Die *out)
{
	Dwarf_Die peeled = *type;
	ph_dwarf_peel(&peeled);
	if (dwarf_tag(&peeled) != DW_TAG_pointer_type)
		return false;
	Dwarf_Attribute attr;
	if (!dwarf_attr(&peeled, DW_AT_type, &attr) || !dwarf_formref_die(&attr, out))
		return false;
	ph_dwarf_peel(out);
	return true;
}

uint64_t ph_type_index_offset(struct ph_type_index *index, const char *type, const char *path)
{
	Dwarf_Die die;
	struct ph_member m;
	if (!ph_type_index_lookup(index, type, &die) || !ph_dwarf_member(&die, path, &m))
		return UINT64_MAX;
	return m.offset;
}

bool ph_type_index_member_is_aggregate(struct ph_type_index *index, const char *type,
				       const char *path)
{
	Dwarf_Die die;
	struct ph_member m;
	if (!ph_type_index_lookup(index, type, &die) || !ph_dwarf_member(&die, path, &m))
		return false;
	int tag = dwarf_tag(&m.type);
	return tag == DW_TAG_structure_type || tag == DW_TAG_union_type;
}

uint64_t ph_type_index_size(struct ph_type_index *index, const char *type)
{
	Dwarf_Die die;
	uint64_t size;
	if (!ph_type_index_lookup(index, type, &die) || !ph_dwarf_size(&die, &size))
		return UINT64_MAX;
	return size;
}

bool ph_type_index_enumerator(struct ph_type_index *index, const char *name, int64_t *value)
{
	Dwarf_Die die, child;
	if (!ph_type_index_lookup(index, name, &die) || dwarf_tag(&die) != DW_TAG_enumeration_type ||
	    dwarf_child(&die, &child) != 0)
		return false;
	do {
		const char *child_name = dwarf_diename(&child);
		Dwarf_Attribute attr;
		Dwarf_Sword signed_value;
		if (dwarf_tag(&child) != DW_TAG_enumerator || !child_name ||
		    strcmp(child_name, name) != 0 || !dwarf_attr(&child, DW_AT_const_value, &attr))
			continue;
		if (dwarf_formsdata(&attr, &signed_value) != 0)
			return false;
		*value = signed_value;
		return true;
	} while (dwarf_siblingof(&child, &child) == 0);
	return false;
}
