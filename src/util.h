/* Small helpers shared by every module. */
#ifndef PYHEAP_UTIL_H
#define PYHEAP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pyheap/error.h"

/* Reads a whole (possibly /proc) file into a NUL-terminated buffer. Errors
 * carry errno-based exit codes: ENOENT/ESRCH -> no process, EACCES/EPERM ->
 * permission. */
struct ph_error *ph_read_whole_file(const char *path, char **out, size_t *len_out);

/* A JSON number as an unsigned integer: false (no undefined conversion)
 * for negative, fractional-overflow, NaN or too large values. */
static inline bool ph_double_to_u64(double value, uint64_t limit, uint64_t *out)
{
	if (!(value >= 0) || value > (double)limit || value >= 18446744073709551616.0)
		return false;
	*out = (uint64_t)value;
	return true;
}

/* Monotonic clock in nanoseconds. */
uint64_t ph_now_ns(void);

#define PH_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
