/* main() for the fuzz harnesses when they are not built with libFuzzer:
 * replays every file named on the command line through
 * LLVMFuzzerTestOneInput (how scripts/test runs the corpora). */
#ifndef PYHEAP_FUZZ_REPLAY_MAIN_H
#define PYHEAP_FUZZ_REPLAY_MAIN_H

#ifndef PYHEAP_LIBFUZZER
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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

#endif
