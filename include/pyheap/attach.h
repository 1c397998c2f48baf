/* Stopping and releasing a live process.
 *
 * Threads are stopped with PTRACE_SEIZE + PTRACE_INTERRUPT (never
 * PTRACE_ATTACH, whose SIGSTOP can outlive us; never PTRACE_O_EXITKILL).
 * While any thread is held, SIGINT/SIGTERM/SIGHUP/SIGQUIT and the --timeout
 * alarm detach every thread before pyheap exits, and if pyheap dies anyway
 * the kernel detaches its tracees. */
#ifndef PYHEAP_ATTACH_H
#define PYHEAP_ATTACH_H

#include <stdbool.h>
#include <sys/types.h>

#include "pyheap/error.h"

struct ph_stopped_process;

/* Checks the PID names a live process we may trace, without touching it.
 * Gives PH_EXIT_NO_PROCESS / PH_EXIT_PERMISSION errors that say what to do. */
struct ph_error *ph_attach_check(pid_t pid);

/* Stops every thread of pid, re-scanning /proc/PID/task until no new thread
 * appears. timeout_ms bounds how long the target may stay stopped in total;
 * when it expires every thread is released and pyheap exits with
 * PH_EXIT_TIMEOUT. */
struct ph_error *ph_attach_stop(pid_t pid, unsigned timeout_ms, struct ph_stopped_process **out);

/* Releases every thread, re-delivering any signal that arrived while it was
 * held. Always frees sp. Returns an error when the target died or exec'd
 * while stopped (it is released all the same). */
struct ph_error *ph_attach_resume(struct ph_stopped_process *sp);

/* Number of threads held. */
size_t ph_attach_thread_count(const struct ph_stopped_process *sp);

/* Whether the target exec'd or its main thread exited while held. */
bool ph_attach_target_changed(const struct ph_stopped_process *sp);

#endif
