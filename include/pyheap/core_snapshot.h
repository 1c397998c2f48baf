/* A snapshot from a core file instead of a live process: the same walk,
 * graph and output, with the core as the target (pyheap snap --core). */
#ifndef PYHEAP_CORE_SNAPSHOT_H
#define PYHEAP_CORE_SNAPSHOT_H

#include "pyheap/core.h"
#include "pyheap/layout.h"
#include "pyheap/snapshot.h"

struct ph_core_source_options {
	const char *core;    /* the core file */
	const char *exe;     /* the executable to use instead of the core's path, or NULL */
	const char *sysroot; /* where the core's files are (another machine, a container), or NULL */
};

/* Everything needed to walk a core, found once. */
struct ph_core_target {
	struct ph_core core;
	struct ph_mapped_files *files;
	struct ph_image *image;
	struct ph_layout *layout;
	char sysroot[4096];
	/* optional: told which bytes of the core the walk read (the fuzz
	 * harness aims its mutations there) */
	void (*observe)(void *ctx, uint64_t offset, uint64_t len);
	void *observe_ctx;
};

/* Opens the core, finds its interpreter (files checked by build-id) and
 * the layouts (options->layout_file, DWARF, $PYHEAP_LAYOUT_DIR). */
struct ph_error *ph_core_target_open(const struct ph_core_source_options *source,
				     const struct ph_snapshot_options *options,
				     struct ph_core_target *out);
void ph_core_target_close(struct ph_core_target *target);

/* Walks the core's heap. A core whose memory is missing or inconsistent
 * (truncated, a needed file missing or of another build, overlapping
 * segments, broken GC lists, a collection caught mid-way) gives a partial
 * snapshot marked complete: false with the exit code to end with in
 * partial_exit_code; an error when nothing at all could be read. */
struct ph_error *ph_snapshot_from_core(struct ph_core_target *target,
				       const struct ph_snapshot_options *options,
				       struct ph_snapshot **out);

/* ph_core_target_open + ph_snapshot_from_core + ph_core_target_close. */
struct ph_error *ph_snapshot_capture_core(const struct ph_core_source_options *source,
					  const struct ph_snapshot_options *options,
					  struct ph_snapshot **out);

#endif
