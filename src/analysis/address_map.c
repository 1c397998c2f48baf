#include "pyheap/address_map.h"

#include <stdlib.h>

static size_t hash_address(uint64_t address, size_t mask)
{
	return (size_t)((address * 0x9E3779B97F4A7C15ull) >> 24) & mask;
}

bool ph_address_map_build(struct ph_address_map *m, const struct ph_graph *g, uint32_t only_flags)
{
	size_t n = 16;
	while (n < (size_t)g->node_count * 2 + 16)
		n *= 2;
	m->keys = calloc(n, sizeof(*m->keys));
	m->values = malloc(n * sizeof(*m->values));
	m->mask = n - 1;
	if (!m->keys || !m->values)
		return false;
	for (uint32_t i = 0; i < g->node_count; i++) {
		if ((g->nodes[i].flags & only_flags) != only_flags || !g->nodes[i].address)
			continue;
		size_t at = hash_address(g->nodes[i].address, m->mask);
		while (m->keys[at] && m->keys[at] != g->nodes[i].address)
			at = (at + 1) & m->mask;
		m->keys[at] = g->nodes[i].address;
		m->values[at] = i;
	}
	return true;
}

uint32_t ph_address_map_get(const struct ph_address_map *m, uint64_t address)
{
	if (!address)
		return UINT32_MAX;
	for (size_t at = hash_address(address, m->mask); m->keys[at]; at = (at + 1) & m->mask)
		if (m->keys[at] == address)
			return m->values[at];
	return UINT32_MAX;
}

void ph_address_map_free(struct ph_address_map *m)
{
	free(m->keys);
	free(m->values);
	m->keys = NULL;
	m->values = NULL;
}
