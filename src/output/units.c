#include "pyheap/units.h"

#include <inttypes.h>
#include <stdio.h>

void ph_format_bytes(char *buf, size_t size, int64_t bytes, bool sign)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	uint64_t magnitude = bytes < 0 ? -(uint64_t)bytes : (uint64_t)bytes;
	double v = (double)magnitude;
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	const char *s = bytes < 0 ? "-" : sign && bytes > 0 ? "+" : "";
	if (u == 0)
		snprintf(buf, size, "%s%" PRIu64 " B", s, magnitude);
	else
		snprintf(buf, size, "%s%.1f %s", s, v, units[u]);
}

void ph_format_count(char *buf, size_t size, uint64_t n)
{
	char digits[32];
	int len = snprintf(digits, sizeof(digits), "%" PRIu64, n);
	size_t at = 0;
	for (int i = 0; i < len && at + 1 < size; i++) {
		if (i > 0 && (len - i) % 3 == 0 && at + 2 < size)
			buf[at++] = ',';
		buf[at++] = digits[i];
	}
	if (size)
		buf[at < size ? at : size - 1] = '\0';
}
