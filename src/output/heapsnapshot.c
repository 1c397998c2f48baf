/* The .heapsnapshot writer (include/pyheap/heapsnapshot.h). Field lists
 * and key order are V8's (src/profiler/heap-snapshot-generator.cc,
 * HeapSnapshotJSONSerializer); the DevTools loader streams the file and
 * needs the counts before the arrays and the strings last. */
#include "pyheap/heapsnapshot.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pyheap/json_writer.h"

/* meta.node_types[0], in V8's order: a node's type field indexes it */
enum v8_node_type {
	V8_NODE_HIDDEN = 0,
	V8_NODE_ARRAY = 1,
	V8_NODE_STRING = 2,
	V8_NODE_OBJECT = 3,
	V8_NODE_CODE = 4,
	V8_NODE_CLOSURE = 5,
	V8_NODE_REGEXP = 6,
	V8_NODE_NUMBER = 7,
	V8_NODE_NATIVE = 8,
	V8_NODE_SYNTHETIC = 9,
};

/* meta.edge_types[0] */
enum v8_edge_type {
	V8_EDGE_CONTEXT = 0,
	V8_EDGE_ELEMENT = 1,
	V8_EDGE_PROPERTY = 2,
	V8_EDGE_INTERNAL = 3,
	V8_EDGE_HIDDEN = 4,
	V8_EDGE_SHORTCUT = 5,
	V8_EDGE_WEAK = 6,
};

#define NODE_FIELD_COUNT 7 /* type, name, id, self_size, edge_count, trace_node_id, detachedness */

static const char meta_json[] =
    "{\"node_fields\":[\"type\",\"name\",\"id\",\"self_size\",\"edge_count\",\"trace_node_id\","
    "\"detachedness\"],"
    "\"node_types\":[[\"hidden\",\"array\",\"string\",\"object\",\"code\",\"closure\",\"regexp\","
    "\"number\",\"native\",\"synthetic\",\"concatenated string\",\"sliced string\",\"symbol\","
    "\"bigint\",\"object shape\"],\"string\",\"number\",\"number\",\"number\",\"number\",\"number\"],"
    "\"edge_fields\":[\"type\",\"name_or_index\",\"to_node\"],"
    "\"edge_types\":[[\"context\",\"element\",\"property\",\"internal\",\"hidden\",\"shortcut\","
    "\"weak\"],\"string_or_number\",\"node\"],"
    "\"trace_function_info_fields\":[\"function_id\",\"name\",\"script_name\",\"script_id\","
    "\"line\",\"column\"],"
    "\"trace_node_fields\":[\"id\",\"function_info_index\",\"count\",\"size\",\"children\"],"
    "\"sample_fields\":[\"timestamp_us\",\"last_assigned_id\"],"
    "\"location_fields\":[\"object_index\",\"script_id\",\"line\",\"column\"]}";

/* The string table: a few fixed strings, then the graph's strings, then
 * the names made here (dict keys, conservative offsets), then one name per
 * node; so every index is known before the nodes are written. */
enum fixed_string {
	STRING_DUMMY,    /* V8 starts its table with "<dummy>" */
	STRING_ROOT,     /* the synthetic root's name */
	STRING_CLASS,    /* the name of a type edge */
	STRING_GARBAGE_ITEM, /* a weak edge that would have been an element */
	STRING_ROOT_KINDS, /* then PH_ROOT_KIND_COUNT names of unnamed roots */
};
#define FIXED_STRING_COUNT (STRING_ROOT_KINDS + PH_ROOT_KIND_COUNT)

static const char *const fixed_strings[STRING_ROOT_KINDS] = {
    "<dummy>", "(Python roots)", "__class__", "(item of an unreachable object)"};

/* What is known about one of the graph's strings when it names a type. */
#define TYPE_KNOWN 0x80
#define TYPE_BUILTIN 0x40 /* builtins.*: struct members are C members */
#define TYPE_V8_MASK 0x0f

struct offset_slot {
	uint64_t offset; /* + 1; 0 = empty */
	uint32_t index;
};

struct writer {
	const struct ph_graph *g;
	FILE *out;
	char buffer[1 << 16];
	size_t used;
	uint8_t *type_info;    /* per graph string */
	uint32_t *key_name;    /* per graph string: index + 1 among the key names */
	uint32_t key_names;
	struct offset_slot *offsets; /* conservative offsets, open addressing */
	size_t offset_capacity;
	uint32_t offset_count;
	uint64_t *offset_list; /* in index order */
	uint64_t key_base, offset_base, name_base;
};

static void flush(struct writer *w)
{
	if (w->used)
		fwrite(w->buffer, 1, w->used, w->out);
	w->used = 0;
}

static void put_text(struct writer *w, const char *text)
{
	size_t len = strlen(text);
	if (w->used + len > sizeof(w->buffer))
		flush(w);
	if (len > sizeof(w->buffer)) {
		fwrite(text, 1, len, w->out);
		return;
	}
	memcpy(w->buffer + w->used, text, len);
	w->used += len;
}

static void put_char(struct writer *w, char c)
{
	if (w->used == sizeof(w->buffer))
		flush(w);
	w->buffer[w->used++] = c;
}

static void put_uint(struct writer *w, uint64_t value)
{
	char digits[24];
	int n = 0;
	do {
		digits[n++] = (char)('0' + value % 10);
		value /= 10;
	} while (value);
	if (w->used + (size_t)n > sizeof(w->buffer))
		flush(w);
	while (n)
		w->buffer[w->used++] = digits[--n];
}

static void put_escaped(struct writer *w, const char *text, size_t len)
{
	flush(w);
	ph_json_write_escaped(w->out, text, len);
}

static bool is_one_of(const char *name, const char *const *names)
{
	for (; *names; names++)
		if (strcmp(name, *names) == 0)
			return true;
	return false;
}

/* The V8 node type for a Python type name. V8's own "array" is for its
 * internal backing stores, which CPython objects do not have (a list's
 * item array is part of the list's size), and DevTools folds the size of
 * array and hidden nodes into their owner; so lists, tuples, dicts and
 * sets are objects here, as JavaScript arrays and maps are in V8. */
static uint8_t classify_type(const char *name)
{
	static const char *const strings[] = {"builtins.str", "builtins.bytes", "builtins.bytearray",
					      NULL};
	static const char *const numbers[] = {"builtins.int", "builtins.float", "builtins.complex",
					      "builtins.bool", NULL};
	static const char *const closures[] = {"builtins.function", "builtins.method",
					       "builtins.builtin_function_or_method", NULL};
	uint8_t info = TYPE_KNOWN;
	if (strncmp(name, "builtins.", 9) == 0)
		info |= TYPE_BUILTIN;
	if (is_one_of(name, strings))
		return info | V8_NODE_STRING;
	if (is_one_of(name, numbers))
		return info | V8_NODE_NUMBER;
	if (is_one_of(name, closures))
		return info | V8_NODE_CLOSURE;
	if (strcmp(name, "builtins.code") == 0)
		return info | V8_NODE_CODE;
	if (strcmp(name, "re.Pattern") == 0)
		return info | V8_NODE_REGEXP;
	return info | V8_NODE_OBJECT;
}

static uint8_t type_info(struct writer *w, uint32_t type)
{
	if (type >= w->g->strings.count)
		return TYPE_KNOWN | V8_NODE_OBJECT;
	if (!w->type_info[type])
		w->type_info[type] = classify_type(w->g->strings.items[type]);
	return w->type_info[type];
}

static enum v8_node_type node_type(struct writer *w, const struct ph_node *n)
{
	if (n->flags & PH_NODE_PSEUDO)
		return V8_NODE_HIDDEN; /* an interpreter frame: not an object */
	return (enum v8_node_type)(type_info(w, n->type) & TYPE_V8_MASK);
}

static size_t hash_offset(uint64_t offset, size_t mask)
{
	return (size_t)((offset * 0x9e3779b97f4a7c15ull) >> 17) & mask;
}

static bool grow_offsets(struct writer *w)
{
	size_t capacity = w->offset_capacity ? w->offset_capacity * 2 : 256;
	struct offset_slot *slots = calloc(capacity, sizeof(*slots));
	uint64_t *list = realloc(w->offset_list, capacity / 2 * sizeof(*list));
	if (!slots || !list) {
		free(slots);
		if (list)
			w->offset_list = list;
		return false;
	}
	w->offset_list = list;
	for (size_t i = 0; i < w->offset_capacity; i++) {
		if (!w->offsets[i].offset)
			continue;
		size_t at = hash_offset(w->offsets[i].offset, capacity - 1);
		while (slots[at].offset)
			at = (at + 1) & (capacity - 1);
		slots[at] = w->offsets[i];
	}
	free(w->offsets);
	w->offsets = slots;
	w->offset_capacity = capacity;
	return true;
}

/* The index of a conservative offset among the distinct ones; UINT32_MAX
 * when out of memory. */
static uint32_t offset_index(struct writer *w, uint64_t offset, bool add)
{
	uint64_t key = offset + 1;
	if (add && (size_t)(w->offset_count + 1) * 2 > w->offset_capacity && !grow_offsets(w))
		return UINT32_MAX;
	if (!w->offset_capacity)
		return UINT32_MAX;
	size_t mask = w->offset_capacity - 1;
	size_t at = hash_offset(key, mask);
	for (; w->offsets[at].offset; at = (at + 1) & mask)
		if (w->offsets[at].offset == key)
			return w->offsets[at].index;
	if (!add)
		return UINT32_MAX;
	w->offsets[at].offset = key;
	w->offsets[at].index = w->offset_count;
	w->offset_list[w->offset_count] = offset;
	return w->offset_count++;
}

static bool string_label(uint32_t kind)
{
	return kind == PH_EDGE_ATTRIBUTE || kind == PH_EDGE_DICT_KEY || kind == PH_EDGE_DICT_VALUE ||
	       kind == PH_EDGE_LOCAL || kind == PH_EDGE_SLOT;
}

/* The names this file adds: one per dict key label, one per conservative
 * offset. */
static struct ph_error *collect_names(struct writer *w, struct ph_progress *progress)
{
	const struct ph_graph *g = w->g;
	if (progress)
		ph_progress_phase(progress, "collecting edge names", g->edge_count);
	for (uint64_t e = 0; e < g->edge_count; e++) {
		const struct ph_edge *edge = &g->edges[e];
		if (edge->kind == PH_EDGE_DICT_KEY && edge->label < g->strings.count &&
		    !w->key_name[edge->label])
			w->key_name[edge->label] = ++w->key_names;
		else if (edge->kind == PH_EDGE_CONSERVATIVE &&
			 offset_index(w, edge->label, true) == UINT32_MAX)
			return &ph_error_out_of_memory;
		if (progress)
			ph_progress_update(progress, e);
	}
	return NULL;
}

static void write_header(struct writer *w, uint64_t node_count, uint64_t edge_count)
{
	put_text(w, "{\"snapshot\":{\"meta\":");
	put_text(w, meta_json);
	put_text(w, ",\"node_count\":");
	put_uint(w, node_count);
	put_text(w, ",\"edge_count\":");
	put_uint(w, edge_count);
	put_text(w, ",\"trace_function_count\":0},\n");
}

static void write_node(struct writer *w, bool first, enum v8_node_type type, uint64_t name,
		       uint64_t id, uint64_t size, uint64_t edge_count)
{
	if (!first)
		put_char(w, ',');
	put_uint(w, (uint64_t)type);
	put_char(w, ',');
	put_uint(w, name);
	put_char(w, ',');
	put_uint(w, id);
	put_char(w, ',');
	put_uint(w, size);
	put_char(w, ',');
	put_uint(w, edge_count);
	put_text(w, ",0,0\n"); /* no allocation traces; detachedness: unknown */
}

static void write_edge(struct writer *w, bool first, enum v8_edge_type type, uint64_t name_or_index,
		       uint64_t to_node)
{
	if (!first)
		put_char(w, ',');
	put_uint(w, (uint64_t)type);
	put_char(w, ',');
	put_uint(w, name_or_index);
	put_char(w, ',');
	put_uint(w, to_node * NODE_FIELD_COUNT);
	put_char(w, '\n');
}

static uint64_t root_name(const struct ph_root *root, uint32_t string_count)
{
	if (root->name != PH_NO_STRING && root->name < string_count)
		return FIXED_STRING_COUNT + (uint64_t)root->name;
	return STRING_ROOT_KINDS + (root->kind < PH_ROOT_KIND_COUNT ? root->kind : 0);
}

static void write_edges(struct writer *w, struct ph_progress *progress,
			struct ph_heapsnapshot_stats *stats)
{
	const struct ph_graph *g = w->g;
	bool first = true;
	for (uint32_t r = 0; r < g->root_count; r++) {
		write_edge(w, first, V8_EDGE_PROPERTY, root_name(&g->roots[r], g->strings.count),
			   (uint64_t)g->roots[r].node + 1);
		first = false;
	}
	if (progress)
		ph_progress_phase(progress, "writing edges", g->node_count);
	for (uint32_t i = 0; i < g->node_count; i++) {
		const struct ph_node *from = &g->nodes[i];
		bool from_garbage = !(from->flags & PH_NODE_REACHABLE);
		bool c_members = type_info(w, from->type) & TYPE_BUILTIN;
		uint64_t set_position = 0;
		for (uint64_t e = g->edge_start[i]; e < g->edge_start[i + 1]; e++) {
			const struct ph_edge *edge = &g->edges[e];
			enum v8_edge_type type = V8_EDGE_INTERNAL;
			uint64_t name = STRING_CLASS;
			bool numeric = false;
			/* the reader refuses labels past the string table; never
			 * index past it here either */
			bool bad_label = string_label(edge->kind) && edge->label >= g->strings.count;
			switch (bad_label ? PH_EDGE_KIND_COUNT : edge->kind) {
			case PH_EDGE_ATTRIBUTE:
				/* a struct member of a C type, or an attribute
				 * (inline value, __dict__) of a Python class's instance */
				type = c_members ? V8_EDGE_INTERNAL : V8_EDGE_PROPERTY;
				name = FIXED_STRING_COUNT + edge->label;
				break;
			case PH_EDGE_DICT_VALUE:
			case PH_EDGE_LOCAL:
			case PH_EDGE_SLOT:
				type = V8_EDGE_PROPERTY;
				name = FIXED_STRING_COUNT + edge->label;
				break;
			case PH_EDGE_DICT_KEY:
				type = V8_EDGE_INTERNAL;
				name = w->key_base + w->key_name[edge->label] - 1;
				break;
			case PH_EDGE_ITEM:
				type = V8_EDGE_ELEMENT;
				name = edge->label <= UINT32_MAX ? edge->label : UINT32_MAX;
				numeric = true;
				break;
			case PH_EDGE_SET_ITEM:
				type = V8_EDGE_ELEMENT;
				name = set_position++;
				numeric = true;
				break;
			case PH_EDGE_CONSERVATIVE: {
				uint32_t index = offset_index(w, edge->label, false);
				type = V8_EDGE_INTERNAL;
				name = index == UINT32_MAX ? STRING_CLASS : w->offset_base + index;
				break;
			}
			default: /* PH_EDGE_TYPE, and a kind this version does not know */
				break;
			}
			if (from_garbage && (g->nodes[edge->to].flags & PH_NODE_REACHABLE)) {
				type = V8_EDGE_WEAK; /* a weak edge's name is a string */
				if (numeric)
					name = STRING_GARBAGE_ITEM;
				stats->weak_edges++;
			}
			write_edge(w, first, type, name, (uint64_t)edge->to + 1);
			first = false;
		}
		if (progress)
			ph_progress_update(progress, i);
	}
}

static void write_node_name(struct writer *w, const struct ph_node *n, char **text, size_t *capacity)
{
	const struct ph_graph *g = w->g;
	const char *type = n->type < g->strings.count ? g->strings.items[n->type] : "?";
	const char *detail = n->detail != PH_NO_STRING && n->detail < g->strings.count
				 ? g->strings.items[n->detail]
				 : NULL;
	size_t need = strlen(type) + (detail ? strlen(detail) : 0) + 32;
	if (need > *capacity) {
		char *grown = realloc(*text, need);
		if (!grown) {
			/* the name without its detail still identifies the node */
			detail = NULL;
			need = strlen(type) + 32;
		} else {
			*text = grown;
			*capacity = need;
		}
	}
	int len;
	if (need > *capacity)
		len = 0;
	else if (detail)
		len = snprintf(*text, *capacity, "<%s 0x%" PRIx64 "> %s", type, n->address, detail);
	else
		len = snprintf(*text, *capacity, "<%s 0x%" PRIx64 ">", type, n->address);
	put_escaped(w, len > 0 ? *text : "?", len > 0 ? (size_t)len : 1);
}

static struct ph_error *write_strings(struct writer *w, struct ph_progress *progress)
{
	const struct ph_graph *g = w->g;
	put_text(w, "\"strings\":[");
	for (unsigned i = 0; i < STRING_ROOT_KINDS; i++) {
		if (i)
			put_char(w, ',');
		put_char(w, '\n');
		put_escaped(w, fixed_strings[i], strlen(fixed_strings[i]));
	}
	for (unsigned k = 0; k < PH_ROOT_KIND_COUNT; k++) {
		put_text(w, ",\n");
		put_escaped(w, ph_root_kind_names[k], strlen(ph_root_kind_names[k]));
	}
	for (uint32_t s = 0; s < g->strings.count; s++) {
		put_text(w, ",\n");
		put_escaped(w, g->strings.items[s], strlen(g->strings.items[s]));
	}
	/* key names in the order of their indexes */
	uint32_t *by_index = calloc(w->key_names ? w->key_names : 1, sizeof(*by_index));
	if (!by_index)
		return &ph_error_out_of_memory;
	for (uint32_t s = 0; s < g->strings.count; s++)
		if (w->key_name[s])
			by_index[w->key_name[s] - 1] = s;
	char *text = NULL;
	size_t capacity = 0;
	for (uint32_t k = 0; k < w->key_names; k++) {
		const char *key = g->strings.items[by_index[k]];
		size_t need = strlen(key) + 8;
		if (need > capacity) {
			char *grown = realloc(text, need);
			if (!grown) {
				free(by_index);
				free(text);
				return &ph_error_out_of_memory;
			}
			text = grown;
			capacity = need;
		}
		int len = snprintf(text, capacity, "key %s", key);
		put_text(w, ",\n");
		put_escaped(w, text, (size_t)len);
	}
	free(by_index);
	for (uint32_t c = 0; c < w->offset_count; c++) {
		char name[64];
		int len = snprintf(name, sizeof(name), "(pointer at +%" PRIu64 ", conservative)",
				   w->offset_list[c]);
		put_text(w, ",\n");
		put_escaped(w, name, (size_t)len);
	}
	if (progress)
		ph_progress_phase(progress, "writing names", g->node_count);
	for (uint32_t i = 0; i < g->node_count; i++) {
		put_text(w, ",\n");
		write_node_name(w, &g->nodes[i], &text, &capacity);
		if (progress)
			ph_progress_update(progress, i);
	}
	free(text);
	put_text(w, "]}\n");
	return NULL;
}

struct ph_error *ph_heapsnapshot_write(const struct ph_graph *g, FILE *out,
				       struct ph_progress *progress,
				       struct ph_heapsnapshot_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	/* DevTools holds nodes and edges in Uint32 arrays: every id, size and
	 * index (to_node is an index times the node field count) must fit */
	if ((uint64_t)g->node_count + 1 > UINT32_MAX / NODE_FIELD_COUNT)
		return ph_error_new(PH_EXIT_BAD_INPUT,
				    "the graph has %u nodes; a heapsnapshot holds at most %u "
				    "(node indexes are 32-bit)",
				    g->node_count, UINT32_MAX / NODE_FIELD_COUNT - 1);
	struct writer *w = calloc(1, sizeof(*w));
	if (!w)
		return &ph_error_out_of_memory;
	w->g = g;
	w->out = out;
	w->type_info = calloc(g->strings.count ? g->strings.count : 1, 1);
	w->key_name = calloc(g->strings.count ? g->strings.count : 1, sizeof(*w->key_name));
	struct ph_error *err = NULL;
	if (!w->type_info || !w->key_name) {
		err = &ph_error_out_of_memory;
		goto out;
	}
	if ((err = collect_names(w, progress)))
		goto out;
	w->key_base = FIXED_STRING_COUNT + (uint64_t)g->strings.count;
	w->offset_base = w->key_base + w->key_names;
	w->name_base = w->offset_base + w->offset_count;
	if (w->name_base + g->node_count > UINT32_MAX) {
		err = ph_error_new(PH_EXIT_BAD_INPUT, "too many strings for a heapsnapshot (%" PRIu64 ")",
				   w->name_base + g->node_count);
		goto out;
	}

	write_header(w, (uint64_t)g->node_count + 1, g->root_count + g->edge_count);
	if (progress)
		ph_progress_phase(progress, "writing nodes", g->node_count);
	put_text(w, "\"nodes\":[");
	write_node(w, true, V8_NODE_SYNTHETIC, STRING_ROOT, 1, 0, g->root_count);
	for (uint32_t i = 0; i < g->node_count; i++) {
		const struct ph_node *n = &g->nodes[i];
		uint64_t edges = g->edge_start[i + 1] - g->edge_start[i];
		if (edges > UINT32_MAX) {
			err = ph_error_new(PH_EXIT_BAD_INPUT, "node %u has %" PRIu64 " edges; a heapsnapshot "
					   "holds at most 2^32 - 1 per node", i, edges);
			goto out;
		}
		uint64_t size = n->size;
		if (size > UINT32_MAX) {
			size = UINT32_MAX;
			stats->clamped_sizes++;
		}
		if (!(n->flags & PH_NODE_REACHABLE))
			stats->unreachable++;
		write_node(w, false, node_type(w, n), w->name_base + i, 2 * (uint64_t)i + 3, size, edges);
		if (progress)
			ph_progress_update(progress, i);
	}
	put_text(w, "],\n\"edges\":[");
	write_edges(w, progress, stats);
	put_text(w, "],\n\"trace_function_infos\":[],\n\"trace_tree\":[],\n\"samples\":[],\n"
		    "\"locations\":[],\n");
	if ((err = write_strings(w, progress)))
		goto out;
	flush(w);
	stats->nodes = (uint64_t)g->node_count + 1;
	stats->edges = g->root_count + g->edge_count;
	if (ferror(out))
		err = ph_error_new(PH_EXIT_OUTPUT, "writing the heapsnapshot failed");
out:
	free(w->type_info);
	free(w->key_name);
	free(w->offsets);
	free(w->offset_list);
	free(w);
	return err;
}
