/* The HTML report: one self-contained page (inline CSS and JavaScript, no
 * request to anywhere: its Content-Security-Policy forbids them) with the
 * summary, the leak suspects and their chains, a treemap of what holds the
 * memory, and the sortable type table (a diff, given two snapshots). Only
 * aggregates are embedded, never the graph: a report of a snapshot of
 * millions of objects stays a few hundred kilobytes. The page's template
 * is src/output/report.html. */
#ifndef PYHEAP_REPORT_HTML_H
#define PYHEAP_REPORT_HTML_H

#include <stdio.h>

#include "pyheap/retainers_output.h"
#include "pyheap/snapshot_reader.h"
#include "pyheap/suspects.h"
#include "pyheap/type_totals.h"

struct ph_report_snapshot {
	const char *label; /* "A", "B" */
	const char *path;
	const struct ph_loaded_snapshot *loaded; /* target and capture sections */
	const struct ph_heap_view *view;
	const struct ph_type_total *types;
	size_t type_count;
};

struct ph_report_input {
	struct ph_report_snapshot snapshots[2]; /* the last one is the one analysed */
	size_t snapshot_count;
	/* the last snapshot's suspects, or (two snapshots of one process) the growth */
	const struct ph_suspect *suspects;
	size_t suspect_count;
	const struct ph_growth_report *growth;
	const struct ph_retainer *top; /* the last snapshot's largest holders */
	size_t top_count;
	const char *warnings[4];
	size_t warning_count;
};

/* Errors: PH_EXIT_OUTPUT when writing fails, PH_EXIT_INTERNAL when out of memory. */
struct ph_error *ph_report_html_write(FILE *out, const struct ph_report_input *in);

#endif
