/* pyheap top [--limit N] [--type T] [--json] SNAPSHOT */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util.h"
#include "builtin.h"
#include "snapshot_args.h"
#include "heap_model.h"
#include "pyheap/snapshot_input.h"
#include "pyheap/retainers_output.h"
#include "pyheap/safe_text.h"

static const char top_usage[] =
    "usage: pyheap top [options] [SNAPSHOT | -]\n"
    "       pyheap snap PID | pyheap top [options]\n"
    "\n"
    "What keeps the most memory alive: the holders with the largest retained\n"
    "size (the bytes that would be freed if the holder went away, from the\n"
    "dominator tree of the reference graph), each with its chain from a root\n"
    "and what it retains, by type. Holders nested in one another are folded\n"
    "into one path; a linked structure (a traceback's tb_next chain) is one unit.\n"
    "\n"
    "  -n, --limit N      at most N holders (default 10)\n"
    "  -t, --type NAME    the objects of one type with the largest retained size\n"
    "  -a, --address ADDR what one object (hex address, as id() gives it) retains\n"
    "      --json         machine-readable output\n"
    "      --timings      where the time went, and the dominator tree's memory, on stderr\n"
    "  -h, --help         this text\n";

static struct ph_error *print_text(const struct ph_heap_view *v, const struct ph_retainer *items,
				   size_t count, const char *type, bool one_object)
{
	ph_heap_summary_text(stdout, v);
	printf("\n");
	if (one_object) {
		printf("What this object keeps alive:\n\n");
	} else if (type) {
		printf("Objects of type ");
		ph_fputs_safe(type, stdout);
		printf(" with the largest retained size:\n\n");
	} else {
		printf("What keeps the most memory alive:\n\n");
	}
	if (!count)
		printf("(nothing)\n");
	for (size_t i = 0; i < count; i++) {
		printf("%2zu. ", i + 1);
		struct ph_error *err = ph_retainer_text(stdout, v, &items[i], 4);
		if (err)
			return err;
		printf("\n");
	}
	return NULL;
}

static struct ph_error *print_json(const struct ph_heap_view *v, const struct ph_retainer *items,
				   size_t count, const char *type)
{
	struct ph_json_writer w;
	ph_json_init(&w, stdout, true);
	ph_json_begin_object(&w);
	ph_heap_summary_json(&w, v);
	if (type) {
		ph_json_key(&w, "type");
		ph_json_string(&w, type);
	}
	ph_json_key(&w, "items");
	ph_json_begin_array(&w);
	for (size_t i = 0; i < count; i++) {
		ph_json_begin_object(&w);
		struct ph_error *err = ph_retainer_json_members(&w, v, &items[i]);
		if (err)
			return err;
		ph_json_end_object(&w);
	}
	ph_json_end_array(&w);
	ph_json_end_object(&w);
	if (!ph_json_finish(&w))
		return ph_error_new(PH_EXIT_OUTPUT, "writing the output failed");
	return NULL;
}

int cmd_top(int argc, char **argv)
{
	static const struct option long_options[] = {
	    {"limit", required_argument, NULL, 'n'}, {"type", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'J'},        {"help", no_argument, NULL, 'h'},
	    {"address", required_argument, NULL, 'a'}, {"timings", no_argument, NULL, 'T'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t address = 0;
	bool have_address = false;
	unsigned long limit = 10;
	const char *type = NULL;
	bool json = false, timings = false;
	int c;
	char *end;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:t:a:h", long_options, NULL)) != -1) {
		switch (c) {
		case 'a':
			address = strtoull(optarg, &end, 16);
			if (*end || !*optarg || !address) {
				fprintf(stderr, "pyheap top: '%s' is not a hex address\n", optarg);
				return PH_EXIT_USAGE;
			}
			have_address = true;
			break;
		case 'n':
			limit = strtoul(optarg, &end, 10);
			if (*end || !*optarg || limit == 0 || limit > 1000000) {
				fprintf(stderr, "pyheap top: --limit wants 1-1000000, not '%s'\n", optarg);
				return PH_EXIT_USAGE;
			}
			break;
		case 't':
			type = optarg;
			break;
		case 'J':
			json = true;
			break;
		case 'T':
			timings = true;
			break;
		case 'h':
			fputs(top_usage, stdout);
			return PH_EXIT_OK;
		default:
			fputs(top_usage, stderr);
			return PH_EXIT_USAGE;
		}
	}
	const char *path = NULL;
	size_t paths = 0;
	int args_code = ph_snapshot_args("top", argc, argv, optind, 1, 1, &path, &paths,
					 "pyheap snap PID | pyheap top");
	if (args_code)
		return args_code;
	struct ph_heap_model model;
	struct ph_progress progress;
	ph_progress_begin(&progress, false, "top", 0);
	struct ph_error *err = ph_heap_model_load(path, &progress, &model);
	ph_progress_end(&progress);
	if (err)
		return ph_error_report(err);
	struct ph_heap_view view = {&model.snapshot.graph, &model.dominators, &model.paths, &model.heap,
				    model.rss_bytes};
	struct ph_retainer *items = NULL;
	size_t count = 0;
	uint64_t analysis_ns = ph_now_ns();
	if (have_address)
		err = ph_retainers_at(view.graph, &model.dominators, address, &items, &count);
	else if (type)
		err = ph_retainers_of_type(view.graph, &model.dominators, type, limit, &items, &count);
	else
		err = ph_retainers_top(view.graph, &model.dominators, limit, 1, &items, &count);
	int code = PH_EXIT_OK;
	if (!err && have_address && count == 0) {
		fprintf(stderr, "pyheap top: no object at 0x%llx reachable from a root in %s\n",
			(unsigned long long)address, ph_input_name(path));
		code = PH_EXIT_NO_MATCH;
	} else if (!err && type && count == 0) {
		fprintf(stderr, "pyheap top: no object of type '");
		ph_fputs_safe(type, stderr);
		fprintf(stderr, "' reachable from a root in %s\n", ph_input_name(path));
		code = PH_EXIT_NO_MATCH;
	} else if (!err) {
		err = json ? print_json(&view, items, count, type)
			   : print_text(&view, items, count, type, have_address);
	}
	if (timings) {
		uint32_t nodes = model.snapshot.graph.node_count;
		fprintf(stderr,
			"pyheap: timings: load %.1f ms, dominators %.1f ms (%u nodes, %llu edges; peak %llu "
			"bytes beyond the graph, %.1f per node), holders and output %.1f ms\n",
			model.load_ms, model.dominators_ms, nodes,
			(unsigned long long)model.snapshot.graph.edge_count,
			(unsigned long long)model.dominators.peak_bytes,
			nodes ? (double)model.dominators.peak_bytes / nodes : 0.0,
			(double)(ph_now_ns() - analysis_ns) / 1e6);
	}
	free(items);
	ph_heap_model_free(&model);
	if (err)
		return ph_error_report(err);
	return code;
}
