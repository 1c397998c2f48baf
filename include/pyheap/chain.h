/* Shortest labelled chains from a root to objects, over a struct ph_graph
 * (captured live or read from a file). */
#ifndef PYHEAP_CHAIN_H
#define PYHEAP_CHAIN_H

#include <stdio.h>

#include "pyheap/graph.h"

struct ph_paths {
	uint32_t *parent;      /* node -> previous node on the shortest path, or UINT32_MAX */
	uint64_t *parent_edge; /* the edge used */
	uint32_t *root_of;     /* node -> root index it was reached from */
	uint32_t *depth;       /* hops from the root; UINT32_MAX if unreachable */
};

/* Breadth-first search from every root, modules first (so ties go to the
 * module path), then the interpreter's dicts, then thread frames. */
bool ph_paths_compute(const struct ph_graph *g, struct ph_paths *out);
void ph_paths_free(struct ph_paths *paths);

/* Nodes whose type is name: the qualified name ("__main__.Book"), or the
 * short one ("Book", matching any module and outer qualname). */
uint32_t *ph_nodes_of_type(const struct ph_graph *g, const char *name, uint32_t *count);

/* Text for a node ("module __main__", "frame f (x.py:3)", "dict") and for an
 * edge label (".tb_frame", "['key']", "local 'book'"). */
void ph_describe_node(const struct ph_graph *g, uint32_t node, char *buf, size_t size);
void ph_describe_edge(const struct ph_graph *g, const struct ph_edge *e, char *buf, size_t size);

/* The chain to target as hops from the root: nodes[0] is the root,
 * edges[i] leads from nodes[i] to nodes[i+1]. Returns the hop count, or
 * -1 when target is unreachable. Arrays are malloc'd. */
int64_t ph_chain_of(const struct ph_graph *g, const struct ph_paths *paths, uint32_t target,
		    uint32_t **nodes, uint64_t **edges);

/* Writes a chain as text, folding runs of identical hops. */
void ph_chain_print(FILE *out, const struct ph_graph *g, const struct ph_paths *paths,
		    uint32_t target);
/* Type names closest to a query, for "did you mean". */
size_t ph_closest_type_names(const struct ph_graph *g, const char *query, const char **out,
			     size_t max);

#endif
