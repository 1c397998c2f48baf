#ifndef PYHEAP_PYTHON_VERSION_H
#define PYHEAP_PYTHON_VERSION_H

#include <stddef.h>

#include "pyheap/target.h"

/* "3.12.1" into out and 12 into *minor; false when no source says. */
bool ph_python_version(const struct ph_target *t, char *out, size_t size, int *minor);

#endif
