/* Object address -> node index, for matching objects between two
 * snapshots of one process (CPython reuses freed addresses, so callers
 * also compare the type). */
#ifndef PYHEAP_ADDRESS_MAP_H
#define PYHEAP_ADDRESS_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pyheap/graph.h"

struct ph_address_map {
	uint64_t *keys; /* 0 = empty */
	uint32_t *values;
	size_t mask;
};

/* The nodes of g whose flags include all of only_flags. */
bool ph_address_map_build(struct ph_address_map *m, const struct ph_graph *g, uint32_t only_flags);
uint32_t ph_address_map_get(const struct ph_address_map *m, uint64_t address); /* or UINT32_MAX */
void ph_address_map_free(struct ph_address_map *m);

#endif
