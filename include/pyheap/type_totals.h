/* Objects and bytes per type over a whole reference graph: every node
 * (GC-tracked or not) but pseudo-nodes, with the tracked part apart (what
 * gc.get_objects() and the snapshot's "types" section count). The report's
 * type table; a row per distinct type name. */
#ifndef PYHEAP_TYPE_TOTALS_H
#define PYHEAP_TYPE_TOTALS_H

#include <stddef.h>
#include <stdint.h>

#include "pyheap/error.h"
#include "pyheap/graph.h"

/* (A hostile file may name one type twice in its strings: two rows.) */
struct ph_type_total {
	const char *name; /* borrowed from the graph's strings */
	uint64_t objects, bytes;
	uint64_t tracked_objects, tracked_bytes;
};

/* Rows sorted by bytes, largest first (then by name). */
struct ph_error *ph_type_totals_compute(const struct ph_graph *g, struct ph_type_total **rows,
					size_t *count);

#endif
