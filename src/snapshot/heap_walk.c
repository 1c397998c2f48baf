/* The part of a snapshot that only reads memory: shared by live
 * processes and cores. */
#include "heap_walk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../python/python_version.h"
#include "../python/sizeof.h"
#include "../referents/family.h"
#include "graph_build.h"
#include "pyheap/big_alloc.h"
#include "pyheap/layout_file.h"

struct walk_state {
	const struct ph_target *t;
	struct ph_type_table *types;
	uint64_t unreadable;
	struct ph_graph_builder *graph; /* NULL: counts only */
};

static bool count_object(void *ctx, uint64_t object, unsigned list)
{
	(void)list;
	struct walk_state *state = ctx;
	uint64_t type_address;
	struct ph_type_entry *type = NULL;
	if (ph_read_ob_type(state->t, object, &type_address))
		type = ph_type_table_get(state->types, state->t, type_address);
	if (!type) {
		state->unreadable++;
		return true;
	}
	type->count++;
	type->total_size += ph_sizeof_object(state->t, object, type);
	if (state->graph)
		return ph_graph_add_tracked(state->graph, object,
					    (uint32_t)(type - state->types->entries));
	return true;
}

/* Upper bound on objects: every one takes at least a GC header and an
 * object header, in writable memory. */
static uint64_t object_bound(const struct ph_memory_map *map)
{
	uint64_t writable = 0;
	for (size_t i = 0; i < map->count; i++)
		if ((map->regions[i].perms & (PH_PERM_READ | PH_PERM_WRITE)) ==
		    (PH_PERM_READ | PH_PERM_WRITE))
			writable += map->regions[i].end - map->regions[i].start;
	return writable / 32 + 16;
}

static int compare_by_name(const void *a, const void *b)
{
	const struct ph_type_entry *ta = a, *tb = b;
	return strcmp(ta->name, tb->name);
}

static int compare_by_count(const void *a, const void *b)
{
	const struct ph_type_count *ta = a, *tb = b;
	if (ta->count != tb->count)
		return ta->count < tb->count ? 1 : -1;
	return strcmp(ta->name, tb->name);
}

/* Types are reported by name, as gc.get_objects() users see them; two
 * type objects with one name (a class defined twice) share a row. */
struct ph_error *ph_heap_walk_aggregate(struct ph_type_table *table, struct ph_snapshot *snap)
{
	/* no entries when no object's type was readable (hostile memory) */
	if (table->count)
		qsort(table->entries, table->count, sizeof(*table->entries), compare_by_name);
	snap->types = calloc(table->count ? table->count : 1, sizeof(*snap->types));
	if (!snap->types)
		return &ph_error_out_of_memory;
	for (size_t i = 0; i < table->count; i++) {
		struct ph_type_entry *e = &table->entries[i];
		if (e->count == 0)
			continue;
		struct ph_type_count *last =
		    snap->type_count ? &snap->types[snap->type_count - 1] : NULL;
		if (last && strcmp(last->name, e->name) == 0) {
			last->count += e->count;
			last->size += e->total_size;
			last->type_objects++;
			last->size_exact = last->size_exact && e->size_exact;
			continue;
		}
		struct ph_type_count *row = &snap->types[snap->type_count++];
		row->name = strdup(e->name);
		if (!row->name)
			return &ph_error_out_of_memory;
		row->count = e->count;
		row->size = e->total_size;
		row->type_objects = 1;
		row->size_exact = e->size_exact;
	}
	if (snap->type_count)
		qsort(snap->types, snap->type_count, sizeof(*snap->types), compare_by_count);
	return NULL;
}

/* Without DWARF, a layout file named after the build-id in
 * $PYHEAP_LAYOUT_DIR will do. Keeps the original error otherwise. */
static struct ph_error *try_layout_dir(struct ph_image *image, struct ph_error *no_dwarf,
				       struct ph_layout **layout)
{
	const char *dir = getenv("PYHEAP_LAYOUT_DIR");
	if (!dir || !*dir || !image->build_id[0])
		return no_dwarf;
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s.json", dir, image->build_id);
	if (access(path, R_OK) != 0) {
		struct ph_error *err =
		    ph_error_wrap(no_dwarf, "and no layout file %s", path);
		return err;
	}
	ph_error_free(no_dwarf);
	return ph_layout_file_read(path, (struct ph_image *)image, layout);
}

struct ph_error *ph_heap_walk_layout(struct ph_image *image,
				     const struct ph_snapshot_options *options,
				     struct ph_layout **layout)
{
	if (options->layout_file)
		return ph_layout_file_read(options->layout_file, image, layout);
	struct ph_error *err = ph_image_load_dwarf(image);
	if (err && err->exit_code == PH_EXIT_NO_DEBUGINFO)
		return try_layout_dir(image, err, layout);
	if (err)
		return err;
	return ph_layout_resolve(image, layout);
}

struct ph_error *ph_heap_walk_prepare(const struct ph_image *image, const struct ph_layout *layout,
				      const struct ph_snapshot_options *options,
				      struct ph_target *t, struct ph_snapshot *snap)
{
	snap->interpreter_path = strdup(image->path);
	snap->shared_libpython = strstr(image->path, "libpython") != NULL;
	snprintf(snap->build_id, sizeof(snap->build_id), "%s", image->build_id);
	snap->debuginfo = strdup(image->debuginfo ? image->debuginfo : "");
	snap->gc_list_count = layout->gc_list_count;
	for (unsigned i = 0; i < layout->gc_list_count; i++)
		snap->gc_list_names[i] = layout->gc_list_names[i];

	memset(t, 0, sizeof(*t));
	t->layout = layout;
	t->image = image;
	t->runtime = image->runtime_address;
	if (!ph_image_symbol(image, "PyType_Type", &t->type_type) ||
	    !ph_image_symbol(image, "PyUnicode_Type", &t->unicode_type) ||
	    !ph_image_symbol(image, "PyDict_Type", &t->dict_type))
		return ph_error_new(PH_EXIT_UNSUPPORTED,
				    "the interpreter %s lacks the PyType_Type/PyUnicode_Type/"
				    "PyDict_Type symbols", image->path);
	ph_sizeof_bind_symbols(t);
	ph_referents_bind_symbols(t);
	ph_image_symbol(image, "PyBaseObject_Type", &t->object_type);
	ph_image_symbol(image, "PyLong_Type", &t->int_type);
	ph_image_symbol(image, "PyAsyncGen_Type", &t->async_gen_type);
	t->redact = options->redact;
	snap->redacted = options->redact;
	return NULL;
}

static void detect_version(struct ph_target *t, struct ph_snapshot *snap)
{
	int minor = 0;
	if (snap->python_version[0] ||
	    !ph_python_version(t, snap->python_version, sizeof(snap->python_version), &minor))
		return;
	t->version_minor = minor;
	unsigned major_v = 0, minor_v = 0, micro_v = 0;
	sscanf(snap->python_version, "%u.%u.%u", &major_v, &minor_v, &micro_v);
	t->version_micro = (int)micro_v;
	t->always_traverse_managed_dict = minor > 14 || (minor == 14 && micro_v >= 4);
}

struct ph_error *ph_heap_walk(const struct ph_snapshot_options *options, struct ph_target *t,
			      struct ph_type_table *types, struct ph_snapshot *snap, bool tolerant,
			      const struct ph_memory_map *map, enum ph_walk_status *status,
			      struct ph_walk_report *report)
{
	struct ph_error *err = NULL;
	detect_version(t, snap);
	uint64_t dummy_pointer;
	if (ph_image_symbol(t->image, "_PySet_Dummy", &dummy_pointer))
		ph_read_u64(t, dummy_pointer, &t->set_dummy);
	struct ph_graph_builder builder = {t, types, &snap->graph, false, 0, NULL, 0, 0, options->meter};
	struct walk_state state = {t, types, 0, options->graph ? &builder : NULL};
	ph_graph_free(&snap->graph);
	ph_graph_init(&snap->graph);
	snap->has_graph = false;
	*status = ph_gc_walk(t, object_bound(map), tolerant, count_object, &state, report);
	snap->unreadable_objects = state.unreadable;
	bool usable = *status == PH_WALK_OK || (tolerant && *status == PH_WALK_INCONSISTENT);
	if (usable && options->graph) {
		if (!ph_graph_build(&builder))
			err = !builder.out_of_memory ? ph_error_new(PH_EXIT_INTERNAL, "building the graph failed")
			      : ph_budget_refusal()  ? ph_budget_error("the reference graph", ph_budget_refusal())
			      : ph_error_new(PH_EXIT_INTERNAL, "out of memory building the reference graph");
		snap->invalid_referents = builder.invalid_referents;
		snap->has_graph = !err;
	} else if (builder.out_of_memory) {
		err = ph_budget_refusal() ? ph_budget_error("recording the GC objects", ph_budget_refusal())
					  : ph_error_new(PH_EXIT_INTERNAL, "out of memory recording GC objects");
	}
	return err;
}
