#include "pyheap/suspects.h"

#include <stdlib.h>
#include <string.h>

/* Holders looked at for groups and growth: down to this share of the heap. */
#define ENTRY_FLOOR_PER_MILLION 100
#define MAX_ENTRIES 100000
/* Matching a holder by its chain's labels: bounded work per type. */
#define MAX_PATH_HOPS 256
#define MAX_PATH_CANDIDATES 20000

static const char *type_of(const struct ph_graph *g, uint32_t node)
{
	uint32_t t = g->nodes[node].type;
	return t < g->strings.count ? g->strings.items[t] : "?";
}

static uint64_t heap_total(const struct ph_dominators *d)
{
	return d->reachable_bytes + d->unreachable_bytes;
}

/* Whether node is a class: type objects have __mro__ edges (a metaclass's
 * instances too, whatever its name). */
static bool is_class(const struct ph_graph *g, uint32_t node)
{
	for (uint64_t e = g->edge_start[node]; e < g->edge_start[node + 1]; e++) {
		const struct ph_edge *edge = &g->edges[e];
		if (edge->kind == PH_EDGE_ATTRIBUTE && edge->label < g->strings.count &&
		    strcmp(g->strings.items[edge->label], "__mro__") == 0)
			return true;
	}
	return false;
}

/* The program's own structure is where everything hangs, never a group of
 * its own: the roots, modules, classes and functions, and the dicts of
 * modules and classes. A group suspect is many holders of one type that
 * the program accumulates (sessions, connections, buffers). */
static bool structural_holder(const struct ph_graph *g, const struct ph_dominators *d,
			      const bool *namespace_dict, uint32_t node)
{
	if (namespace_dict[node])
		return true;
	if (g->nodes[node].flags & (PH_NODE_ROOT | PH_NODE_PSEUDO))
		return true;
	const char *type = type_of(g, node);
	static const char *const program[] = {"builtins.module", "builtins.function", "builtins.code",
					      "builtins.builtin_function_or_method", "builtins.cell",
					      "builtins.type"};
	for (size_t i = 0; i < sizeof(program) / sizeof(program[0]); i++)
		if (strcmp(type, program[i]) == 0)
			return true;
	if (is_class(g, node))
		return true;
	uint32_t parent = d->idom[node];
	return strcmp(type, "builtins.dict") == 0 && parent < d->node_count &&
	       ((g->nodes[parent].flags & PH_NODE_ROOT) ||
		strcmp(type_of(g, parent), "builtins.module") == 0 || is_class(g, parent));
}

/* The __dict__ of every module and class: their namespaces, wherever the
 * dominator tree hangs them (functions elsewhere keep a module's globals). */
static bool *namespace_dicts(const struct ph_graph *g)
{
	bool *marked = calloc((size_t)g->node_count + 1, sizeof(*marked));
	if (!marked)
		return NULL;
	for (uint32_t i = 0; i < g->node_count; i++) {
		if (strcmp(type_of(g, i), "builtins.module") != 0 && !is_class(g, i))
			continue;
		for (uint64_t e = g->edge_start[i]; e < g->edge_start[i + 1]; e++) {
			const struct ph_edge *edge = &g->edges[e];
			if (edge->kind == PH_EDGE_ATTRIBUTE && edge->label < g->strings.count &&
			    strcmp(g->strings.items[edge->label], "__dict__") == 0)
				marked[edge->to] = true;
		}
	}
	return marked;
}

struct type_group {
	uint64_t instances, retained, objects;
	uint32_t largest; /* index into the entries */
};

static int compare_suspects(const void *x, const void *y)
{
	const struct ph_suspect *a = x, *b = y;
	uint64_t ra = a->kind == PH_SUSPECT_OBJECT ? a->r.retained : a->retained;
	uint64_t rb = b->kind == PH_SUSPECT_OBJECT ? b->r.retained : b->retained;
	if (ra != rb)
		return ra < rb ? 1 : -1;
	return (int)a->kind - (int)b->kind;
}

struct ph_error *ph_suspects_find(const struct ph_graph *g, struct ph_dominators *d,
				  struct ph_suspect **out, size_t *count)
{
	*out = NULL;
	*count = 0;
	uint64_t total = heap_total(d);
	uint64_t threshold = (uint64_t)((double)total * PH_SUSPECT_SHARE);
	struct ph_retainer *entries;
	size_t entry_count;
	struct ph_error *err = ph_retainers_top(g, d, MAX_ENTRIES,
						total / 1000000 * ENTRY_FLOOR_PER_MILLION + 1, &entries,
						&entry_count);
	if (err)
		return err;
	size_t types = g->strings.count ? g->strings.count : 1;
	struct type_group *groups = calloc(types, sizeof(*groups));
	struct ph_suspect *suspects = calloc(entry_count + types + 1, sizeof(*suspects));
	bool *namespace_dict = namespace_dicts(g);
	if (!groups || !suspects || !namespace_dict) {
		free(namespace_dict);
		free(groups);
		free(suspects);
		free(entries);
		return &ph_error_out_of_memory;
	}
	size_t found = 0;
	for (size_t i = 0; i < entry_count; i++) {
		struct ph_retainer *r = &entries[i];
		if (r->retained > threshold) {
			struct ph_suspect *s = &suspects[found++];
			s->kind = PH_SUSPECT_OBJECT;
			s->r = *r;
			s->r.accumulation = ph_accumulation_point(g, d, r->holder, &s->r.linked_length);
			s->type = g->nodes[r->holder].type;
			s->instances = 1;
			s->retained = r->retained;
			s->objects = r->objects;
			continue;
		}
		uint32_t type = g->nodes[r->holder].type;
		if (type >= types || structural_holder(g, d, namespace_dict, r->holder))
			continue;
		struct type_group *group = &groups[type];
		/* entries are disjoint: their accumulation points' bytes add up */
		if (!group->instances || r->retained > entries[group->largest].retained)
			group->largest = (uint32_t)i;
		group->instances++;
		group->retained += d->retained[r->accumulation];
		group->objects += d->retained_objects[r->accumulation];
	}
	for (uint32_t t = 0; t < types; t++) {
		const struct type_group *group = &groups[t];
		if (group->instances < 2 || group->retained <= threshold)
			continue;
		struct ph_suspect *s = &suspects[found++];
		s->kind = PH_SUSPECT_TYPE;
		s->r = entries[group->largest];
		s->type = t;
		s->instances = group->instances;
		s->retained = group->retained;
		s->objects = group->objects;
	}
	free(groups);
	free(namespace_dict);
	free(entries);
	qsort(suspects, found, sizeof(*suspects), compare_suspects);
	*out = suspects;
	*count = found;
	return NULL;
}

/* A hash of the labels on the shortest chain to node (types, edge kinds
 * and labels; no addresses), or 0 when it is unreachable or too deep. */
static uint64_t path_signature(const struct ph_graph *g, const struct ph_paths *paths, uint32_t node)
{
	if (paths->depth[node] == UINT32_MAX || paths->depth[node] > MAX_PATH_HOPS)
		return 0;
	uint64_t h = 1469598103934665603ull;
	for (uint32_t at = node;; at = paths->parent[at]) {
		const char *type = type_of(g, at);
		for (const char *c = type; *c; c++)
			h = (h ^ (uint8_t)*c) * 1099511628211ull;
		if (paths->depth[at] == 0) {
			const struct ph_root *root = &g->roots[paths->root_of[at]];
			const char *name = root->name < g->strings.count ? g->strings.items[root->name] : "";
			h = (h ^ (0x100u + root->kind)) * 1099511628211ull;
			for (const char *c = name; *c; c++)
				h = (h ^ (uint8_t)*c) * 1099511628211ull;
			break;
		}
		const struct ph_edge *e = &g->edges[paths->parent_edge[at]];
		h = (h ^ (0x200u + e->kind)) * 1099511628211ull;
		bool string_label = e->kind == PH_EDGE_ATTRIBUTE || e->kind == PH_EDGE_DICT_KEY ||
				    e->kind == PH_EDGE_DICT_VALUE || e->kind == PH_EDGE_LOCAL ||
				    e->kind == PH_EDGE_SLOT;
		if (string_label && e->label < g->strings.count) {
			for (const char *c = g->strings.items[e->label]; *c; c++)
				h = (h ^ (uint8_t)*c) * 1099511628211ull;
		} else {
			h = (h ^ e->label) * 1099511628211ull;
		}
	}
	return h ? h : 1;
}

static uint32_t string_index(const struct ph_graph *g, const char *text)
{
	for (uint32_t s = 0; s < g->strings.count; s++)
		if (strcmp(g->strings.items[s], text) == 0)
			return s;
	return PH_NO_STRING;
}

/* The node of A that is B's holder: by address and type, else the one
 * node of that type in A whose chain has the same labels. */
static uint32_t match_holder(const struct ph_heap_side *a, const struct ph_heap_side *b,
			     const struct ph_address_map *a_nodes, uint32_t node, bool *by_path)
{
	*by_path = false;
	const struct ph_graph *ga = a->graph, *gb = b->graph;
	uint32_t old = ph_address_map_get(a_nodes, gb->nodes[node].address);
	if (old != UINT32_MAX && strcmp(type_of(ga, old), type_of(gb, node)) == 0)
		return old;
	uint64_t want = path_signature(gb, b->paths, node);
	uint32_t type = string_index(ga, type_of(gb, node));
	if (!want || type == PH_NO_STRING)
		return UINT32_MAX;
	uint32_t found = UINT32_MAX, candidates = 0;
	for (uint32_t i = 0; i < ga->node_count; i++) {
		if (ga->nodes[i].type != type)
			continue;
		if (++candidates > MAX_PATH_CANDIDATES)
			return UINT32_MAX;
		if (path_signature(ga, a->paths, i) == want) {
			if (found != UINT32_MAX)
				return UINT32_MAX; /* ambiguous */
			found = i;
		}
	}
	*by_path = found != UINT32_MAX;
	return found;
}

/* Objects in node's retained set that A did not have. */
static bool count_new(const struct ph_heap_side *a, const struct ph_heap_side *b,
		      const struct ph_address_map *a_nodes, uint32_t node, uint64_t *objects,
		      uint64_t *bytes)
{
	const struct ph_graph *ga = a->graph, *gb = b->graph;
	const struct ph_dominators *d = b->dominators;
	uint32_t *stack = malloc(((size_t)d->node_count + 1) * sizeof(*stack));
	if (!stack)
		return false;
	*objects = *bytes = 0;
	size_t depth = 0;
	stack[depth++] = node;
	while (depth) {
		uint32_t at = stack[--depth];
		const struct ph_node *n = &gb->nodes[at];
		if (!(n->flags & PH_NODE_PSEUDO)) {
			uint32_t old = ph_address_map_get(a_nodes, n->address);
			if (old == UINT32_MAX || strcmp(type_of(ga, old), type_of(gb, at)) != 0) {
				(*objects)++;
				*bytes += n->size;
			}
		}
		for (uint32_t c = d->child_start[at]; c < d->child_start[at + 1]; c++)
			stack[depth++] = d->children[c];
	}
	free(stack);
	return true;
}

static int compare_growth(const void *x, const void *y)
{
	const struct ph_growth *a = x, *b = y;
	if (a->retained_delta != b->retained_delta)
		return a->retained_delta < b->retained_delta ? 1 : -1;
	return (a->r.holder > b->r.holder) - (a->r.holder < b->r.holder);
}

struct named_total {
	const char *name;
	int side;
	uint64_t count, bytes;
};

static int compare_named(const void *x, const void *y)
{
	const struct named_total *a = x, *b = y;
	int c = strcmp(a->name, b->name);
	return c ? c : a->side - b->side;
}

static int compare_type_growth(const void *x, const void *y)
{
	const struct ph_type_growth *a = x, *b = y;
	if (a->bytes_delta != b->bytes_delta)
		return a->bytes_delta < b->bytes_delta ? 1 : -1;
	return strcmp(a->type, b->type);
}

/* Per type, over every node (tracked or not): what grew in bytes. */
static struct ph_error *type_growth(const struct ph_graph *ga, const struct ph_graph *gb,
				    struct ph_growth_report *out)
{
	size_t na = ga->strings.count, nb = gb->strings.count;
	struct named_total *totals = calloc(na + nb + 1, sizeof(*totals));
	if (!totals)
		return &ph_error_out_of_memory;
	for (size_t s = 0; s < na; s++)
		totals[s] = (struct named_total){ga->strings.items[s], 0, 0, 0};
	for (size_t s = 0; s < nb; s++)
		totals[na + s] = (struct named_total){gb->strings.items[s], 1, 0, 0};
	for (uint32_t i = 0; i < ga->node_count; i++)
		if (!(ga->nodes[i].flags & PH_NODE_PSEUDO) && ga->nodes[i].type < na) {
			totals[ga->nodes[i].type].count++;
			totals[ga->nodes[i].type].bytes += ga->nodes[i].size;
		}
	for (uint32_t i = 0; i < gb->node_count; i++)
		if (!(gb->nodes[i].flags & PH_NODE_PSEUDO) && gb->nodes[i].type < nb) {
			totals[na + gb->nodes[i].type].count++;
			totals[na + gb->nodes[i].type].bytes += gb->nodes[i].size;
		}
	qsort(totals, na + nb, sizeof(*totals), compare_named);
	out->types = calloc(na + nb + 1, sizeof(*out->types));
	if (!out->types) {
		free(totals);
		return &ph_error_out_of_memory;
	}
	for (size_t i = 0; i < na + nb; i++) {
		if (!totals[i].count)
			continue;
		struct ph_type_growth *row = out->type_count && strcmp(out->types[out->type_count - 1].type,
								       totals[i].name) == 0
						 ? &out->types[out->type_count - 1]
						 : NULL;
		if (!row) {
			row = &out->types[out->type_count++];
			row->type = totals[i].name;
		}
		int64_t sign = totals[i].side ? 1 : -1;
		row->count_delta += sign * (int64_t)totals[i].count;
		row->bytes_delta += sign * (int64_t)totals[i].bytes;
		if (totals[i].side) {
			row->count_after += totals[i].count;
			row->bytes_after += totals[i].bytes;
		}
	}
	free(totals);
	qsort(out->types, out->type_count, sizeof(*out->types), compare_type_growth);
	return NULL;
}

struct ph_error *ph_suspects_growth(const struct ph_heap_side *a, const struct ph_heap_side *b,
				    size_t limit, struct ph_growth_report *out)
{
	memset(out, 0, sizeof(*out));
	out->heap_before = heap_total(a->dominators);
	out->heap_after = heap_total(b->dominators);
	struct ph_retainer *entries;
	size_t entry_count;
	struct ph_error *err = ph_retainers_top(b->graph, b->dominators, MAX_ENTRIES,
						out->heap_after / 1000000 * ENTRY_FLOOR_PER_MILLION + 1,
						&entries, &entry_count);
	if (err)
		return err;
	struct ph_address_map a_nodes = {NULL, NULL, 0};
	struct ph_growth *holders = calloc(entry_count + 1, sizeof(*holders));
	if (!holders || !ph_address_map_build(&a_nodes, a->graph, 0)) {
		free(holders);
		free(entries);
		ph_address_map_free(&a_nodes);
		return &ph_error_out_of_memory;
	}
	size_t count = 0;
	for (size_t i = 0; i < entry_count; i++) {
		struct ph_growth *h = &holders[count];
		h->r = entries[i];
		h->before = match_holder(a, b, &a_nodes, h->r.holder, &h->matched_by_path);
		if (h->before != UINT32_MAX && a->dominators->idom[h->before] != PH_DOM_UNREACHABLE)
			h->retained_before = a->dominators->retained[h->before];
		h->retained_delta = (int64_t)h->r.retained - (int64_t)h->retained_before;
		if (h->retained_delta > 0)
			count++;
	}
	free(entries);
	qsort(holders, count, sizeof(*holders), compare_growth);
	if (count > limit)
		count = limit;
	uint64_t threshold = (uint64_t)((double)out->heap_before * PH_GROWTH_SHARE);
	for (size_t i = 0; i < count && !err; i++) {
		struct ph_growth *h = &holders[i];
		h->suspect = h->retained_delta > 0 && (uint64_t)h->retained_delta > threshold;
		h->r.accumulation = ph_accumulation_point(b->graph, b->dominators, h->r.holder,
							  &h->r.linked_length);
		if (!count_new(a, b, &a_nodes, h->r.holder, &h->new_objects, &h->new_bytes))
			err = &ph_error_out_of_memory;
	}
	ph_address_map_free(&a_nodes);
	out->holders = holders;
	out->holder_count = count;
	if (!err)
		err = type_growth(a->graph, b->graph, out);
	if (err)
		ph_growth_report_free(out);
	return err;
}

void ph_growth_report_free(struct ph_growth_report *report)
{
	free(report->holders);
	free(report->types);
	memset(report, 0, sizeof(*report));
}
