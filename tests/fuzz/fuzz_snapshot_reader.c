/* Fuzz target for the snapshot reader (the parser behind chain, diff,
 * top and suspects) and the analyses on what it loads: shortest chains,
 * the dominator tree, heap bytes, the holders top lists, leak suspects
 * and the growth report (the snapshot against itself), with their text
 * and JSON writers.
 * Built with clang -fsanitize=fuzzer it is a libFuzzer target
 * (scripts/fuzz); built without, main() replays every file named on the
 * command line, which is how scripts/test runs the corpus in CI. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pyheap/chain.h"
#include "pyheap/snapshot_reader.h"
#include "pyheap/suspects_output.h"

/* What top and suspects do with a loaded graph. */
static void analyses(const struct ph_graph *g, const struct ph_paths *paths, FILE *sink)
{
	struct ph_dominators d;
	struct ph_error *err = ph_dominators_compute(g, &d);
	if (err) {
		ph_error_free(err);
		return;
	}
	struct ph_heap_bytes heap;
	err = ph_heap_bytes_compute(g, &heap);
	if (err) {
		ph_error_free(err);
		ph_dominators_free(&d);
		return;
	}
	struct ph_heap_view view = {g, &d, paths, &heap, 0};
	struct ph_retainer *items = NULL;
	size_t count = 0;
	err = ph_retainers_top(g, &d, 8, 1, &items, &count);
	for (size_t i = 0; !err && i < count; i++) {
		struct ph_json_writer w;
		ph_json_init(&w, sink, false);
		ph_json_begin_object(&w);
		err = ph_retainer_json_members(&w, &view, &items[i]);
		ph_json_end_object(&w);
		if (!err)
			err = ph_retainer_text(sink, &view, &items[i], 2);
	}
	free(items);
	ph_error_free(err);
	struct ph_suspect *suspects = NULL;
	err = ph_suspects_find(g, &d, &suspects, &count);
	if (!err)
		err = ph_suspects_text(sink, &view, suspects, count);
	free(suspects);
	ph_error_free(err);
	struct ph_heap_side side = {g, &d, paths};
	struct ph_growth_report report;
	err = ph_suspects_growth(&side, &side, 4, &report);
	if (!err) {
		err = ph_growth_text(sink, &view, &view, &report);
		ph_growth_report_free(&report);
	}
	ph_error_free(err);
	ph_heap_bytes_free(&heap);
	ph_dominators_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ph_loaded_snapshot snapshot;
	struct ph_error *err = ph_snapshot_parse((const char *)data, size, &snapshot);
	if (err) {
		ph_error_free(err);
		return 0;
	}
	/* what chain does with a loaded graph must hold for any valid input */
	if (snapshot.has_graph) {
		struct ph_paths paths;
		if (ph_paths_compute(&snapshot.graph, &paths)) {
			for (uint32_t i = 0; i < snapshot.graph.node_count && i < 64; i++) {
				FILE *sink = fopen("/dev/null", "w");
				if (sink) {
					ph_chain_print(sink, &snapshot.graph, &paths, i);
					fclose(sink);
				}
			}
			FILE *sink = fopen("/dev/null", "w");
			if (sink) {
				analyses(&snapshot.graph, &paths, sink);
				fclose(sink);
			}
			ph_paths_free(&paths);
		}
	}
	ph_snapshot_unload(&snapshot);
	return 0;
}

#include "replay_main.h"
