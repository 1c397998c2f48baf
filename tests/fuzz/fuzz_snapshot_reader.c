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

#ifndef PYHEAP_LIBFUZZER
int main(int argc, char **argv)
{
	int replayed = 0;
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f) {
			fprintf(stderr, "cannot open %s\n", argv[i]);
			return 2;
		}
		fseek(f, 0, SEEK_END);
		long size = ftell(f);
		fseek(f, 0, SEEK_SET);
		uint8_t *data = malloc(size > 0 ? (size_t)size : 1);
		if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
			fclose(f);
			free(data);
			return 2;
		}
		fclose(f);
		LLVMFuzzerTestOneInput(data, (size_t)size);
		free(data);
		replayed++;
	}
	printf("replayed %d inputs\n", replayed);
	return 0;
}
#endif
