/* The snapshot a command reads: the files named, "-" for standard input,
 * or standard input (a pipe or a redirected file) for a required snapshot
 * not named: `pyheap snap PID | pyheap top`, `... | pyheap diff a.json`. */
#ifndef PYHEAP_SNAPSHOT_ARGS_H
#define PYHEAP_SNAPSHOT_ARGS_H

#include <stddef.h>

/* Fills paths[0..*count) from argv[first..argc), adding "-" when fewer
 * than min were named and standard input is a pipe or a file; at most one
 * may be "-". Returns 0, or an exit code after saying what is missing
 * (example: the pipeline to suggest). */
int ph_snapshot_args(const char *command, int argc, char **argv, int first, size_t min, size_t max,
		     const char **paths, size_t *count, const char *example);

#endif
