/* An output file written atomically: a regular file is written under a
 * temporary name in the same directory (created mode 0600: pyheap's files
 * hold the target's strings) and renamed into place only when everything
 * was written, so a failed run never leaves half a file or clobbers an old
 * one; anything else (a FIFO, /dev/stdout, a terminal) is written directly
 * and never unlinked. No path: standard output. */
#ifndef PYHEAP_OUTPUT_FILE_H
#define PYHEAP_OUTPUT_FILE_H

#include <stdio.h>

#include "pyheap/error.h"

struct ph_output_file {
	FILE *stream;
	const char *path;  /* NULL: standard output */
	char temp_path[4096]; /* empty unless a temporary file is in use */
};

/* Errors: PH_EXIT_OUTPUT naming the path. */
struct ph_error *ph_output_open(struct ph_output_file *f, const char *path);
/* Flushes, closes and renames into place. Errors: PH_EXIT_OUTPUT. */
struct ph_error *ph_output_commit(struct ph_output_file *f);
/* Closes and removes the temporary file; the old file stays. */
void ph_output_abort(struct ph_output_file *f);

#endif
