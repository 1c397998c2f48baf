/* Where a snapshot comes from: a file, or standard input ("-"), so that
 * pyheap's commands are filters: `pyheap snap PID | pyheap chain --type
 * Book`. A pipe is spooled, once per process, into an unlinked temporary
 * file (mode 0600, in $TMPDIR) that the reader maps like any file and a
 * command may read again (diff reads B twice); the spool stops with an
 * error before it fills that file system. A redirected regular file is
 * mapped directly. */
#ifndef PYHEAP_SNAPSHOT_INPUT_H
#define PYHEAP_SNAPSHOT_INPUT_H

#include <stdbool.h>

#include "pyheap/error.h"

#define PH_STDIN_PATH "-"

/* Whether path names standard input. */
bool ph_input_is_stdin(const char *path);
/* A readable descriptor for path (a new one for a file; for "-", a dup of
 * the spool); the caller closes it. PH_EXIT_BAD_INPUT with a message
 * naming the input ("standard input" for "-"). */
struct ph_error *ph_input_open(const char *path, int *fd);
/* How messages name it. */
const char *ph_input_name(const char *path);

#endif
