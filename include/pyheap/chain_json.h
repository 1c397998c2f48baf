/* One chain as JSON: {"address", "reachable", "root", "hops": [{"node",
 * "type", "address", "edge", "edge_kind"}...]}, the item of chain --json's
 * "chains" and of the chains in top and suspects. */
#ifndef PYHEAP_CHAIN_JSON_H
#define PYHEAP_CHAIN_JSON_H

#include "pyheap/chain.h"
#include "pyheap/json_writer.h"

void ph_chain_write_json(struct ph_json_writer *w, const struct ph_graph *g,
			 const struct ph_paths *paths, uint32_t target);

#endif
