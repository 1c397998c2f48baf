/* Layout files: every struct size, member offset and symbol pyheap needs
 * from one interpreter build, keyed by its build-id, so a host without
 * debug info can be read with what another host extracted (pyheap layout).
 * Format: docs/layout-format.md. */
#ifndef PYHEAP_LAYOUT_FILE_H
#define PYHEAP_LAYOUT_FILE_H

#include <stdio.h>

#include "pyheap/image.h"
#include "pyheap/layout.h"

/* Writes the layout of image (resolved from its DWARF) as JSON. */
struct ph_error *ph_layout_file_write(const struct ph_image *image, const struct ph_layout *layout,
				      FILE *out);
/* Reads a layout file for image: refuses one made for another build-id
 * (naming both). Replaces image's symbols with the file's, placed at the
 * image's load address. */
struct ph_error *ph_layout_file_read(const char *path, struct ph_image *image,
				     struct ph_layout **out);
/* The same from memory (path only names it in messages; the fuzz harness). */
struct ph_error *ph_layout_file_parse(const char *text, size_t len, const char *path,
				      struct ph_image *image, struct ph_layout **out);

#endif
