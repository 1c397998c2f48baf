#include "pyheap/layout_file.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "../util.h"
#include "layout_fields.h"
#include "pyheap/json_writer.h"
#include "mimalloc_layout.h"
#include "ref_layout.h"
#include "sizeof_layout.h"

static const char *const layout_symbols[] = {PH_LAYOUT_SYMBOLS};

static void put_u64(struct ph_json_writer *w, const char *name, uint64_t value)
{
	ph_json_key(w, name);
	if (value == PH_ABSENT)
		ph_json_int(w, -1);
	else
		ph_json_uint(w, value);
}

static void put_members(struct ph_json_writer *w, const char *name,
			const struct ph_object_members *m)
{
	ph_json_key(w, name);
	ph_json_begin_object(w);
	ph_json_key(w, "struct_size");
	ph_json_uint(w, m->struct_size);
	ph_json_key(w, "members");
	ph_json_begin_array(w);
	for (unsigned i = 0; i < m->count; i++) {
		ph_json_begin_array(w);
		ph_json_string(w, m->names[i]);
		ph_json_uint(w, m->offsets[i]);
		ph_json_end_array(w);
	}
	ph_json_end_array(w);
	ph_json_end_object(w);
}

struct ph_error *ph_layout_file_write(const struct ph_image *image, const struct ph_layout *l,
				      FILE *out)
{
	const struct ph_sizeof_layout *s = l->sizes;
	const struct ph_ref_layout *r = l->refs;
	struct ph_json_writer w;
	ph_json_init(&w, out, true);
	ph_json_begin_object(&w);
	ph_json_key(&w, "format");
	ph_json_string(&w, "pyheap-layout");
	ph_json_key(&w, "version");
	ph_json_int(&w, 1);
	ph_json_key(&w, "build_id");
	ph_json_string(&w, image->build_id);
	ph_json_key(&w, "file");
	ph_json_string(&w, image->path);
	ph_json_key(&w, "python");
	ph_json_string(&w, image->soname_version);
	ph_json_key(&w, "debuginfo");
	ph_json_string(&w, image->debuginfo ? image->debuginfo : "");

	ph_json_key(&w, "layout");
	ph_json_begin_object(&w);
#define U64(f) put_u64(&w, #f, l->f);
#define BOOL(f) ph_json_key(&w, #f), ph_json_bool(&w, l->f);
#define BITS(f)                                                                              \
	ph_json_key(&w, #f), ph_json_begin_array(&w), ph_json_uint(&w, l->f.byte),           \
	    ph_json_int(&w, l->f.bit), ph_json_int(&w, l->f.width), ph_json_end_array(&w);
	PH_LAYOUT_U64_FIELDS(U64)
	PH_LAYOUT_BOOL_FIELDS(BOOL)
	PH_LAYOUT_BITFIELDS(BITS)
#undef U64
#undef BOOL
#undef BITS
	ph_json_key(&w, "gc_lists");
	ph_json_begin_array(&w);
	for (unsigned i = 0; i < l->gc_list_count; i++) {
		ph_json_begin_array(&w);
		ph_json_string(&w, l->gc_list_names[i]);
		ph_json_uint(&w, l->gc_list_heads[i]);
		ph_json_end_array(&w);
	}
	ph_json_end_array(&w);
	ph_json_end_object(&w);

	ph_json_key(&w, "sizes");
	ph_json_begin_object(&w);
#define U64(f) put_u64(&w, #f, s->f);
#define BOOL(f) ph_json_key(&w, #f), ph_json_bool(&w, s->f);
	PH_SIZEOF_U64_FIELDS(U64)
	PH_SIZEOF_U64_LATER_FIELDS(U64)
	PH_SIZEOF_BOOL_FIELDS(BOOL)
#undef U64
#undef BOOL
	ph_json_end_object(&w);

	ph_json_key(&w, "referents");
	ph_json_begin_object(&w);
#define U64(f) put_u64(&w, #f, r->f);
#define BOOL(f) ph_json_key(&w, #f), ph_json_bool(&w, r->f);
#define MEMBERS(f) put_members(&w, #f, &r->f);
	PH_REF_U64_FIELDS(U64)
	PH_REF_OPTIONAL_U64_FIELDS(U64)
	PH_REF_BOOL_FIELDS(BOOL)
	PH_REF_MEMBER_LISTS(MEMBERS)
#undef U64
#undef BOOL
#undef MEMBERS
	ph_json_end_object(&w);

	if (l->mimalloc) {
		const struct ph_mimalloc_layout *m = l->mimalloc;
		ph_json_key(&w, "mimalloc");
		ph_json_begin_object(&w);
#define U64(f) put_u64(&w, #f, m->f);
#define BITS(f)                                                                              \
	ph_json_key(&w, #f), ph_json_begin_array(&w), ph_json_uint(&w, m->f.byte),           \
	    ph_json_int(&w, m->f.bit), ph_json_int(&w, m->f.width), ph_json_end_array(&w);
		PH_MIMALLOC_U64_FIELDS(U64)
		PH_MIMALLOC_BITFIELDS(BITS)
#undef U64
#undef BITS
		ph_json_end_object(&w);
	}

	/* symbols as offsets from the module's start: valid wherever it loads */
	ph_json_key(&w, "symbols");
	ph_json_begin_object(&w);
	for (size_t i = 0; i < sizeof(layout_symbols) / sizeof(layout_symbols[0]); i++) {
		uint64_t address;
		if (ph_image_symbol(image, layout_symbols[i], &address) && address >= image->load_address) {
			ph_json_key(&w, layout_symbols[i]);
			ph_json_uint(&w, address - image->load_address);
		}
	}
	ph_json_end_object(&w);
	ph_json_end_object(&w);
	if (!ph_json_finish(&w))
		return ph_error_new(PH_EXIT_OUTPUT, "writing the layout failed");
	return NULL;
}

static struct ph_error *bad(const char *path, const char *what)
{
	return ph_error_new(PH_EXIT_BAD_INPUT, "%s is not a valid pyheap layout file: %s", path, what);
}

static bool get_u64(const cJSON *object, const char *name, uint64_t *out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
	if (!cJSON_IsNumber(item))
		return false;
	if (item->valuedouble == -1) {
		*out = PH_ABSENT;
		return true;
	}
	return ph_double_to_u64(item->valuedouble, 1ull << 40, out);
}

/* A field newer than some layout files: absent when the file lacks it. */
static bool get_optional_u64(const cJSON *object, const char *name, uint64_t *out)
{
	if (!cJSON_GetObjectItemCaseSensitive(object, name)) {
		*out = PH_ABSENT;
		return true;
	}
	return get_u64(object, name, out);
}

static bool get_bool(const cJSON *object, const char *name, bool *out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
	if (!cJSON_IsBool(item))
		return false;
	*out = cJSON_IsTrue(item);
	return true;
}

static bool get_bits(const cJSON *object, const char *name, struct ph_bitfield *out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
	if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) != 3)
		return false;
	const cJSON *a = cJSON_GetArrayItem(item, 0), *b = cJSON_GetArrayItem(item, 1),
		    *c = cJSON_GetArrayItem(item, 2);
	uint64_t byte;
	if (!cJSON_IsNumber(a) || !cJSON_IsNumber(b) || !cJSON_IsNumber(c) ||
	    !ph_double_to_u64(a->valuedouble, 4096, &byte) || b->valueint < 0 || b->valueint > 7 ||
	    c->valueint < 1 || c->valueint > 24)
		return false;
	*out = (struct ph_bitfield){byte, b->valueint, c->valueint};
	return true;
}

static bool get_members(const cJSON *object, const char *name, struct ph_object_members *out)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(object, name);
	const cJSON *members = cJSON_GetObjectItemCaseSensitive(list, "members");
	memset(out, 0, sizeof(*out));
	if (!get_u64(list, "struct_size", &out->struct_size) || !cJSON_IsArray(members))
		return false;
	const cJSON *m;
	cJSON_ArrayForEach(m, members)
	{
		const cJSON *n = cJSON_GetArrayItem(m, 0), *o = cJSON_GetArrayItem(m, 1);
		uint64_t offset;
		if (out->count == PH_MAX_OBJECT_MEMBERS || !cJSON_IsString(n) || !cJSON_IsNumber(o) ||
		    !ph_double_to_u64(o->valuedouble, 1 << 20, &offset))
			return false;
		out->names[out->count] = strdup(n->valuestring);
		if (!out->names[out->count])
			return false;
		out->offsets[out->count++] = offset;
	}
	return true;
}

static int compare_symbols(const void *a, const void *b)
{
	return strcmp(((const struct ph_symbol *)a)->name, ((const struct ph_symbol *)b)->name);
}

struct ph_error *ph_layout_file_read(const char *path, struct ph_image *image,
				     struct ph_layout **out)
{
	char *text;
	size_t len;
	struct ph_error *err = ph_read_whole_file(path, &text, &len);
	if (err) {
		struct ph_error *wrapped =
		    ph_error_new(PH_EXIT_BAD_INPUT, "cannot read layout file: %s", err->message);
		ph_error_free(err);
		return wrapped;
	}
	err = ph_layout_file_parse(text, len, path, image, out);
	free(text);
	return err;
}

struct ph_error *ph_layout_file_parse(const char *text, size_t len, const char *path,
				      struct ph_image *image, struct ph_layout **out)
{
	struct ph_error *err;
	cJSON *doc = cJSON_ParseWithLength(text, len);
	if (!doc)
		return bad(path, "not JSON");
	const cJSON *format = cJSON_GetObjectItemCaseSensitive(doc, "format");
	const cJSON *version = cJSON_GetObjectItemCaseSensitive(doc, "version");
	const cJSON *build_id = cJSON_GetObjectItemCaseSensitive(doc, "build_id");
	const cJSON *lj = cJSON_GetObjectItemCaseSensitive(doc, "layout");
	const cJSON *sj = cJSON_GetObjectItemCaseSensitive(doc, "sizes");
	const cJSON *rj = cJSON_GetObjectItemCaseSensitive(doc, "referents");
	const cJSON *symbols = cJSON_GetObjectItemCaseSensitive(doc, "symbols");
	const cJSON *mj = cJSON_GetObjectItemCaseSensitive(doc, "mimalloc");
	if (!cJSON_IsString(format) || strcmp(format->valuestring, "pyheap-layout") != 0) {
		cJSON_Delete(doc);
		return bad(path, "\"format\" is not \"pyheap-layout\"");
	}
	if (!cJSON_IsNumber(version) || version->valueint != 1) {
		cJSON_Delete(doc);
		return bad(path, "format version is not 1");
	}
	if (!cJSON_IsString(build_id) || !cJSON_IsObject(lj) || !cJSON_IsObject(sj) ||
	    !cJSON_IsObject(rj) || !cJSON_IsObject(symbols)) {
		cJSON_Delete(doc);
		return bad(path, "build_id, layout, sizes, referents or symbols missing");
	}
	if (strcmp(build_id->valuestring, image->build_id) != 0) {
		err = ph_error_new(PH_EXIT_BAD_INPUT,
				   "layout file %s is for build-id %s, but the target's interpreter %s "
				   "has build-id %s: make one from that build (pyheap layout FILE)",
				   path, build_id->valuestring, image->path,
				   image->build_id[0] ? image->build_id : "(none)");
		cJSON_Delete(doc);
		return err;
	}
	struct ph_layout *l = calloc(1, sizeof(*l));
	struct ph_sizeof_layout *s = calloc(1, sizeof(*s));
	struct ph_ref_layout *r = calloc(1, sizeof(*r));
	if (!l || !s || !r) {
		free(l);
		free(s);
		free(r);
		cJSON_Delete(doc);
		return &ph_error_out_of_memory;
	}
	l->sizes = s;
	l->refs = r;
	bool ok = true;
#define U64(f) ok = ok && get_u64(lj, #f, &l->f);
#define BOOL(f) ok = ok && get_bool(lj, #f, &l->f);
#define BITS(f) ok = ok && get_bits(lj, #f, &l->f);
	PH_LAYOUT_U64_FIELDS(U64)
	PH_LAYOUT_BOOL_FIELDS(BOOL)
	PH_LAYOUT_BITFIELDS(BITS)
#undef U64
#undef BOOL
#undef BITS
#define U64(f) ok = ok && get_u64(sj, #f, &s->f);
#define BOOL(f) ok = ok && get_bool(sj, #f, &s->f);
#define LATER(f) ok = ok && get_optional_u64(sj, #f, &s->f);
	PH_SIZEOF_U64_FIELDS(U64)
	PH_SIZEOF_U64_LATER_FIELDS(LATER)
#undef LATER
	PH_SIZEOF_BOOL_FIELDS(BOOL)
#undef U64
#undef BOOL
#define U64(f) ok = ok && get_u64(rj, #f, &r->f);
#define BOOL(f) ok = ok && get_bool(rj, #f, &r->f);
#define MEMBERS(f) ok = ok && get_members(rj, #f, &r->f);
#define OPTIONAL_U64(f) ok = ok && get_optional_u64(rj, #f, &r->f);
	PH_REF_U64_FIELDS(U64)
	PH_REF_OPTIONAL_U64_FIELDS(OPTIONAL_U64)
	PH_REF_BOOL_FIELDS(BOOL)
	PH_REF_MEMBER_LISTS(MEMBERS)
#undef OPTIONAL_U64
#undef U64
#undef BOOL
#undef MEMBERS
	if (ok && l->free_threaded) {
		/* a free-threaded build is walked through mimalloc: required */
		struct ph_mimalloc_layout *m = calloc(1, sizeof(*m));
		l->mimalloc = m;
		ok = m && cJSON_IsObject(mj);
#define U64(f) ok = ok && get_u64(mj, #f, &m->f);
#define BITS(f) ok = ok && get_bits(mj, #f, &m->f);
		PH_MIMALLOC_U64_FIELDS(U64)
		PH_MIMALLOC_BITFIELDS(BITS)
#undef U64
#undef BITS
		ok = ok && m->page_keys == PH_ABSENT && m->heap_id_gc < m->heap_count &&
		     m->heap_id_gc_pre < m->heap_count && m->segment_slice_max >= 2 &&
		     m->heap_queue_count <= 4096 && m->segment_slice_max <= (1u << 20);
	}
	const cJSON *lists = cJSON_GetObjectItemCaseSensitive(lj, "gc_lists"), *item;
	static const char *const known_lists[] = {"generation0", "generation1", "generation2",
						  "generation3", "permanent", "young",
						  "old0", "old1", "old2", "old3",
						  "heap_gc", "heap_gc_pre", "abandoned_gc",
						  "abandoned_gc_pre"};
	cJSON_ArrayForEach(item, lists)
	{
		const cJSON *name = cJSON_GetArrayItem(item, 0), *offset = cJSON_GetArrayItem(item, 1);
		const char *static_name = NULL;
		for (size_t k = 0; cJSON_IsString(name) && k < PH_ARRAY_SIZE(known_lists); k++)
			if (strcmp(name->valuestring, known_lists[k]) == 0)
				static_name = known_lists[k];
		uint64_t head;
		if (!static_name || !cJSON_IsNumber(offset) || l->gc_list_count == PH_MAX_GC_LISTS ||
		    !ph_double_to_u64(offset->valuedouble, 1 << 20, &head)) {
			ok = false;
			break;
		}
		l->gc_list_names[l->gc_list_count] = static_name;
		l->gc_list_heads[l->gc_list_count++] = head;
	}
	if (!ok || l->gc_list_count == 0 || l->pointer_size != 8) {
		ph_layout_free(l);
		cJSON_Delete(doc);
		return bad(path, "a field is missing or out of range");
	}
	/* the file's symbols, where this image is loaded */
	int count = cJSON_GetArraySize(symbols);
	struct ph_symbol *table = calloc((size_t)count + 1, sizeof(*table));
	size_t names_size = 0;
	cJSON_ArrayForEach(item, symbols) names_size += strlen(item->string) + 1;
	char *names = malloc(names_size + 1);
	if (!table || !names) {
		free(table);
		free(names);
		ph_layout_free(l);
		cJSON_Delete(doc);
		return &ph_error_out_of_memory;
	}
	size_t n = 0, at = 0;
	cJSON_ArrayForEach(item, symbols)
	{
		uint64_t offset;
		if (!cJSON_IsNumber(item) || !ph_double_to_u64(item->valuedouble, 1ull << 40, &offset))
			continue;
		size_t len_name = strlen(item->string) + 1;
		memcpy(names + at, item->string, len_name);
		table[n++] = (struct ph_symbol){names + at, image->load_address + offset, 0};
		at += len_name;
	}
	qsort(table, n, sizeof(*table), compare_symbols);
	free(image->symbols);
	free(image->symbol_names);
	image->symbols = table;
	image->symbol_names = names;
	image->symbol_count = n;
	cJSON_Delete(doc);
	if (!ph_image_symbol(image, "_PyRuntime", &image->runtime_address)) {
		ph_layout_free(l);
		return bad(path, "no _PyRuntime symbol");
	}
	free(image->debuginfo);
	size_t dlen = strlen(path) + 16;
	image->debuginfo = malloc(dlen);
	if (image->debuginfo)
		snprintf(image->debuginfo, dlen, "layout file %s", path);
	*out = l;
	return NULL;
}
