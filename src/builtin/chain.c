/* pyheap chain --type NAME [--address ADDR] [--all | --max N] [--dot FILE]
 *              [--json] (SNAPSHOT | --pid PID) */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builtin.h"
#include "snapshot_args.h"
#include "pyheap/chain.h"
#include "pyheap/chain_json.h"
#include "pyheap/json_writer.h"
#include "pyheap/safe_text.h"
#include "pyheap/snapshot.h"
#include "pyheap/snapshot_reader.h"
#include "pyheap/snapshot_input.h"

static const char chain_usage[] =
    "usage: pyheap chain --type NAME [options] [SNAPSHOT | -]\n"
    "       pyheap snap PID | pyheap chain --type NAME [options]\n"
    "       pyheap chain --type NAME [options] --pid PID\n"
    "\n"
    "Shows the shortest chain of references from a root (a module, the sys or\n"
    "builtins dict, a thread's frame) to objects of a type: who keeps them alive.\n"
    "\n"
    "  -t, --type NAME      the type: qualified (__main__.Book) or short (Book)\n"
    "  -a, --address ADDR   explain this one object (hex address)\n"
    "      --all            one chain per object of the type\n"
    "  -n, --max N          at most N chains (default 1: the shortest)\n"
    "      --dot FILE       also write the chains as a Graphviz graph\n"
    "      --json           machine-readable output\n"
    "  -p, --pid PID        snapshot the live process PID first (in memory)\n"
    "  -h, --help           this text\n"
    "\n"
    "Runs of identical hops are folded (\"traceback .tb_next x1998\").\n";

struct chain_options {
	const char *type;
	uint64_t address;
	bool have_address;
	uint64_t max;
	bool json;
	const char *dot;
};

static int compare_depth(const void *a, const void *b, void *paths_arg)
{
	const struct ph_paths *paths = paths_arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	if (paths->depth[x] != paths->depth[y])
		return paths->depth[x] < paths->depth[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

static void dot_escape(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
}

static bool write_dot(const char *path, const struct ph_graph *g, const struct ph_paths *paths,
		      const uint32_t *targets, uint64_t count)
{
	FILE *out = fopen(path, "w");
	if (!out)
		return false;
	fprintf(out, "digraph ObjectGraph {\n  node[shape=box, style=filled, fillcolor=white];\n");
	char text[600];
	for (uint64_t t = 0; t < count; t++) {
		uint32_t *nodes;
		uint64_t *edges;
		int64_t hops = ph_chain_of(g, paths, targets[t], &nodes, &edges);
		if (hops < 0)
			continue;
		for (int64_t i = 0; i <= hops; i++) {
			ph_describe_node(g, nodes[i], text, sizeof(text));
			fprintf(out, "  o%" PRIu32 " [label=\"", nodes[i]);
			dot_escape(out, text);
			fprintf(out, "\"%s];\n", i == 0 ? ", fillcolor=\"#a0d0ff\""
					       : i == hops ? ", fillcolor=\"#ffb0b0\"" : "");
			if (i < hops) {
				ph_describe_edge(g, &g->edges[edges[i]], text, sizeof(text));
				fprintf(out, "  o%" PRIu32 " -> o%" PRIu32 " [label=\"", nodes[i], nodes[i + 1]);
				dot_escape(out, text);
				fprintf(out, "\"];\n");
			}
		}
		free(nodes);
		free(edges);
	}
	fprintf(out, "}\n");
	return fclose(out) == 0;
}

static int run_chain(const struct ph_graph *g, const struct chain_options *o)
{
	uint32_t count = 0;
	uint32_t *targets;
	if (o->have_address) {
		uint32_t node = ph_graph_find(g, o->address);
		if (node == UINT32_MAX) {
			/* loaded graphs have no index: search */
			for (uint32_t i = 0; i < g->node_count; i++)
				if (g->nodes[i].address == o->address)
					node = i;
		}
		if (node == UINT32_MAX) {
			fprintf(stderr, "pyheap chain: no object at 0x%" PRIx64 " in the snapshot\n",
				o->address);
			return PH_EXIT_NO_MATCH;
		}
		targets = malloc(sizeof(*targets));
		if (!targets)
			return PH_EXIT_INTERNAL;
		targets[0] = node;
		count = 1;
	} else {
		targets = ph_nodes_of_type(g, o->type, &count);
		if (!targets)
			return PH_EXIT_INTERNAL;
		if (count == 0) {
			const char *close[8];
			size_t n = ph_closest_type_names(g, o->type, close, 8);
			fprintf(stderr, "pyheap chain: no object of type '");
			ph_fputs_safe(o->type, stderr);
			fprintf(stderr, "' in the snapshot");
			if (n) {
				fprintf(stderr, "; closest type names:\n");
				for (size_t i = 0; i < n; i++) {
					fputs("  ", stderr);
					ph_fputs_safe(close[i], stderr);
					fputc('\n', stderr);
				}
			} else {
				fprintf(stderr, "\n");
			}
			free(targets);
			return PH_EXIT_NO_MATCH;
		}
	}
	struct ph_paths paths;
	if (!ph_paths_compute(g, &paths)) {
		free(targets);
		return PH_EXIT_INTERNAL;
	}
	qsort_r(targets, count, sizeof(*targets), compare_depth, &paths);
	uint64_t shown = o->max < count ? o->max : count;
	if (o->json) {
		struct ph_json_writer w;
		ph_json_init(&w, stdout, true);
		ph_json_begin_object(&w);
		ph_json_key(&w, "query");
		ph_json_string(&w, o->have_address ? "address" : o->type);
		ph_json_key(&w, "matches");
		ph_json_uint(&w, count);
		ph_json_key(&w, "chains");
		ph_json_begin_array(&w);
		for (uint64_t i = 0; i < shown; i++)
			ph_chain_write_json(&w, g, &paths, targets[i]);
		ph_json_end_array(&w);
		ph_json_end_object(&w);
		ph_json_finish(&w);
	} else {
		if (!o->have_address) {
			printf("%u object%s of type ", count, count == 1 ? "" : "s");
			ph_fputs_safe(o->type, stdout);
			printf("; %s:\n\n", shown == 1 ? "the shortest chain from a root"
						       : "chains from a root, shortest first");
		}
		for (uint64_t i = 0; i < shown; i++) {
			if (i)
				printf("\n");
			ph_chain_print(stdout, g, &paths, targets[i]);
		}
	}
	int code = PH_EXIT_OK;
	if (o->dot && !write_dot(o->dot, g, &paths, targets, shown)) {
		fprintf(stderr, "pyheap chain: cannot write %s: %s\n", o->dot, strerror(errno));
		code = PH_EXIT_OUTPUT;
	}
	ph_paths_free(&paths);
	free(targets);
	return code;
}

int cmd_chain(int argc, char **argv)
{
	static const struct option long_options[] = {
	    {"type", required_argument, NULL, 't'}, {"address", required_argument, NULL, 'a'},
	    {"all", no_argument, NULL, 'A'},         {"max", required_argument, NULL, 'n'},
	    {"dot", required_argument, NULL, 'D'},   {"json", no_argument, NULL, 'J'},
	    {"pid", required_argument, NULL, 'p'},   {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct chain_options o = {NULL, 0, false, 1, false, NULL};
	long pid = 0;
	int c;
	char *end;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:a:n:p:h", long_options, NULL)) != -1) {
		switch (c) {
		case 't':
			o.type = optarg;
			break;
		case 'a':
			errno = 0;
			o.address = strtoull(optarg, &end, 16);
			if (errno || *end || !*optarg) {
				fprintf(stderr, "pyheap chain: '%s' is not a hex address\n", optarg);
				return PH_EXIT_USAGE;
			}
			o.have_address = true;
			break;
		case 'A':
			o.max = UINT64_MAX;
			break;
		case 'n':
			o.max = strtoull(optarg, &end, 10);
			if (*end || o.max == 0) {
				fprintf(stderr, "pyheap chain: --max wants a positive number\n");
				return PH_EXIT_USAGE;
			}
			break;
		case 'D':
			o.dot = optarg;
			break;
		case 'J':
			o.json = true;
			break;
		case 'p':
			pid = strtol(optarg, &end, 10);
			if (*end || pid <= 0) {
				fprintf(stderr, "pyheap chain: '%s' is not a process ID\n", optarg);
				return PH_EXIT_USAGE;
			}
			break;
		case 'h':
			fputs(chain_usage, stdout);
			return PH_EXIT_OK;
		default:
			fputs(chain_usage, stderr);
			return PH_EXIT_USAGE;
		}
	}
	if ((!o.type && !o.have_address) || (pid && optind != argc)) {
		fputs(chain_usage, stderr);
		return PH_EXIT_USAGE;
	}
	const char *path = NULL;
	size_t count = 0;
	if (!pid) {
		int code = ph_snapshot_args("chain", argc, argv, optind, 1, 1, &path, &count,
					    "pyheap snap PID | pyheap chain --type Book");
		if (code)
			return code;
	}
	if (pid) {
		struct ph_snapshot_options options = {
		    .timeout_ms = 30000, .max_attempts = 50, .progress = false, .graph = true, .redact = false};
		struct ph_snapshot *snap;
		struct ph_error *err = ph_snapshot_capture((pid_t)pid, &options, &snap);
		if (err)
			return ph_error_report(err);
		int code = run_chain(&snap->graph, &o);
		ph_snapshot_free(snap);
		return code;
	}
	struct ph_loaded_snapshot loaded;
	struct ph_error *err = ph_snapshot_load(path, &loaded);
	if (err)
		return ph_error_report(err);
	int code;
	if (!loaded.has_graph) {
		fprintf(stderr,
			"pyheap chain: %s has no reference graph (taken with --no-graph?); take a "
			"snapshot without --no-graph\n",
			ph_input_name(path));
		code = PH_EXIT_BAD_INPUT;
	} else {
		code = run_chain(&loaded.graph, &o);
	}
	ph_snapshot_unload(&loaded);
	return code;
}
