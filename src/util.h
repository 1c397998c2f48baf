/* Small helpers shared by every module. */
#ifndef PYHEAP_UTIL_H
#define PYHEAP_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "pyheap/error.h"

/* Reads a whole (possibly /proc) file into a NUL-terminated buffer. Errors
 * carry errno-based exit codes: ENOENT/ESRCH -> no process, EACCES/EPERM ->
 * permission. */
struct ph_error *ph_read_whole_file(const char *path, char **out, size_t *len_out);

/* Monotonic clock in nanoseconds. */
uint64_t ph_now_ns(void);

#define PH_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
