#include "pyheap/chain_json.h"

#include <stdlib.h>

void ph_chain_write_json(struct ph_json_writer *w, const struct ph_graph *g,
			 const struct ph_paths *paths, uint32_t target)
{
	char text[600];
	uint32_t *nodes = NULL;
	uint64_t *edges = NULL;
	int64_t hops = ph_chain_of(g, paths, target, &nodes, &edges);
	ph_json_begin_object(w);
	ph_json_key(w, "address");
	ph_json_uint(w, g->nodes[target].address);
	ph_json_key(w, "reachable");
	ph_json_bool(w, hops >= 0);
	if (hops >= 0) {
		const struct ph_root *root = &g->roots[paths->root_of[nodes[0]]];
		ph_json_key(w, "root");
		ph_json_string(w, ph_root_kind_names[root->kind]);
		ph_json_key(w, "hops");
		ph_json_begin_array(w);
		for (int64_t i = 0; i <= hops; i++) {
			ph_json_begin_object(w);
			ph_json_key(w, "node");
			ph_describe_node(g, nodes[i], text, sizeof(text));
			ph_json_string(w, text);
			ph_json_key(w, "type");
			ph_json_string(w, g->strings.items[g->nodes[nodes[i]].type]);
			ph_json_key(w, "address");
			ph_json_uint(w, g->nodes[nodes[i]].address);
			if (i < hops) {
				const struct ph_edge *e = &g->edges[edges[i]];
				ph_json_key(w, "edge");
				ph_describe_edge(g, e, text, sizeof(text));
				ph_json_string(w, text);
				ph_json_key(w, "edge_kind");
				ph_json_string(w, ph_edge_kind_names[e->kind]);
			}
			ph_json_end_object(w);
		}
		ph_json_end_array(w);
		free(nodes);
		free(edges);
	}
	ph_json_end_object(w);
}

