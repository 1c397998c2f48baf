/* Fuzz target for the snapshot reader (the parser behind chain and diff).
 * Built with clang -fsanitize=fuzzer it is a libFuzzer target
 * (scripts/fuzz); built without, main() replays every file named on the
 * command line, which is how scripts/test runs the corpus in CI. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pyheap/chain.h"
#include "pyheap/snapshot_reader.h"

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
			ph_paths_free(&paths);
		}
	}
	ph_snapshot_unload(&snapshot);
	return 0;
}

#include "replay_main.h"
