/* Builds the reference graph while the target is stopped. */
#ifndef PYHEAP_GRAPH_BUILD_H
#define PYHEAP_GRAPH_BUILD_H

#include "pyheap/graph.h"
#include "pyheap/progress.h"
#include "pyheap/target.h"
#include "pyheap/type_table.h"

struct ph_label_slot {
	uint64_t key; /* source address ^ style << 62; 0 = empty */
	uint32_t label;
};

struct ph_graph_builder {
	const struct ph_target *t;
	struct ph_type_table *types;
	struct ph_graph *graph;
	bool out_of_memory;
	uint64_t invalid_referents; /* pointers that did not lead to an object */
	struct ph_label_slot *label_slots;
	size_t label_capacity, label_count;
	struct ph_progress *meter; /* NULL, or updated per node walked */
};

/* Registers one GC-tracked object (called from the GC walk). */
bool ph_graph_add_tracked(struct ph_graph_builder *b, uint64_t object, uint32_t type_entry);
/* The node of an object, added (untracked) if new and believable;
 * UINT32_MAX if the address is not an object. */
uint32_t ph_graph_builder_node(struct ph_graph_builder *b, uint64_t address);
/* Adds the roots, walks every node's referents. */
bool ph_graph_build(struct ph_graph_builder *b);
/* Then, with no more reads of the target (its copy can go first, and
 * this memory reuse its pages): edge_start, and reachability. */
bool ph_graph_build_finish(struct ph_graph *g);

#endif
