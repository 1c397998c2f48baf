/* Snapshot format version 1; see docs/snapshot-format.md. */
#include "pyheap/json_writer.h"
#include "pyheap/snapshot.h"

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
	ph_json_end_object(&w);
	return ph_json_finish(&w);
}
