/* The reference graph of one snapshot: nodes are objects (GC-tracked ones,
 * plus every untracked object a node refers to) and a few pseudo-nodes for
 * things that are not objects but hold references (interpreter frames of
 * 3.11+); edges are labelled. Node i's edges are edges[edge_start[i] ..
 * edge_start[i+1]), in node order: the form the snapshot stores. */
#ifndef PYHEAP_GRAPH_H
#define PYHEAP_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pyheap/error.h"

/* How an edge leaves its source; the label's meaning depends on it.
 * Numbering is part of the snapshot format: append only. */
enum ph_edge_kind {
	PH_EDGE_ATTRIBUTE = 0, /* label: string, a struct member or attribute name */
	PH_EDGE_ITEM = 1,      /* label: number, a list/tuple index */
	PH_EDGE_DICT_KEY = 2,  /* label: string, the key's repr: the key object itself */
	PH_EDGE_DICT_VALUE = 3, /* label: string, the key's repr: the value under it */
	PH_EDGE_SET_ITEM = 4,  /* label: unused (0) */
	PH_EDGE_LOCAL = 5,     /* label: string, a local/cell/free variable name */
	PH_EDGE_TYPE = 6,      /* the object's type (__class__); label unused */
	PH_EDGE_CONSERVATIVE = 7, /* a word in a C object that points at a known object;
				     label: number, the byte offset */
	PH_EDGE_SLOT = 8,      /* label: string, a __slots__ member name */
	PH_EDGE_KIND_COUNT
};

enum ph_node_flags {
	PH_NODE_TRACKED = 1,     /* on a GC list (gc.get_objects() sees it) */
	PH_NODE_ROOT = 2,        /* a root (see roots) */
	PH_NODE_REACHABLE = 4,   /* reachable from a root */
	PH_NODE_PSEUDO = 8,      /* not an object: an interpreter frame (3.11+) */
	PH_NODE_TRUNCATED = 16,  /* its referents could not all be read */
	PH_NODE_CONSERVATIVE = 32, /* some referents found by scanning its memory */
	PH_NODE_EXCEPTION = 64,  /* an exception object (BaseException or a subclass) */
	PH_NODE_SIZE_INEXACT = 128, /* size follows object.__sizeof__: the type's own is not modelled */
};

enum ph_root_kind {
	PH_ROOT_MODULE = 0,     /* a module in sys.modules; name: its key */
	PH_ROOT_SYSDICT = 1,    /* the sys module's dict */
	PH_ROOT_BUILTINS = 2,   /* the builtins dict */
	PH_ROOT_THREAD_FRAME = 3, /* a frame executing in a thread; name: "thread N" */
	PH_ROOT_KIND_COUNT
};

#define PH_NO_STRING UINT32_MAX

struct ph_node {
	uint64_t address;
	uint64_t size;   /* sys.getsizeof */
	uint32_t type;   /* index into the graph's type names (strings) */
	uint32_t detail; /* string index: module name, function name, repr... */
	uint32_t flags;
	uint32_t type_entry; /* index in the capture's type table (internal) */
	uint64_t first_edge; /* set by ph_graph_begin_edges */
};

struct ph_edge {
	uint32_t to;
	uint32_t kind;
	uint64_t label;
};

struct ph_root {
	uint32_t node;
	uint32_t kind;
	uint32_t name; /* string index or PH_NO_STRING */
};

/* Where a traceback entry points: recorded while the target is stopped,
 * for the snapshot's exceptions section. */
struct ph_traceback_info {
	uint32_t node;
	uint32_t function; /* string index */
	uint32_t file;     /* string index */
	int32_t line;      /* -1 when unknown */
};

struct ph_index_slot {
	uint32_t node; /* index + 1; 0 = empty */
	uint32_t tag;  /* high bits of the address's hash */
};

struct ph_strings {
	char **items;
	uint32_t count, capacity;
	uint32_t *slots; /* hash of item -> index + 1 */
	size_t slot_count;
};

struct ph_graph {
	struct ph_node *nodes;
	uint32_t node_count, node_capacity;
	struct ph_edge *edges;
	uint64_t edge_count, edge_capacity;
	uint64_t *edge_start; /* node_count + 1 entries once finished */
	struct ph_root *roots;
	uint32_t root_count, root_capacity;
	struct ph_strings strings;
	struct ph_traceback_info *tracebacks; /* sorted by node */
	uint32_t traceback_count, traceback_capacity;
	/* address -> node index + 1, with a tag of the address beside it so a
	 * probe rarely needs to look at the node itself */
	struct ph_index_slot *index_slots;
	size_t index_slot_count;
	bool index_ready; /* index_slots holds every node */
};

void ph_graph_init(struct ph_graph *g);
void ph_graph_free(struct ph_graph *g);

/* The node for address, or UINT32_MAX (also when the index is not
 * built: see ph_graph_append_node). */
uint32_t ph_graph_find(const struct ph_graph *g, uint64_t address);
/* Adds a node (the address must be new); returns its index or UINT32_MAX
 * when out of memory. Keeps the address index up to date. */
uint32_t ph_graph_add_node(struct ph_graph *g, uint64_t address, uint32_t flags);
/* The same without indexing it: for many nodes known to be distinct (a
 * GC list), indexed all at once by ph_graph_index, sized for what is
 * expected, instead of rehashed at every doubling. */
uint32_t ph_graph_append_node(struct ph_graph *g, uint64_t address, uint32_t flags);
bool ph_graph_index(struct ph_graph *g, uint32_t expected_nodes);
/* The index is only for building: its memory can go once edges are in. */
void ph_graph_drop_index(struct ph_graph *g);
/* Nodes are processed in index order: ph_graph_begin_edges(g, i) for every
 * node i, then its edges; so edges come grouped by source, in node order. */
bool ph_graph_add_edge(struct ph_graph *g, uint32_t to, enum ph_edge_kind kind, uint64_t label);
void ph_graph_begin_edges(struct ph_graph *g, uint32_t node);
/* Builds edge_start (node_count + 1 entries) once every node is processed. */
bool ph_graph_finish_edges(struct ph_graph *g);
/* Appends a root without marking its node (the reader marks them all once
 * the roots are read); ph_graph_add_root also marks it PH_NODE_ROOT. */
bool ph_graph_push_root(struct ph_graph *g, struct ph_root root);
bool ph_graph_add_root(struct ph_graph *g, uint32_t node, enum ph_root_kind kind, uint32_t name);

/* Interns a string; returns its index or PH_NO_STRING when out of memory. */
uint32_t ph_strings_intern(struct ph_strings *s, const char *text);

/* Marks PH_NODE_REACHABLE by breadth-first search from the roots. */
bool ph_graph_mark_reachable(struct ph_graph *g);

extern const char *const ph_edge_kind_names[PH_EDGE_KIND_COUNT];
extern const char *const ph_root_kind_names[PH_ROOT_KIND_COUNT];

#endif
