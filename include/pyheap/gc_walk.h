/* Walking the interpreters' GC lists: every generation and the permanent
 * generation of every interpreter. Each link is checked against its
 * neighbour's back link, and the walk is bounded, so corrupt or moving
 * lists end the walk with PH_WALK_INCONSISTENT instead of looping. */
#ifndef PYHEAP_GC_WALK_H
#define PYHEAP_GC_WALK_H

#include "pyheap/target.h"

enum ph_walk_status {
	PH_WALK_OK,
	PH_WALK_COLLECTING,   /* a collection is running: retry later */
	PH_WALK_INCONSISTENT, /* a broken link: retry, the target may be mid-update */
	PH_WALK_STOPPED,      /* the visitor asked to stop (e.g. out of memory) */
};

/* Free-threaded builds: what the walk went through, and of which free
 * lists the free blocks it left out were. */
struct ph_mimalloc_stats {
	uint64_t pages, abandoned_segments;
	uint64_t free_blocks, local_free_blocks, thread_free_blocks, delayed_free_blocks;
};

struct ph_walk_report {
	unsigned interpreters;
	uint64_t objects;
	uint64_t per_list[PH_MAX_GC_LISTS]; /* summed over interpreters */
	char problem[256];                  /* what was inconsistent, and where */
	uint64_t collecting_flag; /* PH_WALK_COLLECTING: address of the flag that was set */
	unsigned broken_lists;    /* tolerant walks: lists abandoned at a bad link */
	struct ph_mimalloc_stats mimalloc; /* free-threaded walks only */
};

/* Called with the address of each object (just after its PyGC_Head). */
typedef bool (*ph_gc_visit_fn)(void *ctx, uint64_t object, unsigned list);

/* A tolerant walk goes on to the next list after a broken link (and
 * past a running collection), keeping what it saw; it still returns
 * PH_WALK_INCONSISTENT so the caller knows the view is partial. */
enum ph_walk_status ph_gc_walk(const struct ph_target *t, uint64_t max_objects, bool tolerant,
			       ph_gc_visit_fn visit, void *ctx, struct ph_walk_report *report);

/* First interpreter (the main one), or 0. */
uint64_t ph_main_interpreter(const struct ph_target *t);

#endif
