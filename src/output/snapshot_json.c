/* Snapshot format version 1; see docs/snapshot-format.md. */
#include "pyheap/json_writer.h"
#include "pyheap/snapshot.h"

static void string_array(struct ph_json_writer *w, const char *key, const char *const *items,
			 size_t n)
{
	ph_json_key(w, key);
	ph_json_begin_array(w);
	for (size_t i = 0; i < n; i++)
		ph_json_string(w, items[i]);
	ph_json_end_array(w);
}

static int64_t string_or_minus_one(uint32_t index)
{
	return index == PH_NO_STRING ? -1 : (int64_t)index;
}

/* The graph: flat integer arrays (V8 heap snapshot style), so a million
 * nodes stay tens of megabytes and a reader can parse them without a
 * tree. See docs/snapshot-format.md. */
static void write_graph(struct ph_json_writer *w, const struct ph_snapshot *s)
{
	const struct ph_graph *g = &s->graph;
	static const char *const node_fields[] = {"address", "type", "size", "flags", "detail",
						  "edge_count"};
	static const char *const edge_fields[] = {"to", "kind", "label"};
	static const char *const root_fields[] = {"node", "kind", "name"};
	static const char *const flag_names[] = {"tracked", "root",      "reachable",
						 "pseudo",  "truncated", "conservative"};
	ph_json_key(w, "graph");
	ph_json_begin_object(w);
	string_array(w, "node_fields", node_fields, 6);
	string_array(w, "edge_fields", edge_fields, 3);
	string_array(w, "root_fields", root_fields, 3);
	string_array(w, "edge_kinds", ph_edge_kind_names, PH_EDGE_KIND_COUNT);
	string_array(w, "root_kinds", ph_root_kind_names, PH_ROOT_KIND_COUNT);
	string_array(w, "node_flags", flag_names, 6);
	ph_json_key(w, "node_count");
	ph_json_uint(w, g->node_count);
	ph_json_key(w, "edge_count");
	ph_json_uint(w, g->edge_count);
	ph_json_key(w, "invalid_referents");
	ph_json_uint(w, s->invalid_referents);
	string_array(w, "strings", (const char *const *)g->strings.items, g->strings.count);

	bool pretty = w->pretty;
	w->pretty = false;
	ph_json_key(w, "nodes");
	ph_json_begin_array(w);
	struct ph_int_stream stream;
	ph_int_stream_begin(&stream, w);
	for (uint32_t i = 0; i < g->node_count; i++) {
		const struct ph_node *n = &g->nodes[i];
		ph_int_stream_put(&stream, (int64_t)n->address);
		ph_int_stream_put(&stream, string_or_minus_one(n->type));
		ph_int_stream_put(&stream, (int64_t)n->size);
		ph_int_stream_put(&stream, n->flags);
		ph_int_stream_put(&stream, string_or_minus_one(n->detail));
		ph_int_stream_put(&stream, (int64_t)(g->edge_start[i + 1] - g->edge_start[i]));
	}
	ph_int_stream_end(&stream);
	ph_json_end_array(w);

	ph_json_key(w, "edges");
	ph_json_begin_array(w);
	ph_int_stream_begin(&stream, w);
	for (uint64_t e = 0; e < g->edge_count; e++) {
		ph_int_stream_put(&stream, g->edges[e].to);
		ph_int_stream_put(&stream, g->edges[e].kind);
		ph_int_stream_put(&stream, (int64_t)g->edges[e].label);
	}
	ph_int_stream_end(&stream);
	ph_json_end_array(w);

	ph_json_key(w, "roots");
	ph_json_begin_array(w);
	ph_int_stream_begin(&stream, w);
	for (uint32_t r = 0; r < g->root_count; r++) {
		ph_int_stream_put(&stream, g->roots[r].node);
		ph_int_stream_put(&stream, g->roots[r].kind);
		ph_int_stream_put(&stream, string_or_minus_one(g->roots[r].name));
	}
	ph_int_stream_end(&stream);
	ph_json_end_array(w);
	w->pretty = pretty;
	ph_json_end_object(w);
}

bool ph_snapshot_write_json(const struct ph_snapshot *s, FILE *out)
{
	struct ph_json_writer w;
	ph_json_init(&w, out, true);
	ph_json_begin_object(&w);
	ph_json_key(&w, "format");
	ph_json_string(&w, "pyheap-snapshot");
	ph_json_key(&w, "version");
	ph_json_int(&w, 1);

	ph_json_key(&w, "target");
	ph_json_begin_object(&w);
	ph_json_key(&w, "pid");
	ph_json_int(&w, s->pid);
	ph_json_key(&w, "exe");
	ph_json_string(&w, s->exe ? s->exe : "");
	ph_json_key(&w, "python");
	ph_json_string(&w, s->python_version);
	ph_json_key(&w, s->shared_libpython ? "libpython" : "interpreter");
	ph_json_string(&w, s->interpreter_path ? s->interpreter_path : "");
	if (!s->shared_libpython) {
		ph_json_key(&w, "libpython");
		ph_json_null(&w);
	}
	ph_json_key(&w, "build_id");
	ph_json_string(&w, s->build_id);
	ph_json_key(&w, "debuginfo");
	ph_json_string(&w, s->debuginfo ? s->debuginfo : "");
	ph_json_key(&w, "threads");
	ph_json_uint(&w, s->threads);
	ph_json_key(&w, "interpreters");
	ph_json_uint(&w, s->interpreters);
	ph_json_end_object(&w);

	ph_json_key(&w, "capture");
	ph_json_begin_object(&w);
	ph_json_key(&w, "time");
	ph_json_string(&w, s->time_iso);
	ph_json_key(&w, "pause_ms");
	ph_json_double(&w, (double)(long long)(s->pause_ms * 1000 + 0.5) / 1000);
	ph_json_key(&w, "attempts");
	ph_json_uint(&w, s->attempts);
	ph_json_key(&w, "total_pause_ms");
	ph_json_double(&w, (double)(long long)(s->total_pause_ms * 1000 + 0.5) / 1000);
	ph_json_key(&w, "objects");
	ph_json_uint(&w, s->objects);
	ph_json_key(&w, "unreadable_objects");
	ph_json_uint(&w, s->unreadable_objects);
	ph_json_key(&w, "bytes_copied");
	ph_json_uint(&w, s->bytes_copied);
	ph_json_key(&w, "gc_lists");
	ph_json_begin_object(&w);
	for (unsigned i = 0; i < s->gc_list_count; i++) {
		ph_json_key(&w, s->gc_list_names[i]);
		ph_json_uint(&w, s->gc_list_objects[i]);
	}
	ph_json_end_object(&w);
	ph_json_end_object(&w);

	ph_json_key(&w, "types");
	ph_json_begin_array(&w);
	/* One row per line: readable, and still greppable at 10k types. */
	bool pretty = w.pretty;
	for (size_t i = 0; i < s->type_count; i++) {
		const struct ph_type_count *row = &s->types[i];
		w.pretty = pretty;
		ph_json_begin_object(&w);
		w.pretty = false;
		ph_json_key(&w, "name");
		ph_json_string(&w, row->name);
		ph_json_key(&w, "count");
		ph_json_uint(&w, row->count);
		ph_json_key(&w, "size");
		ph_json_uint(&w, row->size);
		if (!row->size_exact) {
			ph_json_key(&w, "size_exact");
			ph_json_bool(&w, false);
		}
		if (row->type_objects > 1) {
			ph_json_key(&w, "type_objects");
			ph_json_uint(&w, row->type_objects);
		}
		ph_json_end_object(&w);
	}
	w.pretty = pretty;
	ph_json_end_array(&w);
	if (s->has_graph)
		write_graph(&w, s);
	ph_json_end_object(&w);
	return ph_json_finish(&w);
}
