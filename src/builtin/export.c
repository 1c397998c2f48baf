/* pyheap export --format heapsnapshot [-o FILE] SNAPSHOT */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "builtin.h"
#include "snapshot_args.h"
#include "pyheap/snapshot_input.h"
#include "pyheap/heapsnapshot.h"
#include "pyheap/output_file.h"
#include "pyheap/progress.h"
#include "pyheap/safe_text.h"
#include "pyheap/snapshot_reader.h"

static const char export_usage[] =
    "usage: pyheap export --format heapsnapshot [options] [SNAPSHOT | -]\n"
    "       pyheap snap PID | pyheap export --format heapsnapshot -o a.heapsnapshot\n"
    "\n"
    "Converts a snapshot's reference graph to another tool's format.\n"
    "heapsnapshot: Chrome DevTools' heap snapshot (.heapsnapshot), which the\n"
    "Memory panel of Chrome DevTools and memlab open. Objects are named\n"
    "\"<TYPE 0xADDRESS> DETAIL\"; node 0 is a synthetic root whose children are\n"
    "the snapshot's roots; references from objects no root reaches are weak.\n"
    "\n"
    "  -f, --format FORMAT  heapsnapshot (the only format for now)\n"
    "  -o, --output FILE    write to FILE instead of standard output\n"
    "  -q, --quiet          no progress or summary on stderr\n"
    "  -h, --help           this text\n";

int cmd_export(int argc, char **argv)
{
	static const struct option long_options[] = {
	    {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
	    {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *format = NULL, *output = NULL;
	bool quiet = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:o:qh", long_options, NULL)) != -1) {
		switch (c) {
		case 'f':
			format = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(export_usage, stdout);
			return PH_EXIT_OK;
		default:
			fputs(export_usage, stderr);
			return PH_EXIT_USAGE;
		}
	}
	if (!format) {
		fputs(export_usage, stderr);
		return PH_EXIT_USAGE;
	}
	const char *input = NULL;
	size_t count = 0;
	int args_code = ph_snapshot_args("export", argc, argv, optind, 1, 1, &input, &count,
					 "pyheap snap PID | pyheap export --format heapsnapshot -o a.heapsnapshot");
	if (args_code)
		return args_code;
	if (strcmp(format, "heapsnapshot") != 0) {
		char safe[128];
		ph_safe_text(safe, sizeof(safe), format);
		fprintf(stderr, "pyheap export: unknown format '%s'; formats: heapsnapshot\n", safe);
		return PH_EXIT_USAGE;
	}
	if (!output && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "pyheap export: not writing a heapsnapshot to a terminal; use -o FILE "
				"or redirect standard output\n");
		return PH_EXIT_USAGE;
	}

	struct ph_progress progress;
	ph_progress_begin(&progress, quiet, "exporting", 0);
	ph_progress_status(&progress, "reading the snapshot");
	struct ph_loaded_snapshot loaded;
	struct ph_error *err = ph_snapshot_load(input, &loaded);
	if (err) {
		ph_progress_end(&progress);
		return ph_error_report(err);
	}
	if (!loaded.has_graph) {
		ph_progress_end(&progress);
		ph_snapshot_unload(&loaded);
		return ph_error_report(ph_error_new(PH_EXIT_BAD_INPUT,
						    "%s has no reference graph (taken with snap "
						    "--no-graph?); export needs one",
						    ph_input_name(input)));
	}
	/* the flags in the file are the file's word: recompute what the roots reach */
	for (uint32_t i = 0; i < loaded.graph.node_count; i++)
		loaded.graph.nodes[i].flags &= ~(uint32_t)PH_NODE_REACHABLE;
	if (!ph_graph_mark_reachable(&loaded.graph)) {
		ph_progress_end(&progress);
		ph_snapshot_unload(&loaded);
		return ph_error_report(&ph_error_out_of_memory);
	}

	struct ph_output_file out;
	if ((err = ph_output_open(&out, output))) {
		ph_progress_end(&progress);
		ph_snapshot_unload(&loaded);
		return ph_error_report(err);
	}
	struct ph_heapsnapshot_stats stats;
	err = ph_heapsnapshot_write(&loaded.graph, out.stream, &progress, &stats);
	ph_progress_end(&progress);
	if (err)
		ph_output_abort(&out);
	else
		err = ph_output_commit(&out);
	ph_snapshot_unload(&loaded);
	if (err)
		return ph_error_report(err);
	if (!quiet) {
		fprintf(stderr, "pyheap: %" PRIu64 " nodes and %" PRIu64 " edges written to %s",
			stats.nodes, stats.edges, output ? output : "standard output");
		if (stats.unreachable)
			fprintf(stderr, "; %" PRIu64 " objects no root reaches (%" PRIu64
					" of their references to reachable objects written as weak)",
				stats.unreachable, stats.weak_edges);
		fputc('\n', stderr);
		if (stats.clamped_sizes)
			fprintf(stderr, "pyheap: warning: %" PRIu64 " objects of 4 GiB or more are written "
					"with a self size of 4 GiB - 1 (the format's sizes are 32-bit)\n",
				stats.clamped_sizes);
	}
	return PH_EXIT_OK;
}
