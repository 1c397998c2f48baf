/* Snapshot format version 1; see docs/snapshot-format.md. */
#include <string.h>

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
	static const char *const flag_names[] = {"tracked",   "root",         "reachable", "pseudo",
						 "truncated", "conservative", "exception",
						 "size_inexact"};
	ph_json_key(w, "graph");
	ph_json_begin_object(w);
	string_array(w, "node_fields", node_fields, 6);
	string_array(w, "edge_fields", edge_fields, 3);
	string_array(w, "root_fields", root_fields, 3);
	string_array(w, "edge_kinds", ph_edge_kind_names, PH_EDGE_KIND_COUNT);
	string_array(w, "root_kinds", ph_root_kind_names, PH_ROOT_KIND_COUNT);
	string_array(w, "node_flags", flag_names, 8);
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

static uint32_t find_string(const struct ph_graph *g, const char *text)
{
	for (uint32_t i = 0; i < g->strings.count; i++)
		if (strcmp(g->strings.items[i], text) == 0)
			return i;
	return PH_NO_STRING;
}

/* The target of node's attribute edge labelled `label`, or UINT32_MAX. */
static uint32_t attribute(const struct ph_graph *g, uint32_t node, uint32_t label)
{
	if (label == PH_NO_STRING)
		return UINT32_MAX;
	for (uint64_t e = g->edge_start[node]; e < g->edge_start[node + 1]; e++)
		if (g->edges[e].kind == PH_EDGE_ATTRIBUTE && g->edges[e].label == label)
			return g->edges[e].to;
	return UINT32_MAX;
}

static const struct ph_traceback_info *traceback_info(const struct ph_graph *g, uint32_t node)
{
	uint32_t lo = 0, hi = g->traceback_count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (g->tracebacks[mid].node < node)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < g->traceback_count && g->tracebacks[lo].node == node ? &g->tracebacks[lo] : NULL;
}

static const char *string_at(const struct ph_graph *g, uint32_t index)
{
	return index < g->strings.count ? g->strings.items[index] : "";
}

/* Every live exception with its traceback, frame by frame, and each
 * frame's locals: the traceback -> frame -> local chains of the seeds. */
static void write_exceptions(struct ph_json_writer *w, const struct ph_graph *g)
{
	uint32_t tb_label = find_string(g, "__traceback__");
	uint32_t next_label = find_string(g, "tb_next");
	uint32_t frame_label = find_string(g, "tb_frame");
	ph_json_key(w, "exceptions");
	ph_json_begin_array(w);
	bool pretty = w->pretty;
	for (uint32_t i = 0; i < g->node_count; i++) {
		if (!(g->nodes[i].flags & PH_NODE_EXCEPTION))
			continue;
		w->pretty = pretty;
		ph_json_begin_object(w);
		w->pretty = false;
		ph_json_key(w, "node");
		ph_json_uint(w, i);
		ph_json_key(w, "address");
		ph_json_uint(w, g->nodes[i].address);
		ph_json_key(w, "type");
		ph_json_string(w, string_at(g, g->nodes[i].type));
		ph_json_key(w, "repr");
		ph_json_string(w, string_at(g, g->nodes[i].detail));
		/* count first: a re-raised singleton's traceback is long */
		uint64_t length = 0;
		for (uint32_t tb = attribute(g, i, tb_label); tb != UINT32_MAX && length <= g->node_count;
		     tb = attribute(g, tb, next_label))
			length++;
		ph_json_key(w, "traceback_length");
		ph_json_uint(w, length);
		ph_json_key(w, "traceback");
		ph_json_begin_array(w);
		uint64_t n = 0;
		for (uint32_t tb = attribute(g, i, tb_label); tb != UINT32_MAX && n < length;
		     tb = attribute(g, tb, next_label), n++) {
			const struct ph_traceback_info *info = traceback_info(g, tb);
			ph_json_begin_object(w);
			ph_json_key(w, "function");
			ph_json_string(w, info ? string_at(g, info->function) : "?");
			ph_json_key(w, "file");
			ph_json_string(w, info ? string_at(g, info->file) : "?");
			ph_json_key(w, "line");
			ph_json_int(w, info ? info->line : -1);
			uint32_t frame = attribute(g, tb, frame_label);
			ph_json_key(w, "frame");
			if (frame == UINT32_MAX)
				ph_json_null(w);
			else
				ph_json_uint(w, frame);
			ph_json_key(w, "locals");
			ph_json_begin_array(w);
			if (frame != UINT32_MAX) {
				for (uint64_t e = g->edge_start[frame]; e < g->edge_start[frame + 1]; e++) {
					const struct ph_edge *edge = &g->edges[e];
					if (edge->kind != PH_EDGE_LOCAL)
						continue;
					const struct ph_node *value = &g->nodes[edge->to];
					ph_json_begin_object(w);
					ph_json_key(w, "name");
					ph_json_string(w, string_at(g, (uint32_t)edge->label));
					ph_json_key(w, "type");
					ph_json_string(w, string_at(g, value->type));
					ph_json_key(w, "address");
					ph_json_uint(w, value->address);
					ph_json_key(w, "size");
					ph_json_uint(w, value->size);
					ph_json_key(w, "node");
					ph_json_uint(w, edge->to);
					ph_json_end_object(w);
				}
			}
			ph_json_end_array(w);
			ph_json_end_object(w);
		}
		ph_json_end_array(w);
		ph_json_end_object(w);
	}
	w->pretty = pretty;
	ph_json_end_array(w);
}

/* The Python heap in bytes. Without the graph only the tracked part is
 * known: the rest is null, never a zero that would read as "none". */
static void write_heap_bytes(struct ph_json_writer *w, const struct ph_snapshot *s)
{
	ph_json_key(w, "heap");
	ph_json_begin_object(w);
	uint64_t tracked_objects = 0, tracked_bytes = 0;
	for (size_t i = 0; i < s->type_count; i++) {
		tracked_objects += s->types[i].count;
		tracked_bytes += s->types[i].size;
	}
	static const char *const keys[] = {"objects", "bytes", "tracked_objects", "tracked_bytes",
					   "untracked_objects", "untracked_bytes"};
	uint64_t values[] = {s->heap.objects,         s->heap.bytes,
			     tracked_objects,         tracked_bytes,
			     s->heap.untracked_objects, s->heap.untracked_bytes};
	for (size_t k = 0; k < 6; k++) {
		ph_json_key(w, keys[k]);
		if (s->has_graph || k == 2 || k == 3)
			ph_json_uint(w, values[k]);
		else
			ph_json_null(w);
	}
	ph_json_end_object(w);
}

/* Objects that are not on the GC lists, per type: str, bytes, int... */
static void write_untracked(struct ph_json_writer *w, const struct ph_snapshot *s)
{
	const struct ph_graph *g = &s->graph;
	ph_json_key(w, "untracked");
	ph_json_begin_array(w);
	bool pretty = w->pretty;
	for (size_t i = 0; i < s->heap.untracked_type_count; i++) {
		const struct ph_type_bytes *row = &s->heap.untracked[i];
		w->pretty = pretty;
		ph_json_begin_object(w);
		w->pretty = false;
		ph_json_key(w, "name");
		ph_json_string(w, row->type < g->strings.count ? g->strings.items[row->type] : "?");
		ph_json_key(w, "count");
		ph_json_uint(w, row->count);
		ph_json_key(w, "size");
		ph_json_uint(w, row->size);
		if (row->size_inexact) {
			ph_json_key(w, "size_exact");
			ph_json_bool(w, false);
		}
		ph_json_end_object(w);
	}
	w->pretty = pretty;
	ph_json_end_array(w);
}

/* target.core: which core file, written by whom, and what it held. */
static void write_core(struct ph_json_writer *w, const struct ph_snapshot_core *c)
{
	ph_json_key(w, "core");
	ph_json_begin_object(w);
	ph_json_key(w, "path");
	ph_json_string(w, c->path);
	ph_json_key(w, "format");
	ph_json_string(w, c->format);
	ph_json_key(w, "written_by");
	ph_json_string(w, c->writer);
	ph_json_key(w, "signal");
	if (c->signal)
		ph_json_int(w, c->signal);
	else
		ph_json_null(w);
	ph_json_key(w, "command_line");
	ph_json_string(w, c->command_line);
	ph_json_key(w, "sysroot");
	if (c->sysroot[0])
		ph_json_string(w, c->sysroot);
	else
		ph_json_null(w);
	ph_json_key(w, "time_source");
	ph_json_string(w, c->time_source);
	ph_json_key(w, "size");
	ph_json_uint(w, c->size);
	ph_json_key(w, "saved_bytes");
	ph_json_uint(w, c->saved_bytes);
	ph_json_key(w, "truncated_bytes");
	ph_json_uint(w, c->truncated_bytes);
	ph_json_key(w, "bytes_from_files");
	ph_json_uint(w, c->file_bytes);
	ph_json_key(w, "files_read");
	ph_json_uint(w, c->files_read);
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
	ph_json_key(&w, "start_ticks");
	if (s->core)
		ph_json_null(&w); /* a core does not say when its process started */
	else
		ph_json_uint(&w, s->start_ticks);
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
	if (s->core)
		write_core(&w, s->core);
	ph_json_end_object(&w);

	ph_json_key(&w, "capture");
	ph_json_begin_object(&w);
	ph_json_key(&w, "time");
	ph_json_string(&w, s->time_iso);
	ph_json_key(&w, "pause_ms");
	if (s->core) /* nothing was paused */
		ph_json_null(&w);
	else
		ph_json_double(&w, (double)(long long)(s->pause_ms * 1000 + 0.5) / 1000);
	ph_json_key(&w, "attempts");
	ph_json_uint(&w, s->attempts);
	ph_json_key(&w, "total_pause_ms");
	if (s->core)
		ph_json_null(&w);
	else
		ph_json_double(&w, (double)(long long)(s->total_pause_ms * 1000 + 0.5) / 1000);
	ph_json_key(&w, "objects");
	ph_json_uint(&w, s->objects);
	ph_json_key(&w, "complete");
	ph_json_bool(&w, s->complete);
	if (!s->complete) {
		ph_json_key(&w, "problem");
		ph_json_string(&w, s->problem);
		ph_json_key(&w, "broken_lists");
		ph_json_uint(&w, s->broken_lists);
	}
	ph_json_key(&w, "redacted");
	ph_json_bool(&w, s->redacted);
	ph_json_key(&w, "unreadable_objects");
	ph_json_uint(&w, s->unreadable_objects);
	ph_json_key(&w, "bytes_copied");
	ph_json_uint(&w, s->bytes_copied);
	ph_json_key(&w, "walked_copy");
	ph_json_bool(&w, s->walked_copy);
	ph_json_key(&w, "policy");
	ph_json_string(&w, ph_capture_policy_name(s->policy));
	ph_json_key(&w, "policy_reason");
	ph_json_string(&w, s->policy_reason);
	ph_json_key(&w, "bytes_skipped");
	ph_json_uint(&w, s->bytes_skipped);
	ph_json_key(&w, "bytes_untouched");
	ph_json_uint(&w, s->bytes_untouched);
	ph_json_key(&w, "sparse_misses");
	ph_json_uint(&w, s->sparse_misses);
	ph_json_key(&w, "memory_budget");
	ph_json_uint(&w, s->memory_budget);
	ph_json_key(&w, "memory_peak");
	ph_json_uint(&w, s->memory_peak);
	ph_json_key(&w, "gc_lists");
	ph_json_begin_object(&w);
	for (unsigned i = 0; i < s->gc_list_count; i++) {
		ph_json_key(&w, s->gc_list_names[i]);
		ph_json_uint(&w, s->gc_list_objects[i]);
	}
	ph_json_end_object(&w);
	ph_json_key(&w, "rss_bytes");
	if (s->rss_bytes)
		ph_json_uint(&w, s->rss_bytes);
	else
		ph_json_null(&w);
	write_heap_bytes(&w, s);
	if (s->free_threaded) {
		const struct ph_mimalloc_stats *m = &s->mimalloc;
		ph_json_key(&w, "mimalloc");
		ph_json_begin_object(&w);
		ph_json_key(&w, "pages");
		ph_json_uint(&w, m->pages);
		ph_json_key(&w, "abandoned_segments");
		ph_json_uint(&w, m->abandoned_segments);
		ph_json_key(&w, "free_blocks");
		ph_json_uint(&w, m->free_blocks);
		ph_json_key(&w, "local_free_blocks");
		ph_json_uint(&w, m->local_free_blocks);
		ph_json_key(&w, "thread_free_blocks");
		ph_json_uint(&w, m->thread_free_blocks);
		ph_json_key(&w, "delayed_free_blocks");
		ph_json_uint(&w, m->delayed_free_blocks);
		ph_json_end_object(&w);
	}
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
	if (s->has_graph) {
		write_untracked(&w, s);
		write_exceptions(&w, &s->graph);
		write_graph(&w, s);
	}
	ph_json_end_object(&w);
	return ph_json_finish(&w);
}
