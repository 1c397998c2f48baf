#include "pyheap/type_totals.h"

#include <stdlib.h>
#include <string.h>

static int by_bytes(const void *a, const void *b)
{
	const struct ph_type_total *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return strcmp(x->name, y->name);
}

struct ph_error *ph_type_totals_compute(const struct ph_graph *g, struct ph_type_total **rows,
					size_t *count)
{
	*rows = NULL;
	*count = 0;
	/* one slot per string: a type name is a string of the graph, and a
	 * reader keeps strings as written (a name may appear twice) */
	uint32_t *row_of = calloc(g->strings.count ? g->strings.count : 1, sizeof(*row_of));
	struct ph_type_total *out = NULL;
	size_t used = 0, capacity = 0;
	if (!row_of)
		return &ph_error_out_of_memory;
	for (uint32_t i = 0; i < g->node_count; i++) {
		const struct ph_node *n = &g->nodes[i];
		if ((n->flags & PH_NODE_PSEUDO) || n->type >= g->strings.count)
			continue;
		if (!row_of[n->type]) {
			if (used == capacity) {
				size_t grown_capacity = capacity ? capacity * 2 : 256;
				struct ph_type_total *grown = realloc(out, grown_capacity * sizeof(*grown));
				if (!grown) {
					free(out);
					free(row_of);
					return &ph_error_out_of_memory;
				}
				out = grown;
				capacity = grown_capacity;
			}
			memset(&out[used], 0, sizeof(out[used]));
			out[used].name = g->strings.items[n->type];
			row_of[n->type] = (uint32_t)++used;
		}
		struct ph_type_total *t = &out[row_of[n->type] - 1];
		t->objects++;
		t->bytes += n->size;
		if (n->flags & PH_NODE_TRACKED) {
			t->tracked_objects++;
			t->tracked_bytes += n->size;
		}
	}
	free(row_of);
	if (used)
		qsort(out, used, sizeof(*out), by_bytes);
	*rows = out;
	*count = used;
	return NULL;
}
