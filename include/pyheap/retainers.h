/* What holds the memory: the dominator tree cut into holders.
 *
 * Nested dominators would drown a list of "biggest retainers" (module
 * __main__, its dict, the exception in it, its traceback, the next
 * traceback... each retaining almost the same bytes). So the tree is
 * walked from the top, largest first, and a node whose bytes are mostly
 * in big children (each >= 1% of the heap) is passed through to them;
 * where that stops, the node is an entry. A linked structure (a
 * traceback's tb_next chain, frames' f_back, a list linked through one
 * attribute) is one unit, not one hop per element. Each entry is named by
 * its holder: the highest object above it that retains almost all of it
 * and is not a module or a module's dict (the exception, not the
 * traceback it holds), and the reference that holds that object (the
 * module global, attribute, dict key or local). */
#ifndef PYHEAP_RETAINERS_H
#define PYHEAP_RETAINERS_H

#include <stddef.h>
#include <stdint.h>

#include "pyheap/chain.h"
#include "pyheap/dominators.h"
#include "pyheap/heap_bytes.h"

struct ph_retainer {
	uint32_t holder;       /* the named object: what the entry is called by */
	uint32_t accumulation; /* where the bytes accumulate (holder or below it) */
	uint64_t linked_length; /* elements when accumulation heads a linked structure, else 0 */
	uint64_t retained;     /* bytes the holder keeps alive */
	uint32_t objects;      /* objects it keeps alive */
};

/* The decomposition, largest first: at most limit entries, and none
 * retaining less than min_bytes. Needs d's children. */
struct ph_error *ph_retainers_top(const struct ph_graph *g, struct ph_dominators *d, size_t limit,
				  uint64_t min_bytes, struct ph_retainer **out, size_t *count);

/* Objects of one type (as ph_nodes_of_type matches names), largest
 * retained size first, no folding. */
struct ph_error *ph_retainers_of_type(const struct ph_graph *g, struct ph_dominators *d,
				      const char *type, size_t limit, struct ph_retainer **out,
				      size_t *count);

/* The object at address, alone (count 0 if no reachable node has it). */
struct ph_error *ph_retainers_at(const struct ph_graph *g, struct ph_dominators *d, uint64_t address,
				 struct ph_retainer **out, size_t *count);

/* Where node's bytes accumulate: from node, the biggest child while it
 * keeps at least 70% of its parent (Eclipse MAT's big drop ratio),
 * stopping at the head of a linked structure. */
uint32_t ph_accumulation_point(const struct ph_graph *g, const struct ph_dominators *d,
			       uint32_t node, uint64_t *linked_length);

/* Elements of the linked structure headed by node (0 when it heads none):
 * a run of at least 3 objects of one type, each the dominator of the next
 * and pointing at it through the same reference (tb_next, f_back...). */
uint64_t ph_linked_length(const struct ph_graph *g, const struct ph_dominators *d, uint32_t node);

/* What node keeps alive, by type name (string index), largest size
 * first. Needs d's children. */
struct ph_error *ph_retained_by_type(const struct ph_graph *g, const struct ph_dominators *d,
				     uint32_t node, struct ph_type_bytes **rows, size_t *count);

/* "the module global `ParseBookException` of __main__", "attribute
 * `handlers` of __main__.App at 0x...", "local `book` of frame f
 * (x.py:3)": the last hop of the shortest chain to node, in words. */
void ph_describe_holder(const struct ph_graph *g, const struct ph_paths *paths, uint32_t node,
			char *buf, size_t size);

/* "traceback chain of 1,600 entries" or the node's own description. */
void ph_describe_accumulation(const struct ph_graph *g, uint32_t node, uint64_t linked_length,
			      char *buf, size_t size);

/* "800 __main__.Book, 800 str (3.8 GiB), 1,600 traceback": the largest
 * rows, at most max of them. */
void ph_describe_by_type(const struct ph_graph *g, const struct ph_type_bytes *rows, size_t count,
			 size_t max, char *buf, size_t size);

/* The shortest chain to node on one line, folded: "module __main__
 * .__dict__ › dict ['ParseBookException'] › Exception('parse book
 * failed!')", then " › <accumulation>" when given. */
void ph_describe_path(const struct ph_graph *g, const struct ph_paths *paths, uint32_t node,
		      const char *tail, char *buf, size_t size);

#endif
