#include "pyheap/diff.h"

#include "pyheap/address_map.h"

#include "../util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *json_string(const cJSON *object, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
	return cJSON_IsString(item) ? item->valuestring : "";
}

static double json_number(const cJSON *object, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
	return cJSON_IsNumber(item) ? item->valuedouble : -1;
}

struct named {
	const char *name;
	int64_t count, size;
	int64_t untracked, untracked_size;
	int side; /* 0 = A, 1 = B */
};

static int compare_named(const void *x, const void *y)
{
	const struct named *a = x, *b = y;
	int c = strcmp(a->name, b->name);
	return c ? c : a->side - b->side;
}

static struct ph_error *collect_types(const cJSON *types, int side, struct named **list,
				      size_t *count, size_t *capacity)
{
	const cJSON *row;
	cJSON_ArrayForEach(row, types)
	{
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(row, "name");
		uint64_t n, size;
		if (!cJSON_IsString(name) ||
		    !ph_double_to_u64(json_number(row, "count"), 1ull << 50, &n) ||
		    !ph_double_to_u64(json_number(row, "size"), 1ull << 60, &size))
			return ph_error_new(PH_EXIT_BAD_INPUT, "a types row lacks name, count or size");
		if (*count == *capacity) {
			*capacity = *capacity ? *capacity * 2 : 1024;
			struct named *grown = realloc(*list, *capacity * sizeof(*grown));
			if (!grown)
				return &ph_error_out_of_memory;
			*list = grown;
		}
		(*list)[(*count)++] = (struct named){name->valuestring, (int64_t)n, (int64_t)size, 0, 0, side};
	}
	return NULL;
}

/* The untracked nodes of a graph, one entry per type name. */
static struct ph_error *collect_untracked(const struct ph_graph *g, int side, struct named **list,
					  size_t *count, size_t *capacity)
{
	size_t strings = g->strings.count ? g->strings.count : 1;
	int64_t *objects = calloc(strings, sizeof(*objects));
	int64_t *bytes = calloc(strings, sizeof(*bytes));
	if (!objects || !bytes) {
		free(objects);
		free(bytes);
		return &ph_error_out_of_memory;
	}
	for (uint32_t i = 0; i < g->node_count; i++) {
		const struct ph_node *n = &g->nodes[i];
		if ((n->flags & (PH_NODE_TRACKED | PH_NODE_PSEUDO)) || n->type >= g->strings.count)
			continue;
		objects[n->type]++;
		bytes[n->type] += (int64_t)n->size;
	}
	struct ph_error *err = NULL;
	for (uint32_t s = 0; s < g->strings.count && !err; s++) {
		if (!objects[s])
			continue;
		if (*count == *capacity) {
			size_t grown_capacity = *capacity ? *capacity * 2 : 1024;
			struct named *grown = realloc(*list, grown_capacity * sizeof(*grown));
			if (!grown) {
				err = &ph_error_out_of_memory;
				break;
			}
			*list = grown;
			*capacity = grown_capacity;
		}
		(*list)[(*count)++] = (struct named){g->strings.items[s], 0, 0, objects[s], bytes[s], side};
	}
	free(objects);
	free(bytes);
	return err;
}

static const char *node_type(const struct ph_graph *g, uint32_t node)
{
	uint32_t t = g->nodes[node].type;
	return t < g->strings.count ? g->strings.items[t] : "?";
}

/* Entries of a container: its item/value/member edges (counted at load
 * time when the edges were not kept). */
static uint64_t container_length(const struct ph_loaded_snapshot *s, uint32_t node)
{
	const struct ph_graph *g = &s->graph;
	if (s->lengths)
		return s->lengths[node];
	uint64_t n = 0;
	for (uint64_t e = g->edge_start[node]; e < g->edge_start[node + 1]; e++) {
		uint32_t kind = g->edges[e].kind;
		n += kind == PH_EDGE_ITEM || kind == PH_EDGE_DICT_VALUE || kind == PH_EDGE_SET_ITEM;
	}
	return n;
}

static int compare_growth(const void *x, const void *y)
{
	const struct ph_container_growth *a = x, *b = y;
	uint64_t ga = a->after - a->before, gb = b->after - b->before;
	return ga < gb ? 1 : ga > gb ? -1 : (a->address > b->address) - (a->address < b->address);
}

static void warn(struct ph_diff *d, const char *text)
{
	if (d->warning_count < 4)
		snprintf(d->warnings[d->warning_count++], sizeof(d->warnings[0]), "%s", text);
}

struct ph_error *ph_diff_compute(const struct ph_loaded_snapshot *a,
				 const struct ph_loaded_snapshot *b, size_t max_containers,
				 struct ph_diff *d)
{
	memset(d, 0, sizeof(*d));
	d->same_process = ph_snapshot_same_process(a, b);
	if (!d->same_process)
		warn(d, "the snapshots come from different processes: only counts are compared");
	if (strcmp(json_string(a->target, "python"), json_string(b->target, "python")) != 0)
		warn(d, "the snapshots come from different Python versions");

	struct named *list = NULL;
	size_t count = 0, capacity = 0;
	struct ph_error *err = collect_types(a->types, 0, &list, &count, &capacity);
	if (!err)
		err = collect_types(b->types, 1, &list, &count, &capacity);
	d->untracked_known = a->has_graph && b->has_graph;
	if (!err && d->untracked_known)
		err = collect_untracked(&a->graph, 0, &list, &count, &capacity);
	if (!err && d->untracked_known)
		err = collect_untracked(&b->graph, 1, &list, &count, &capacity);
	if (err) {
		free(list);
		return err;
	}
	if (count)
		qsort(list, count, sizeof(*list), compare_named);
	d->types = calloc(count ? count : 1, sizeof(*d->types));
	if (!d->types) {
		free(list);
		return &ph_error_out_of_memory;
	}
	for (size_t i = 0; i < count; i++) {
		struct ph_type_delta *row = d->type_count &&
						    strcmp(d->types[d->type_count - 1].name, list[i].name) == 0
						? &d->types[d->type_count - 1]
						: NULL;
		if (!row) {
			row = &d->types[d->type_count++];
			row->name = list[i].name;
			row->new_objects = row->gone_objects = -1;
		}
		if (list[i].side == 0) {
			row->before += list[i].count;
			row->size_before += list[i].size;
			row->untracked_before += list[i].untracked;
			row->untracked_size_before += list[i].untracked_size;
		} else {
			row->after += list[i].count;
			row->size_after += list[i].size;
			row->untracked_after += list[i].untracked;
			row->untracked_size_after += list[i].untracked_size;
		}
	}
	free(list);
	for (size_t i = 0; i < d->type_count; i++) {
		d->objects_before += d->types[i].before;
		d->objects_after += d->types[i].after;
		d->bytes_before += d->types[i].size_before;
		d->bytes_after += d->types[i].size_after;
		d->untracked_objects_before += d->types[i].untracked_before;
		d->untracked_objects_after += d->types[i].untracked_after;
		d->untracked_bytes_before += d->types[i].untracked_size_before;
		d->untracked_bytes_after += d->types[i].untracked_size_after;
	}

	if (!d->same_process)
		return NULL;

	/* survivors: tracked objects matched by address and type name */
	if (a->has_graph && b->has_graph) {
		struct ph_address_map map;
		if (!ph_address_map_build(&map, &a->graph, PH_NODE_TRACKED)) {
			ph_address_map_free(&map);
			return &ph_error_out_of_memory;
		}
		d->survivors = true;
		for (size_t i = 0; i < d->type_count; i++)
			d->types[i].new_objects = d->types[i].gone_objects = 0;
		/* per-name counts via a sorted index of the rows */
		for (uint32_t i = 0; i < b->graph.node_count; i++) {
			if (!(b->graph.nodes[i].flags & PH_NODE_TRACKED))
				continue;
			const char *type = node_type(&b->graph, i);
			uint32_t old = ph_address_map_get(&map, b->graph.nodes[i].address);
			bool survived = old != UINT32_MAX && strcmp(node_type(&a->graph, old), type) == 0;
			if (survived)
				continue;
			size_t lo = 0, hi = d->type_count;
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;
				if (strcmp(d->types[mid].name, type) < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo < d->type_count && strcmp(d->types[lo].name, type) == 0)
				d->types[lo].new_objects++;
		}
		ph_address_map_free(&map);
		/* gone = before - survivors = before - (after - new) */
		for (size_t i = 0; i < d->type_count; i++)
			d->types[i].gone_objects =
			    d->types[i].before - (d->types[i].after - d->types[i].new_objects);

		/* containers present in both whose length grew */
		struct ph_address_map any;
		if (!ph_address_map_build(&any, &a->graph, 0)) {
			ph_address_map_free(&any);
			return &ph_error_out_of_memory;
		}
		size_t cap = 0;
		for (uint32_t i = 0; i < b->graph.node_count; i++) {
			const struct ph_node *n = &b->graph.nodes[i];
			if (n->flags & PH_NODE_PSEUDO)
				continue;
			uint64_t after = container_length(b, i);
			if (!after)
				continue;
			uint32_t old = ph_address_map_get(&any, n->address);
			if (old == UINT32_MAX || strcmp(node_type(&a->graph, old), node_type(&b->graph, i)))
				continue;
			uint64_t before = container_length(a, old);
			if (after <= before)
				continue;
			if (d->container_count == cap) {
				cap = cap ? cap * 2 : 256;
				struct ph_container_growth *grown = realloc(d->containers, cap * sizeof(*grown));
				if (!grown) {
					ph_address_map_free(&any);
					return &ph_error_out_of_memory;
				}
				d->containers = grown;
			}
			d->containers[d->container_count++] =
			    (struct ph_container_growth){n->address, node_type(&b->graph, i), before, after, i};
		}
		ph_address_map_free(&any);
		qsort(d->containers, d->container_count, sizeof(*d->containers), compare_growth);
		if (d->container_count > max_containers)
			d->container_count = max_containers;
	} else {
		warn(d, "a snapshot has no graph (--no-graph): new and gone objects are not counted");
	}

	/* exceptions present in both whose traceback grew */
	if (a->has_exceptions && b->has_exceptions) {
		for (size_t j = 0; j < b->exception_count; j++) {
			const struct ph_exception_summary *eb = &b->exceptions[j];
			for (size_t i = 0; i < a->exception_count; i++) {
				const struct ph_exception_summary *ea = &a->exceptions[i];
				if (ea->address != eb->address || strcmp(ea->type, eb->type) ||
				    eb->traceback_length <= ea->traceback_length)
					continue;
				struct ph_exception_growth *grown =
				    realloc(d->exceptions, (d->exception_count + 1) * sizeof(*grown));
				if (!grown)
					return &ph_error_out_of_memory;
				d->exceptions = grown;
				d->exceptions[d->exception_count++] = (struct ph_exception_growth){
				    eb->address, eb->type, eb->repr, ea->traceback_length, eb->traceback_length};
				break;
			}
		}
	}
	return NULL;
}

void ph_diff_free(struct ph_diff *d)
{
	if (d->owns_strings) {
		for (size_t i = 0; i < d->type_count; i++)
			free((char *)d->types[i].name);
		for (size_t i = 0; i < d->container_count; i++)
			free((char *)d->containers[i].type);
		for (size_t i = 0; i < d->exception_count; i++) {
			free((char *)d->exceptions[i].type);
			free((char *)d->exceptions[i].repr);
		}
	}
	free(d->types);
	free(d->exceptions);
	free(d->containers);
	memset(d, 0, sizeof(*d));
}
