/* pyheap report [-o FILE] [--limit N] A.json [B.json] */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "snapshot_args.h"
#include "pyheap/snapshot_input.h"
#include "heap_model.h"
#include "pyheap/output_file.h"
#include "pyheap/progress.h"
#include "pyheap/report_html.h"

static const char report_usage[] =
    "usage: pyheap report [options] -o REPORT.html [SNAPSHOT | -]\n"
    "       pyheap snap PID | pyheap report -o REPORT.html\n"
    "       pyheap report [options] -o REPORT.html A.json B.json\n"
    "\n"
    "Writes one self-contained HTML page (no network: open it anywhere, attach it\n"
    "to a ticket): the Python heap in bytes, the target's RSS and object counts;\n"
    "the leak suspects with their chains (given two snapshots of one process:\n"
    "what grew between them); what holds the memory, as a treemap of the largest\n"
    "retainers; and the type table, sortable by any column (given two snapshots:\n"
    "per type, before, after and the change). Only aggregates are embedded, so\n"
    "the page stays small for snapshots of millions of objects.\n"
    "\n"
    "  -o, --output FILE  where to write the page (required; created mode 0600)\n"
    "  -n, --limit N      holders in the treemap and the list (default 50)\n"
    "  -q, --quiet        no progress or summary on stderr\n"
    "  -h, --help         this text\n";

struct report_models {
	struct ph_heap_model models[2];
	struct ph_heap_view views[2];
	struct ph_type_total *types[2];
	size_t type_counts[2];
	size_t count;
};

static void free_models(struct report_models *m)
{
	for (size_t i = 0; i < m->count; i++) {
		free(m->types[i]);
		ph_heap_model_free(&m->models[i]);
	}
}

static struct ph_error *load(const char *const *paths, size_t count, struct ph_progress *progress,
			     struct report_models *m)
{
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < count; i++) {
		struct ph_error *err = ph_heap_model_load(paths[i], progress, &m->models[i]);
		if (err)
			return err;
		m->count = i + 1;
		struct ph_heap_model *model = &m->models[i];
		m->views[i] = (struct ph_heap_view){&model->snapshot.graph, &model->dominators, &model->paths,
						    &model->heap, model->rss_bytes};
		if ((err = ph_type_totals_compute(&model->snapshot.graph, &m->types[i], &m->type_counts[i])))
			return err;
	}
	return NULL;
}

static int write_report(const char *const *paths, size_t count, const char *output, size_t limit,
			bool quiet)
{
	if (count == 2) {
		char real_a[PATH_MAX], real_b[PATH_MAX];
		if (realpath(paths[0], real_a) && realpath(paths[1], real_b) &&
		    strcmp(real_a, real_b) == 0) {
			fprintf(stderr, "pyheap report: %s and %s are the same file; give two snapshots\n",
				paths[0], paths[1]);
			return PH_EXIT_USAGE;
		}
	}
	struct ph_progress progress;
	ph_progress_begin(&progress, quiet, "report", 0);
	struct report_models m;
	struct ph_error *err = load(paths, count, &progress, &m);
	struct ph_report_input in;
	memset(&in, 0, sizeof(in));
	struct ph_suspect *suspects = NULL;
	struct ph_retainer *top = NULL;
	struct ph_growth_report growth;
	bool have_growth = false;
	int code = PH_EXIT_OK;
	const struct ph_heap_model *last = &m.models[count - 1];
	if (err)
		goto out;
	if (count == 2 && ph_snapshot_same_capture(&m.models[0].snapshot, &m.models[1].snapshot)) {
		ph_progress_end(&progress);
		fprintf(stderr, "pyheap report: %s and %s are the same snapshot\n", paths[0], paths[1]);
		code = PH_EXIT_USAGE;
		goto out;
	}
	ph_progress_status(&progress, "finding suspects and the largest holders");
	if (count == 2 && ph_snapshot_same_process(&m.models[0].snapshot, &m.models[1].snapshot)) {
		struct ph_heap_side a = {m.views[0].graph, &m.models[0].dominators, &m.models[0].paths};
		struct ph_heap_side b = {m.views[1].graph, &m.models[1].dominators, &m.models[1].paths};
		if ((err = ph_suspects_growth(&a, &b, limit, &growth)))
			goto out;
		have_growth = true;
		in.growth = &growth;
	} else {
		if (count == 2)
			in.warnings[in.warning_count++] =
			    "A and B come from different processes (PID, executable or start time "
			    "differ): the types are compared, but growth by holder needs two "
			    "snapshots of one process; the suspects are B's alone.";
		if ((err = ph_suspects_find(&last->snapshot.graph, (struct ph_dominators *)&last->dominators,
					    &suspects, &in.suspect_count)))
			goto out;
		in.suspects = suspects;
	}
	if ((err = ph_retainers_top(&last->snapshot.graph, (struct ph_dominators *)&last->dominators, limit,
				    1, &top, &in.top_count)))
		goto out;
	in.top = top;
	static const char *const labels[2] = {"A", "B"};
	in.snapshot_count = count;
	for (size_t i = 0; i < count; i++)
		in.snapshots[i] = (struct ph_report_snapshot){count == 2 ? labels[i] : "", ph_input_name(paths[i]),
							      &m.models[i].snapshot, &m.views[i],
							      m.types[i], m.type_counts[i]};

	ph_progress_status(&progress, "writing the report");
	struct ph_output_file out;
	if ((err = ph_output_open(&out, output)))
		goto out;
	err = ph_report_html_write(out.stream, &in);
	if (err)
		ph_output_abort(&out);
	else
		err = ph_output_commit(&out);
	if (!err && !quiet) {
		ph_progress_end(&progress);
		size_t found = 0;
		if (have_growth) {
			for (size_t i = 0; i < growth.holder_count; i++)
				found += growth.holders[i].suspect;
		} else {
			found = in.suspect_count;
		}
		fprintf(stderr, "pyheap: report written to %s: %zu leak suspect%s, %zu holders, %zu types\n",
			output, found, found == 1 ? "" : "s", in.top_count, m.type_counts[count - 1]);
	}
out:
	ph_progress_end(&progress);
	if (have_growth)
		ph_growth_report_free(&growth);
	free(suspects);
	free(top);
	free_models(&m);
	if (err)
		return ph_error_report(err);
	return code;
}

int cmd_report(int argc, char **argv)
{
	static const struct option long_options[] = {
	    {"output", required_argument, NULL, 'o'}, {"limit", required_argument, NULL, 'n'},
	    {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *output = NULL;
	unsigned long limit = 50;
	bool quiet = false;
	int c;
	char *end;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:n:qh", long_options, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'n':
			limit = strtoul(optarg, &end, 10);
			if (*end || !*optarg || limit == 0 || limit > 10000) {
				fprintf(stderr, "pyheap report: --limit wants 1-10000, not '%s'\n", optarg);
				return PH_EXIT_USAGE;
			}
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(report_usage, stdout);
			return PH_EXIT_OK;
		default:
			fputs(report_usage, stderr);
			return PH_EXIT_USAGE;
		}
	}
	if (!output) {
		fputs(report_usage, stderr);
		return PH_EXIT_USAGE;
	}
	const char *paths[2];
	size_t count = 0;
	int code = ph_snapshot_args("report", argc, argv, optind, 1, 2, paths, &count,
				    "pyheap snap PID | pyheap report -o report.html");
	if (code)
		return code;
	return write_report(paths, count, output, limit, quiet);
}
