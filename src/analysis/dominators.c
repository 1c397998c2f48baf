/* Dominators by semi-NCA. The work happens in DFS-number space: number 0
 * is the virtual root, 1..reached are the nodes a depth-first search from
 * it reaches, in preorder. Every phase is a loop over arrays: no
 * recursion, so a linked structure a million nodes deep is fine. */
#include "pyheap/dominators.h"

#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

struct numbering {
	uint32_t *number; /* node -> DFS number, 0 = not reached */
	uint32_t *vertex; /* DFS number -> node (vertex[0] unused: the virtual root) */
	uint32_t *parent; /* DFS number -> DFS number of its DFS tree parent */
	uint32_t reached; /* nodes numbered */
	uint64_t peak_bytes;
};

static bool is_root(const struct ph_graph *g, uint32_t node)
{
	return (g->nodes[node].flags & PH_NODE_ROOT) != 0;
}

/* Depth-first search from the virtual root: its children are the roots,
 * in order; edges into roots are not followed. The stack of (node, next
 * edge) pairs never holds a node twice, so it is bounded by the nodes. */
static struct ph_error *number_nodes(const struct ph_graph *g, struct numbering *n)
{
	uint32_t count = g->node_count;
	n->number = calloc((size_t)count + 1, sizeof(*n->number));
	n->vertex = malloc(((size_t)count + 1) * sizeof(*n->vertex));
	n->parent = malloc(((size_t)count + 1) * sizeof(*n->parent));
	uint32_t *stack = malloc(((size_t)count + 1) * sizeof(*stack));
	uint64_t *cursor = malloc(((size_t)count + 1) * sizeof(*cursor));
	if (!n->number || !n->vertex || !n->parent || !stack || !cursor) {
		free(stack);
		free(cursor);
		return ph_error_new(PH_EXIT_INTERNAL, "out of memory numbering %u nodes for the dominator tree",
				    count);
	}
	n->reached = 0;
	n->parent[0] = 0;
	n->peak_bytes = ((uint64_t)count + 1) * (4 * sizeof(uint32_t) + sizeof(uint64_t));
	for (uint32_t r = 0; r < g->root_count; r++) {
		uint32_t root = g->roots[r].node;
		if (root >= count || n->number[root])
			continue;
		n->number[root] = ++n->reached;
		n->vertex[n->reached] = root;
		n->parent[n->reached] = 0;
		size_t depth = 0;
		stack[depth] = root;
		cursor[depth] = g->edge_start[root];
		depth++;
		while (depth) {
			uint32_t from = stack[depth - 1];
			uint64_t e = cursor[depth - 1];
			if (e == g->edge_start[from + 1]) {
				depth--;
				continue;
			}
			cursor[depth - 1] = e + 1;
			uint32_t to = g->edges[e].to;
			if (to >= count || n->number[to] || is_root(g, to))
				continue;
			n->number[to] = ++n->reached;
			n->vertex[n->reached] = to;
			n->parent[n->reached] = n->number[from];
			stack[depth] = to;
			cursor[depth] = g->edge_start[to];
			depth++;
		}
	}
	free(stack);
	free(cursor);
	return NULL;
}

/* Predecessors of each reached node, as DFS numbers, grouped by target
 * (compressed rows). Edges into roots are left out: a root's only
 * predecessor is the virtual root, which needs no entry. */
static struct ph_error *predecessors(const struct ph_graph *g, const struct numbering *n,
				     uint32_t **start_out, uint32_t **from_out)
{
	uint32_t reached = n->reached;
	uint32_t *start = calloc((size_t)reached + 2, sizeof(*start));
	if (!start)
		return &ph_error_out_of_memory;
	uint64_t total = 0;
	for (uint32_t v = 1; v <= reached; v++) {
		uint32_t node = n->vertex[v];
		for (uint64_t e = g->edge_start[node]; e < g->edge_start[node + 1]; e++) {
			uint32_t to = g->edges[e].to;
			if (to < g->node_count && !is_root(g, to)) {
				start[n->number[to] + 1]++;
				total++;
			}
		}
	}
	if (total >= UINT32_MAX) {
		free(start);
		return ph_error_new(PH_EXIT_INTERNAL,
				    "the graph has %llu reachable edges; dominators handle fewer than 2^32",
				    (unsigned long long)total);
	}
	for (uint32_t w = 1; w <= reached + 1; w++)
		start[w] += start[w - 1];
	uint32_t *from = malloc((total ? total : 1) * sizeof(*from));
	if (!from) {
		free(start);
		return ph_error_new(PH_EXIT_INTERNAL,
				    "out of memory: %llu predecessor entries for the dominator tree",
				    (unsigned long long)total);
	}
	/* start[w] is used as the fill cursor of w's row, then shifted back */
	for (uint32_t v = 1; v <= reached; v++) {
		uint32_t node = n->vertex[v];
		for (uint64_t e = g->edge_start[node]; e < g->edge_start[node + 1]; e++) {
			uint32_t to = g->edges[e].to;
			if (to < g->node_count && !is_root(g, to))
				from[start[n->number[to]]++] = v;
		}
	}
	for (uint32_t w = reached + 1; w > 0; w--)
		start[w] = start[w - 1];
	start[0] = 0;
	*start_out = start;
	*from_out = from;
	return NULL;
}

struct forest {
	uint32_t *ancestor; /* NONE until linked */
	uint32_t *label;
	const uint32_t *semi;
	uint32_t *path; /* scratch for compress, grown on demand */
	size_t path_capacity;
};

/* The node of minimal semi on the path from v up to (not including) the
 * root of its tree in the forest, compressing that path as it goes. */
static bool eval(struct forest *f, uint32_t v, uint32_t *out)
{
	if (f->ancestor[v] == NONE) {
		*out = v;
		return true;
	}
	size_t depth = 0;
	for (uint32_t u = v; f->ancestor[f->ancestor[u]] != NONE; u = f->ancestor[u]) {
		if (depth == f->path_capacity) {
			size_t capacity = f->path_capacity ? f->path_capacity * 2 : 1024;
			uint32_t *grown = realloc(f->path, capacity * sizeof(*grown));
			if (!grown)
				return false;
			f->path = grown;
			f->path_capacity = capacity;
		}
		f->path[depth++] = u;
	}
	/* from the top of the path down: each node takes its ancestor's
	 * label if better, then points past it */
	while (depth) {
		uint32_t u = f->path[--depth];
		uint32_t a = f->ancestor[u];
		if (f->semi[f->label[a]] < f->semi[f->label[u]])
			f->label[u] = f->label[a];
		f->ancestor[u] = f->ancestor[a];
	}
	*out = f->label[v];
	return true;
}

/* idom by DFS number, in place of parent (semi-NCA's second phase). */
static struct ph_error *semi_nca(const struct numbering *n, const uint32_t *pred_start,
				 const uint32_t *pred_from, uint32_t *idom)
{
	uint32_t reached = n->reached;
	uint32_t *semi = malloc(((size_t)reached + 1) * sizeof(*semi));
	struct forest f = {malloc(((size_t)reached + 1) * sizeof(uint32_t)),
			   malloc(((size_t)reached + 1) * sizeof(uint32_t)), semi, NULL, 0};
	if (!semi || !f.ancestor || !f.label) {
		free(semi);
		free(f.ancestor);
		free(f.label);
		return &ph_error_out_of_memory;
	}
	for (uint32_t v = 0; v <= reached; v++) {
		semi[v] = v;
		f.label[v] = v;
		f.ancestor[v] = NONE;
	}
	struct ph_error *err = NULL;
	for (uint32_t w = reached; w >= 1 && !err; w--) {
		uint32_t best = semi[w];
		if (pred_start[w] == pred_start[w + 1])
			best = 0; /* a root: its only predecessor is the virtual root */
		for (uint32_t p = pred_start[w]; p < pred_start[w + 1]; p++) {
			uint32_t u;
			if (!eval(&f, pred_from[p], &u)) {
				err = &ph_error_out_of_memory;
				break;
			}
			if (semi[u] < best)
				best = semi[u];
		}
		semi[w] = best;
		f.ancestor[w] = n->parent[w];
	}
	if (!err) {
		idom[0] = 0;
		for (uint32_t w = 1; w <= reached; w++) {
			uint32_t d = n->parent[w];
			while (d > semi[w])
				d = idom[d];
			idom[w] = d;
		}
	}
	free(semi);
	free(f.ancestor);
	free(f.label);
	free(f.path);
	return err;
}

struct ph_error *ph_dominators_compute(const struct ph_graph *g, struct ph_dominators *out)
{
	memset(out, 0, sizeof(*out));
	uint32_t count = g->node_count;
	if (count >= PH_DOM_VIRTUAL_ROOT)
		return ph_error_new(PH_EXIT_INTERNAL, "too many nodes for the dominator tree");
	out->node_count = count;
	struct numbering n = {NULL, NULL, NULL, 0, 0};
	uint32_t *pred_start = NULL, *pred_from = NULL;
	struct ph_error *err = number_nodes(g, &n);
	uint64_t numbering_bytes = 3 * ((uint64_t)count + 1) * sizeof(uint32_t);
	uint64_t peak = n.peak_bytes;
	if (!err)
		err = predecessors(g, &n, &pred_start, &pred_from);
	if (!err) {
		/* rows, semi, ancestor, label: all alive during semi_nca */
		uint64_t rows = ((uint64_t)n.reached + 2) * sizeof(uint32_t) +
				(uint64_t)pred_start[n.reached + 1] * sizeof(uint32_t);
		uint64_t semi = 3 * ((uint64_t)n.reached + 1) * sizeof(uint32_t);
		if (numbering_bytes + rows + semi > peak)
			peak = numbering_bytes + rows + semi;
		uint64_t kept = ((uint64_t)count + 1) * (2 * sizeof(uint32_t) + sizeof(uint64_t));
		if (numbering_bytes + kept > peak)
			peak = numbering_bytes + kept;
	}
	if (!err) {
		/* parent becomes idom, by DFS number */
		err = semi_nca(&n, pred_start, pred_from, n.parent);
	}
	free(pred_start);
	free(pred_from);
	pred_start = pred_from = NULL;
	if (!err) {
		out->idom = malloc(((size_t)count + 1) * sizeof(*out->idom));
		out->retained = malloc(((size_t)count + 1) * sizeof(*out->retained));
		out->retained_objects = malloc(((size_t)count + 1) * sizeof(*out->retained_objects));
		if (!out->idom || !out->retained || !out->retained_objects)
			err = &ph_error_out_of_memory;
	}
	if (!err) {
		for (uint32_t i = 0; i < count; i++) {
			const struct ph_node *node = &g->nodes[i];
			bool object = !(node->flags & PH_NODE_PSEUDO);
			if (n.number[i]) {
				uint32_t d = n.parent[n.number[i]];
				out->idom[i] = d ? n.vertex[d] : PH_DOM_VIRTUAL_ROOT;
				out->retained[i] = node->size;
				out->retained_objects[i] = object;
				out->reachable_bytes += node->size;
				out->reachable_objects += object;
			} else {
				out->idom[i] = PH_DOM_UNREACHABLE;
				out->retained[i] = 0;
				out->retained_objects[i] = 0;
				out->unreachable_bytes += node->size;
				out->unreachable_objects += object;
			}
		}
		/* children before parents: reverse preorder */
		for (uint32_t w = n.reached; w >= 1; w--) {
			uint32_t node = n.vertex[w];
			uint32_t d = out->idom[node];
			if (d == PH_DOM_VIRTUAL_ROOT)
				continue;
			out->retained[d] += out->retained[node];
			out->retained_objects[d] += out->retained_objects[node];
		}
	}
	free(n.number);
	free(n.vertex);
	free(n.parent);
	if (err)
		ph_dominators_free(out);
	else
		out->peak_bytes = peak;
	return err;
}

struct ph_error *ph_dominators_children(struct ph_dominators *d)
{
	if (d->child_start)
		return NULL;
	uint32_t count = d->node_count;
	uint32_t *start = calloc((size_t)count + 2, sizeof(*start));
	if (!start)
		return &ph_error_out_of_memory;
	/* slot count stands for the virtual root */
	uint32_t total = 0;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t p = d->idom[i];
		if (p == PH_DOM_UNREACHABLE)
			continue;
		start[(p == PH_DOM_VIRTUAL_ROOT ? count : p) + 1]++;
		total++;
	}
	for (uint32_t i = 1; i <= count + 1; i++)
		start[i] += start[i - 1];
	uint32_t *children = malloc((total ? total : 1) * sizeof(*children));
	if (!children) {
		free(start);
		return &ph_error_out_of_memory;
	}
	for (uint32_t i = 0; i < count; i++) {
		uint32_t p = d->idom[i];
		if (p == PH_DOM_UNREACHABLE)
			continue;
		children[start[p == PH_DOM_VIRTUAL_ROOT ? count : p]++] = i;
	}
	for (uint32_t i = count + 1; i > 0; i--)
		start[i] = start[i - 1];
	start[0] = 0;
	d->child_start = start;
	d->children = children;
	return NULL;
}

bool ph_dominates(const struct ph_dominators *d, uint32_t a, uint32_t b)
{
	if (b >= d->node_count || d->idom[b] == PH_DOM_UNREACHABLE)
		return false;
	for (uint32_t at = b; at < d->node_count; at = d->idom[at])
		if (at == a)
			return true;
	return false;
}

void ph_dominators_free(struct ph_dominators *d)
{
	free(d->idom);
	free(d->retained);
	free(d->retained_objects);
	free(d->child_start);
	free(d->children);
	memset(d, 0, sizeof(*d));
}
