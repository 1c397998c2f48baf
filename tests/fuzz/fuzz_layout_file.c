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

#include "replay_main.h"
