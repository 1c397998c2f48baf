/* pyheap suspects [--json] [--limit N] A.json [B.json] */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "snapshot_args.h"
#include "heap_model.h"
#include "pyheap/suspects_output.h"

static const char suspects_usage[] =
    "usage: pyheap suspects [options] [SNAPSHOT | -]\n"
    "       pyheap snap PID | pyheap suspects [options]\n"
    "       pyheap suspects [options] A.json B.json\n"
    "\n"
    "Leak suspects, as Eclipse MAT finds them, from retained sizes: a holder that\n"
    "keeps more than 10% of the Python heap alive, or a type whose holders\n"
    "together do; each with where its bytes accumulate (a traceback chain, a\n"
    "dict, a list), what they are made of, and the chain from a root.\n"
    "Given two snapshots of one process (A first): the holders whose retained\n"
    "size grew the most, the objects new in B that they retain, and the growth\n"
    "per type in bytes; a growth of more than 2% of A's heap is a suspect.\n"
    "\n"
    "  -n, --limit N      two snapshots: at most N holders (default 10)\n"
    "      --json         machine-readable output\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit status: 0 when nothing is suspicious, 14 when there are suspects.\n";

static struct ph_heap_view view_of(struct ph_heap_model *m)
{
	return (struct ph_heap_view){&m->snapshot.graph, &m->dominators, &m->paths, &m->heap,
				     m->rss_bytes};
}

static int one_snapshot(const char *path, bool json)
{
	struct ph_heap_model model;
	struct ph_progress progress;
	ph_progress_begin(&progress, false, "suspects", 0);
	struct ph_error *err = ph_heap_model_load(path, &progress, &model);
	ph_progress_end(&progress);
	if (err)
		return ph_error_report(err);
	struct ph_heap_view view = view_of(&model);
	struct ph_suspect *suspects = NULL;
	size_t count = 0;
	err = ph_suspects_find(view.graph, &model.dominators, &suspects, &count);
	if (!err) {
		if (json) {
			struct ph_json_writer w;
			ph_json_init(&w, stdout, true);
			err = ph_suspects_json(&w, &view, suspects, count);
			if (!err && !ph_json_finish(&w))
				err = ph_error_new(PH_EXIT_OUTPUT, "writing the output failed");
		} else {
			err = ph_suspects_text(stdout, &view, suspects, count);
		}
	}
	free(suspects);
	ph_heap_model_free(&model);
	if (err)
		return ph_error_report(err);
	return count ? PH_EXIT_SUSPECTS : PH_EXIT_OK;
}

static int two_snapshots(const char *path_a, const char *path_b, bool json, size_t limit)
{
	char real_a[PATH_MAX], real_b[PATH_MAX];
	if (realpath(path_a, real_a) && realpath(path_b, real_b) && strcmp(real_a, real_b) == 0) {
		fprintf(stderr, "pyheap suspects: %s and %s are the same file; give two snapshots\n",
			path_a, path_b);
		return PH_EXIT_USAGE;
	}
	struct ph_heap_model a, b;
	struct ph_progress progress;
	ph_progress_begin(&progress, false, "suspects", 0);
	struct ph_error *err = ph_heap_model_load(path_a, &progress, &a);
	if (err) {
		ph_progress_end(&progress);
		return ph_error_report(err);
	}
	err = ph_heap_model_load(path_b, &progress, &b);
	ph_progress_end(&progress);
	if (err) {
		ph_heap_model_free(&a);
		return ph_error_report(err);
	}
	int code = PH_EXIT_OK;
	if (ph_snapshot_same_capture(&a.snapshot, &b.snapshot)) {
		fprintf(stderr, "pyheap suspects: %s and %s are the same snapshot\n", path_a, path_b);
		code = PH_EXIT_USAGE;
	} else if (!ph_snapshot_same_process(&a.snapshot, &b.snapshot)) {
		fprintf(stderr,
			"pyheap suspects: %s and %s come from different processes (PID, executable or "
			"start time differ): growth needs two snapshots of one process; use "
			"'pyheap suspects FILE' on each\n",
			path_a, path_b);
		code = PH_EXIT_USAGE;
	} else {
		struct ph_heap_view va = view_of(&a), vb = view_of(&b);
		struct ph_heap_side sa = {va.graph, &a.dominators, &a.paths};
		struct ph_heap_side sb = {vb.graph, &b.dominators, &b.paths};
		struct ph_growth_report report;
		err = ph_suspects_growth(&sa, &sb, limit, &report);
		if (!err) {
			if (json) {
				struct ph_json_writer w;
				ph_json_init(&w, stdout, true);
				err = ph_growth_json(&w, &va, &vb, &report);
				if (!err && !ph_json_finish(&w))
					err = ph_error_new(PH_EXIT_OUTPUT, "writing the output failed");
			} else {
				err = ph_growth_text(stdout, &va, &vb, &report);
			}
			for (size_t i = 0; i < report.holder_count; i++)
				if (report.holders[i].suspect)
					code = PH_EXIT_SUSPECTS;
			ph_growth_report_free(&report);
		}
		if (err)
			code = ph_error_report(err);
	}
	ph_heap_model_free(&a);
	ph_heap_model_free(&b);
	return code;
}

int cmd_suspects(int argc, char **argv)
{
	static const struct option long_options[] = {
	    {"limit", required_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'J'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned long limit = 10;
	bool json = false;
	int c;
	char *end;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:h", long_options, NULL)) != -1) {
		switch (c) {
		case 'n':
			limit = strtoul(optarg, &end, 10);
			if (*end || !*optarg || limit == 0 || limit > 100000) {
				fprintf(stderr, "pyheap suspects: --limit wants 1-100000, not '%s'\n", optarg);
				return PH_EXIT_USAGE;
			}
			break;
		case 'J':
			json = true;
			break;
		case 'h':
			fputs(suspects_usage, stdout);
			return PH_EXIT_OK;
		default:
			fputs(suspects_usage, stderr);
			return PH_EXIT_USAGE;
		}
	}
	const char *paths[2];
	size_t count = 0;
	int code = ph_snapshot_args("suspects", argc, argv, optind, 1, 2, paths, &count,
				    "pyheap snap PID | pyheap suspects");
	if (code)
		return code;
	if (count == 1)
		return one_snapshot(paths[0], json);
	return two_snapshots(paths[0], paths[1], json, limit);
}
