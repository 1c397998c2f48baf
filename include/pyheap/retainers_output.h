/* Writers for what the retained-size analyses found (top, suspects): the
 * heap's totals, and one holder with its chain, the place its bytes
 * accumulate and what they are made of. Text for people (IEC units),
 * JSON for scripts. */
#ifndef PYHEAP_RETAINERS_OUTPUT_H
#define PYHEAP_RETAINERS_OUTPUT_H

#include <stdio.h>

#include "pyheap/json_writer.h"
#include "pyheap/retainers.h"

struct ph_heap_view {
	const struct ph_graph *graph;
	const struct ph_dominators *dominators;
	const struct ph_paths *paths;
	const struct ph_heap_bytes *heap;
	uint64_t rss_bytes; /* 0: unknown */
};

/* "Python heap: 3.8 GiB in 27,495 objects (...); target RSS 3.9 GiB" and
 * the unreachable line. */
void ph_heap_summary_text(FILE *out, const struct ph_heap_view *v);
/* "heap": {...}, "unreachable": {...} as members of the open object. */
void ph_heap_summary_json(struct ph_json_writer *w, const struct ph_heap_view *v);

/* The share of the whole heap, in percent. */
double ph_heap_share(const struct ph_heap_view *v, uint64_t bytes);

/* One holder, text: "<name>, <holder>" then the folded path and what it
 * retains, each line indented by indent spaces. */
struct ph_error *ph_retainer_text(FILE *out, const struct ph_heap_view *v,
				  const struct ph_retainer *r, int indent);
/* One holder, JSON object members (the caller opens the object):
 * retained, objects, share, address, type, repr, holder, accumulation,
 * chain, by_type. */
struct ph_error *ph_retainer_json_members(struct ph_json_writer *w, const struct ph_heap_view *v,
					  const struct ph_retainer *r);

#endif
