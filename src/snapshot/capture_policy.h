/* How one capture reads the heap: which of the target's memory is copied
 * while it is stopped, chosen before the first stop from what can be seen
 * while it runs. See enum ph_capture_policy (pyheap/snapshot.h).
 *
 * The pause of a copy is proportional to the bytes copied; the heap walk
 * needs object headers and containers, not the bodies of big str, bytes
 * or arrays. So a heap of few objects in much memory (payload) is copied
 * sparsely: a walk of the running target first finds the pages a walk
 * asks for; the copy leaves out long runs of pages nobody asked for; a
 * walk of the copy that asks for a page left out stops the target again
 * with that page added. A heap of many small objects is copied whole. */
#ifndef PYHEAP_CAPTURE_POLICY_H
#define PYHEAP_CAPTURE_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pyheap/error.h"
#include "pyheap/memory.h"
#include "pyheap/snapshot.h"
#include "pyheap/target.h"

struct ph_capture_plan {
	enum ph_capture_policy policy; /* never PH_POLICY_AUTO once chosen */
	bool forced;                   /* by --policy / PYHEAP_POLICY */
	char reason[256];              /* why this policy */
	struct ph_page_set needed;     /* sparse: pages walks asked for */
	bool needed_known;             /* sparse: the walk of the running target ran */
	unsigned misses;               /* sparse stops whose walk asked for a page left out */
	uint64_t objects_seen;         /* GC objects counted while choosing (bounded) */
};

/* Chooses a policy (or takes the forced one), while the target runs.
 * t->memory is used and left NULL. A forced copy that cannot fit the
 * memory budget is an error here, before the target is ever stopped. */
struct ph_error *ph_capture_plan_choose(pid_t pid, struct ph_target *t,
					enum ph_capture_policy wanted,
					struct ph_capture_plan *plan);
/* The ranges of map to copy (sorted, page aligned): every copyable
 * mapping for PH_POLICY_COPY; for PH_POLICY_SPARSE the same less each run
 * of at least 64 KiB of pages no walk asked for. *bytes is their total,
 * *skipped what was left out. The caller frees *ranges. */
struct ph_error *ph_capture_plan_ranges(const struct ph_capture_plan *plan,
					const struct ph_memory_map *map,
					struct ph_address_range **ranges, size_t *count,
					uint64_t *bytes, uint64_t *skipped);
/* A walk of a sparse copy asked for pages that were left out: they (and
 * their 64 KiB neighbourhood) are copied at the next stop, with what a
 * new walk of the running target finds. After a few such stops, falls
 * back to a walk while stopped, which cannot miss. */
void ph_capture_plan_missed(struct ph_capture_plan *plan, const struct ph_page_set *missed);
/* Falls back to walking while stopped (a copy did not fit). */
void ph_capture_plan_walk_stopped(struct ph_capture_plan *plan, const char *why);
/* From sparse to a walk while stopped, which cannot miss (a whole copy
 * of a heap of payload would pause the target for the payload's bytes). */
void ph_capture_plan_fall_back(struct ph_capture_plan *plan, const char *why);
void ph_capture_plan_free(struct ph_capture_plan *plan);

#endif
