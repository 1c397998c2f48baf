/* Writes a reference graph as a Chrome DevTools heap snapshot
 * (.heapsnapshot, the layout of V8's HeapSnapshotJSONSerializer), so the
 * Memory panel of DevTools and memlab can open pyheap's snapshots.
 *
 * Layout: node 0 is a synthetic root whose edges (property, named by the
 * root: a module's name, "sys", "builtins", "thread N") lead to pyheap's
 * roots; graph node i is heapsnapshot node i + 1, id 2i + 3 (V8's odd ids
 * for heap objects; the root is id 1), named "<TYPE 0xADDRESS> DETAIL" so
 * DevTools groups objects by type (its class name is the name up to the
 * first space, closed by '>') while each row still shows the address.
 * Edges from objects no root reaches to objects a root reaches are written
 * as weak: garbage keeps nothing alive, and both DevTools and memlab then
 * compute the same dominators as pyheap (which starts from the roots only).
 * Streamed: beyond the loaded graph, memory is one 32-bit word per string
 * of the graph plus one entry per distinct conservative pointer offset. */
#ifndef PYHEAP_HEAPSNAPSHOT_H
#define PYHEAP_HEAPSNAPSHOT_H

#include <stdint.h>
#include <stdio.h>

#include "pyheap/error.h"
#include "pyheap/graph.h"
#include "pyheap/progress.h"

struct ph_heapsnapshot_stats {
	uint64_t nodes;         /* written, the synthetic root included */
	uint64_t edges;
	uint64_t weak_edges;    /* from unreachable objects to reachable ones */
	uint64_t unreachable;   /* objects no root reaches */
	uint64_t clamped_sizes; /* self sizes of 4 GiB or more, written as 2^32 - 1 */
};

/* g's PH_NODE_REACHABLE flags must be what ph_graph_mark_reachable
 * computes. progress may be NULL. Errors: PH_EXIT_BAD_INPUT when the graph
 * is too large for the format's 32-bit fields, PH_EXIT_OUTPUT when writing
 * fails, PH_EXIT_INTERNAL when out of memory. */
struct ph_error *ph_heapsnapshot_write(const struct ph_graph *g, FILE *out,
				       struct ph_progress *progress,
				       struct ph_heapsnapshot_stats *stats);

#endif
