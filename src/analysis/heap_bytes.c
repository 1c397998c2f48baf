#include "pyheap/heap_bytes.h"

#include <stdlib.h>
#include <string.h>

static int compare_size(const void *x, const void *y)
{
	const struct ph_type_bytes *a = x, *b = y;
	if (a->size != b->size)
		return a->size < b->size ? 1 : -1;
	return (a->type > b->type) - (a->type < b->type);
}

struct ph_error *ph_heap_bytes_compute(const struct ph_graph *g, struct ph_heap_bytes *out)
{
	memset(out, 0, sizeof(*out));
	size_t type_count = g->strings.count ? g->strings.count : 1;
	struct ph_type_bytes *per_type = calloc(type_count, sizeof(*per_type));
	if (!per_type)
		return &ph_error_out_of_memory;
	for (uint32_t i = 0; i < g->node_count; i++) {
		const struct ph_node *n = &g->nodes[i];
		if (n->flags & PH_NODE_PSEUDO)
			continue;
		out->objects++;
		out->bytes += n->size;
		if (n->flags & PH_NODE_TRACKED) {
			out->tracked_objects++;
			out->tracked_bytes += n->size;
		} else {
			out->untracked_objects++;
			out->untracked_bytes += n->size;
			if (n->type < g->strings.count) {
				per_type[n->type].count++;
				per_type[n->type].size += n->size;
				if (n->flags & PH_NODE_SIZE_INEXACT)
					per_type[n->type].size_inexact = true;
			}
		}
	}
	size_t used = 0;
	for (uint32_t s = 0; s < g->strings.count; s++)
		if (per_type[s].count)
			per_type[used++] = (struct ph_type_bytes){s, per_type[s].count, per_type[s].size,
								  per_type[s].size_inexact};
	qsort(per_type, used, sizeof(*per_type), compare_size);
	out->untracked = per_type;
	out->untracked_type_count = used;
	return NULL;
}

void ph_heap_bytes_free(struct ph_heap_bytes *h)
{
	free(h->untracked);
	memset(h, 0, sizeof(*h));
}
