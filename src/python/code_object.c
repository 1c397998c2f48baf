/* Code objects: names of a frame's slots, and of the function. */
#include <stdio.h>
#include <string.h>

#include "../debuginfo/ref_layout.h"
#include "python_code.h"

static int64_t tuple_size(const struct ph_target *t, uint64_t tuple)
{
	int64_t n;
	if (!tuple || !ph_read_i64(t, tuple + t->layout->ob_size, &n) || n < 0 || n > 1 << 20)
		return 0;
	return n;
}

int64_t ph_code_slot_count(const struct ph_target *t, uint64_t code)
{
	const struct ph_ref_layout *r = t->layout->refs;
	int32_t n;
	if (r->co_nlocalsplus != PH_ABSENT)
		return ph_read(t, code + r->co_nlocalsplus, &n, 4) && n >= 0 && n < 1 << 20 ? n : 0;
	uint64_t cells, frees;
	if (r->co_nlocals == PH_ABSENT || !ph_read(t, code + r->co_nlocals, &n, 4) || n < 0 ||
	    n > 1 << 20 || !ph_read_u64(t, code + r->co_cellvars, &cells) ||
	    !ph_read_u64(t, code + r->co_freevars, &frees))
		return 0;
	return n + tuple_size(t, cells) + tuple_size(t, frees);
}

static uint64_t tuple_item(const struct ph_target *t, uint64_t tuple, int64_t i)
{
	uint64_t item = 0;
	if (i < 0 || i >= tuple_size(t, tuple) ||
	    !ph_read_u64(t, tuple + t->layout->tuple_items + (uint64_t)i * 8, &item))
		return 0;
	return item;
}

uint64_t ph_code_slot_name_object(const struct ph_target *t, uint64_t code, int64_t slot)
{
	const struct ph_ref_layout *r = t->layout->refs;
	uint64_t names;
	if (r->co_localsplusnames != PH_ABSENT)
		return ph_read_u64(t, code + r->co_localsplusnames, &names) ? tuple_item(t, names, slot) : 0;
	int32_t nlocals;
	uint64_t cells, frees, varnames;
	if (!ph_read(t, code + r->co_nlocals, &nlocals, 4) ||
	    !ph_read_u64(t, code + r->co_varnames, &varnames) ||
	    !ph_read_u64(t, code + r->co_cellvars, &cells) ||
	    !ph_read_u64(t, code + r->co_freevars, &frees))
		return 0;
	if (slot < nlocals)
		return tuple_item(t, varnames, slot);
	slot -= nlocals;
	if (slot < tuple_size(t, cells))
		return tuple_item(t, cells, slot);
	return tuple_item(t, frees, slot - tuple_size(t, cells));
}

bool ph_code_slot_name(const struct ph_target *t, uint64_t code, int64_t slot, char *buf,
		       size_t size)
{
	uint64_t name = ph_code_slot_name_object(t, code, slot);
	bool cut;
	return name && ph_str_read(t, name, buf, size, &cut);
}

bool ph_code_names(const struct ph_target *t, uint64_t code, char *function, size_t fsize,
		   char *file, size_t file_size)
{
	const struct ph_ref_layout *r = t->layout->refs;
	uint64_t name = 0, filename = 0;
	bool cut;
	function[0] = file[0] = '\0';
	if (r->co_qualname != PH_ABSENT)
		ph_read_u64(t, code + r->co_qualname, &name);
	if (!name && r->co_name != PH_ABSENT)
		ph_read_u64(t, code + r->co_name, &name);
	if (!name || !ph_str_read(t, name, function, fsize, &cut))
		snprintf(function, fsize, "?");
	if (r->co_filename == PH_ABSENT || !ph_read_u64(t, code + r->co_filename, &filename) ||
	    !ph_str_read(t, filename, file, file_size, &cut))
		snprintf(file, file_size, "?");
	return true;
}
