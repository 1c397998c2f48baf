#include "snapshot_args.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdbool.h>

#include "pyheap/error.h"
#include "pyheap/snapshot_input.h"

/* A pipe, a socket or a redirected file: something a snapshot can come
 * through. Not a terminal, and not /dev/null (a command run with no input
 * at all). */
static bool stdin_carries_data(void)
{
	struct stat st;
	return fstat(STDIN_FILENO, &st) == 0 &&
	       (S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode));
}

int ph_snapshot_args(const char *command, int argc, char **argv, int first, size_t min, size_t max,
		     const char **paths, size_t *count, const char *example)
{
	size_t named = first < argc ? (size_t)(argc - first) : 0;
	if (named > max) {
		fprintf(stderr, "pyheap %s: at most %zu snapshot%s, not %zu\n", command, max,
			max == 1 ? "" : "s", named);
		return PH_EXIT_USAGE;
	}
	*count = 0;
	size_t from_stdin = 0;
	for (size_t i = 0; i < named; i++) {
		paths[(*count)++] = argv[first + (int)i];
		from_stdin += ph_input_is_stdin(argv[first + (int)i]);
	}
	/* standard input fills in only what is required: with a file named,
	 * an optional second snapshot must be asked for as "-" */
	if (*count < min && !from_stdin && stdin_carries_data()) {
		paths[(*count)++] = PH_STDIN_PATH;
		from_stdin++;
	}
	if (from_stdin > 1) {
		fprintf(stderr, "pyheap %s: only one snapshot can come from standard input\n", command);
		return PH_EXIT_USAGE;
	}
	if (*count < min) {
		fprintf(stderr, "pyheap %s: no snapshot: give a file, `-`, or pipe one in: %s\n", command,
			example);
		return PH_EXIT_USAGE;
	}
	return 0;
}
