/* Reading a snapshot file without building a tree of the whole document:
 * the file is mapped, the top level is scanned, small sections (target,
 * capture, types) go to cJSON, and the graph's flat integer arrays are
 * parsed straight into a struct ph_graph. Every count and index is
 * checked: a snapshot is untrusted input. */
#ifndef PYHEAP_SNAPSHOT_READER_H
#define PYHEAP_SNAPSHOT_READER_H

#include <cJSON.h>

#include "pyheap/error.h"
#include "pyheap/graph.h"

/* What diff needs of an exception: not its (possibly huge) traceback. */
struct ph_exception_summary {
	uint64_t address;
	char *type;
	char *repr;
	uint64_t traceback_length;
};

struct ph_loaded_snapshot {
	cJSON *target;  /* owned */
	cJSON *capture; /* owned */
	cJSON *types;   /* owned */
	bool has_graph;
	struct ph_graph graph;
	bool has_exceptions;
	struct ph_exception_summary *exceptions;
	size_t exception_count;
	/* PH_LOAD_NO_EDGES: graph.edges is not kept (edge_count is 0); instead
	 * lengths[i] counts node i's item, dict value and set member edges */
	uint32_t *lengths;
};

enum ph_load_flags {
	PH_LOAD_FULL = 0,
	PH_LOAD_NO_EDGES = 1, /* nodes and container lengths only: a fraction of the memory */
};

/* Errors: PH_EXIT_BAD_INPUT for anything that is not a complete,
 * consistent pyheap snapshot of format version 1 (the message says what
 * and where), PH_EXIT_NO_PROCESS-like codes never. */
struct ph_error *ph_snapshot_load(const char *path, struct ph_loaded_snapshot *out);
struct ph_error *ph_snapshot_load_flags(const char *path, unsigned flags,
					struct ph_loaded_snapshot *out);
/* The same from memory (used by the fuzz harness). */
struct ph_error *ph_snapshot_parse(const char *text, size_t len, struct ph_loaded_snapshot *out);
struct ph_error *ph_snapshot_parse_flags(const char *text, size_t len, unsigned flags,
					 struct ph_loaded_snapshot *out);
void ph_snapshot_unload(struct ph_loaded_snapshot *snapshot);

/* Whether two snapshots come from one process: the same PID, executable
 * and start time (a PID alone is reused). */
bool ph_snapshot_same_process(const struct ph_loaded_snapshot *a, const struct ph_loaded_snapshot *b);
/* Whether they are one capture (same process and time): two copies of one
 * snapshot, which no comparison can use. */
bool ph_snapshot_same_capture(const struct ph_loaded_snapshot *a, const struct ph_loaded_snapshot *b);

#endif
