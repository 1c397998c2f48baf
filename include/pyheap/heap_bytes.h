/* The whole Python heap in bytes: every node of the graph (the objects on
 * the GC lists and every untracked object they or the roots reach: str,
 * bytes, int, float, untracked tuples and dicts...), with the untracked
 * part per type, since gc.get_objects() never lists those. */
#ifndef PYHEAP_HEAP_BYTES_H
#define PYHEAP_HEAP_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include "pyheap/error.h"
#include "pyheap/graph.h"

struct ph_type_bytes {
	uint32_t type; /* string index of the type name in the graph */
	uint64_t count, size;
	bool size_inexact; /* some of its sizes are not sys.getsizeof's */
};

struct ph_heap_bytes {
	uint64_t objects, bytes;                 /* every node but pseudo-nodes */
	uint64_t tracked_objects, tracked_bytes; /* on the GC lists */
	uint64_t untracked_objects, untracked_bytes;
	struct ph_type_bytes *untracked; /* per type, largest size first */
	size_t untracked_type_count;
};

struct ph_error *ph_heap_bytes_compute(const struct ph_graph *g, struct ph_heap_bytes *out);
void ph_heap_bytes_free(struct ph_heap_bytes *h);

#endif
