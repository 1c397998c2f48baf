#include "heap_model.h"

#include "pyheap/snapshot_input.h"

#include "../util.h"

#include <stdio.h>
#include <string.h>

static void step(struct ph_progress *progress, const char *what, const char *path)
{
	if (!progress)
		return;
	char text[160];
	snprintf(text, sizeof(text), "%s %.100s", what, path);
	ph_progress_status(progress, text);
}

struct ph_error *ph_heap_model_load(const char *path, struct ph_progress *progress,
				    struct ph_heap_model *out)
{
	memset(out, 0, sizeof(*out));
	out->path = path;
	path = ph_input_name(path);
	step(progress, "reading", path);
	uint64_t start_ns = ph_now_ns();
	struct ph_error *err = ph_snapshot_load(out->path, &out->snapshot);
	out->load_ms = (double)(ph_now_ns() - start_ns) / 1e6;
	if (err)
		return err;
	if (!out->snapshot.has_graph) {
		ph_snapshot_unload(&out->snapshot);
		return ph_error_new(PH_EXIT_BAD_INPUT,
				    "%s has no reference graph (it was taken with --no-graph): retained "
				    "sizes need one; take the snapshot without --no-graph",
				    path);
	}
	const cJSON *rss = cJSON_GetObjectItemCaseSensitive(out->snapshot.capture, "rss_bytes");
	if (cJSON_IsNumber(rss))
		ph_double_to_u64(rss->valuedouble, UINT64_MAX >> 1, &out->rss_bytes);
	const struct ph_graph *g = &out->snapshot.graph;
	step(progress, "computing the dominator tree of", path);
	start_ns = ph_now_ns();
	err = ph_dominators_compute(g, &out->dominators);
	if (!err)
		err = ph_dominators_children(&out->dominators);
	out->dominators_ms = (double)(ph_now_ns() - start_ns) / 1e6;
	step(progress, "finding the shortest chains in", path);
	if (!err && !ph_paths_compute(g, &out->paths))
		err = ph_error_new(PH_EXIT_INTERNAL, "out of memory computing chains for %s", path);
	if (!err)
		err = ph_heap_bytes_compute(g, &out->heap);
	if (err) {
		ph_heap_model_free(out);
		return ph_error_wrap(err, "%s", path);
	}
	return NULL;
}

void ph_heap_model_free(struct ph_heap_model *model)
{
	ph_heap_bytes_free(&model->heap);
	if (model->paths.parent)
		ph_paths_free(&model->paths);
	ph_dominators_free(&model->dominators);
	ph_snapshot_unload(&model->snapshot);
	memset(model, 0, sizeof(*model));
}

uint64_t ph_heap_model_total(const struct ph_heap_model *model)
{
	return model->dominators.reachable_bytes + model->dominators.unreachable_bytes;
}
