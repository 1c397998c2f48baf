/* Leak suspects, after Eclipse MAT's Leak Suspects report, on the
 * dominator tree cut into holders (retainers.h):
 * - a holder retaining more than 10% of the heap is a suspect; its bytes
 *   accumulate where the biggest child keeps less than 70% of its parent,
 *   a linked structure counting as one unit;
 * - holders of one type that together retain more than 10% are a group
 *   suspect.
 * And across two snapshots of one process (memlab's "allocated between
 * the snapshots and still alive", MAT's find_leaks2 diff of the tops of
 * two dominator trees): the holders whose retained size grew by more than
 * 2% of the first snapshot's heap. */
#ifndef PYHEAP_SUSPECTS_H
#define PYHEAP_SUSPECTS_H

#include "pyheap/address_map.h"
#include "pyheap/retainers.h"

#define PH_SUSPECT_SHARE 0.10
#define PH_GROWTH_SHARE 0.02

enum ph_suspect_kind { PH_SUSPECT_OBJECT, PH_SUSPECT_TYPE };

struct ph_suspect {
	enum ph_suspect_kind kind;
	/* object: the holder, where its bytes accumulate; type: the largest
	 * holder of the type */
	struct ph_retainer r;
	/* type suspects: the type (string index), its holders and their bytes */
	uint32_t type;
	uint64_t instances;
	uint64_t retained, objects;
};

/* Suspects of one snapshot, largest first. Needs d's children. */
struct ph_error *ph_suspects_find(const struct ph_graph *g, struct ph_dominators *d,
				  struct ph_suspect **out, size_t *count);

/* One side of a comparison: a snapshot's graph and dominator tree. */
struct ph_heap_side {
	const struct ph_graph *graph;
	struct ph_dominators *dominators;
	const struct ph_paths *paths;
};

struct ph_growth {
	struct ph_retainer r;      /* in B */
	uint32_t before;           /* the holder's node in A, or UINT32_MAX */
	bool matched_by_path;      /* found in A by its chain's labels, not its address */
	uint64_t retained_before;  /* 0 when it did not exist in A */
	int64_t retained_delta;
	uint64_t new_objects, new_bytes; /* in its retained set, not in A (address and type) */
	bool suspect;              /* grew by more than PH_GROWTH_SHARE of A's heap */
};

struct ph_type_growth {
	const char *type; /* borrowed from B (or A for gone types) */
	int64_t count_delta, bytes_delta;
	uint64_t count_after, bytes_after;
};

struct ph_growth_report {
	struct ph_growth *holders; /* the most grown first */
	size_t holder_count;
	struct ph_type_growth *types; /* every node, tracked or not; bytes grown most first */
	size_t type_count;
	uint64_t heap_before, heap_after;
};

/* a and b: two snapshots of the same process, A first. At most limit
 * holders are reported (suspects first). */
struct ph_error *ph_suspects_growth(const struct ph_heap_side *a, const struct ph_heap_side *b,
				    size_t limit, struct ph_growth_report *out);
void ph_growth_report_free(struct ph_growth_report *report);

#endif
