/* Errors are returned as values: NULL means success, anything else is an
 * owned struct ph_error that says what failed and where, and which exit
 * code the command line should end with. */
#ifndef PYHEAP_ERROR_H
#define PYHEAP_ERROR_H

#include <stdarg.h>

/* Exit codes are part of the user interface (README, --help): never renumber. */
enum ph_exit {
	PH_EXIT_OK = 0,
	PH_EXIT_INTERNAL = 1,      /* a bug in pyheap, or out of memory */
	PH_EXIT_USAGE = 2,         /* bad command line */
	PH_EXIT_NO_PROCESS = 3,    /* no such PID */
	PH_EXIT_PERMISSION = 4,    /* ptrace or /proc access refused */
	PH_EXIT_NOT_PYTHON = 5,    /* no CPython interpreter in the target */
	PH_EXIT_NO_DEBUGINFO = 6,  /* interpreter found, its DWARF not */
	PH_EXIT_UNSUPPORTED = 7,   /* a Python build pyheap cannot read */
	PH_EXIT_TARGET_GONE = 8,   /* the target exited or exec'd meanwhile */
	PH_EXIT_TIMEOUT = 9,       /* --timeout expired; target released */
	PH_EXIT_INCONSISTENT = 10, /* the heap never settled (GC running, corruption) */
	PH_EXIT_OUTPUT = 11,       /* writing the output failed */
	PH_EXIT_BAD_INPUT = 12,    /* an input file is not what it should be */
	PH_EXIT_NO_MATCH = 13,     /* a query matched nothing */
	PH_EXIT_SUSPECTS = 14,     /* suspects: leak suspects were found (like diff(1)'s 1) */
	PH_EXIT_MEMORY_BUDGET = 15, /* the snapshot would not fit pyheap's memory budget */
	PH_EXIT_CORE_TRUNCATED = 16, /* a core file ends before the memory it says it saved */
	PH_EXIT_MISSING_FILE = 17,   /* a file the core maps is not on disk (see --sysroot) */
	PH_EXIT_BUILD_ID_MISMATCH = 18, /* a file on disk is not the one the core's process mapped */
};

struct ph_error {
	enum ph_exit exit_code;
	const char *message; /* points into the same allocation */
};

struct ph_error *ph_error_new(enum ph_exit exit_code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
struct ph_error *ph_error_vnew(enum ph_exit exit_code, const char *fmt, va_list ap);
/* Prefixes context ("reading dict at 0x...: ") to an existing error. */
struct ph_error *ph_error_wrap(struct ph_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ph_error_free(struct ph_error *err);
/* Prints "pyheap: <message>" to stderr, frees err, returns its exit code. */
int ph_error_report(struct ph_error *err);

/* Returned when even the error cannot be allocated; never freed. */
extern struct ph_error ph_error_out_of_memory;

#endif
