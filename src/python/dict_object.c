/* Iterating dict objects: the keys/entries layouts of 3.8-3.10 (dk_size,
 * one entry kind) and 3.11+ (dk_log2_size, general or unicode entries),
 * combined and split tables. */
#include <stdlib.h>
#include <string.h>

#include "pyheap/target.h"

/* A dict never legitimately holds more than this many entry slots; larger
 * values mean we are reading garbage. */
#define MAX_DICT_ENTRIES (1ull << 32)

struct keys_view {
	uint64_t entries;    /* address of entry 0 */
	uint64_t entry_size;
	uint64_t key_off, value_off;
	int64_t nentries;
};

static bool read_keys(const struct ph_target *t, uint64_t keys, struct keys_view *view)
{
	const struct ph_layout *l = t->layout;
	if (!ph_read_i64(t, keys + l->dk_nentries, &view->nentries) || view->nentries < 0 ||
	    (uint64_t)view->nentries > MAX_DICT_ENTRIES)
		return false;
	uint64_t size;
	if (l->dk_size != PH_ABSENT) {
		int64_t dk_size;
		if (!ph_read_i64(t, keys + l->dk_size, &dk_size) || dk_size <= 0 ||
		    (uint64_t)dk_size > MAX_DICT_ENTRIES)
			return false;
		size = (uint64_t)dk_size;
		uint64_t ixsize = size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffu ? 4 : 8;
		view->entries = keys + l->dk_indices + size * ixsize;
		view->entry_size = l->entry_size;
		view->key_off = l->entry_key;
		view->value_off = l->entry_value;
	} else {
		uint8_t log2_size, log2_index_bytes, kind;
		if (!ph_read_u8(t, keys + l->dk_log2_size, &log2_size) ||
		    !ph_read_u8(t, keys + l->dk_log2_index_bytes, &log2_index_bytes) ||
		    !ph_read_u8(t, keys + l->dk_kind, &kind) || log2_size > 32 ||
		    log2_index_bytes > 35)
			return false;
		size = 1ull << log2_size;
		view->entries = keys + l->dk_indices + (1ull << log2_index_bytes);
		if (kind == 0) { /* DICT_KEYS_GENERAL */
			view->entry_size = l->entry_size;
			view->key_off = l->entry_key;
			view->value_off = l->entry_value;
		} else {
			view->entry_size = l->unicode_entry_size;
			view->key_off = l->unicode_entry_key;
			view->value_off = l->unicode_entry_value;
		}
	}
	return (uint64_t)view->nentries <= size;
}

bool ph_dict_foreach(const struct ph_target *t, uint64_t dict, ph_dict_visit_fn visit, void *ctx)
{
	const struct ph_layout *l = t->layout;
	uint64_t keys, values;
	if (!ph_read_u64(t, dict + l->ma_keys, &keys) || !ph_read_u64(t, dict + l->ma_values, &values))
		return false;
	struct keys_view view;
	if (!keys || !read_keys(t, keys, &view))
		return false;
	uint64_t values_base = 0;
	if (values)
		values_base = values + (l->dict_values_values != PH_ABSENT ? l->dict_values_values : 0);
	enum { BATCH = 256 };
	unsigned char buf[BATCH * 24];
	if (view.entry_size > 24)
		return false;
	for (int64_t start = 0; start < view.nentries; start += BATCH) {
		int64_t n = view.nentries - start < BATCH ? view.nentries - start : BATCH;
		if (!ph_read(t, view.entries + (uint64_t)start * view.entry_size, buf,
			     (size_t)((uint64_t)n * view.entry_size)))
			return false;
		for (int64_t i = 0; i < n; i++) {
			uint64_t key, value;
			memcpy(&key, buf + (uint64_t)i * view.entry_size + view.key_off, 8);
			if (!key)
				continue; /* deleted */
			if (values_base) {
				if (!ph_read_u64(t, values_base + (uint64_t)(start + i) * 8, &value))
					return false;
			} else {
				memcpy(&value, buf + (uint64_t)i * view.entry_size + view.value_off, 8);
			}
			if (!value)
				continue; /* deleted, or a split-table slot not set */
			if (!visit(ctx, key, value))
				return true;
		}
	}
	return true;
}

struct str_lookup {
	const struct ph_target *t;
	const char *wanted;
	size_t wanted_len;
	uint64_t value;
	bool found;
};

static bool match_str_key(void *ctx, uint64_t key, uint64_t value)
{
	struct str_lookup *lookup = ctx;
	char name[256];
	bool truncated = false;
	if (lookup->wanted_len >= sizeof(name))
		return true;
	if (ph_str_read(lookup->t, key, name, sizeof(name), &truncated) && !truncated &&
	    strcmp(name, lookup->wanted) == 0) {
		lookup->value = value;
		lookup->found = true;
		return false;
	}
	return true;
}

bool ph_dict_get_str(const struct ph_target *t, uint64_t dict, const char *key, uint64_t *value)
{
	struct str_lookup lookup = {t, key, strlen(key), 0, false};
	if (!ph_dict_foreach(t, dict, match_str_key, &lookup) || !lookup.found)
		return false;
	*value = lookup.value;
	return true;
}
