#include "pyheap/graph.h"

#include <stdlib.h>
#include <string.h>

#include "pyheap/big_alloc.h"

const char *const ph_edge_kind_names[PH_EDGE_KIND_COUNT] = {
    "attribute", "item", "dict_key", "dict_value", "set_item",
    "local",     "type", "conservative", "slot",
};

const char *const ph_root_kind_names[PH_ROOT_KIND_COUNT] = {
    "module", "sys_dict", "builtins", "thread_frame",
};

void ph_graph_init(struct ph_graph *g)
{
	memset(g, 0, sizeof(*g));
}

void ph_graph_free(struct ph_graph *g)
{
	for (uint32_t i = 0; i < g->strings.count; i++)
		free(g->strings.items[i]);
	free(g->strings.items);
	free(g->strings.slots);
	ph_big_free(g->nodes);
	ph_big_free(g->edges);
	ph_big_free(g->edge_start);
	free(g->roots);
	ph_big_free(g->index_slots);
	free(g->tracebacks);
	memset(g, 0, sizeof(*g));
}

static inline uint64_t mix(uint64_t address)
{
	return address * 0x9E3779B97F4A7C15ull;
}

uint32_t ph_graph_find(const struct ph_graph *g, uint64_t address)
{
	if (!g->index_slot_count || !g->index_ready)
		return UINT32_MAX;
	size_t mask = g->index_slot_count - 1;
	uint64_t h = mix(address);
	uint32_t tag = (uint32_t)(h >> 32);
	for (size_t at = (size_t)(h >> 24) & mask;; at = (at + 1) & mask) {
		const struct ph_index_slot *slot = &g->index_slots[at];
		if (!slot->node)
			return UINT32_MAX;
		if (slot->tag == tag && g->nodes[slot->node - 1].address == address)
			return slot->node - 1;
	}
}

/* Rebuilds the index with room for `expected` nodes at most half full. */
static bool resize_index(struct ph_graph *g, size_t expected)
{
	size_t count = 1 << 16;
	while (count < expected * 2)
		count *= 2;
	ph_big_free(g->index_slots);
	g->index_slots = NULL;
	g->index_slot_count = 0;
	struct ph_index_slot *slots = ph_big_alloc(count * sizeof(*slots));
	if (!slots)
		return false;
	for (uint32_t i = 0; i < g->node_count; i++) {
		uint64_t h = mix(g->nodes[i].address);
		size_t at = (size_t)(h >> 24) & (count - 1);
		while (slots[at].node)
			at = (at + 1) & (count - 1);
		slots[at] = (struct ph_index_slot){i + 1, (uint32_t)(h >> 32)};
	}
	g->index_slots = slots;
	g->index_slot_count = count;
	g->index_ready = true;
	return true;
}

bool ph_graph_index(struct ph_graph *g, uint32_t expected_nodes)
{
	size_t expected = expected_nodes > g->node_count ? expected_nodes : g->node_count;
	return resize_index(g, expected + 1);
}

void ph_graph_drop_index(struct ph_graph *g)
{
	ph_big_free(g->index_slots);
	g->index_slots = NULL;
	g->index_slot_count = 0;
	g->index_ready = false;
}

static bool grow_nodes(struct ph_graph *g)
{
	if (g->node_count == UINT32_MAX - 1)
		return false;
	if (g->node_count < g->node_capacity)
		return true;
	uint32_t capacity = g->node_capacity ? g->node_capacity * 2 : 1 << 14;
	if (capacity < g->node_capacity)
		capacity = UINT32_MAX;
	struct ph_node *grown = ph_big_realloc(g->nodes, (size_t)capacity * sizeof(*grown));
	if (!grown)
		return false;
	g->nodes = grown;
	g->node_capacity = capacity;
	return true;
}

uint32_t ph_graph_append_node(struct ph_graph *g, uint64_t address, uint32_t flags)
{
	if (!grow_nodes(g))
		return UINT32_MAX;
	uint32_t index = g->node_count++;
	g->nodes[index] = (struct ph_node){address, 0, PH_NO_STRING, PH_NO_STRING, flags, UINT32_MAX, 0};
	g->index_ready = false;
	return index;
}

uint32_t ph_graph_add_node(struct ph_graph *g, uint64_t address, uint32_t flags)
{
	if (!g->index_ready && !ph_graph_index(g, g->node_count))
		return UINT32_MAX;
	if ((size_t)(g->node_count + 1) * 2 > g->index_slot_count &&
	    !resize_index(g, (size_t)g->node_count * 2))
		return UINT32_MAX;
	if (!grow_nodes(g))
		return UINT32_MAX;
	uint32_t index = g->node_count++;
	g->nodes[index] = (struct ph_node){address, 0, PH_NO_STRING, PH_NO_STRING, flags, UINT32_MAX, 0};
	size_t mask = g->index_slot_count - 1;
	uint64_t h = mix(address);
	size_t at = (size_t)(h >> 24) & mask;
	while (g->index_slots[at].node)
		at = (at + 1) & mask;
	g->index_slots[at] = (struct ph_index_slot){index + 1, (uint32_t)(h >> 32)};
	return index;
}

void ph_graph_begin_edges(struct ph_graph *g, uint32_t node)
{
	g->nodes[node].first_edge = g->edge_count;
}

bool ph_graph_add_edge(struct ph_graph *g, uint32_t to, enum ph_edge_kind kind, uint64_t label)
{
	if (g->edge_count == g->edge_capacity) {
		uint64_t capacity = g->edge_capacity ? g->edge_capacity * 2 : 1 << 16;
		struct ph_edge *grown = ph_big_realloc(g->edges, capacity * sizeof(*grown));
		if (!grown)
			return false;
		g->edges = grown;
		g->edge_capacity = capacity;
	}
	g->edges[g->edge_count++] = (struct ph_edge){to, (uint32_t)kind, label};
	return true;
}

bool ph_graph_finish_edges(struct ph_graph *g)
{
	ph_big_free(g->edge_start);
	g->edge_start = ph_big_alloc(((size_t)g->node_count + 1) * sizeof(*g->edge_start));
	if (!g->edge_start)
		return false;
	for (uint32_t i = 0; i < g->node_count; i++)
		g->edge_start[i] = g->nodes[i].first_edge;
	g->edge_start[g->node_count] = g->edge_count;
	return true;
}

bool ph_graph_mark_reachable(struct ph_graph *g)
{
	uint32_t *queue = ph_big_alloc(((size_t)g->node_count + 1) * sizeof(*queue));
	if (!queue)
		return false;
	size_t head = 0, tail = 0;
	for (uint32_t r = 0; r < g->root_count; r++) {
		struct ph_node *n = &g->nodes[g->roots[r].node];
		if (!(n->flags & PH_NODE_REACHABLE)) {
			n->flags |= PH_NODE_REACHABLE;
			queue[tail++] = g->roots[r].node;
		}
	}
	while (head < tail) {
		uint32_t from = queue[head++];
		for (uint64_t e = g->edge_start[from]; e < g->edge_start[from + 1]; e++) {
			struct ph_node *to = &g->nodes[g->edges[e].to];
			if (!(to->flags & PH_NODE_REACHABLE)) {
				to->flags |= PH_NODE_REACHABLE;
				queue[tail++] = g->edges[e].to;
			}
		}
	}
	ph_big_free(queue);
	return true;
}

bool ph_graph_push_root(struct ph_graph *g, struct ph_root root)
{
	if (g->root_count == g->root_capacity) {
		uint32_t capacity = g->root_capacity ? g->root_capacity * 2 : 256;
		struct ph_root *grown = realloc(g->roots, (size_t)capacity * sizeof(*grown));
		if (!grown)
			return false;
		g->roots = grown;
		g->root_capacity = capacity;
	}
	g->roots[g->root_count++] = root;
	return true;
}

bool ph_graph_add_root(struct ph_graph *g, uint32_t node, enum ph_root_kind kind, uint32_t name)
{
	if (!ph_graph_push_root(g, (struct ph_root){node, (uint32_t)kind, name}))
		return false;
	g->nodes[node].flags |= PH_NODE_ROOT;
	return true;
}

static size_t hash_string(const char *s, size_t mask)
{
	uint64_t h = 1469598103934665603ull;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return (size_t)h & mask;
}

static bool grow_strings(struct ph_strings *s)
{
	size_t count = s->slot_count ? s->slot_count * 2 : 4096;
	uint32_t *slots = calloc(count, sizeof(*slots));
	if (!slots)
		return false;
	for (uint32_t i = 0; i < s->count; i++) {
		size_t at = hash_string(s->items[i], count - 1);
		while (slots[at])
			at = (at + 1) & (count - 1);
		slots[at] = i + 1;
	}
	free(s->slots);
	s->slots = slots;
	s->slot_count = count;
	return true;
}

uint32_t ph_strings_intern(struct ph_strings *s, const char *text)
{
	if ((size_t)(s->count + 1) * 2 > s->slot_count && !grow_strings(s))
		return PH_NO_STRING;
	size_t mask = s->slot_count - 1;
	size_t at = hash_string(text, mask);
	for (; s->slots[at]; at = (at + 1) & mask)
		if (strcmp(s->items[s->slots[at] - 1], text) == 0)
			return s->slots[at] - 1;
	if (s->count == s->capacity) {
		uint32_t capacity = s->capacity ? s->capacity * 2 : 1024;
		char **grown = realloc(s->items, (size_t)capacity * sizeof(*grown));
		if (!grown)
			return PH_NO_STRING;
		s->items = grown;
		s->capacity = capacity;
	}
	char *copy = strdup(text);
	if (!copy)
		return PH_NO_STRING;
	s->items[s->count] = copy;
	s->slots[at] = s->count + 1;
	return s->count++;
}
