/* pyheap diff [--all] [--limit N] [--sort count|size] [--json] A B */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "snapshot_args.h"
#include "pyheap/snapshot_input.h"
#include "pyheap/chain.h"
#include "pyheap/diff.h"
#include "pyheap/json_writer.h"
#include "pyheap/safe_text.h"
#include "pyheap/units.h"

static const char diff_usage[] =
    "usage: pyheap diff [options] A.json B.json\n"
    "       pyheap snap PID | pyheap diff [options] A.json   (B from standard input; or A.json -)\n"
    "\n"
    "What grew between snapshot A and snapshot B: per type, the count and size\n"
    "before and after. When both come from the same process: how many objects\n"
    "of each type are new in B and how many from A are gone, which exceptions'\n"
    "tracebacks grew, and which containers grew the most, with a chain to each.\n"
    "\n"
    "  -a, --all            every type that changed (default: those that grew)\n"
    "  -n, --limit N        at most N type rows (default 20; 0: no limit)\n"
    "  -s, --sort KEY       count (default) or size: order by the change in it\n"
    "      --containers N   growing containers to show (default 5)\n"
    "      --json           every type that changed, as JSON\n"
    "  -h, --help           this text\n";

enum sort_key { SORT_COUNT, SORT_SIZE };
static enum sort_key sort_by;

/* Every object of the type, on the GC lists or not (the untracked part is
 * 0 when a snapshot has no graph). */
static int64_t all_count_delta(const struct ph_type_delta *r)
{
	return (r->after - r->before) + (r->untracked_after - r->untracked_before);
}

static int64_t all_size_delta(const struct ph_type_delta *r)
{
	return (r->size_after - r->size_before) + (r->untracked_size_after - r->untracked_size_before);
}

static int compare_rows(const void *x, const void *y)
{
	const struct ph_type_delta *a = x, *b = y;
	int64_t da = sort_by == SORT_SIZE ? all_size_delta(a) : all_count_delta(a);
	int64_t db = sort_by == SORT_SIZE ? all_size_delta(b) : all_count_delta(b);
	if (da != db)
		return da < db ? 1 : -1;
	return strcmp(a->name, b->name);
}

static const char *describe_side(const struct ph_loaded_snapshot *s, char *buf, size_t size)
{
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(s->target, "pid");
	const cJSON *time = cJSON_GetObjectItemCaseSensitive(s->capture, "time");
	const cJSON *python = cJSON_GetObjectItemCaseSensitive(s->target, "python");
	char raw[200];
	snprintf(raw, sizeof(raw), "pid %d, Python %.40s, %.40s", cJSON_IsNumber(pid) ? pid->valueint : 0,
		 cJSON_IsString(python) ? python->valuestring : "?",
		 cJSON_IsString(time) ? time->valuestring : "?");
	ph_safe_text(buf, size, raw);
	return buf;
}

static void print_text(const struct ph_diff *d, const struct ph_loaded_snapshot *a,
		       const struct ph_loaded_snapshot *b, const char *path_a, const char *path_b,
		       bool all, size_t limit)
{
	char side[200];
	printf("A: ");
	ph_fputs_safe(ph_input_name(path_a), stdout);
	printf(" (%s)\nB: ", describe_side(a, side, sizeof(side)));
	ph_fputs_safe(ph_input_name(path_b), stdout);
	printf(" (%s)%s\n", describe_side(b, side, sizeof(side)),
	       d->same_process ? ", the same process" : "");
	for (int i = 0; i < d->warning_count; i++)
		printf("warning: %s\n", d->warnings[i]);
	printf("\n%-44s %10s %10s %10s %12s %10s", "type", "A", "B", "change", "size change",
	       "untracked");
	if (d->survivors)
		printf(" %9s %9s", "new", "gone");
	printf("\n");
	size_t shown = 0, hidden = 0;
	for (size_t i = 0; i < d->type_count; i++) {
		const struct ph_type_delta *r = &d->types[i];
		int64_t delta = r->after - r->before;
		int64_t size_delta = all_size_delta(r);
		int64_t untracked_delta = r->untracked_after - r->untracked_before;
		bool changed = delta != 0 || size_delta != 0 || untracked_delta != 0;
		bool wanted = all ? changed
				  : (sort_by == SORT_SIZE ? size_delta > 0 : all_count_delta(r) > 0);
		if (!wanted)
			continue;
		if (limit && shown >= limit) {
			hidden++;
			continue;
		}
		char size_text[32], name[64], safe_name[256], untracked[32] = "?";
		ph_format_bytes(size_text, sizeof(size_text), size_delta, true);
		ph_safe_text(safe_name, sizeof(safe_name), r->name);
		bool gone = r->after == 0 && r->untracked_after == 0;
		bool fresh = r->before == 0 && r->untracked_before == 0;
		snprintf(name, sizeof(name), "%.50s%s", safe_name, fresh ? " (new)" : gone ? " (gone)" : "");
		if (d->untracked_known)
			snprintf(untracked, sizeof(untracked), "%+" PRId64, untracked_delta);
		printf("%-44s %10" PRId64 " %10" PRId64 " %+10" PRId64 " %12s %10s", name, r->before, r->after,
		       delta, size_text, untracked);
		if (d->survivors)
			printf(" %9" PRId64 " %9" PRId64, r->new_objects, r->gone_objects);
		printf("\n");
		shown++;
	}
	if (hidden)
		printf("... %zu more (--limit 0 shows all)\n", hidden);
	if (!shown)
		printf("(no type %s)\n", all ? "changed" : "grew");
	char before[32], after[32], change[32], untracked[32] = "?";
	int64_t all_before = d->bytes_before + d->untracked_bytes_before;
	int64_t all_after = d->bytes_after + d->untracked_bytes_after;
	ph_format_bytes(before, sizeof(before), all_before, false);
	ph_format_bytes(after, sizeof(after), all_after, false);
	ph_format_bytes(change, sizeof(change), all_after - all_before, true);
	if (d->untracked_known)
		snprintf(untracked, sizeof(untracked), "%+" PRId64,
			 d->untracked_objects_after - d->untracked_objects_before);
	printf("%-44s %10" PRId64 " %10" PRId64 " %+10" PRId64 " %12s %10s   (%s -> %s)\n", "total",
	       d->objects_before, d->objects_after, d->objects_after - d->objects_before, change,
	       untracked, before, after);
	if (d->untracked_known)
		printf("\nA, B, change: objects on the GC lists (what gc.get_objects() and objgraph count).\n"
		       "size change: sys.getsizeof of every object of the type, on the GC lists or not.\n"
		       "untracked: objects that are not on the GC lists (str, int, bytes, ...).\n");
	else
		printf("\nA, B, change: objects on the GC lists (what gc.get_objects() and objgraph count).\n"
		       "untracked objects (str, int, bytes, ...) are not known: a snapshot was taken with\n"
		       "--no-graph, so size change counts the objects on the GC lists only.\n");

	if (d->exception_count) {
		printf("\nExceptions whose traceback grew (a re-raised exception keeps every frame):\n");
		for (size_t i = 0; i < d->exception_count; i++) {
			const struct ph_exception_growth *e = &d->exceptions[i];
			/* builtins.Exception('x'): the module, then the repr */
			const char *dot = strrchr(e->type, '.');
			int module_len = dot ? (int)(dot - e->type) : 0;
			size_t short_len = strlen(dot ? dot + 1 : e->type);
			char type[300], repr[600];
			ph_safe_text(type, sizeof(type), e->type);
			ph_safe_text(repr, sizeof(repr), e->repr);
			if (dot && strncmp(e->repr, dot + 1, short_len) == 0)
				printf("  %.*s.%s", module_len, type, repr);
			else
				printf("  %s %s", type, repr);
			printf(" at 0x%" PRIx64 ": traceback %" PRIu64 " -> %" PRIu64 " entries\n",
			       e->address, e->before, e->after);
		}
	}
	if (d->container_count) {
		printf("\nContainers that grew the most:\n");
		struct ph_paths paths;
		bool have_paths = ph_paths_compute(&b->graph, &paths);
		for (size_t i = 0; i < d->container_count; i++) {
			const struct ph_container_growth *c = &d->containers[i];
			char type[300];
			ph_safe_text(type, sizeof(type), c->type);
			printf("  %s at 0x%" PRIx64 ": %" PRIu64 " -> %" PRIu64 " entries (+%" PRIu64 ")\n",
			       type, c->address, c->before, c->after, c->after - c->before);
			if (have_paths) {
				printf("    ");
				fflush(stdout);
				char *text = NULL;
				size_t len = 0;
				FILE *mem = open_memstream(&text, &len);
				if (mem) {
					ph_chain_print(mem, &b->graph, &paths, c->node_b);
					fclose(mem);
					for (char *p = text; p && *p; p++) {
						putchar(*p);
						if (*p == '\n' && p[1])
							printf("    ");
					}
					free(text);
				}
			}
		}
		if (have_paths)
			ph_paths_free(&paths);
	}
}

static void print_json(const struct ph_diff *d, const struct ph_loaded_snapshot *b)
{
	struct ph_json_writer w;
	ph_json_init(&w, stdout, true);
	ph_json_begin_object(&w);
	ph_json_key(&w, "same_process");
	ph_json_bool(&w, d->same_process);
	ph_json_key(&w, "warnings");
	ph_json_begin_array(&w);
	for (int i = 0; i < d->warning_count; i++)
		ph_json_string(&w, d->warnings[i]);
	ph_json_end_array(&w);
	ph_json_key(&w, "types");
	ph_json_begin_array(&w);
	for (size_t i = 0; i < d->type_count; i++) {
		const struct ph_type_delta *r = &d->types[i];
		if (r->after == r->before && r->size_after == r->size_before &&
		    r->untracked_after == r->untracked_before &&
		    r->untracked_size_after == r->untracked_size_before)
			continue;
		ph_json_begin_object(&w);
		ph_json_key(&w, "name");
		ph_json_string(&w, r->name);
		ph_json_key(&w, "before");
		ph_json_int(&w, r->before);
		ph_json_key(&w, "after");
		ph_json_int(&w, r->after);
		ph_json_key(&w, "delta");
		ph_json_int(&w, r->after - r->before);
		ph_json_key(&w, "size_before");
		ph_json_int(&w, r->size_before + r->untracked_size_before);
		ph_json_key(&w, "size_after");
		ph_json_int(&w, r->size_after + r->untracked_size_after);
		ph_json_key(&w, "size_delta");
		ph_json_int(&w, all_size_delta(r));
		ph_json_key(&w, "tracked_size_before");
		ph_json_int(&w, r->size_before);
		ph_json_key(&w, "tracked_size_after");
		ph_json_int(&w, r->size_after);
		ph_json_key(&w, "tracked_size_delta");
		ph_json_int(&w, r->size_after - r->size_before);
		static const char *const untracked_keys[] = {"untracked_before", "untracked_after",
							     "untracked_delta", "untracked_size_before",
							     "untracked_size_after", "untracked_size_delta"};
		int64_t untracked_values[] = {r->untracked_before,
					      r->untracked_after,
					      r->untracked_after - r->untracked_before,
					      r->untracked_size_before,
					      r->untracked_size_after,
					      r->untracked_size_after - r->untracked_size_before};
		for (size_t k = 0; k < 6; k++) {
			ph_json_key(&w, untracked_keys[k]);
			if (d->untracked_known)
				ph_json_int(&w, untracked_values[k]);
			else
				ph_json_null(&w);
		}
		if (d->survivors) {
			ph_json_key(&w, "new");
			ph_json_int(&w, r->new_objects);
			ph_json_key(&w, "gone");
			ph_json_int(&w, r->gone_objects);
		}
		ph_json_end_object(&w);
	}
	ph_json_end_array(&w);
	ph_json_key(&w, "totals");
	ph_json_begin_object(&w);
	ph_json_key(&w, "before");
	ph_json_int(&w, d->objects_before);
	ph_json_key(&w, "after");
	ph_json_int(&w, d->objects_after);
	ph_json_key(&w, "size_before");
	ph_json_int(&w, d->bytes_before + d->untracked_bytes_before);
	ph_json_key(&w, "size_after");
	ph_json_int(&w, d->bytes_after + d->untracked_bytes_after);
	ph_json_key(&w, "tracked_size_before");
	ph_json_int(&w, d->bytes_before);
	ph_json_key(&w, "tracked_size_after");
	ph_json_int(&w, d->bytes_after);
	ph_json_key(&w, "untracked_known");
	ph_json_bool(&w, d->untracked_known);
	ph_json_key(&w, "untracked_before");
	if (d->untracked_known)
		ph_json_int(&w, d->untracked_objects_before);
	else
		ph_json_null(&w);
	ph_json_key(&w, "untracked_after");
	if (d->untracked_known)
		ph_json_int(&w, d->untracked_objects_after);
	else
		ph_json_null(&w);
	ph_json_end_object(&w);
	ph_json_key(&w, "exceptions");
	ph_json_begin_array(&w);
	for (size_t i = 0; i < d->exception_count; i++) {
		const struct ph_exception_growth *e = &d->exceptions[i];
		ph_json_begin_object(&w);
		ph_json_key(&w, "address");
		ph_json_uint(&w, e->address);
		ph_json_key(&w, "type");
		ph_json_string(&w, e->type);
		ph_json_key(&w, "repr");
		ph_json_string(&w, e->repr);
		ph_json_key(&w, "traceback_before");
		ph_json_uint(&w, e->before);
		ph_json_key(&w, "traceback_after");
		ph_json_uint(&w, e->after);
		ph_json_end_object(&w);
	}
	ph_json_end_array(&w);
	ph_json_key(&w, "containers");
	ph_json_begin_array(&w);
	struct ph_paths paths;
	bool have_paths = d->container_count && ph_paths_compute(&b->graph, &paths);
	for (size_t i = 0; i < d->container_count; i++) {
		const struct ph_container_growth *c = &d->containers[i];
		ph_json_begin_object(&w);
		ph_json_key(&w, "address");
		ph_json_uint(&w, c->address);
		ph_json_key(&w, "type");
		ph_json_string(&w, c->type);
		ph_json_key(&w, "before");
		ph_json_uint(&w, c->before);
		ph_json_key(&w, "after");
		ph_json_uint(&w, c->after);
		if (have_paths) {
			uint32_t *nodes;
			uint64_t *edges;
			int64_t hops = ph_chain_of(&b->graph, &paths, c->node_b, &nodes, &edges);
			ph_json_key(&w, "chain");
			ph_json_begin_array(&w);
			char text[600];
			for (int64_t h = 0; h < hops; h++) {
				ph_describe_node(&b->graph, nodes[h], text, sizeof(text));
				char edge[300];
				ph_describe_edge(&b->graph, &b->graph.edges[edges[h]], edge, sizeof(edge));
				char both[920];
				snprintf(both, sizeof(both), "%s %s", text, edge);
				ph_json_string(&w, both);
			}
			ph_json_end_array(&w);
			if (hops >= 0) {
				free(nodes);
				free(edges);
			}
		}
		ph_json_end_object(&w);
	}
	if (have_paths)
		ph_paths_free(&paths);
	ph_json_end_array(&w);
	ph_json_end_object(&w);
	ph_json_finish(&w);
}

/* Replaces the light B with a full one; the diff's strings point into the
 * snapshots, so they are copied first and A is released. */
static struct ph_error *reload_with_edges(const char *path_b, struct ph_loaded_snapshot *a,
					  struct ph_loaded_snapshot *b, struct ph_diff *d)
{
	for (size_t i = 0; i < d->type_count; i++)
		d->types[i].name = strdup(d->types[i].name);
	for (size_t i = 0; i < d->container_count; i++)
		d->containers[i].type = strdup(d->containers[i].type);
	for (size_t i = 0; i < d->exception_count; i++) {
		d->exceptions[i].type = strdup(d->exceptions[i].type);
		d->exceptions[i].repr = strdup(d->exceptions[i].repr);
	}
	d->owns_strings = true;
	cJSON *target = cJSON_Duplicate(a->target, 1), *capture = cJSON_Duplicate(a->capture, 1);
	ph_snapshot_unload(a);
	memset(a, 0, sizeof(*a));
	a->target = target;
	a->capture = capture;
	cJSON *b_target = cJSON_Duplicate(b->target, 1), *b_capture = cJSON_Duplicate(b->capture, 1);
	ph_snapshot_unload(b);
	struct ph_error *err = ph_snapshot_load(path_b, b);
	if (err) {
		memset(b, 0, sizeof(*b));
		cJSON_Delete(b_target);
		cJSON_Delete(b_capture);
		return err;
	}
	cJSON_Delete(b_target);
	cJSON_Delete(b_capture);
	return NULL;
}

int cmd_diff(int argc, char **argv)
{
	static const struct option long_options[] = {
	    {"all", no_argument, NULL, 'a'},         {"limit", required_argument, NULL, 'n'},
	    {"sort", required_argument, NULL, 's'},  {"json", no_argument, NULL, 'J'},
	    {"containers", required_argument, NULL, 'C'}, {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool all = false, json = false;
	unsigned long limit = 20, containers = 5;
	sort_by = SORT_COUNT;
	int c;
	char *end;
	optind = 1;
	while ((c = getopt_long(argc, argv, "an:s:h", long_options, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'n':
			limit = strtoul(optarg, &end, 10);
			if (*end || !*optarg) {
				fprintf(stderr, "pyheap diff: --limit wants a number\n");
				return PH_EXIT_USAGE;
			}
			break;
		case 'C':
			containers = strtoul(optarg, &end, 10);
			if (*end || !*optarg) {
				fprintf(stderr, "pyheap diff: --containers wants a number\n");
				return PH_EXIT_USAGE;
			}
			break;
		case 's':
			if (strcmp(optarg, "count") == 0)
				sort_by = SORT_COUNT;
			else if (strcmp(optarg, "size") == 0)
				sort_by = SORT_SIZE;
			else {
				fprintf(stderr, "pyheap diff: --sort takes count or size\n");
				return PH_EXIT_USAGE;
			}
			break;
		case 'J':
			json = true;
			break;
		case 'h':
			fputs(diff_usage, stdout);
			return PH_EXIT_OK;
		default:
			fputs(diff_usage, stderr);
			return PH_EXIT_USAGE;
		}
	}
	const char *paths[2];
	size_t count = 0;
	int args_code = ph_snapshot_args("diff", argc, argv, optind, 2, 2, paths, &count,
					 "pyheap snap PID | pyheap diff a.json");
	if (args_code)
		return args_code;
	const char *path_a = paths[0], *path_b = paths[1];
	char real_a[PATH_MAX], real_b[PATH_MAX];
	if (realpath(path_a, real_a) && realpath(path_b, real_b) && strcmp(real_a, real_b) == 0) {
		fprintf(stderr, "pyheap diff: %s and %s are the same file; give two snapshots\n", path_a,
			path_b);
		return PH_EXIT_USAGE;
	}
	/* Nodes and container lengths are enough to diff: the edges (most of
	 * a graph) are read only to print chains, and only B's. */
	struct ph_loaded_snapshot a, b;
	struct ph_error *err = ph_snapshot_load_flags(path_a, PH_LOAD_NO_EDGES, &a);
	if (err)
		return ph_error_report(err);
	err = ph_snapshot_load_flags(path_b, PH_LOAD_NO_EDGES, &b);
	if (err) {
		ph_snapshot_unload(&a);
		return ph_error_report(err);
	}
	int code = PH_EXIT_OK;
	if (ph_snapshot_same_capture(&a, &b)) {
		fprintf(stderr, "pyheap diff: %s and %s are the same snapshot\n", path_a, path_b);
		code = PH_EXIT_USAGE;
	} else {
		struct ph_diff d;
		err = ph_diff_compute(&a, &b, containers, &d);
		if (err) {
			code = ph_error_report(err);
		} else {
			qsort(d.types, d.type_count, sizeof(*d.types), compare_rows);
			if (d.container_count) {
				/* chains need B's edges: read B again, whole, without A */
				err = reload_with_edges(path_b, &a, &b, &d);
				if (err) {
					ph_diff_free(&d);
					ph_snapshot_unload(&a);
					ph_snapshot_unload(&b);
					return ph_error_report(err);
				}
			}
			for (int i = 0; i < d.warning_count && json; i++)
				fprintf(stderr, "pyheap diff: warning: %s\n", d.warnings[i]);
			if (json)
				print_json(&d, &b);
			else
				print_text(&d, &a, &b, path_a, path_b, all, limit);
			ph_diff_free(&d);
		}
	}
	ph_snapshot_unload(&a);
	ph_snapshot_unload(&b);
	return code;
}
