/* Turns a refused ptrace/process_vm_readv into a message naming the cause
 * and the command that fixes it. */
#ifndef PYHEAP_ATTACH_PERMISSION_H
#define PYHEAP_ATTACH_PERMISSION_H

#include <sys/types.h>

#include "pyheap/error.h"

struct ph_error *ph_permission_error(pid_t pid, int err);

#endif
