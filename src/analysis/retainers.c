#include "pyheap/retainers.h"

#include "pyheap/units.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A node whose big children (each at least 1% of the heap) hold at least
 * half of it is passed through to them. */
#define BIG_CHILD_PER_MILLE 10
#define PASS_THROUGH_SHARE 0.5
/* A holder is the highest object retaining at least 90% of the entry. */
#define HOLDER_SHARE 0.9
/* Eclipse MAT's big_drop_ratio. */
#define BIG_DROP_RATIO 0.7
#define MIN_LINKED_LENGTH 3

static const char *type_of(const struct ph_graph *g, uint32_t node)
{
	uint32_t t = g->nodes[node].type;
	return t < g->strings.count ? g->strings.items[t] : "?";
}

static bool is_node(const struct ph_dominators *d, uint32_t x)
{
	return x < d->node_count;
}

/* A max-heap of nodes by retained size (ties: lower index first, so the
 * order is deterministic). */
struct node_heap {
	uint32_t *items;
	size_t count, capacity;
	const uint64_t *key;
};

static bool heap_before(const struct node_heap *h, uint32_t a, uint32_t b)
{
	return h->key[a] != h->key[b] ? h->key[a] > h->key[b] : a < b;
}

static bool heap_push(struct node_heap *h, uint32_t node)
{
	if (h->count == h->capacity) {
		size_t capacity = h->capacity ? h->capacity * 2 : 256;
		uint32_t *grown = realloc(h->items, capacity * sizeof(*grown));
		if (!grown)
			return false;
		h->items = grown;
		h->capacity = capacity;
	}
	size_t at = h->count++;
	while (at > 0) {
		size_t up = (at - 1) / 2;
		if (!heap_before(h, node, h->items[up]))
			break;
		h->items[at] = h->items[up];
		at = up;
	}
	h->items[at] = node;
	return true;
}

static uint32_t heap_pop(struct node_heap *h)
{
	uint32_t top = h->items[0];
	uint32_t last = h->items[--h->count];
	size_t at = 0;
	for (;;) {
		size_t child = 2 * at + 1;
		if (child >= h->count)
			break;
		if (child + 1 < h->count && heap_before(h, h->items[child + 1], h->items[child]))
			child++;
		if (!heap_before(h, h->items[child], last))
			break;
		h->items[at] = h->items[child];
		at = child;
	}
	if (h->count)
		h->items[at] = last;
	return top;
}

/* The edge from node to its dominator child of the same type, if any. */
static const struct ph_edge *same_type_child(const struct ph_graph *g, const struct ph_dominators *d,
					     uint32_t node, const struct ph_edge *like)
{
	for (uint64_t e = g->edge_start[node]; e < g->edge_start[node + 1]; e++) {
		const struct ph_edge *edge = &g->edges[e];
		uint32_t to = edge->to;
		if (to == node || d->idom[to] != node || g->nodes[to].type != g->nodes[node].type)
			continue;
		if (like && (edge->kind != like->kind || edge->label != like->label))
			continue;
		return edge;
	}
	return NULL;
}

uint64_t ph_linked_length(const struct ph_graph *g, const struct ph_dominators *d, uint32_t node)
{
	const struct ph_edge *link = same_type_child(g, d, node, NULL);
	if (!link)
		return 0;
	uint64_t length = 1;
	uint32_t at = node;
	/* each step goes one level down the dominator tree: bounded by the nodes */
	while (link && length <= d->node_count) {
		at = link->to;
		length++;
		link = same_type_child(g, d, at, link);
	}
	return length >= MIN_LINKED_LENGTH ? length : 0;
}

uint32_t ph_accumulation_point(const struct ph_graph *g, const struct ph_dominators *d,
			       uint32_t node, uint64_t *linked_length)
{
	uint32_t at = node;
	for (uint32_t steps = 0; steps <= d->node_count; steps++) {
		uint64_t linked = ph_linked_length(g, d, at);
		if (linked) {
			*linked_length = linked;
			return at;
		}
		uint32_t biggest = UINT32_MAX;
		for (uint32_t c = d->child_start[at]; c < d->child_start[at + 1]; c++) {
			uint32_t child = d->children[c];
			if (biggest == UINT32_MAX || d->retained[child] > d->retained[biggest])
				biggest = child;
		}
		if (biggest == UINT32_MAX || (double)d->retained[biggest] < BIG_DROP_RATIO * (double)d->retained[at])
			break;
		at = biggest;
	}
	*linked_length = 0;
	return at;
}

static bool is_structural(const struct ph_graph *g, uint32_t node)
{
	const char *type = type_of(g, node);
	return (g->nodes[node].flags & (PH_NODE_ROOT | PH_NODE_PSEUDO)) ||
	       strcmp(type, "builtins.module") == 0 || strcmp(type, "builtins.dict") == 0;
}

/* Whether a reference is the object's own machinery (a C member such as
 * tb_frame or f_back, a dunder such as __traceback__, the class) rather
 * than a name the program gave: holders are named by the latter, so a
 * holder climbs through the former only. */
static bool internal_reference(const struct ph_graph *g, const struct ph_edge *e)
{
	if (e->kind == PH_EDGE_TYPE)
		return true;
	if (e->kind != PH_EDGE_ATTRIBUTE || e->label >= g->strings.count)
		return false;
	const char *name = g->strings.items[e->label];
	static const char *const prefixes[] = {"__", "<", "tb_", "f_", "gi_", "cr_", "ag_", "func_",
					       "cell_", "im_", "co_", "ob_", "md_", "m_", "ht_", "tp_",
					       "wr_", "mp_"};
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

static const struct ph_edge *edge_between(const struct ph_graph *g, uint32_t from, uint32_t to)
{
	for (uint64_t e = g->edge_start[from]; e < g->edge_start[from + 1]; e++)
		if (g->edges[e].to == to)
			return &g->edges[e];
	return NULL;
}

static uint32_t holder_of(const struct ph_graph *g, const struct ph_dominators *d, uint32_t entry)
{
	uint32_t holder = entry;
	for (uint32_t steps = 0; steps <= d->node_count; steps++) {
		uint32_t parent = d->idom[holder];
		if (!is_node(d, parent) || is_structural(g, parent) ||
		    (double)d->retained[entry] < HOLDER_SHARE * (double)d->retained[parent])
			break;
		const struct ph_edge *e = edge_between(g, parent, holder);
		if (!e || !internal_reference(g, e))
			break;
		holder = parent;
	}
	return holder;
}

static bool append_entry(struct ph_retainer **out, size_t *count, size_t *capacity,
			 struct ph_retainer entry)
{
	if (*count == *capacity) {
		size_t grown_capacity = *capacity ? *capacity * 2 : 16;
		struct ph_retainer *grown = realloc(*out, grown_capacity * sizeof(*grown));
		if (!grown)
			return false;
		*out = grown;
		*capacity = grown_capacity;
	}
	(*out)[(*count)++] = entry;
	return true;
}

static int compare_retained(const void *x, const void *y)
{
	const struct ph_retainer *a = x, *b = y;
	if (a->retained != b->retained)
		return a->retained < b->retained ? 1 : -1;
	return (a->holder > b->holder) - (a->holder < b->holder);
}

struct ph_error *ph_retainers_top(const struct ph_graph *g, struct ph_dominators *d, size_t limit,
				  uint64_t min_bytes, struct ph_retainer **out, size_t *count)
{
	*out = NULL;
	*count = 0;
	struct ph_error *err = ph_dominators_children(d);
	if (err)
		return err;
	uint64_t big = d->reachable_bytes * BIG_CHILD_PER_MILLE / 1000;
	struct node_heap heap = {NULL, 0, 0, d->retained};
	size_t capacity = 0;
	uint32_t top = d->node_count;
	for (uint32_t c = d->child_start[top]; c < d->child_start[top + 1]; c++)
		if (!heap_push(&heap, d->children[c]))
			goto oom;
	while (heap.count && *count < limit) {
		uint32_t x = heap_pop(&heap);
		if (d->retained[x] < min_bytes || d->retained[x] == 0)
			break;
		uint64_t linked = ph_linked_length(g, d, x);
		if (!linked) {
			uint64_t in_big = 0;
			for (uint32_t c = d->child_start[x]; c < d->child_start[x + 1]; c++)
				if (d->retained[d->children[c]] >= big)
					in_big += d->retained[d->children[c]];
			if (in_big && (double)in_big >= PASS_THROUGH_SHARE * (double)d->retained[x]) {
				for (uint32_t c = d->child_start[x]; c < d->child_start[x + 1]; c++)
					if (!heap_push(&heap, d->children[c]))
						goto oom;
				continue;
			}
		}
		uint32_t holder = holder_of(g, d, x);
		struct ph_retainer entry = {holder, x, linked, d->retained[holder],
					    d->retained_objects[holder]};
		if (!append_entry(out, count, &capacity, entry))
			goto oom;
	}
	free(heap.items);
	if (*count)
		qsort(*out, *count, sizeof(**out), compare_retained);
	return NULL;
oom:
	free(heap.items);
	free(*out);
	*out = NULL;
	*count = 0;
	return &ph_error_out_of_memory;
}

struct ph_error *ph_retainers_of_type(const struct ph_graph *g, struct ph_dominators *d,
				      const char *type, size_t limit, struct ph_retainer **out,
				      size_t *count)
{
	*out = NULL;
	*count = 0;
	struct ph_error *err = ph_dominators_children(d);
	if (err)
		return err;
	uint32_t matches = 0;
	uint32_t *nodes = ph_nodes_of_type(g, type, &matches);
	if (!nodes)
		return &ph_error_out_of_memory;
	struct node_heap heap = {NULL, 0, 0, d->retained};
	size_t capacity = 0;
	for (uint32_t i = 0; i < matches; i++)
		if (d->idom[nodes[i]] != PH_DOM_UNREACHABLE && !heap_push(&heap, nodes[i]))
			goto oom;
	while (heap.count && *count < limit) {
		uint32_t x = heap_pop(&heap);
		uint64_t linked = 0;
		uint32_t accumulation = ph_accumulation_point(g, d, x, &linked);
		struct ph_retainer entry = {x, accumulation, linked, d->retained[x], d->retained_objects[x]};
		if (!append_entry(out, count, &capacity, entry))
			goto oom;
	}
	free(heap.items);
	free(nodes);
	return NULL;
oom:
	free(heap.items);
	free(nodes);
	free(*out);
	*out = NULL;
	*count = 0;
	return &ph_error_out_of_memory;
}

struct ph_error *ph_retainers_at(const struct ph_graph *g, struct ph_dominators *d, uint64_t address,
				 struct ph_retainer **out, size_t *count)
{
	*out = NULL;
	*count = 0;
	for (uint32_t i = 0; i < g->node_count; i++) {
		if (g->nodes[i].address != address || (g->nodes[i].flags & PH_NODE_PSEUDO) ||
		    d->idom[i] == PH_DOM_UNREACHABLE)
			continue;
		*out = malloc(sizeof(**out));
		if (!*out)
			return &ph_error_out_of_memory;
		uint64_t linked = 0;
		uint32_t accumulation = ph_accumulation_point(g, d, i, &linked);
		**out = (struct ph_retainer){i, accumulation, linked, d->retained[i], d->retained_objects[i]};
		*count = 1;
		return NULL;
	}
	return NULL;
}

static int compare_type_bytes(const void *x, const void *y)
{
	const struct ph_type_bytes *a = x, *b = y;
	if (a->size != b->size)
		return a->size < b->size ? 1 : -1;
	if (a->count != b->count)
		return a->count < b->count ? 1 : -1;
	return (a->type > b->type) - (a->type < b->type);
}

struct ph_error *ph_retained_by_type(const struct ph_graph *g, const struct ph_dominators *d,
				     uint32_t node, struct ph_type_bytes **rows_out, size_t *count_out)
{
	*rows_out = NULL;
	*count_out = 0;
	if (!d->child_start)
		return ph_error_new(PH_EXIT_INTERNAL, "retained by type: the dominator tree has no children");
	size_t types = g->strings.count ? g->strings.count : 1;
	struct ph_type_bytes *rows = calloc(types, sizeof(*rows));
	uint32_t *stack = malloc(((size_t)d->node_count + 1) * sizeof(*stack));
	if (!rows || !stack) {
		free(rows);
		free(stack);
		return &ph_error_out_of_memory;
	}
	/* the dominator subtree is a tree: each node is pushed once */
	size_t depth = 0;
	stack[depth++] = node;
	while (depth) {
		uint32_t at = stack[--depth];
		const struct ph_node *n = &g->nodes[at];
		if (!(n->flags & PH_NODE_PSEUDO) && n->type < g->strings.count) {
			rows[n->type].count++;
			rows[n->type].size += n->size;
		}
		for (uint32_t c = d->child_start[at]; c < d->child_start[at + 1]; c++)
			stack[depth++] = d->children[c];
	}
	free(stack);
	size_t used = 0;
	for (uint32_t s = 0; s < g->strings.count; s++)
		if (rows[s].count)
			rows[used++] = (struct ph_type_bytes){s, rows[s].count, rows[s].size, false};
	qsort(rows, used, sizeof(*rows), compare_type_bytes);
	*rows_out = rows;
	*count_out = used;
	return NULL;
}

static const char *short_type(const char *qualified)
{
	return strncmp(qualified, "builtins.", 9) == 0 ? qualified + 9 : qualified;
}

static const char *label_text(const struct ph_graph *g, const struct ph_edge *e)
{
	return e->label < g->strings.count ? g->strings.items[e->label] : "?";
}

/* The module's name for a root module node, from its description. */
static void module_name(const struct ph_graph *g, uint32_t node, char *buf, size_t size)
{
	const struct ph_node *n = &g->nodes[node];
	snprintf(buf, size, "%s", n->detail < g->strings.count ? g->strings.items[n->detail] : "?");
}

void ph_describe_holder(const struct ph_graph *g, const struct ph_paths *paths, uint32_t node,
			char *buf, size_t size)
{
	char owner[600], name[300];
	if (paths->depth[node] == UINT32_MAX) {
		snprintf(buf, size, "reachable from no root");
		return;
	}
	if (paths->depth[node] == 0) {
		const struct ph_root *root = &g->roots[paths->root_of[node]];
		const char *root_name = root->name < g->strings.count ? g->strings.items[root->name] : "?";
		switch ((enum ph_root_kind)root->kind) {
		case PH_ROOT_MODULE:
			snprintf(buf, size, "the module %s in sys.modules", root_name);
			return;
		case PH_ROOT_SYSDICT:
			snprintf(buf, size, "the sys module's dict");
			return;
		case PH_ROOT_BUILTINS:
			snprintf(buf, size, "the builtins dict");
			return;
		default:
			snprintf(buf, size, "a frame executing in %s", root_name);
			return;
		}
	}
	uint32_t parent = paths->parent[node];
	const struct ph_edge *e = &g->edges[paths->parent_edge[node]];
	ph_describe_node(g, parent, owner, sizeof(owner));
	switch ((enum ph_edge_kind)e->kind) {
	case PH_EDGE_DICT_VALUE: {
		snprintf(name, sizeof(name), "%s", label_text(g, e));
		/* a key's repr: 'x' -> `x` */
		size_t len = strlen(name);
		if (len >= 2 && (name[0] == '\'' || name[0] == '"') && name[len - 1] == name[0]) {
			memmove(name, name + 1, len - 2);
			name[len - 2] = '\0';
		}
		uint32_t dict_parent = paths->depth[parent] != UINT32_MAX && paths->depth[parent] > 0
					   ? paths->parent[parent]
					   : UINT32_MAX;
		const struct ph_edge *into_dict =
		    dict_parent != UINT32_MAX ? &g->edges[paths->parent_edge[parent]] : NULL;
		bool via_dunder_dict = into_dict && into_dict->kind == PH_EDGE_ATTRIBUTE &&
				       strcmp(label_text(g, into_dict), "__dict__") == 0;
		if (via_dunder_dict && strcmp(type_of(g, dict_parent), "builtins.module") == 0) {
			char module[300];
			module_name(g, dict_parent, module, sizeof(module));
			snprintf(buf, size, "the module global `%s` of %s", name, module);
		} else if (via_dunder_dict) {
			ph_describe_node(g, dict_parent, owner, sizeof(owner));
			bool is_class = strcmp(type_of(g, dict_parent), "builtins.type") == 0 ||
					strncmp(owner, "class ", 6) == 0;
			snprintf(buf, size, "%s `%s` of %s", is_class ? "the class attribute" : "attribute",
				 name, owner);
		} else if (paths->depth[parent] == 0 && g->roots[paths->root_of[parent]].kind == PH_ROOT_SYSDICT) {
			snprintf(buf, size, "sys.%s", name);
		} else if (paths->depth[parent] == 0 &&
			   g->roots[paths->root_of[parent]].kind == PH_ROOT_BUILTINS) {
			snprintf(buf, size, "builtins.%s", name);
		} else {
			snprintf(buf, size, "the value under key %s of a %s", label_text(g, e), owner);
		}
		return;
	}
	case PH_EDGE_ATTRIBUTE:
		if (strcmp(label_text(g, e), "__dict__") == 0 &&
		    strcmp(type_of(g, parent), "builtins.module") == 0) {
			char module[300];
			module_name(g, parent, module, sizeof(module));
			snprintf(buf, size, "the globals of module %s", module);
			return;
		}
		snprintf(buf, size, "attribute `%s` of %s", label_text(g, e), owner);
		return;
	case PH_EDGE_SLOT:
		snprintf(buf, size, "attribute `%s` of %s", label_text(g, e), owner);
		return;
	case PH_EDGE_LOCAL:
		snprintf(buf, size, "local `%s` of %s", label_text(g, e), owner);
		return;
	case PH_EDGE_ITEM:
		snprintf(buf, size, "item [%llu] of %s", (unsigned long long)e->label, owner);
		return;
	case PH_EDGE_SET_ITEM:
		snprintf(buf, size, "a member of %s", owner);
		return;
	case PH_EDGE_DICT_KEY:
		snprintf(buf, size, "key %s of %s", label_text(g, e), owner);
		return;
	case PH_EDGE_TYPE:
		snprintf(buf, size, "the class of %s", owner);
		return;
	case PH_EDGE_CONSERVATIVE:
		snprintf(buf, size, "a pointer at +%llu in %s", (unsigned long long)e->label, owner);
		return;
	case PH_EDGE_KIND_COUNT:
		break;
	}
	snprintf(buf, size, "%s", owner);
}

void ph_describe_accumulation(const struct ph_graph *g, uint32_t node, uint64_t linked_length,
			      char *buf, size_t size)
{
	if (linked_length) {
		char count[32];
		ph_format_count(count, sizeof(count), linked_length);
		snprintf(buf, size, "%s chain of %s entries", short_type(type_of(g, node)), count);
		return;
	}
	ph_describe_node(g, node, buf, size);
}

void ph_describe_by_type(const struct ph_graph *g, const struct ph_type_bytes *rows, size_t count,
			 size_t max, char *buf, size_t size)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < count && i < max && used + 1 < size; i++) {
		char n[32], bytes[32], item[400];
		ph_format_count(n, sizeof(n), rows[i].count);
		ph_format_bytes(bytes, sizeof(bytes), (int64_t)rows[i].size, false);
		const char *type = rows[i].type < g->strings.count ? g->strings.items[rows[i].type] : "?";
		snprintf(item, sizeof(item), "%s%s %s (%s)", i ? ", " : "", n, short_type(type), bytes);
		int written = snprintf(buf + used, size - used, "%s", item);
		if (written < 0)
			break;
		used += (size_t)written < size - used ? (size_t)written : size - used - 1;
	}
	if (count > max && used + 8 < size)
		snprintf(buf + used, size - used, ", ...");
}

void ph_describe_path(const struct ph_graph *g, const struct ph_paths *paths, uint32_t node,
		      const char *tail, char *buf, size_t size)
{
	uint32_t *nodes = NULL;
	uint64_t *edges = NULL;
	int64_t hops = ph_chain_of(g, paths, node, &nodes, &edges);
	size_t used = 0;
	buf[0] = '\0';
	if (hops < 0) {
		snprintf(buf, size, "(reachable from no root)");
		return;
	}
	char text[700], edge[300];
	for (int64_t i = 0; i <= hops && used + 1 < size; i++) {
		ph_describe_node(g, nodes[i], text, sizeof(text));
		edge[0] = '\0';
		if (i < hops)
			ph_describe_edge(g, &g->edges[edges[i]], edge, sizeof(edge));
		/* fold a run of identical hops, as chain does */
		int64_t run = 1;
		while (i + run < hops && g->nodes[nodes[i + run]].type == g->nodes[nodes[i]].type &&
		       g->edges[edges[i + run]].kind == g->edges[edges[i]].kind &&
		       g->edges[edges[i + run]].label == g->edges[edges[i]].label)
			run++;
		int written;
		if (run >= MIN_LINKED_LENGTH) {
			char count[32];
			ph_format_count(count, sizeof(count), (uint64_t)run);
			written = snprintf(buf + used, size - used, "%s%s %s x%s", i ? " › " : "", text, edge,
					   count);
			i += run - 1;
		} else {
			written = snprintf(buf + used, size - used, "%s%s%s%s", i ? " › " : "", text,
					   edge[0] ? " " : "", edge);
		}
		if (written < 0)
			break;
		used += (size_t)written < size - used ? (size_t)written : size - used - 1;
	}
	if (tail && used + 1 < size)
		snprintf(buf + used, size - used, " › %s", tail);
	free(nodes);
	free(edges);
}
