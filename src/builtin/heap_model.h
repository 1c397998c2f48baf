/* A snapshot loaded for the analyses that need the whole graph (top,
 * suspects): the graph, its dominator tree with children, the shortest
 * chains from the roots, and the heap's totals in bytes. */
#ifndef PYHEAP_HEAP_MODEL_H
#define PYHEAP_HEAP_MODEL_H

#include "pyheap/chain.h"
#include "pyheap/dominators.h"
#include "pyheap/heap_bytes.h"
#include "pyheap/progress.h"
#include "pyheap/snapshot_reader.h"

struct ph_heap_model {
	const char *path;
	struct ph_loaded_snapshot snapshot;
	struct ph_dominators dominators;
	struct ph_paths paths;
	struct ph_heap_bytes heap;
	uint64_t rss_bytes; /* 0 when the snapshot does not say */
	double load_ms, dominators_ms; /* reading the file; the dominator tree */
};

/* PH_EXIT_BAD_INPUT for a snapshot without a graph (naming --no-graph).
 * progress (may be NULL) names each step as it starts. */
struct ph_error *ph_heap_model_load(const char *path, struct ph_progress *progress,
				    struct ph_heap_model *out);
void ph_heap_model_free(struct ph_heap_model *model);
/* Bytes of the whole Python heap, reachable or not: the base of shares. */
uint64_t ph_heap_model_total(const struct ph_heap_model *model);

#endif
