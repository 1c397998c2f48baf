#include "pyheap/gc_walk.h"

#include "mimalloc_walk.h"

#include <stdio.h>
#include <string.h>

/* Low bits of _gc_prev/_gc_next carry flags (FINALIZED, COLLECTING,
 * NEXT_MASK_UNREACHABLE, 3.14's old-space bit); objects are 16-aligned. */
#define GC_POINTER_MASK (~(uint64_t)3)
#define MAX_INTERPRETERS 4096

uint64_t ph_main_interpreter(const struct ph_target *t)
{
	uint64_t interp = 0;
	if (!ph_read_u64(t, t->runtime + t->layout->runtime_interpreters_head, &interp))
		return 0;
	return interp;
}

static enum ph_walk_status walk_list(const struct ph_target *t, uint64_t head, unsigned list,
				     uint64_t *budget, ph_gc_visit_fn visit, void *ctx,
				     struct ph_walk_report *report)
{
	const struct ph_layout *l = t->layout;
	uint64_t head_next, head_prev;
	if (!ph_read_u64(t, head + l->gc_next, &head_next) ||
	    !ph_read_u64(t, head + l->gc_prev, &head_prev)) {
		snprintf(report->problem, sizeof(report->problem),
			 "GC list head %s at 0x%llx is unreadable", l->gc_list_names[list],
			 (unsigned long long)head);
		return PH_WALK_INCONSISTENT;
	}
	uint64_t prev = head;
	uint64_t node = head_next & GC_POINTER_MASK;
	while (node != head) {
		uint64_t link[2];
		if (node == 0 || (node & 7) || !ph_read(t, node, link, sizeof(link))) {
			snprintf(report->problem, sizeof(report->problem),
				 "%s: link 0x%llx after 0x%llx is not a readable GC header",
				 l->gc_list_names[list], (unsigned long long)node,
				 (unsigned long long)prev);
			return PH_WALK_INCONSISTENT;
		}
		uint64_t next = link[l->gc_next / 8], back = link[l->gc_prev / 8];
		if ((back & GC_POINTER_MASK) != prev) {
			snprintf(report->problem, sizeof(report->problem),
				 "%s: back link of 0x%llx is 0x%llx, expected 0x%llx",
				 l->gc_list_names[list], (unsigned long long)node,
				 (unsigned long long)back, (unsigned long long)prev);
			return PH_WALK_INCONSISTENT;
		}
		if (*budget == 0) {
			snprintf(report->problem, sizeof(report->problem),
				 "%s: more objects than the target's memory can hold (a cycle?)",
				 l->gc_list_names[list]);
			return PH_WALK_INCONSISTENT;
		}
		(*budget)--;
		report->objects++;
		report->per_list[list]++;
		if (!visit(ctx, node + l->gc_head_size, list))
			return PH_WALK_STOPPED;
		prev = node;
		node = next & GC_POINTER_MASK;
	}
	if ((head_prev & GC_POINTER_MASK) != prev) {
		snprintf(report->problem, sizeof(report->problem),
			 "%s: list head's back link 0x%llx does not name the last node 0x%llx",
			 l->gc_list_names[list], (unsigned long long)head_prev,
			 (unsigned long long)prev);
		return PH_WALK_INCONSISTENT;
	}
	return PH_WALK_OK;
}

static enum ph_walk_status walk_state(const struct ph_target *t, uint64_t state, uint64_t *budget,
				      bool tolerant, ph_gc_visit_fn visit, void *ctx,
				      struct ph_walk_report *report)
{
	const struct ph_layout *l = t->layout;
	if (l->gc_collecting != PH_ABSENT) {
		uint32_t collecting;
		if (!ph_read_u32(t, state + l->gc_collecting, &collecting)) {
			snprintf(report->problem, sizeof(report->problem),
				 "GC state at 0x%llx is unreadable", (unsigned long long)state);
			return PH_WALK_INCONSISTENT;
		}
		if (collecting && !tolerant) {
			report->collecting_flag = state + l->gc_collecting;
			return PH_WALK_COLLECTING;
		}
	}
	enum ph_walk_status result = PH_WALK_OK;
	for (unsigned i = 0; i < l->gc_list_count; i++) {
		enum ph_walk_status status =
		    walk_list(t, state + l->gc_list_heads[i], i, budget, visit, ctx, report);
		if (status == PH_WALK_OK)
			continue;
		if (!tolerant || status == PH_WALK_STOPPED)
			return status;
		report->broken_lists++;
		result = PH_WALK_INCONSISTENT;
	}
	return result;
}

enum ph_walk_status ph_gc_walk(const struct ph_target *t, uint64_t max_objects, bool tolerant,
			       ph_gc_visit_fn visit, void *ctx, struct ph_walk_report *report)
{
	const struct ph_layout *l = t->layout;
	if (l->mimalloc)
		return ph_mimalloc_walk(t, max_objects, tolerant, visit, ctx, report);
	memset(report, 0, sizeof(*report));
	uint64_t budget = max_objects;
	if (l->runtime_gc != PH_ABSENT) {
		/* 3.8: one GC state for the whole runtime. */
		report->interpreters = 1;
		return walk_state(t, t->runtime + l->runtime_gc, &budget, tolerant, visit, ctx, report);
	}
	uint64_t interp = ph_main_interpreter(t);
	if (!interp) {
		snprintf(report->problem, sizeof(report->problem),
			 "no interpreter is running (finalized, or not yet initialized)");
		return PH_WALK_INCONSISTENT;
	}
	uint64_t seen[64];
	unsigned seen_count = 0;
	enum ph_walk_status overall = PH_WALK_OK;
	while (interp) {
		for (unsigned i = 0; i < seen_count && i < 64; i++) {
			if (seen[i] == interp) {
				snprintf(report->problem, sizeof(report->problem),
					 "the interpreter list loops at 0x%llx",
					 (unsigned long long)interp);
				return PH_WALK_INCONSISTENT;
			}
		}
		if (report->interpreters >= MAX_INTERPRETERS) {
			snprintf(report->problem, sizeof(report->problem),
				 "more than %d interpreters: the list is corrupt", MAX_INTERPRETERS);
			return PH_WALK_INCONSISTENT;
		}
		if (seen_count < 64)
			seen[seen_count++] = interp;
		report->interpreters++;
		enum ph_walk_status status =
		    walk_state(t, interp + l->interp_gc, &budget, tolerant, visit, ctx, report);
		if (status != PH_WALK_OK && (!tolerant || status == PH_WALK_STOPPED))
			return status;
		if (status != PH_WALK_OK)
			overall = status;
		if (!ph_read_u64(t, interp + l->interp_next, &interp)) {
			snprintf(report->problem, sizeof(report->problem),
				 "interpreter state is unreadable");
			return PH_WALK_INCONSISTENT;
		}
	}
	return overall;
}
