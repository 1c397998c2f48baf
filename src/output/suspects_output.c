#include "pyheap/suspects_output.h"

#include "pyheap/chain_json.h"
#include "pyheap/safe_text.h"
#include "pyheap/units.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum { BY_TYPE_ROWS = 6, TYPE_GROWTH_ROWS = 10 };

static const char *short_type(const char *qualified)
{
	return strncmp(qualified, "builtins.", 9) == 0 ? qualified + 9 : qualified;
}

static const char *type_name(const struct ph_graph *g, uint32_t type)
{
	return type < g->strings.count ? g->strings.items[type] : "?";
}

/* "retains 3.8 GiB (99.8% of the Python heap) through a traceback chain of
 * 1,600 entries: 800 str (3.8 GiB), ..." */
static struct ph_error *retains_sentence(FILE *out, const struct ph_heap_view *v,
					 const struct ph_retainer *r, uint64_t retained)
{
	const struct ph_graph *g = v->graph;
	char bytes[32], accumulation[700], by_type[2048];
	ph_format_bytes(bytes, sizeof(bytes), (int64_t)retained, false);
	fprintf(out, "retains %s (%.1f%% of the Python heap)", bytes, ph_heap_share(v, retained));
	if (r->accumulation != r->holder || r->linked_length) {
		ph_describe_accumulation(g, r->accumulation, r->linked_length, accumulation,
					 sizeof(accumulation));
		fputs(" through ", out);
		if (!r->linked_length)
			fputs("its ", out);
		else
			fputs("a ", out);
		ph_fputs_safe(accumulation, out);
	}
	struct ph_type_bytes *rows;
	size_t count;
	struct ph_error *err = ph_retained_by_type(g, v->dominators, r->holder, &rows, &count);
	if (err)
		return err;
	ph_describe_by_type(g, rows, count, BY_TYPE_ROWS, by_type, sizeof(by_type));
	fputs(": ", out);
	ph_fputs_safe(by_type, out);
	size_t len = strlen(by_type);
	fputs(len >= 3 && strcmp(by_type + len - 3, "...") == 0 ? "\n" : ".\n", out);
	free(rows);
	return NULL;
}

static void holder_phrase(FILE *out, const struct ph_heap_view *v, uint32_t node)
{
	char holder[1200], name[600];
	ph_describe_holder(v->graph, v->paths, node, holder, sizeof(holder));
	ph_describe_node(v->graph, node, name, sizeof(name));
	ph_fputs_safe(holder, out);
	fputs(" (", out);
	ph_fputs_safe(name, out);
	fputs(")", out);
}

static void path_line(FILE *out, const struct ph_heap_view *v, const struct ph_retainer *r,
		      const char *indent)
{
	char path[4096], accumulation[700];
	bool below = r->accumulation != r->holder;
	if (below)
		ph_describe_accumulation(v->graph, r->accumulation, r->linked_length, accumulation,
					 sizeof(accumulation));
	ph_describe_path(v->graph, v->paths, r->holder, below ? accumulation : NULL, path, sizeof(path));
	fputs(indent, out);
	ph_fputs_safe(path, out);
	fputc('\n', out);
}

struct ph_error *ph_suspects_text(FILE *out, const struct ph_heap_view *v,
				  const struct ph_suspect *suspects, size_t count)
{
	ph_heap_summary_text(out, v);
	fputc('\n', out);
	if (!count) {
		fprintf(out, "No leak suspects: no holder and no type retains more than %.0f%% of the "
			     "Python heap.\n",
			PH_SUSPECT_SHARE * 100);
		return NULL;
	}
	fprintf(out, "%zu leak suspect%s:\n\n", count, count == 1 ? "" : "s");
	for (size_t i = 0; i < count; i++) {
		const struct ph_suspect *s = &suspects[i];
		fprintf(out, "Suspect %zu: ", i + 1);
		struct ph_error *err;
		if (s->kind == PH_SUSPECT_OBJECT) {
			holder_phrase(out, v, s->r.holder);
			fputc(' ', out);
			err = retains_sentence(out, v, &s->r, s->r.retained);
		} else {
			char n[32], bytes[32];
			ph_format_count(n, sizeof(n), s->instances);
			ph_format_bytes(bytes, sizeof(bytes), (int64_t)s->retained, false);
			fprintf(out, "%s holders of type ", n);
			ph_fputs_safe(short_type(type_name(v->graph, s->type)), out);
			fprintf(out, " together retain %s (%.1f%% of the Python heap). The largest: ", bytes,
				ph_heap_share(v, s->retained));
			holder_phrase(out, v, s->r.holder);
			fputc(' ', out);
			err = retains_sentence(out, v, &s->r, s->r.retained);
		}
		if (err)
			return err;
		path_line(out, v, &s->r, "  ");
		fputc('\n', out);
	}
	return NULL;
}

struct ph_error *ph_suspects_json(struct ph_json_writer *w, const struct ph_heap_view *v,
				  const struct ph_suspect *suspects, size_t count)
{
	ph_json_begin_object(w);
	ph_heap_summary_json(w, v);
	ph_json_key(w, "suspects");
	ph_json_begin_array(w);
	for (size_t i = 0; i < count; i++) {
		const struct ph_suspect *s = &suspects[i];
		ph_json_begin_object(w);
		ph_json_key(w, "kind");
		ph_json_string(w, s->kind == PH_SUSPECT_OBJECT ? "object" : "type");
		if (s->kind == PH_SUSPECT_TYPE) {
			ph_json_key(w, "group_type");
			ph_json_string(w, type_name(v->graph, s->type));
			ph_json_key(w, "instances");
			ph_json_uint(w, s->instances);
			ph_json_key(w, "group_retained");
			ph_json_uint(w, s->retained);
			ph_json_key(w, "group_objects");
			ph_json_uint(w, s->objects);
			ph_json_key(w, "largest");
			ph_json_begin_object(w);
		}
		struct ph_error *err = ph_retainer_json_members(w, v, &s->r);
		if (err)
			return err;
		if (s->kind == PH_SUSPECT_TYPE)
			ph_json_end_object(w);
		ph_json_end_object(w);
	}
	ph_json_end_array(w);
	ph_json_end_object(w);
	return NULL;
}

struct ph_error *ph_growth_text(FILE *out, const struct ph_heap_view *a, const struct ph_heap_view *b,
				const struct ph_growth_report *report)
{
	char before[32], after[32], delta[32];
	ph_format_bytes(before, sizeof(before), (int64_t)report->heap_before, false);
	ph_format_bytes(after, sizeof(after), (int64_t)report->heap_after, false);
	ph_format_bytes(delta, sizeof(delta), (int64_t)report->heap_after - (int64_t)report->heap_before,
			true);
	fprintf(out, "Python heap: %s -> %s (%s)", before, after, delta);
	if (a->rss_bytes && b->rss_bytes) {
		ph_format_bytes(before, sizeof(before), (int64_t)a->rss_bytes, false);
		ph_format_bytes(after, sizeof(after), (int64_t)b->rss_bytes, false);
		fprintf(out, "; target RSS %s -> %s", before, after);
	}
	fputs("\n\n", out);
	size_t suspects = 0;
	for (size_t i = 0; i < report->holder_count; i++)
		suspects += report->holders[i].suspect;
	if (!suspects)
		fprintf(out,
			"No leak suspects: no holder's retained size grew by more than %.0f%% of the first "
			"snapshot's heap.\n",
			PH_GROWTH_SHARE * 100);
	else
		fprintf(out, "%zu leak suspect%s (retained size grew by more than %.0f%% of the first "
			     "snapshot's heap):\n",
			suspects, suspects == 1 ? "" : "s", PH_GROWTH_SHARE * 100);
	bool others = false;
	for (size_t i = 0; i < report->holder_count; i++) {
		const struct ph_growth *h = &report->holders[i];
		if (!h->suspect && !others) {
			fprintf(out, "\nOther holders that grew:\n");
			others = true;
		}
		char grown[32], n[32], new_bytes[32];
		ph_format_bytes(before, sizeof(before), (int64_t)h->retained_before, false);
		ph_format_bytes(after, sizeof(after), (int64_t)h->r.retained, false);
		ph_format_bytes(grown, sizeof(grown), h->retained_delta, false);
		ph_format_count(n, sizeof(n), h->new_objects);
		ph_format_bytes(new_bytes, sizeof(new_bytes), (int64_t)h->new_bytes, false);
		fprintf(out, "\n%s ", h->suspect ? "Suspect:" : " ");
		holder_phrase(out, b, h->r.holder);
		fprintf(out, " grew by %s: %s -> %s%s; %s objects new since the first snapshot (%s)\n",
			grown, h->before == UINT32_MAX ? "(new)" : before, after,
			h->matched_by_path ? " (matched by its chain: its address changed)" : "", n,
			new_bytes);
		fputs("  ", out);
		struct ph_error *err = retains_sentence(out, b, &h->r, h->r.retained);
		if (err)
			return err;
		path_line(out, b, &h->r, "  ");
	}
	fprintf(out, "\nGrowth by type (every object, tracked by the GC or not):\n");
	fprintf(out, "  %-44s %12s %12s %14s\n", "type", "objects", "change", "bytes change");
	size_t shown = 0;
	for (size_t i = 0; i < report->type_count && shown < TYPE_GROWTH_ROWS; i++) {
		const struct ph_type_growth *t = &report->types[i];
		if (t->bytes_delta <= 0)
			break;
		char name[256];
		ph_safe_text(name, sizeof(name), t->type);
		ph_format_bytes(delta, sizeof(delta), t->bytes_delta, true);
		fprintf(out, "  %-44.44s %12" PRIu64 " %+12" PRId64 " %14s\n", name, t->count_after,
			t->count_delta, delta);
		shown++;
	}
	if (!shown)
		fprintf(out, "  (no type grew)\n");
	return NULL;
}

struct ph_error *ph_growth_json(struct ph_json_writer *w, const struct ph_heap_view *a,
				const struct ph_heap_view *b, const struct ph_growth_report *report)
{
	ph_json_begin_object(w);
	ph_json_key(w, "heap_before");
	ph_json_uint(w, report->heap_before);
	ph_json_key(w, "heap_after");
	ph_json_uint(w, report->heap_after);
	ph_json_key(w, "rss_before");
	if (a->rss_bytes)
		ph_json_uint(w, a->rss_bytes);
	else
		ph_json_null(w);
	ph_json_key(w, "rss_after");
	if (b->rss_bytes)
		ph_json_uint(w, b->rss_bytes);
	else
		ph_json_null(w);
	ph_json_key(w, "suspects");
	ph_json_begin_array(w);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			ph_json_end_array(w);
			ph_json_key(w, "other_growth");
			ph_json_begin_array(w);
		}
		for (size_t i = 0; i < report->holder_count; i++) {
			const struct ph_growth *h = &report->holders[i];
			if (h->suspect != (pass == 0))
				continue;
			ph_json_begin_object(w);
			ph_json_key(w, "kind");
			ph_json_string(w, "growth");
			ph_json_key(w, "retained_before");
			ph_json_uint(w, h->retained_before);
			ph_json_key(w, "retained_after");
			ph_json_uint(w, h->r.retained);
			ph_json_key(w, "retained_delta");
			ph_json_int(w, h->retained_delta);
			ph_json_key(w, "existed_before");
			ph_json_bool(w, h->before != UINT32_MAX);
			ph_json_key(w, "matched_by_path");
			ph_json_bool(w, h->matched_by_path);
			ph_json_key(w, "new_objects");
			ph_json_uint(w, h->new_objects);
			ph_json_key(w, "new_bytes");
			ph_json_uint(w, h->new_bytes);
			struct ph_error *err = ph_retainer_json_members(w, b, &h->r);
			if (err)
				return err;
			ph_json_end_object(w);
		}
	}
	ph_json_end_array(w);
	ph_json_key(w, "types");
	ph_json_begin_array(w);
	for (size_t i = 0; i < report->type_count; i++) {
		const struct ph_type_growth *t = &report->types[i];
		if (!t->bytes_delta && !t->count_delta)
			continue;
		ph_json_begin_object(w);
		ph_json_key(w, "name");
		ph_json_string(w, t->type);
		ph_json_key(w, "count_after");
		ph_json_uint(w, t->count_after);
		ph_json_key(w, "count_delta");
		ph_json_int(w, t->count_delta);
		ph_json_key(w, "size_after");
		ph_json_uint(w, t->bytes_after);
		ph_json_key(w, "size_delta");
		ph_json_int(w, t->bytes_delta);
		ph_json_end_object(w);
	}
	ph_json_end_array(w);
	ph_json_end_object(w);
	return NULL;
}
