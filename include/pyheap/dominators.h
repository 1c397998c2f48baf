/* Retained sizes: the dominator tree of a reference graph.
 *
 * Node A dominates B when every path from the roots to B passes through
 * A; A's retained size is the sum of the sizes of everything it dominates,
 * itself included: what would be freed if A's last reference went away.
 * The tree hangs from a virtual root whose children are the graph's roots;
 * edges into roots are ignored (a root is alive whatever refers to it),
 * as Eclipse MAT does. Nodes no root reaches are not in the tree; they are
 * counted apart (garbage not yet collected, or held only from C). */
#ifndef PYHEAP_DOMINATORS_H
#define PYHEAP_DOMINATORS_H

#include <stdint.h>

#include "pyheap/error.h"
#include "pyheap/graph.h"

/* idom values that are not node indexes */
#define PH_DOM_VIRTUAL_ROOT (UINT32_MAX - 1) /* a top-level node: dominated by the roots' virtual root only */
#define PH_DOM_UNREACHABLE UINT32_MAX

struct ph_dominators {
	uint32_t node_count;
	uint32_t *idom;            /* node -> immediate dominator, or one of the two values above */
	uint64_t *retained;        /* node -> bytes it keeps alive, its own size included; 0 if unreachable */
	uint32_t *retained_objects; /* node -> objects it keeps alive, itself included (pseudo-nodes
				       such as interpreter frames are not objects and count 0) */
	uint64_t reachable_bytes, unreachable_bytes;
	uint64_t reachable_objects, unreachable_objects;
	/* The tree's children, grouped by parent: node n's children are
	 * children[child_start[n] .. child_start[n + 1]); the virtual root's
	 * (the top-level nodes) are children[child_start[node_count] ..
	 * child_start[node_count + 1]). Built by ph_dominators_children. */
	uint32_t *child_start;
	uint32_t *children;
	/* the most bytes the computation held at once beyond the graph (its
	 * arrays; measured, for the benchmark's bytes-per-node figure) */
	uint64_t peak_bytes;
};

/* Semi-NCA (Georgiadis, Tarjan and Werneck's "Finding Dominators in
 * Practice"): iterative, O(E log N), about 28 bytes per node plus 4 per
 * edge at its peak, 16 bytes per node kept. */
struct ph_error *ph_dominators_compute(const struct ph_graph *g, struct ph_dominators *out);
/* Fills child_start/children (8 bytes per node more). */
struct ph_error *ph_dominators_children(struct ph_dominators *d);
void ph_dominators_free(struct ph_dominators *d);

/* Whether a dominates b (a == b counts); O(depth of b). */
bool ph_dominates(const struct ph_dominators *d, uint32_t a, uint32_t b);

#endif
