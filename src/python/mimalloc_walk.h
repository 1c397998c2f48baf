/* Free-threaded CPython keeps no GC lists: every GC object is a block in a
 * mimalloc page of some thread's GC heap, or of a segment a thread left in
 * the interpreter's abandoned pool when it exited. This walk visits the
 * objects gc.get_objects() returns (Python/gc_free_threading.c,
 * gc_visit_heaps and visit_get_objects) without calling anything in the
 * target: which blocks are allocated is rebuilt from mimalloc's free lists,
 * never guessed from a block's contents. */
#ifndef PYHEAP_MIMALLOC_WALK_H
#define PYHEAP_MIMALLOC_WALK_H

#include "pyheap/gc_walk.h"

enum ph_walk_status ph_mimalloc_walk(const struct ph_target *t, uint64_t max_objects,
				     bool tolerant, ph_gc_visit_fn visit, void *ctx,
				     struct ph_walk_report *report);

#endif
