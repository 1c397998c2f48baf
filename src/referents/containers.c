/* dict, list, tuple, set/frozenset. */
#include <stdio.h>
#include <string.h>

#include "family.h"
#include "pyheap/safe_text.h"

void ph_referents_key_label(const struct ph_target *t, uint64_t key, char *buf, size_t size)
{
	char text[72];
	bool cut = false;
	if (t->redact && ph_is_str(t, key)) {
		/* the whole string for the hash; its length as Python counts it */
		static char whole[1 << 16];
		int64_t length = 0;
		ph_read_i64(t, key + t->layout->str_length, &length);
		if (ph_str_read(t, key, whole, sizeof(whole), &cut)) {
			ph_redacted(buf, size, whole, strlen(whole));
			return;
		}
		snprintf(buf, size, "<redacted str of %lld characters>", (long long)length);
		return;
	}
	if (ph_str_read(t, key, text, sizeof(text), &cut)) {
		/* repr-like: quotes, and the characters that would break a line */
		size_t o = 0;
		buf[o++] = '\'';
		for (const char *c = text; *c && o + 6 < size; c++) {
			if (*c == '\'' || *c == '\\') {
				buf[o++] = '\\';
				buf[o++] = *c;
			} else if ((unsigned char)*c < 0x20) {
				o += (size_t)snprintf(buf + o, size - o, "\\x%02x", (unsigned char)*c);
			} else {
				buf[o++] = *c;
			}
		}
		if (cut && o + 4 < size) {
			memcpy(buf + o, "...", 3);
			o += 3;
		}
		buf[o++] = '\'';
		buf[o] = '\0';
		return;
	}
	uint64_t type;
	char name[256];
	int64_t value;
	if (ph_read_ob_type(t, key, &type) && type == t->int_type && ph_int_value(t, key, &value)) {
		snprintf(buf, size, "%lld", (long long)value);
		return;
	}
	if (ph_read_ob_type(t, key, &type) && ph_type_name(t, type, name, sizeof(name))) {
		const char *dot = strrchr(name, '.');
		snprintf(buf, size, "<%s>", dot ? dot + 1 : name);
		return;
	}
	snprintf(buf, size, "<?>");
}

struct dict_walk {
	struct ph_referent_visitor *v;
};

static bool visit_entry(void *ctx, uint64_t key, uint64_t value)
{
	struct dict_walk *walk = ctx;
	struct ph_referent_visitor *v = walk->v;
	uint32_t label = v->label(v, key, PH_LABEL_REPR);
	if (label == UINT32_MAX)
		return true;
	v->edge_label(v, key, PH_EDGE_DICT_KEY, label);
	if (value)
		v->edge_label(v, value, PH_EDGE_DICT_VALUE, label);
	return true;
}

void ph_walk_dict(struct ph_referent_visitor *v, uint64_t obj)
{
	const struct ph_target *t = v->t;
	const struct ph_ref_layout *r = t->layout->refs;
	/* Before gh-130327 (3.13, 3.14.0-3.14.3) a dict whose values are an
	 * object's inline values visits none of them: the object does. */
	uint64_t values;
	uint8_t embedded;
	if (!t->always_traverse_managed_dict && r->values_embedded != PH_ABSENT &&
	    ph_read_u64(t, obj + t->layout->ma_values, &values) && values &&
	    ph_read_u8(t, values + r->values_embedded, &embedded) && embedded)
		return;
	struct dict_walk walk = {v};
	if (!ph_dict_foreach(v->t, obj, visit_entry, &walk))
		v->truncated = true;
}

/* Items are read in batches: a 10,000-element list is one copy. */
void ph_walk_sequence(struct ph_referent_visitor *v, uint64_t obj, bool is_list)
{
	const struct ph_layout *l = v->t->layout;
	int64_t n;
	uint64_t items;
	if (!ph_read_i64(v->t, obj + l->ob_size, &n) || n < 0 || n > (1ll << 34)) {
		v->truncated = true;
		return;
	}
	if (is_list) {
		if (!ph_read_u64(v->t, obj + l->list_items, &items)) {
			v->truncated = true;
			return;
		}
	} else {
		items = obj + l->tuple_items;
	}
	uint64_t batch[512];
	for (int64_t start = 0; start < n; start += 512) {
		int64_t count = n - start < 512 ? n - start : 512;
		if (!ph_read(v->t, items + (uint64_t)start * 8, batch, (size_t)count * 8)) {
			v->truncated = true;
			return;
		}
		for (int64_t i = 0; i < count; i++)
			emit(v, batch[i], PH_EDGE_ITEM, (uint64_t)(start + i), NULL);
	}
}

void ph_walk_set(struct ph_referent_visitor *v, uint64_t obj)
{
	const struct ph_layout *l = v->t->layout;
	int64_t mask;
	uint64_t table;
	if (!ph_read_i64(v->t, obj + l->set_mask, &mask) || mask < 0 || mask > (1ll << 34) ||
	    !ph_read_u64(v->t, obj + l->set_table, &table)) {
		v->truncated = true;
		return;
	}
	uint64_t entry[2 * 256];
	uint64_t slots = (uint64_t)mask + 1;
	for (uint64_t start = 0; start < slots; start += 256) {
		uint64_t count = slots - start < 256 ? slots - start : 256;
		if (!ph_read(v->t, table + start * l->setentry_size, entry,
			     (size_t)(count * l->setentry_size))) {
			v->truncated = true;
			return;
		}
		for (uint64_t i = 0; i < count; i++) {
			uint64_t key = entry[i * (l->setentry_size / 8) + l->setentry_key / 8];
			if (key && key != v->t->set_dummy)
				emit(v, key, PH_EDGE_SET_ITEM, 0, NULL);
		}
	}
}
