/* Writers for leak suspects: one snapshot's (text: a paragraph and the
 * chain per suspect; JSON for CI) and two snapshots' growth. */
#ifndef PYHEAP_SUSPECTS_OUTPUT_H
#define PYHEAP_SUSPECTS_OUTPUT_H

#include <stdio.h>

#include "pyheap/retainers_output.h"
#include "pyheap/suspects.h"

struct ph_error *ph_suspects_text(FILE *out, const struct ph_heap_view *v,
				  const struct ph_suspect *suspects, size_t count);
/* {"heap", "unreachable", "suspects": [...]} */
struct ph_error *ph_suspects_json(struct ph_json_writer *w, const struct ph_heap_view *v,
				  const struct ph_suspect *suspects, size_t count);

struct ph_error *ph_growth_text(FILE *out, const struct ph_heap_view *a, const struct ph_heap_view *b,
				const struct ph_growth_report *report);
/* {"heap_before", "heap_after", "rss_before", "rss_after", "suspects": [...],
 *  "other_growth": [...], "types": [...]} */
struct ph_error *ph_growth_json(struct ph_json_writer *w, const struct ph_heap_view *a,
				const struct ph_heap_view *b, const struct ph_growth_report *report);

#endif
