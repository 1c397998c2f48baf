#include "graph_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../debuginfo/ref_layout.h"
#include "../python/sizeof.h"
#include "pyheap/gc_walk.h"
#include "pyheap/referents.h"
#include "frames.h"

bool ph_graph_add_tracked(struct ph_graph_builder *b, uint64_t object, uint32_t type_entry)
{
	uint32_t node = ph_graph_append_node(b->graph, object, PH_NODE_TRACKED);
	if (node == UINT32_MAX) {
		b->out_of_memory = true;
		return false;
	}
	b->graph->nodes[node].type_entry = type_entry;
	return true;
}

/* The node for an object address, adding it if it is a believable object. */
uint32_t ph_graph_builder_node(struct ph_graph_builder *b, uint64_t address);
static uint32_t node_for(struct ph_graph_builder *b, uint64_t address)
{
	return ph_graph_builder_node(b, address);
}

uint32_t ph_graph_builder_node(struct ph_graph_builder *b, uint64_t address)
{
	uint32_t node = ph_graph_find(b->graph, address);
	if (node != UINT32_MAX)
		return node;
	uint64_t type_address;
	if (!address || (address & 7) || !ph_read_ob_type(b->t, address, &type_address)) {
		b->invalid_referents++;
		return UINT32_MAX;
	}
	struct ph_type_entry *type = ph_type_table_get(b->types, b->t, type_address);
	if (!type) {
		b->invalid_referents++;
		return UINT32_MAX;
	}
	node = ph_graph_add_node(b->graph, address, 0);
	if (node == UINT32_MAX) {
		b->out_of_memory = true;
		return UINT32_MAX;
	}
	b->graph->nodes[node].type_entry = (uint32_t)(type - b->types->entries);
	return node;
}

static uint32_t intern(struct ph_graph_builder *b, const char *text)
{
	uint32_t index = ph_strings_intern(&b->graph->strings, text);
	if (index == PH_NO_STRING)
		b->out_of_memory = true;
	return index;
}

struct edge_context {
	struct ph_graph_builder *b;
};

static void on_edge(struct ph_referent_visitor *v, uint64_t target, enum ph_edge_kind kind,
		    uint64_t number, const char *name)
{
	struct ph_graph_builder *b = v->ctx;
	uint32_t to = node_for(b, target);
	if (to == UINT32_MAX) {
		v->truncated = true;
		return;
	}
	uint64_t label = number;
	if (name) {
		label = intern(b, name);
		if (label == PH_NO_STRING)
			return;
	}
	if (!ph_graph_add_edge(b->graph, to, kind, label))
		b->out_of_memory = true;
}

static void on_edge_label(struct ph_referent_visitor *v, uint64_t target, enum ph_edge_kind kind,
			  uint32_t label)
{
	struct ph_graph_builder *b = v->ctx;
	uint32_t to = node_for(b, target);
	if (to == UINT32_MAX) {
		v->truncated = true;
		return;
	}
	if (!ph_graph_add_edge(b->graph, to, kind, label))
		b->out_of_memory = true;
}

/* Labels by (source address, style), computed once: the same key strings
 * label millions of edges. */
static uint32_t on_label(struct ph_referent_visitor *v, uint64_t source, int style)
{
	struct ph_graph_builder *b = v->ctx;
	uint64_t key = source ^ ((uint64_t)style << 62);
	if (!source)
		return UINT32_MAX;
	if ((b->label_count + 1) * 2 > b->label_capacity) {
		size_t capacity = b->label_capacity ? b->label_capacity * 2 : 1 << 14;
		struct ph_label_slot *slots = calloc(capacity, sizeof(*slots));
		if (!slots) {
			b->out_of_memory = true;
			return UINT32_MAX;
		}
		for (size_t i = 0; i < b->label_capacity; i++) {
			if (!b->label_slots[i].key)
				continue;
			size_t at = (size_t)((b->label_slots[i].key * 0x9E3779B97F4A7C15ull) >> 20) & (capacity - 1);
			while (slots[at].key)
				at = (at + 1) & (capacity - 1);
			slots[at] = b->label_slots[i];
		}
		free(b->label_slots);
		b->label_slots = slots;
		b->label_capacity = capacity;
	}
	size_t mask = b->label_capacity - 1;
	size_t at = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
	for (; b->label_slots[at].key; at = (at + 1) & mask)
		if (b->label_slots[at].key == key)
			return b->label_slots[at].label;
	char text[300];
	bool ok, cut;
	if (style == PH_LABEL_REPR) {
		ph_referents_key_label(b->t, source, text, sizeof(text));
		ok = true;
	} else if (style == PH_LABEL_STR) {
		ok = ph_str_read(b->t, source, text, sizeof(text), &cut);
	} else {
		ok = ph_cache_read_cstring(b->t->memory, source, text, sizeof(text));
	}
	uint32_t label = ok ? intern(b, text) : UINT32_MAX;
	b->label_slots[at] = (struct ph_label_slot){key, label};
	b->label_count++;
	return label;
}

/* For the conservative scan of a C object pyheap does not model: a word
 * is a reference when it points at a known node, or at an object that
 * can rightly be off the GC lists: one of a type the collector never
 * tracks (str, int, bytes...), a dict or tuple (which it untracks), or a
 * static type. Anything else that looks like an object but is not on the
 * lists is not one (a C struct that happens to start like an object, a
 * freed block): such words are not references, and not invalid either. */
static bool is_known(struct ph_referent_visitor *v, uint64_t address)
{
	struct ph_graph_builder *b = v->ctx;
	const struct ph_target *t = b->t;
	if (ph_graph_find(b->graph, address) != UINT32_MAX)
		return true;
	uint64_t type_address, own_flags;
	if (!address || (address & 7) || !ph_read_ob_type(t, address, &type_address))
		return false;
	const struct ph_type_entry *type = ph_type_table_get(b->types, t, type_address);
	if (!type)
		return false;
	if (!(type->flags & PH_TPFLAGS_HAVE_GC) || type_address == t->dict_type ||
	    type_address == t->ref_types[PH_REF_TUPLE])
		return true;
	return (type->flags & PH_TPFLAGS_TYPE_SUBCLASS) && ph_read_type_flags(t, address, &own_flags) &&
	       !(own_flags & PH_TPFLAGS_HEAPTYPE);
}

static void record_traceback(struct ph_graph_builder *b, uint32_t node, const char *function,
			     const char *file, int line)
{
	struct ph_graph *g = b->graph;
	if (g->traceback_count == g->traceback_capacity) {
		uint32_t capacity = g->traceback_capacity ? g->traceback_capacity * 2 : 1024;
		struct ph_traceback_info *grown =
		    realloc(g->tracebacks, (size_t)capacity * sizeof(*grown));
		if (!grown) {
			b->out_of_memory = true;
			return;
		}
		g->tracebacks = grown;
		g->traceback_capacity = capacity;
	}
	/* nodes are described in index order, so the table stays sorted */
	g->tracebacks[g->traceback_count++] =
	    (struct ph_traceback_info){node, intern(b, function), intern(b, file), line};
}

/* Short human descriptions of the objects a chain names. */
static void describe(struct ph_graph_builder *b, uint32_t index, const struct ph_type_entry *type)
{
	const struct ph_target *t = b->t;
	struct ph_node *node = &b->graph->nodes[index];
	const struct ph_ref_layout *r = t->layout->refs;
	char text[512];
	text[0] = '\0';
	bool cut;
	int family = type->ref_family == PH_REF_INSTANCE ? type->base_ref_family : type->ref_family;
	if (type->ref_family == PH_REF_TYPE) {
		ph_type_name(t, node->address, text, sizeof(text));
	} else if (family == PH_REF_FUNCTION || family == PH_REF_CODE) {
		const struct ph_object_members *m = family == PH_REF_FUNCTION ? &r->function : &r->code;
		const char *want[] = {"func_qualname", "co_qualname", "co_name", "func_name"};
		for (size_t w = 0; w < 4 && !text[0]; w++)
			for (unsigned i = 0; i < m->count; i++) {
				uint64_t s;
				if (strcmp(m->names[i], want[w]) == 0 &&
				    ph_read_u64(t, node->address + m->offsets[i], &s) &&
				    !ph_str_read(t, s, text, sizeof(text), &cut))
					text[0] = '\0';
			}
	} else if (family == PH_REF_TRACEBACK) {
		/* where the exception passed: the frame's function and tb_lineno */
		uint64_t frame = 0;
		int32_t lineno = -1, lasti = -1;
		for (unsigned i = 0; i < r->traceback.count; i++)
			if (strcmp(r->traceback.names[i], "tb_frame") == 0)
				ph_read_u64(t, node->address + r->traceback.offsets[i], &frame);
		ph_read(t, node->address + r->tb_lineno, &lineno, 4);
		ph_read(t, node->address + r->tb_lasti, &lasti, 4);
		char function[256], file[1024];
		int line = -1;
		if (frame && ph_traceback_location(t, frame, lineno, lasti, function, sizeof(function),
						   file, sizeof(file), &line)) {
			const char *slash = strrchr(file, '/');
			if (line >= 0)
				snprintf(text, sizeof(text), "%.200s (%.250s:%d)", function, slash ? slash + 1 : file,
					 line);
			else
				snprintf(text, sizeof(text), "%.200s (%.250s)", function, slash ? slash + 1 : file);
			record_traceback(b, index, function, file, line);
		}
	} else if (family == PH_REF_FRAME) {
		if (!ph_describe_frame(t, node->address, false, text, sizeof(text)))
			text[0] = '\0';
	} else if (family == PH_REF_MODULE) {
		uint64_t dict, name;
		if (r->md_dict != PH_ABSENT && ph_read_u64(t, node->address + r->md_dict, &dict) &&
		    dict && ph_dict_get_str(t, dict, "__name__", &name) &&
		    !ph_str_read(t, name, text, sizeof(text), &cut))
			text[0] = '\0';
	} else if (family == PH_REF_EXCEPTION) {
		node->flags |= PH_NODE_EXCEPTION;
		/* Type('first arg'): what print(repr(e)) starts with */
		uint64_t args = 0, first = 0;
		char arg[200] = "";
		for (unsigned i = 0; i < r->exception.count; i++)
			if (strcmp(r->exception.names[i], "args") == 0)
				ph_read_u64(t, node->address + r->exception.offsets[i], &args);
		int64_t n = 0;
		if (args && ph_read_i64(t, args + t->layout->ob_size, &n) && n >= 1 &&
		    ph_read_u64(t, args + t->layout->tuple_items, &first))
			ph_referents_key_label(t, first, arg, sizeof(arg));
		const char *dot = strrchr(type->name, '.');
		snprintf(text, sizeof(text), "%s(%s%s)", dot ? dot + 1 : type->name, arg,
			 n > 1 ? ", ..." : "");
	}
	if (text[0])
		node->detail = intern(b, text);
}

static void add_root(struct ph_graph_builder *b, uint64_t address, enum ph_root_kind kind,
		     const char *name)
{
	if (!address)
		return;
	uint32_t node = node_for(b, address);
	if (node == UINT32_MAX)
		return;
	uint32_t name_index = name ? intern(b, name) : PH_NO_STRING;
	if (!ph_graph_add_root(b->graph, node, kind, name_index))
		b->out_of_memory = true;
}

struct module_roots {
	struct ph_graph_builder *b;
};

static bool add_module_root(void *ctx, uint64_t key, uint64_t value)
{
	struct module_roots *m = ctx;
	char name[256];
	bool cut;
	if (!ph_str_read(m->b->t, key, name, sizeof(name), &cut))
		snprintf(name, sizeof(name), "?");
	add_root(m->b, value, PH_ROOT_MODULE, name);
	return !m->b->out_of_memory;
}

static void add_roots(struct ph_graph_builder *b)
{
	const struct ph_target *t = b->t;
	const struct ph_layout *l = t->layout;
	const struct ph_ref_layout *r = l->refs;
	uint64_t interp = ph_main_interpreter(t);
	for (int count = 0; interp && count < 4096; count++) {
		uint64_t modules = 0, sysdict = 0, builtins = 0;
		if (r->interp_modules != PH_ABSENT && ph_read_u64(t, interp + r->interp_modules, &modules) &&
		    modules) {
			struct module_roots m = {b};
			ph_dict_foreach(t, modules, add_module_root, &m);
		}
		if (ph_read_u64(t, interp + l->interp_sysdict, &sysdict))
			add_root(b, sysdict, PH_ROOT_SYSDICT, "sys");
		if (r->interp_builtins != PH_ABSENT && ph_read_u64(t, interp + r->interp_builtins, &builtins))
			add_root(b, builtins, PH_ROOT_BUILTINS, "builtins");
		ph_thread_frame_roots(b, interp);
		if (!ph_read_u64(t, interp + l->interp_next, &interp))
			break;
	}
}

bool ph_graph_build(struct ph_graph_builder *b)
{
	struct ph_graph *g = b->graph;

	/* untracked objects (str, int...) come to about as many again */
	if (!ph_graph_index(g, g->node_count < UINT32_MAX / 2 ? g->node_count * 2 : g->node_count)) {
		b->out_of_memory = true;
		return false;
	}
	add_roots(b);
	struct ph_referent_visitor v = {b->t,     b,        on_edge,      false,
					false,    is_known, on_label,     on_edge_label};
	for (uint32_t i = 0; i < g->node_count && !b->out_of_memory; i++) {
		ph_graph_begin_edges(g, i);
		struct ph_node *node = &g->nodes[i];
		if (node->flags & PH_NODE_PSEUDO) {
			v.truncated = false;
			ph_walk_pseudo_frame(&v, b, i);
			if (v.truncated)
				g->nodes[i].flags |= PH_NODE_TRUNCATED;
			continue;
		}
		struct ph_type_entry *entry = &b->types->entries[node->type_entry];
		if (entry->name_string == PH_NO_STRING)
			entry->name_string = intern(b, entry->name);
		/* a copy: walking may add types, and the table may move */
		struct ph_type_entry type = *entry;
		node->type = type.name_string;
		node->size = ph_sizeof_object(b->t, node->address, &type);
		if (!type.size_exact)
			node->flags |= PH_NODE_SIZE_INEXACT;
		describe(b, i, &type);
		v.truncated = false;
		v.conservative = false;
		ph_referents_visit(&v, g->nodes[i].address, &type);
		if (v.truncated)
			g->nodes[i].flags |= PH_NODE_TRUNCATED;
		if (v.conservative)
			g->nodes[i].flags |= PH_NODE_CONSERVATIVE;
		if (b->meter)
			ph_progress_update(b->meter, i);
	}
	free(b->label_slots);
	b->label_slots = NULL;

	b->label_capacity = b->label_count = 0;
	ph_graph_drop_index(g);
	return !b->out_of_memory;
}

bool ph_graph_build_finish(struct ph_graph *g)
{
	return ph_graph_finish_edges(g) && ph_graph_mark_reachable(g);
}
