/* A minimal check counter for the unit tests; each binary ends with the
 * suite's "N passed, N failed, N skipped" line that scripts/test sums. */
#ifndef PYHEAP_UNIT_H
#define PYHEAP_UNIT_H

#include <stdio.h>

static int unit_passed, unit_failed;

#define CHECK(cond, ...)                                                                  \
	do {                                                                              \
		if (cond) {                                                               \
			unit_passed++;                                                    \
		} else {                                                                  \
			unit_failed++;                                                    \
			printf("FAIL    %s:%d: %s: ", __FILE__, __LINE__, #cond);         \
			printf(__VA_ARGS__);                                              \
			printf("\n");                                                     \
		}                                                                         \
	} while (0)

static inline int unit_finish(const char *suite)
{
	printf("%s: %d passed, %d failed, 0 skipped\n", suite, unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif
