/* What every snapshot does once it can read the target's memory, whether
 * the target is a live process (capture.c) or a core (capture_core.c):
 * layouts for the interpreter, the target bound to its symbols, the walk
 * of the GC lists and the graph, and the per-type totals. */
#ifndef PYHEAP_HEAP_WALK_H
#define PYHEAP_HEAP_WALK_H

#include <stdbool.h>

#include "pyheap/gc_walk.h"
#include "pyheap/snapshot.h"
#include "pyheap/target.h"
#include "pyheap/type_table.h"

/* Layouts from --layout, else the DWARF, else $PYHEAP_LAYOUT_DIR. */
struct ph_error *ph_heap_walk_layout(struct ph_image *image,
				     const struct ph_snapshot_options *options,
				     struct ph_layout **layout);
/* Binds t to the image's symbols and layout (t->memory is left NULL) and
 * records the interpreter in snap. */
struct ph_error *ph_heap_walk_prepare(const struct ph_image *image, const struct ph_layout *layout,
				      const struct ph_snapshot_options *options,
				      struct ph_target *t, struct ph_snapshot *snap);
/* The walk: GC lists, then the graph, through the cache in t->memory.
 * map bounds the number of objects. */
struct ph_error *ph_heap_walk(const struct ph_snapshot_options *options, struct ph_target *t,
			      struct ph_type_table *types, struct ph_snapshot *snap, bool tolerant,
			      const struct ph_memory_map *map, enum ph_walk_status *status,
			      struct ph_walk_report *report);
/* Per-type rows of snap from the walk's type table. */
struct ph_error *ph_heap_walk_aggregate(struct ph_type_table *types, struct ph_snapshot *snap);

#endif
