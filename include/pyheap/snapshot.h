/* One capture of a target's heap: stop, walk, resume, then analyse. */
#ifndef PYHEAP_SNAPSHOT_H
#define PYHEAP_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "pyheap/error.h"
#include "pyheap/gc_walk.h"
#include "pyheap/graph.h"
#include "pyheap/heap_bytes.h"
#include "pyheap/layout.h"
#include "pyheap/progress.h"

/* How the heap is read (README, "Safety"):
 * copy    - all of the target's writable memory is copied while it is
 *           stopped; the copy is walked once it runs again. The pause grows
 *           with the bytes copied.
 * sparse  - the same, less long runs of pages a walk of the running target
 *           did not ask for (the bodies of big str, bytes, arrays); a walk
 *           that asks for one stops the target again to copy it too. The
 *           pause grows with the objects, not with their payload.
 * stopped - the walk reads the target while it is stopped, no copy: the
 *           least memory, the longest pause.
 * auto    - copy for heaps of objects, sparse for heaps of payload, stopped
 *           when a copy would not fit the memory budget. */
enum ph_capture_policy {
	PH_POLICY_AUTO = 0,
	PH_POLICY_COPY,
	PH_POLICY_SPARSE,
	PH_POLICY_STOPPED,
};
const char *ph_capture_policy_name(enum ph_capture_policy policy);
/* false for an unknown name */
bool ph_capture_policy_parse(const char *name, enum ph_capture_policy *out);

struct ph_snapshot_options {
	enum ph_capture_policy policy; /* PH_POLICY_AUTO unless forced */
	unsigned timeout_ms;  /* longest time the target may stay stopped */
	unsigned max_attempts; /* stops tried while a collection is running */
	bool progress;        /* progress lines on stderr */
	bool graph;           /* build the reference graph */
	bool redact;          /* replace str contents by their length and a hash */
	const char *layout_file; /* layouts from a file instead of DWARF */
	struct ph_progress *meter; /* NULL, or the progress line the walk updates */
};

struct ph_type_count {
	char *name;
	uint64_t count;
	uint64_t size;
	unsigned type_objects; /* distinct type objects sharing this name */
	bool size_exact;
};

/* Where a snapshot from a core file came from (target.core). */
struct ph_snapshot_core {
	char path[4096];       /* the core file as given */
	char format[16];       /* "elf", or "zstd" when pyheap decompressed it */
	char writer[16];       /* "gdb" or "kernel" (gdb adds notes of its own) */
	int signal;            /* the signal that made the core, 0 for none */
	char command_line[81]; /* NT_PRPSINFO: the first 80 bytes of the command line */
	char sysroot[4096];    /* --sysroot, or "" */
	char time_source[32];  /* what capture.time is: the core's "file name" or "file time" */
	uint64_t size;         /* bytes of the (decompressed) core */
	uint64_t saved_bytes;  /* memory the core holds */
	uint64_t truncated_bytes; /* of which missing from a truncated file */
	uint64_t file_bytes;   /* memory read from mapped files instead (build-ids checked) */
	unsigned files_read;   /* mapped files those bytes came from */
};

struct ph_snapshot {
	pid_t pid;
	uint64_t start_ticks; /* /proc/PID/stat starttime: with pid, names the process */
	char *exe;
	char python_version[32];
	char *interpreter_path; /* libpython or the executable */
	bool shared_libpython;
	char build_id[81];
	char *debuginfo;
	char time_iso[40];
	double pause_ms;       /* the successful stop */
	double total_pause_ms; /* all stops, retries included */
	unsigned attempts;
	unsigned threads;
	unsigned interpreters;
	uint64_t objects;
	uint64_t unreadable_objects; /* on a GC list, but with an unreadable type */
	uint64_t bytes_copied;
	unsigned gc_list_count;
	const char *gc_list_names[PH_MAX_GC_LISTS];
	uint64_t gc_list_objects[PH_MAX_GC_LISTS];
	struct ph_type_count *types; /* sorted by count, descending */
	size_t type_count;
	bool has_graph;
	struct ph_graph graph;
	struct ph_heap_bytes heap; /* every node in bytes; only with the graph */
	uint64_t rss_bytes;        /* the target's resident memory at the stop; 0 if unknown */
	uint64_t invalid_referents;
	bool redacted;
	bool walked_copy;   /* the target ran again while pyheap walked a copy */
	enum ph_capture_policy policy; /* how the heap was read (never auto) */
	char policy_reason[256];       /* why */
	uint64_t bytes_skipped;        /* sparse: writable bytes left out of the copy */
	uint64_t bytes_untouched;      /* copied ranges the target never touched: zeros, not read */
	unsigned sparse_misses;        /* sparse: stops repeated for pages left out */
	uint64_t memory_budget;        /* pyheap's own memory limit, bytes */
	uint64_t memory_peak;          /* most of it held at once (large buffers) */
	/* milliseconds spent: finding the interpreter and its layouts, choosing
	 * the policy (and the walk of the running target for sparse), paging
	 * in the copy buffers, stopped (copying, or walking), walking */
	double setup_ms, choose_ms, prepare_ms, stopped_ms, walk_ms;
	bool complete;      /* false: a partial view, see problem */
	int partial_exit_code; /* exit code for an incomplete snapshot; 0: PH_EXIT_INCONSISTENT */
	struct ph_snapshot_core *core; /* snap --core; NULL for a live process */
	char problem[1024]; /* what could not be read, when incomplete */
	unsigned broken_lists;
	bool free_threaded;
	struct ph_mimalloc_stats mimalloc; /* free-threaded builds */
};

struct ph_error *ph_snapshot_capture(pid_t pid, const struct ph_snapshot_options *options,
				     struct ph_snapshot **out);
void ph_snapshot_free(struct ph_snapshot *snapshot);

/* Writes format version 1 (docs/snapshot-format.md). */
bool ph_snapshot_write_json(const struct ph_snapshot *snapshot, FILE *out);

#endif
