#include "pyheap/report_html.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pyheap/json_writer.h"
#include "pyheap/suspects_output.h"
#include "report_template.h" /* generated from report.html by embed.py */

#define DATA_MARKER "/*PYHEAP_REPORT_DATA*/"

/* The data goes inside <script type="application/json">: the HTML parser
 * ends that element at the first "</script", whatever the JSON means, and
 * target strings (type names, reprs, dict keys) could hold one. In JSON a
 * '<' can only be inside a string, where \u003c means the same; so every
 * '<' is written that way, by a stream that sits in front of the file. */
static ssize_t escape_lt(void *cookie, const char *buf, size_t size)
{
	FILE *out = cookie;
	size_t start = 0;
	for (size_t i = 0; i < size; i++) {
		if (buf[i] != '<')
			continue;
		if (i > start && fwrite(buf + start, 1, i - start, out) != i - start)
			return -1;
		if (fputs("\\u003c", out) == EOF)
			return -1;
		start = i + 1;
	}
	if (size > start && fwrite(buf + start, 1, size - start, out) != size - start)
		return -1;
	return (ssize_t)size;
}

static const char *text_member(const cJSON *object, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
	return cJSON_IsString(item) ? item->valuestring : "";
}

static void write_snapshot(struct ph_json_writer *w, const struct ph_report_snapshot *s)
{
	ph_json_begin_object(w);
	ph_json_key(w, "label");
	ph_json_string(w, s->label);
	ph_json_key(w, "path");
	ph_json_string(w, s->path);
	ph_json_key(w, "pid");
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(s->loaded->target, "pid");
	if (cJSON_IsNumber(pid) && pid->valuedouble >= 0 && pid->valuedouble < 1e9)
		ph_json_int(w, (int64_t)pid->valuedouble);
	else
		ph_json_null(w);
	ph_json_key(w, "python");
	ph_json_string(w, text_member(s->loaded->target, "python"));
	ph_json_key(w, "time");
	ph_json_string(w, text_member(s->loaded->capture, "time"));
	ph_json_key(w, "summary");
	ph_json_begin_object(w);
	ph_heap_summary_json(w, s->view);
	ph_json_end_object(w);
	ph_json_end_object(w);
}

static void column(struct ph_json_writer *w, const char *key, const char *label, const char *kind)
{
	ph_json_begin_object(w);
	ph_json_key(w, "key");
	ph_json_string(w, key);
	ph_json_key(w, "label");
	ph_json_string(w, label);
	ph_json_key(w, "kind");
	ph_json_string(w, kind);
	ph_json_end_object(w);
}

static void write_single_types(struct ph_json_writer *w, const struct ph_report_snapshot *s)
{
	ph_json_key(w, "title");
	ph_json_string(w, "Types: every object, GC-tracked or not");
	ph_json_key(w, "columns");
	ph_json_begin_array(w);
	column(w, "type", "type", "text");
	column(w, "objects", "objects", "count");
	column(w, "bytes", "bytes", "bytes");
	column(w, "tracked", "GC-tracked", "count");
	ph_json_end_array(w);
	ph_json_key(w, "sort_column");
	ph_json_int(w, 2);
	ph_json_key(w, "rows");
	ph_json_begin_array(w);
	for (size_t i = 0; i < s->type_count; i++) {
		const struct ph_type_total *t = &s->types[i];
		ph_json_begin_array(w);
		ph_json_string(w, t->name);
		ph_json_uint(w, t->objects);
		ph_json_uint(w, t->bytes);
		ph_json_uint(w, t->tracked_objects);
		ph_json_end_array(w);
	}
	ph_json_end_array(w);
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const struct ph_type_total *const *)a)->name,
		      (*(const struct ph_type_total *const *)b)->name);
}

static void diff_row(struct ph_json_writer *w, const struct ph_type_total *a, const struct ph_type_total *b)
{
	static const struct ph_type_total none;
	if (!a)
		a = &none;
	if (!b)
		b = &none;
	ph_json_begin_array(w);
	ph_json_string(w, b->name ? b->name : a->name);
	ph_json_uint(w, a->objects);
	ph_json_uint(w, b->objects);
	ph_json_int(w, (int64_t)b->objects - (int64_t)a->objects);
	ph_json_uint(w, a->bytes);
	ph_json_uint(w, b->bytes);
	ph_json_int(w, (int64_t)b->bytes - (int64_t)a->bytes);
	ph_json_end_array(w);
}

/* A and B merged by type name. */
static struct ph_error *write_diff_types(struct ph_json_writer *w, const struct ph_report_snapshot *a,
					 const struct ph_report_snapshot *b)
{
	const struct ph_type_total **sa = malloc((a->type_count + 1) * sizeof(*sa));
	const struct ph_type_total **sb = malloc((b->type_count + 1) * sizeof(*sb));
	if (!sa || !sb) {
		free(sa);
		free(sb);
		return &ph_error_out_of_memory;
	}
	for (size_t i = 0; i < a->type_count; i++)
		sa[i] = &a->types[i];
	for (size_t i = 0; i < b->type_count; i++)
		sb[i] = &b->types[i];
	qsort(sa, a->type_count, sizeof(*sa), by_name);
	qsort(sb, b->type_count, sizeof(*sb), by_name);
	ph_json_key(w, "title");
	ph_json_string(w, "Types: A -> B, every object, GC-tracked or not");
	ph_json_key(w, "columns");
	ph_json_begin_array(w);
	column(w, "type", "type", "text");
	column(w, "objects_a", "objects A", "count");
	column(w, "objects_b", "objects B", "count");
	column(w, "objects_delta", "change", "delta_count");
	column(w, "bytes_a", "bytes A", "bytes");
	column(w, "bytes_b", "bytes B", "bytes");
	column(w, "bytes_delta", "bytes change", "delta_bytes");
	ph_json_end_array(w);
	ph_json_key(w, "sort_column");
	ph_json_int(w, 6);
	ph_json_key(w, "rows");
	ph_json_begin_array(w);
	size_t i = 0, j = 0;
	while (i < a->type_count || j < b->type_count) {
		int order = i == a->type_count ? 1 : j == b->type_count ? -1 : strcmp(sa[i]->name, sb[j]->name);
		if (order == 0)
			diff_row(w, sa[i++], sb[j++]);
		else if (order < 0)
			diff_row(w, sa[i++], NULL);
		else
			diff_row(w, NULL, sb[j++]);
	}
	ph_json_end_array(w);
	free(sa);
	free(sb);
	return NULL;
}

static struct ph_error *write_data(FILE *stream, const struct ph_report_input *in)
{
	const struct ph_report_snapshot *last = &in->snapshots[in->snapshot_count - 1];
	struct ph_json_writer w;
	ph_json_init(&w, stream, false);
	ph_json_begin_object(&w);
	ph_json_key(&w, "pyheap_version");
	ph_json_string(&w, PYHEAP_VERSION);
	ph_json_key(&w, "thresholds");
	ph_json_begin_object(&w);
	ph_json_key(&w, "suspect_share");
	ph_json_double(&w, PH_SUSPECT_SHARE);
	ph_json_key(&w, "growth_share");
	ph_json_double(&w, PH_GROWTH_SHARE);
	ph_json_end_object(&w);
	ph_json_key(&w, "warnings");
	ph_json_begin_array(&w);
	for (size_t i = 0; i < in->warning_count; i++)
		ph_json_string(&w, in->warnings[i]);
	ph_json_end_array(&w);
	ph_json_key(&w, "snapshots");
	ph_json_begin_array(&w);
	for (size_t i = 0; i < in->snapshot_count; i++)
		write_snapshot(&w, &in->snapshots[i]);
	ph_json_end_array(&w);

	struct ph_error *err = NULL;
	if (in->growth) {
		ph_json_key(&w, "growth");
		err = ph_growth_json(&w, in->snapshots[0].view, last->view, in->growth);
	} else {
		ph_json_key(&w, "suspects");
		err = ph_suspects_json(&w, last->view, in->suspects, in->suspect_count);
	}
	if (err)
		return err;
	ph_json_key(&w, "top");
	ph_json_begin_object(&w);
	ph_json_key(&w, "items");
	ph_json_begin_array(&w);
	for (size_t i = 0; i < in->top_count; i++) {
		ph_json_begin_object(&w);
		if ((err = ph_retainer_json_members(&w, last->view, &in->top[i])))
			return err;
		ph_json_end_object(&w);
	}
	ph_json_end_array(&w);
	ph_json_end_object(&w);

	ph_json_key(&w, "types");
	ph_json_begin_object(&w);
	if (in->snapshot_count == 2)
		err = write_diff_types(&w, &in->snapshots[0], last);
	else
		write_single_types(&w, last);
	if (err)
		return err;
	ph_json_end_object(&w);
	ph_json_end_object(&w);
	if (w.failed || w.depth != 0)
		return ph_error_new(PH_EXIT_INTERNAL, "the report's data is not well-formed JSON");
	return NULL;
}

struct ph_error *ph_report_html_write(FILE *out, const struct ph_report_input *in)
{
	const char *page = (const char *)report_template;
	const char *marker = strstr(page, DATA_MARKER);
	if (!marker || in->snapshot_count < 1 || in->snapshot_count > 2)
		return ph_error_new(PH_EXIT_INTERNAL, "the report template has no data marker");
	fwrite(page, 1, (size_t)(marker - page), out);
	cookie_io_functions_t functions = {.write = escape_lt};
	FILE *data = fopencookie(out, "w", functions);
	if (!data)
		return &ph_error_out_of_memory;
	struct ph_error *err = write_data(data, in);
	if (fclose(data) != 0 && !err)
		err = ph_error_new(PH_EXIT_OUTPUT, "writing the report failed");
	if (err)
		return err;
	marker += strlen(DATA_MARKER);
	fwrite(marker, 1, report_template_length - (size_t)(marker - page), out);
	if (ferror(out))
		return ph_error_new(PH_EXIT_OUTPUT, "writing the report failed");
	return NULL;
}
