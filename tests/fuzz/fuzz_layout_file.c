/* Fuzz target for the layout file reader. The image it is checked against
 * takes the build-id the input claims, so parsing goes past that check.
 * Built like fuzz_snapshot_reader.c: libFuzzer target or corpus replayer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyheap/layout.h"
#include "pyheap/layout_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ph_image image;
	memset(&image, 0, sizeof(image));
	image.path = "fuzz";
	image.load_address = 0x400000;
	const char *key = "\"build_id\": \"";
	const uint8_t *at = size > 20 ? memmem(data, size, key, strlen(key)) : NULL;
	if (at) {
		at += strlen(key);
		size_t n = 0;
		while (n < 80 && at + n < data + size && at[n] != '"')
			n++;
		memcpy(image.build_id, at, n);
	}
	struct ph_layout *layout = NULL;
	struct ph_error *err = ph_layout_file_parse((const char *)data, size, "fuzz", &image, &layout);
	if (err)
		ph_error_free(err);
	else
		ph_layout_free(layout);
	free(image.symbols);
	free(image.symbol_names);
	free(image.debuginfo);
	return 0;
}

#ifndef PYHEAP_LIBFUZZER
int main(int argc, char **argv)
{
	int replayed = 0;
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f)
			return 2;
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
