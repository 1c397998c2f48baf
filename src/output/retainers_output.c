#include "pyheap/retainers_output.h"

#include "pyheap/chain_json.h"
#include "pyheap/safe_text.h"
#include "pyheap/units.h"

#include <stdlib.h>

enum { BY_TYPE_TEXT_ROWS = 6, BY_TYPE_JSON_ROWS = 20 };

double ph_heap_share(const struct ph_heap_view *v, uint64_t bytes)
{
	uint64_t total = v->dominators->reachable_bytes + v->dominators->unreachable_bytes;
	return total ? 100.0 * (double)bytes / (double)total : 0;
}

void ph_heap_summary_text(FILE *out, const struct ph_heap_view *v)
{
	char bytes[32], objects[32], tracked[32], rss[32] = "unknown";
	ph_format_bytes(bytes, sizeof(bytes), (int64_t)v->heap->bytes, false);
	ph_format_count(objects, sizeof(objects), v->heap->objects);
	ph_format_count(tracked, sizeof(tracked), v->heap->tracked_objects);
	if (v->rss_bytes)
		ph_format_bytes(rss, sizeof(rss), (int64_t)v->rss_bytes, false);
	fprintf(out, "Python heap: %s in %s objects (%s of them on the GC lists); target RSS %s\n", bytes,
		objects, tracked, rss);
	const struct ph_dominators *d = v->dominators;
	ph_format_bytes(bytes, sizeof(bytes), (int64_t)d->unreachable_bytes, false);
	ph_format_count(objects, sizeof(objects), d->unreachable_objects);
	fprintf(out,
		"Reachable from no root: %s objects, %s (%.1f%%): garbage not yet collected, or held "
		"only from C\n",
		objects, bytes, ph_heap_share(v, d->unreachable_bytes));
}

void ph_heap_summary_json(struct ph_json_writer *w, const struct ph_heap_view *v)
{
	ph_json_key(w, "heap");
	ph_json_begin_object(w);
	ph_json_key(w, "objects");
	ph_json_uint(w, v->heap->objects);
	ph_json_key(w, "bytes");
	ph_json_uint(w, v->heap->bytes);
	ph_json_key(w, "tracked_objects");
	ph_json_uint(w, v->heap->tracked_objects);
	ph_json_key(w, "tracked_bytes");
	ph_json_uint(w, v->heap->tracked_bytes);
	ph_json_key(w, "untracked_objects");
	ph_json_uint(w, v->heap->untracked_objects);
	ph_json_key(w, "untracked_bytes");
	ph_json_uint(w, v->heap->untracked_bytes);
	ph_json_key(w, "rss_bytes");
	if (v->rss_bytes)
		ph_json_uint(w, v->rss_bytes);
	else
		ph_json_null(w);
	ph_json_end_object(w);
	ph_json_key(w, "unreachable");
	ph_json_begin_object(w);
	ph_json_key(w, "objects");
	ph_json_uint(w, v->dominators->unreachable_objects);
	ph_json_key(w, "bytes");
	ph_json_uint(w, v->dominators->unreachable_bytes);
	ph_json_end_object(w);
}

struct ph_error *ph_retainer_text(FILE *out, const struct ph_heap_view *v,
				  const struct ph_retainer *r, int indent)
{
	const struct ph_graph *g = v->graph;
	char name[600], holder[1200], path[4096], accumulation[700], by_type[2048];
	char bytes[32], objects[32];
	ph_describe_node(g, r->holder, name, sizeof(name));
	ph_describe_holder(g, v->paths, r->holder, holder, sizeof(holder));
	ph_format_bytes(bytes, sizeof(bytes), (int64_t)r->retained, false);
	ph_format_count(objects, sizeof(objects), r->objects);
	fprintf(out, "%s (%.1f%% of the heap) in %s objects: %s, ", bytes, ph_heap_share(v, r->retained),
		objects, name);
	ph_fputs_safe(holder, out);
	fputc('\n', out);
	bool below = r->accumulation != r->holder;
	if (below || r->linked_length)
		ph_describe_accumulation(g, r->accumulation, r->linked_length, accumulation,
					 sizeof(accumulation));
	ph_describe_path(g, v->paths, r->holder, below ? accumulation : NULL, path, sizeof(path));
	fprintf(out, "%*s", indent, "");
	ph_fputs_safe(path, out);
	if (!below && r->linked_length) {
		fputs(": ", out);
		ph_fputs_safe(accumulation, out);
	}
	fputc('\n', out);
	struct ph_type_bytes *rows;
	size_t count;
	struct ph_error *err = ph_retained_by_type(g, v->dominators, r->holder, &rows, &count);
	if (err)
		return err;
	ph_describe_by_type(g, rows, count, BY_TYPE_TEXT_ROWS, by_type, sizeof(by_type));
	fprintf(out, "%*sretains ", indent, "");
	ph_fputs_safe(by_type, out);
	fputc('\n', out);
	free(rows);
	return NULL;
}

static void node_members(struct ph_json_writer *w, const struct ph_graph *g, uint32_t node)
{
	char text[600];
	ph_json_key(w, "address");
	ph_json_uint(w, g->nodes[node].address);
	ph_json_key(w, "type");
	ph_json_string(w, g->nodes[node].type < g->strings.count ? g->strings.items[g->nodes[node].type]
								 : "?");
	ph_json_key(w, "repr");
	ph_describe_node(g, node, text, sizeof(text));
	ph_json_string(w, text);
}

struct ph_error *ph_retainer_json_members(struct ph_json_writer *w, const struct ph_heap_view *v,
					  const struct ph_retainer *r)
{
	const struct ph_graph *g = v->graph;
	char text[1200];
	ph_json_key(w, "retained");
	ph_json_uint(w, r->retained);
	ph_json_key(w, "objects");
	ph_json_uint(w, r->objects);
	ph_json_key(w, "share");
	ph_json_double(w, (double)(long long)(ph_heap_share(v, r->retained) * 100 + 0.5) / 100);
	node_members(w, g, r->holder);
	ph_json_key(w, "holder");
	ph_describe_holder(g, v->paths, r->holder, text, sizeof(text));
	ph_json_string(w, text);
	ph_json_key(w, "accumulation");
	ph_json_begin_object(w);
	node_members(w, g, r->accumulation);
	ph_json_key(w, "retained");
	ph_json_uint(w, v->dominators->retained[r->accumulation]);
	ph_json_key(w, "linked_length");
	ph_json_uint(w, r->linked_length);
	ph_json_key(w, "description");
	ph_describe_accumulation(g, r->accumulation, r->linked_length, text, sizeof(text));
	ph_json_string(w, text);
	ph_json_end_object(w);
	ph_json_key(w, "chain");
	ph_chain_write_json(w, g, v->paths, r->holder);
	struct ph_type_bytes *rows;
	size_t count;
	struct ph_error *err = ph_retained_by_type(g, v->dominators, r->holder, &rows, &count);
	if (err)
		return err;
	ph_json_key(w, "by_type");
	ph_json_begin_array(w);
	for (size_t i = 0; i < count && i < BY_TYPE_JSON_ROWS; i++) {
		ph_json_begin_object(w);
		ph_json_key(w, "type");
		ph_json_string(w, g->strings.items[rows[i].type]);
		ph_json_key(w, "count");
		ph_json_uint(w, rows[i].count);
		ph_json_key(w, "size");
		ph_json_uint(w, rows[i].size);
		ph_json_end_object(w);
	}
	ph_json_end_array(w);
	free(rows);
	return NULL;
}
