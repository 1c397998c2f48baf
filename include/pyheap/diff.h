/* What changed between two snapshots: per-type counts and sizes, and when
 * both come from one process, which objects are new and which are gone,
 * which exceptions' tracebacks grew, and which containers grew. */
#ifndef PYHEAP_DIFF_H
#define PYHEAP_DIFF_H

#include "pyheap/snapshot_reader.h"

struct ph_type_delta {
	const char *name; /* borrowed from the snapshots */
	/* objects on the GC lists: what gc.get_objects() (and objgraph) count */
	int64_t before, after;
	int64_t size_before, size_after; /* their sys.getsizeof bytes */
	/* objects of the type that are not on the GC lists (str, int, untracked
	 * tuples...), from the graphs; 0 when untracked_known is false */
	int64_t untracked_before, untracked_after;
	int64_t untracked_size_before, untracked_size_after;
	int64_t new_objects, gone_objects; /* -1 when survivors were not computed */
};

struct ph_exception_growth {
	uint64_t address;
	const char *type, *repr;
	uint64_t before, after;
};

struct ph_container_growth {
	uint64_t address;
	const char *type;
	uint64_t before, after;
	uint32_t node_b; /* the container's node in B's graph */
};

struct ph_diff {
	struct ph_type_delta *types;
	size_t type_count;
	bool same_process;
	bool survivors; /* new/gone computed */
	int64_t objects_before, objects_after, bytes_before, bytes_after; /* tracked */
	bool untracked_known; /* both snapshots have graphs */
	int64_t untracked_objects_before, untracked_objects_after;
	int64_t untracked_bytes_before, untracked_bytes_after;
	struct ph_exception_growth *exceptions;
	size_t exception_count;
	struct ph_container_growth *containers;
	size_t container_count;
	char warnings[4][256];
	int warning_count;
	bool owns_strings; /* names were copied (the snapshots were released) */
};

struct ph_error *ph_diff_compute(const struct ph_loaded_snapshot *a,
				 const struct ph_loaded_snapshot *b, size_t max_containers,
				 struct ph_diff *out);
void ph_diff_free(struct ph_diff *diff);

#endif
