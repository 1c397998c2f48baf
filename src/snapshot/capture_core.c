/* A snapshot from a core file. The target is the core: its memory map and
 * reader (src/core/), its interpreter image (debuginfo/core_image.c), and
 * who the process was from its notes. Nothing is stopped, so there is one
 * walk and no retry: a core caught mid-collection, or with lists broken by
 * missing or inconsistent memory, is walked once more tolerantly and
 * reported as a partial snapshot, as the last stop of a live capture is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../debuginfo/image_internal.h"
#include "../util.h"
#include "heap_walk.h"
#include "graph_build.h"
#include "pyheap/big_alloc.h"
#include "pyheap/core_snapshot.h"

enum { BLOCK_SIZE = 64 * 1024 };

struct ph_error *ph_core_target_open(const struct ph_core_source_options *source,
				     const struct ph_snapshot_options *options,
				     struct ph_core_target *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->sysroot, sizeof(out->sysroot), "%s", source->sysroot ? source->sysroot : "");
	struct ph_error *err = ph_core_open(source->core, &out->core);
	if (err)
		return err;
	if (out->core.problem[0] && options->progress)
		fprintf(stderr, "pyheap: warning: %s: %s\n", source->core, out->core.problem);
	err = ph_mapped_files_new(&out->core, out->sysroot, source->exe, &out->files);
	if (!err && source->exe && !ph_core_executable(&out->core))
		err = ph_error_new(PH_EXIT_BAD_INPUT,
				   "--exe %s: the core does not say where its executable was mapped "
				   "(no AT_ENTRY in NT_AUXV inside an NT_FILE mapping)",
				   source->exe);
	if (!err)
		err = ph_image_find_in_core(&out->core, out->files, out->sysroot, &out->image);
	if (!err)
		err = ph_heap_walk_layout(out->image, options, &out->layout);
	if (err) {
		ph_core_target_close(out);
		return err;
	}
	return NULL;
}

void ph_core_target_close(struct ph_core_target *target)
{
	ph_image_set_memory_source(NULL, NULL);
	ph_layout_free(target->layout);
	ph_image_free(target->image);
	ph_mapped_files_free(target->files);
	ph_core_close(&target->core);
	target->layout = NULL;
	target->image = NULL;
	target->files = NULL;
}

/* systemd-coredump names its files core.COMM.UID.BOOT_ID.PID.USEC.zst:
 * USEC is when the process crashed. */
static bool time_from_name(const char *path, struct timespec *when)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (strncmp(base, "core.", 5) != 0)
		return false;
	const char *end = strrchr(base, '.');
	if (!end || end == base)
		return false;
	const char *start = end;
	while (start > base && start[-1] >= '0' && start[-1] <= '9')
		start--;
	if (end - start < 15 || end - start > 17 || start[-1] != '.')
		return false;
	unsigned long long usec = strtoull(start, NULL, 10);
	when->tv_sec = (time_t)(usec / 1000000);
	when->tv_nsec = (long)(usec % 1000000) * 1000;
	return true;
}

static void set_core_time(struct ph_snapshot *snap, const char *path)
{
	struct timespec when = {0, 0};
	if (time_from_name(path, &when)) {
		snprintf(snap->core->time_source, sizeof(snap->core->time_source), "file name");
	} else {
		struct stat st;
		if (stat(path, &st) == 0)
			when = st.st_mtim;
		snprintf(snap->core->time_source, sizeof(snap->core->time_source), "file time");
	}
	struct tm utc;
	gmtime_r(&when.tv_sec, &utc);
	char base[24];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &utc);
	snprintf(snap->time_iso, sizeof(snap->time_iso), "%.19s.%03dZ", base,
		 (int)(when.tv_nsec / 1000000) % 1000);
}

static void describe_core(struct ph_snapshot *snap, const struct ph_core_target *target)
{
	const struct ph_core *core = &target->core;
	struct ph_snapshot_core *c = snap->core;
	snprintf(c->path, sizeof(c->path), "%s", core->path ? core->path : "");
	snprintf(c->format, sizeof(c->format), "%s", core->format);
	snprintf(c->writer, sizeof(c->writer), "%s", core->written_by_gdb ? "gdb" : "kernel");
	/* gcore's notes carry the signal gdb stopped the process with */
	c->signal = core->written_by_gdb ? 0 : core->signal;
	snprintf(c->command_line, sizeof(c->command_line), "%s", core->arguments);
	snprintf(c->sysroot, sizeof(c->sysroot), "%s", target->sysroot);
	c->size = core->size;
	c->saved_bytes = core->saved_bytes;
	c->truncated_bytes = core->truncated_bytes;
	snap->pid = core->pid;
	const char *exe = ph_core_executable(core);
	snap->exe = strdup(exe ? exe : "");
	snap->threads = core->threads;
	if (core->path)
		set_core_time(snap, core->path);
}

static void mark_partial(struct ph_snapshot *snap, int exit_code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void mark_partial(struct ph_snapshot *snap, int exit_code, const char *fmt, ...)
{
	/* the first cause found is the one reported: the most specific */
	if (!snap->complete)
		return;
	snap->complete = false;
	snap->partial_exit_code = exit_code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(snap->problem, sizeof(snap->problem), fmt, ap);
	va_end(ap);
}

/* What the core could not give, most specific first. */
static void check_what_was_missing(struct ph_snapshot *snap, struct ph_core_target *target,
				   const struct ph_core_read_report *report, const char *walk_problem)
{
	char then[200] = "";
	if (walk_problem[0])
		snprintf(then, sizeof(then), "; then %s", walk_problem);
	const struct ph_core *core = &target->core;
	if (core->truncated_bytes)
		mark_partial(snap, PH_EXIT_CORE_TRUNCATED,
			     "the core is truncated: %llu of its %llu bytes of saved memory are "
			     "missing (%llu reads needed them)%s",
			     (unsigned long long)core->truncated_bytes,
			     (unsigned long long)core->saved_bytes,
			     (unsigned long long)report->truncated_reads, then);
	for (size_t i = 0; i < ph_mapped_files_count(target->files); i++) {
		struct ph_mapped_file *file = ph_mapped_files_at(target->files, i);
		if (file->state == PH_MAPPED_OK) {
			snap->core->files_read++;
			continue;
		}
		if (!file->needed || !file->elf)
			continue;
		struct ph_error *err = ph_mapped_file_error(target->files, file);
		if (err) {
			mark_partial(snap, err->exit_code, "memory of %s was needed: %s%s", file->path,
				     err->message, then);
			ph_error_free(err);
		}
	}
	if (core->dropped)
		mark_partial(snap, PH_EXIT_INCONSISTENT,
			     "the core's segments are inconsistent (%u ignored): %s%s", core->dropped,
			     core->problem, then);
	if (walk_problem[0] && report->unsaved_anonymous_reads)
		mark_partial(snap, PH_EXIT_INCONSISTENT,
			     "%llu reads fell in anonymous memory the core did not save (was "
			     "coredump_filter's bit 0 off?)%s",
			     (unsigned long long)report->unsaved_anonymous_reads, then);
}

/* The interpreter's state (_PyRuntime, in libpython's or the executable's
 * written .data) must be in the core, or nothing can be walked: say why
 * it is not, rather than that a list head is unreadable. */
static struct ph_error *check_runtime_saved(const struct ph_core *core, const struct ph_image *image)
{
	uint64_t at = image->runtime_address, offset, contiguous;
	if (ph_core_saved_offset(core, at, &offset, &contiguous))
		return NULL;
	const struct ph_core_segment *s = ph_core_segment_at(core, at);
	if (s && at - s->vaddr < s->filesz)
		return ph_error_new(PH_EXIT_CORE_TRUNCATED,
				    "the core is truncated: it ends before the interpreter's state "
				    "(_PyRuntime at 0x%llx in %s)",
				    (unsigned long long)at, image->path);
	return ph_error_new(PH_EXIT_BAD_INPUT,
			    "the core did not save the interpreter's state (_PyRuntime at 0x%llx in "
			    "%s's written data): it was made without the process's private "
			    "memory; set bit 0 of /proc/PID/coredump_filter (the default 0x33 has "
			    "it) and make it again",
			    (unsigned long long)at, image->path);
}

/* The graph's edge index and reachability: live captures add them once
 * the target is released (capture.c); a core has no target to release. */
static struct ph_error *finish_graph(struct ph_snapshot *snap)
{
	if (!snap->has_graph || ph_graph_build_finish(&snap->graph))
		return NULL;
	return ph_budget_refusal() ? ph_budget_error("the reference graph's index", ph_budget_refusal())
				   : ph_error_new(PH_EXIT_INTERNAL, "out of memory finishing the graph");
}

/* One walk; if the lists are not consistent, a tolerant one that keeps
 * what it can read (there is no later stop to retry with). Says what was
 * wrong in problem, "" when nothing. */
static struct ph_error *walk_core(const struct ph_snapshot_options *options, struct ph_target *t,
				  struct ph_type_table *types, struct ph_snapshot *snap,
				  const struct ph_memory_map *map, struct ph_walk_report *report,
				  char *problem, size_t problem_size)
{
	enum ph_walk_status status;
	problem[0] = '\0';
	struct ph_error *err = ph_heap_walk(options, t, types, snap, false, map, &status, report);
	if (err || status == PH_WALK_OK)
		return err ? err : finish_graph(snap);
	snprintf(problem, problem_size, "%s",
		 status == PH_WALK_COLLECTING
		     ? "a garbage collection was running when the core was written: objects it "
		       "was moving are not on the lists"
		     : report->problem);
	ph_type_table_free(types);
	ph_type_table_init(types);
	snap->has_graph = false;
	err = ph_heap_walk(options, t, types, snap, true, map, &status, report);
	snap->broken_lists = report->broken_lists;
	return err ? err : finish_graph(snap);
}

struct ph_error *ph_snapshot_from_core(struct ph_core_target *target,
				       const struct ph_snapshot_options *options,
				       struct ph_snapshot **out)
{
	uint64_t setup_ns = ph_now_ns();
	struct ph_snapshot *snap = calloc(1, sizeof(*snap));
	if (!snap)
		return &ph_error_out_of_memory;
	snap->core = calloc(1, sizeof(*snap->core));
	if (!snap->core) {
		free(snap);
		return &ph_error_out_of_memory;
	}
	snap->complete = true;
	snap->attempts = 1;
	describe_core(snap, target);
	struct ph_type_table types;
	ph_type_table_init(&types);
	struct ph_memory_map map = {NULL, 0};
	struct ph_memory_reader *reader = NULL;
	struct ph_block_cache *cache = NULL;
	struct ph_target t;
	struct ph_error *err = ph_heap_walk_prepare(target->image, target->layout, options, &t, snap);
	if (!err)
		err = ph_core_memory_map(&target->core, &map);
	if (!err)
		err = ph_core_reader_new(&target->core, target->files, &reader);
	if (!err) {
		if (target->observe)
			ph_core_reader_observe(reader, target->observe, target->observe_ctx);
		err = ph_block_cache_new(reader, &map, BLOCK_SIZE, &cache);
	}
	if (err)
		goto out;
	err = check_runtime_saved(&target->core, target->image);
	if (err)
		goto out;
	t.memory = cache;
	snap->setup_ms = (double)(ph_now_ns() - setup_ns) / 1e6;
	uint64_t walk_ns = ph_now_ns();
	struct ph_walk_report report;
	char walk_problem[256];
	err = walk_core(options, &t, &types, snap, &map, &report, walk_problem, sizeof(walk_problem));
	snap->walk_ms = (double)(ph_now_ns() - walk_ns) / 1e6;
	if (err)
		goto out;
	const struct ph_core_read_report *read_report = ph_core_reader_report(reader);
	snap->core->file_bytes = read_report->file_reads;
	/* what the core lacked explains a broken walk: say that first */
	check_what_was_missing(snap, target, read_report, walk_problem);
	if (walk_problem[0])
		mark_partial(snap, PH_EXIT_INCONSISTENT, "%s", walk_problem);
	if (snap->python_version[0] && t.version_minor && t.version_minor < 8) {
		err = ph_error_new(PH_EXIT_UNSUPPORTED,
				   "the core's process (pid %d) ran Python %s; pyheap reads CPython 3.8 "
				   "and later", snap->pid, snap->python_version);
		goto out;
	}
	if (!snap->complete && report.objects == 0) {
		/* nothing to show: an error, not an empty snapshot */
		err = ph_error_new(snap->partial_exit_code, "no heap could be read from the core %s: %s",
				   target->core.path ? target->core.path : "", snap->problem);
		goto out;
	}
	if (!snap->python_version[0])
		snprintf(snap->python_version, sizeof(snap->python_version), "%s",
			 target->image->soname_version[0] ? target->image->soname_version : "unknown");
	snap->interpreters = report.interpreters;
	snap->objects = report.objects;
	for (unsigned i = 0; i < target->layout->gc_list_count; i++)
		snap->gc_list_objects[i] = report.per_list[i];
	err = ph_heap_walk_aggregate(&types, snap);
	if (!err && snap->has_graph)
		err = ph_heap_bytes_compute(&snap->graph, &snap->heap);
out:
	ph_type_table_free(&types);
	ph_block_cache_free(cache);
	if (reader)
		reader->destroy(reader);
	ph_memory_map_free(&map);
	if (err) {
		ph_snapshot_free(snap);
		return err;
	}
	*out = snap;
	return NULL;
}

struct ph_error *ph_snapshot_capture_core(const struct ph_core_source_options *source,
					  const struct ph_snapshot_options *options,
					  struct ph_snapshot **out)
{
	uint64_t open_ns = ph_now_ns();
	struct ph_core_target target;
	struct ph_error *err = ph_core_target_open(source, options, &target);
	if (err)
		return err;
	double open_ms = (double)(ph_now_ns() - open_ns) / 1e6;
	err = ph_snapshot_from_core(&target, options, out);
	if (!err)
		(*out)->setup_ms += open_ms;
	ph_core_target_close(&target);
	return err;
}
