/* Orchestrates one snapshot. Everything slow that does not need the
 * target stopped (finding the interpreter, loading DWARF, resolving the
 * layout) happens first, while it runs. Then: stop every thread, walk the
 * GC lists through the block cache (the copy), resume; then aggregate and
 * sort with the target running again. A walk that meets a running
 * collection or a half-updated list is retried after a short resume. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../util.h"
#include "pyheap/big_alloc.h"
#include "pyheap/attach.h"
#include "pyheap/gc_walk.h"
#include "pyheap/snapshot.h"
#include "pyheap/type_table.h"
#include "capture_policy.h"
#include "graph_build.h"
#include "heap_walk.h"

enum { BLOCK_SIZE = 64 * 1024 };

static double ms_between(uint64_t start_ns, uint64_t end_ns)
{
	return (double)(end_ns - start_ns) / 1e6;
}

struct attempt_result {
	enum ph_walk_status status;
	struct ph_walk_report report;
	double pause_ms;
	unsigned threads;
	uint64_t rss_bytes;
	enum ph_capture_policy policy; /* how this stop read the heap */
	uint64_t bytes_copied, skipped, untouched;
	bool missed; /* a sparse copy lacked a page the walk asked for: stop again */
};

/* VmRSS of /proc/PID/status, in bytes; 0 if it cannot be read. */
static uint64_t process_rss_bytes(pid_t pid)
{
	char path[64], *text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	struct ph_error *err = ph_read_whole_file(path, &text, NULL);
	if (err) {
		ph_error_free(err);
		return 0;
	}
	const char *line = strstr(text, "\nVmRSS:");
	uint64_t kib = line ? strtoull(line + 7, NULL, 10) : 0;
	free(text);
	return kib * 1024;
}

/* A process that exec'd between two stops keeps its PID and start time:
 * recognise it by its executable and by the interpreter no longer mapped. */
static struct ph_error *check_same_image(pid_t pid, const struct ph_image *image,
					 const char *exe, const struct ph_memory_map *map)
{
	char link[64], now[4096];
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(link, now, sizeof(now) - 1);
	now[n > 0 ? n : 0] = '\0';
	bool mapped = false;
	for (size_t i = 0; i < map->count && !mapped; i++)
		mapped = strcmp(map->regions[i].path, image->map_name) == 0;
	if ((exe && exe[0] && strcmp(exe, now) != 0) || !mapped)
		return ph_error_new(PH_EXIT_TARGET_GONE,
				    "process %d exec'd %s during the snapshot: it no longer runs %s",
				    (int)pid, now[0] ? now : "another program", image->path);
	return NULL;
}

/* Testing only: PYHEAP_TEST_HOLD_MS keeps the target stopped that much
 * longer, so tests can signal pyheap, kill the target or hit --timeout at
 * the worst moment. Documented in docs/testing.md. */
static void hold_for_tests(void)
{
	const char *hold = getenv("PYHEAP_TEST_HOLD_MS");
	if (!hold)
		return;
	long ms = strtol(hold, NULL, 10);
	if (ms <= 0 || ms > 600000)
		return;
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* The walk shared with cores (heap_walk.c), through the cache in t->memory. */
static struct ph_error *walk(const struct ph_snapshot_options *options, struct ph_target *t,
			     struct ph_type_table *types, struct ph_snapshot *snap, bool tolerant,
			     const struct ph_memory_map *map, struct attempt_result *result)
{
	return ph_heap_walk(options, t, types, snap, tolerant, map, &result->status, &result->report);
}

/* Testing only: PYHEAP_TEST_SPARSE_FORGET=MiB forgets the pages the first
 * walk of the running target found in mappings larger than that, so the
 * first sparse stop misses them and the stop-again path runs
 * (docs/testing.md). */
static void forget_for_tests(struct ph_page_set *needed, const struct ph_memory_map *map)
{
	const char *forget = getenv("PYHEAP_TEST_SPARSE_FORGET");
	if (!forget)
		return;
	uint64_t larger_than = strtoull(forget, NULL, 10) << 20;
	size_t kept = 0;
	for (size_t i = 0; i < needed->count; i++) {
		const struct ph_memory_region *r = ph_memory_map_find(map, needed->pages[i]);
		if (!r || r->end - r->start <= larger_than)
			needed->pages[kept++] = needed->pages[i];
	}
	needed->count = kept;
}

/* For a sparse copy: the pages a walk asks for, found by walking the
 * running target (read, never stopped) with the real walk. The lists may
 * change under it; what it misses, the walk of the copy reports. */
static void walk_running_target(pid_t pid, const struct ph_snapshot_options *options,
				struct ph_target *t, struct ph_capture_plan *plan)
{
	struct ph_memory_map map = {NULL, 0};
	struct ph_memory_reader *live = NULL;
	struct ph_block_cache *cache = NULL;
	struct ph_snapshot *scratch = calloc(1, sizeof(*scratch));
	struct ph_type_table types;
	ph_type_table_init(&types);
	struct ph_error *err = scratch ? ph_memory_map_load(pid, &map) : &ph_error_out_of_memory;
	if (!err)
		err = ph_process_reader_new(pid, &live);
	if (!err)
		err = ph_block_cache_new(live, &map, 4 << 10, &cache);
	if (!err) {
		ph_cache_record_pages(cache);
		t->memory = cache;
		struct attempt_result ignored;
		memset(&ignored, 0, sizeof(ignored));
		ph_error_free(walk(options, t, &types, scratch, true, &map, &ignored));
		t->memory = NULL;
		struct ph_page_set found = {NULL, 0, 0};
		ph_cache_recorded_pages(cache, &found);
		ph_page_set_normalize(&found);
		if (plan->misses == 0)
			forget_for_tests(&found, &map);
		ph_page_set_add_all(&plan->needed, &found);
		ph_page_set_normalize(&plan->needed);
		ph_page_set_free(&found);
	}
	plan->needed_known = true;
	ph_error_free(err);
	ph_block_cache_free(cache);
	if (live)
		live->destroy(live);
	ph_memory_map_free(&map);
	ph_type_table_free(&types);
	if (scratch) {
		/* the version it found into t (the process's, so the same for
		 * every walk) stays */
		ph_graph_free(&scratch->graph);
		free(scratch);
	}
}

/* Buffers for the copy this plan will make, paged in while the target
 * still runs. A plan that no longer fits the budget walks while stopped
 * instead, or (forced) ends here, before any stop. */
static struct ph_error *prepare_copy(pid_t pid, struct ph_capture_plan *plan,
				     struct ph_copy_buffers **buffers)
{
	*buffers = NULL;
	if (plan->policy == PH_POLICY_STOPPED)
		return NULL;
	struct ph_memory_map map = {NULL, 0};
	struct ph_address_range *ranges = NULL;
	size_t count = 0;
	uint64_t bytes = 0, skipped = 0;
	struct ph_error *err = ph_memory_map_load(pid, &map);
	if (!err)
		err = ph_capture_plan_ranges(plan, &map, &ranges, &count, &bytes, &skipped);
	ph_memory_map_free(&map);
	free(ranges);
	if (err)
		return err;
	if (bytes && !(*buffers = ph_copy_buffers_prepare(bytes))) {
		if (plan->forced)
			return ph_budget_error(plan->policy == PH_POLICY_COPY
						   ? "a whole copy of the target's writable memory"
						   : "a sparse copy of the target's writable memory",
					       bytes);
		ph_capture_plan_walk_stopped(plan, "a copy would not fit the memory budget: walked "
						   "while stopped");
	}
	return NULL;
}

/* One stop-copy-resume-walk cycle (or, walking while stopped,
 * stop-walk-resume). The copy makes the pause the time to copy the
 * target's memory, not the time to walk it. */
static struct ph_error *wait_for_collection_end(pid_t pid, uint64_t flag_address);

static struct ph_error *attempt(pid_t pid, const struct ph_snapshot_options *options,
				struct ph_target *t, struct ph_type_table *types,
				struct ph_snapshot *snap, bool tolerant, uint64_t wait_flag,
				struct ph_capture_plan *plan, struct attempt_result *result)
{
	if (plan->policy == PH_POLICY_SPARSE && !plan->needed_known) {
		uint64_t choose_ns = ph_now_ns();
		walk_running_target(pid, options, t, plan);
		snap->choose_ms += ms_between(choose_ns, ph_now_ns());
	}
	uint64_t prepare_ns = ph_now_ns();
	struct ph_copy_buffers *buffers = NULL;
	struct ph_error *err = prepare_copy(pid, plan, &buffers);
	if (err)
		return err;
	/* after a stop that met a collection: wait for its end only now, with
	 * everything else ready, so the stop follows it as closely as can be */
	if (wait_flag) {
		err = wait_for_collection_end(pid, wait_flag);
		if (err) {
			ph_copy_buffers_free(buffers);
			return err;
		}
	}
	snap->prepare_ms = ms_between(prepare_ns, ph_now_ns());
	struct ph_stopped_process *stopped;
	uint64_t stop_ns = ph_now_ns();
	err = ph_attach_stop(pid, options->timeout_ms, &stopped);
	if (err) {
		ph_copy_buffers_free(buffers);
		return err;
	}
	result->threads = (unsigned)ph_attach_thread_count(stopped);
	result->rss_bytes = process_rss_bytes(pid);

	struct ph_memory_map map = {NULL, 0};
	struct ph_memory_reader *live = NULL, *copy = NULL;
	struct ph_block_cache *cache = NULL;
	struct ph_error *resume_err = NULL;
	bool released = false;
	uint64_t copied = 0;
	result->policy = plan->policy;
	err = ph_memory_map_load(pid, &map);
	if (!err)
		err = check_same_image(pid, t->image, snap->exe, &map);
	if (!err)
		err = ph_process_reader_new(pid, &live);
	if (!err && plan->policy != PH_POLICY_STOPPED) {
		struct ph_address_range *ranges = NULL;
		size_t count = 0;
		err = ph_capture_plan_ranges(plan, &map, &ranges, &count, &copied, &result->skipped);
		struct ph_error *copy_err =
		    err ? NULL : ph_copy_reader_new(pid, &map, ranges, count, buffers, live, &copy, &copied);
		buffers = NULL;
		free(ranges);
		if (copy_err && copy_err->exit_code == PH_EXIT_TARGET_GONE) {
			err = copy_err;
		} else if (copy_err) {
			/* the map grew past the budget since the buffers were
			 * made: this stop walks instead */
			ph_error_free(copy_err);
			result->policy = PH_POLICY_STOPPED;
			result->skipped = 0;
		}
		if (copy) {
			result->untouched = ph_copy_reader_untouched(copy);
			hold_for_tests();
			result->pause_ms = ms_between(stop_ns, ph_now_ns());
			resume_err = ph_attach_resume(stopped);
			released = true;
		}
	}
	ph_copy_buffers_free(buffers);
	if (!err && !resume_err)
		err = ph_block_cache_new(copy ? copy : live, &map, BLOCK_SIZE, &cache);
	if (!err && !resume_err) {
		t->memory = cache;
		uint64_t walk_ns = ph_now_ns();
		err = ph_heap_walk(options, t, types, snap, tolerant, &map, &result->status,
				   &result->report);
		snap->walk_ms = ms_between(walk_ns, ph_now_ns());
		const struct ph_error *fatal = ph_cache_fatal_error(cache);
		if (fatal && !err)
			err = ph_error_new(fatal->exit_code, "%s", fatal->message);
		result->bytes_copied = copied + ph_cache_bytes_copied(cache);
		if (copy && !err) {
			const struct ph_page_set *missed = ph_copy_reader_missed(copy);
			if (missed->count) {
				result->missed = true;
				ph_capture_plan_missed(plan, missed);
			}
		}
	}
	if (!released) {
		hold_for_tests();
		result->pause_ms = ms_between(stop_ns, ph_now_ns());
		resume_err = ph_attach_resume(stopped);
	}
	ph_block_cache_free(cache);
	t->memory = NULL;
	if (copy)
		copy->destroy(copy);
	if (live)
		live->destroy(live);
	ph_memory_map_free(&map);
	if (resume_err) {
		ph_error_free(err);
		return resume_err;
	}
	if (!err && snap->has_graph && !result->missed && !ph_graph_build_finish(&snap->graph))
		err = ph_budget_refusal() ? ph_budget_error("the reference graph's index", ph_budget_refusal())
					  : ph_error_new(PH_EXIT_INTERNAL, "out of memory finishing the graph");
	return err;
}

/* While the target runs, watches the GC's "collecting" flag (a 4-byte read,
 * no stop) and returns as soon as it reads 0, so the next stop lands in
 * the gap between two collections. Gives up after a second; the caller's
 * attempt limit bounds the whole. */
static struct ph_error *wait_for_collection_end(pid_t pid, uint64_t flag_address)
{
	struct ph_memory_reader *reader;
	struct ph_error *err = ph_process_reader_new(pid, &reader);
	if (err)
		return err;
	uint64_t deadline = ph_now_ns() + 1000000000ull;
	while (ph_now_ns() < deadline) {
		uint32_t collecting = 1;
		size_t done;
		err = ph_memory_read(reader, flag_address, &collecting, sizeof(collecting), &done);
		if (err) {
			if (err->exit_code == PH_EXIT_TARGET_GONE) {
				reader->destroy(reader);
				return err;
			}
			ph_error_free(err);
			break;
		}
		if (!collecting)
			break;
		struct timespec ts = {0, 20000};
		nanosleep(&ts, NULL);
	}
	reader->destroy(reader);
	return NULL;
}

/* Field 22 of /proc/PID/stat: when the process started, in clock ticks
 * since boot. A PID is reused; a PID and a start time are not. */
static uint64_t process_start_ticks(pid_t pid)
{
	char path[64], *text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	struct ph_error *err = ph_read_whole_file(path, &text, NULL);
	if (err) {
		ph_error_free(err);
		return 0;
	}
	uint64_t ticks = 0;
	const char *p = strrchr(text, ')');
	for (int field = 2; p && *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (p)
		ticks = strtoull(p, NULL, 10);
	free(text);
	return ticks;
}

static void set_time(struct ph_snapshot *snap)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct tm utc;
	gmtime_r(&now.tv_sec, &utc);
	char base[24];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &utc);
	snprintf(snap->time_iso, sizeof(snap->time_iso), "%.19s.%03dZ", base,
		 (int)(now.tv_nsec / 1000000) % 1000);
}

struct ph_error *ph_snapshot_capture(pid_t pid, const struct ph_snapshot_options *options,
				     struct ph_snapshot **out)
{
	uint64_t setup_ns = ph_now_ns();
	struct ph_error *err = ph_attach_check(pid);
	if (err)
		return err;
	struct ph_snapshot *snap = calloc(1, sizeof(*snap));
	if (!snap)
		return &ph_error_out_of_memory;
	snap->pid = pid;
	snap->complete = true;
	struct ph_image *image = NULL;
	struct ph_layout *layout = NULL;
	struct ph_type_table types;
	ph_type_table_init(&types);
	struct ph_capture_plan plan;
	memset(&plan, 0, sizeof(plan));

	char exe_link[64], exe[4096];
	snprintf(exe_link, sizeof(exe_link), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(exe_link, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	snap->exe = strdup(exe);
	snap->start_ticks = process_start_ticks(pid);

	err = ph_image_find(pid, &image);
	if (!err)
		err = ph_heap_walk_layout(image, options, &layout);
	if (err)
		goto out;
	struct ph_target t;
	err = ph_heap_walk_prepare(image, layout, options, &t, snap);
	if (err)
		goto out;

	snap->setup_ms = ms_between(setup_ns, ph_now_ns());
	uint64_t choose_ns = ph_now_ns();
	err = ph_capture_plan_choose(pid, &t, options->policy, &plan);
	snap->choose_ms = ms_between(choose_ns, ph_now_ns());
	if (err)
		goto out;
	unsigned max_attempts = options->max_attempts ? options->max_attempts : 50;
	struct attempt_result result;
	uint64_t wait_flag = 0;
	for (snap->attempts = 1;; snap->attempts++) {
		memset(&result, 0, sizeof(result));
		ph_type_table_free(&types);
		ph_type_table_init(&types);
		/* the last stop takes what it can get, and says so */
		bool last = snap->attempts >= max_attempts;
		if (last && plan.policy == PH_POLICY_SPARSE)
			ph_capture_plan_fall_back(&plan, "the last stop must not miss");
		err = attempt(pid, options, &t, &types, snap, last, wait_flag, &plan, &result);
		wait_flag = 0;
		if (err)
			goto out;
		snap->total_pause_ms += result.pause_ms;
		if (result.missed) {
			snap->sparse_misses++;
			if (options->progress)
				fprintf(stderr, "pyheap: stopping again (the walk needed memory the sparse "
						"copy left out)\n");
			continue;
		}
		if (snap->attempts == 1 && snap->python_version[0] && t.version_minor < 8) {
			err = ph_error_new(PH_EXIT_UNSUPPORTED,
					   "process %d runs Python %s; pyheap reads CPython 3.8 and "
					   "later", (int)pid, snap->python_version);
			goto out;
		}
		if (result.status == PH_WALK_OK)
			break;
		if (last) {
			if (result.status != PH_WALK_INCONSISTENT) {
				err = ph_error_new(PH_EXIT_INCONSISTENT,
						   "no view of the heap of process %d after %u stops",
						   (int)pid, snap->attempts);
				goto out;
			}
			snap->complete = false;
			snap->broken_lists = result.report.broken_lists;
			snprintf(snap->problem, sizeof(snap->problem), "%s",
				 result.report.problem[0] ? result.report.problem
							  : "a collection was running at every stop");
			break;
		}
		if (options->meter)
			ph_progress_clear(options->meter);
		if (options->progress)
			fprintf(stderr, "pyheap: retrying (%s)\n",
				result.status == PH_WALK_COLLECTING ? "a collection is running"
								    : result.report.problem);
		/* Let the target finish what it was doing before stopping again. */
		if (result.status == PH_WALK_COLLECTING && result.report.collecting_flag) {
			wait_flag = result.report.collecting_flag;
		} else {
			struct timespec pause = {0, (long)(2000000L * snap->attempts)};
			nanosleep(&pause, NULL);
		}
	}
	if (!snap->python_version[0])
		snprintf(snap->python_version, sizeof(snap->python_version), "%s",
			 image->soname_version[0] ? image->soname_version : "unknown");
	set_time(snap);
	snap->pause_ms = result.pause_ms;
	snap->stopped_ms = result.pause_ms;
	snap->walked_copy = result.policy != PH_POLICY_STOPPED;
	snap->policy = result.policy;
	snprintf(snap->policy_reason, sizeof(snap->policy_reason), "%s", plan.reason);
	snap->bytes_copied = result.bytes_copied;
	snap->bytes_skipped = result.skipped;
	snap->bytes_untouched = result.untouched;
	snap->threads = result.threads;
	snap->interpreters = result.report.interpreters;
	snap->objects = result.report.objects;
	for (unsigned i = 0; i < layout->gc_list_count; i++)
		snap->gc_list_objects[i] = result.report.per_list[i];
	snap->rss_bytes = result.rss_bytes;
	snap->free_threaded = layout->mimalloc != NULL;
	snap->mimalloc = result.report.mimalloc;
	err = ph_heap_walk_aggregate(&types, snap);
	if (!err && snap->has_graph)
		err = ph_heap_bytes_compute(&snap->graph, &snap->heap);
out:
	ph_capture_plan_free(&plan);
	snap->memory_budget = ph_budget_limit();
	snap->memory_peak = ph_budget_peak();
	ph_type_table_free(&types);
	ph_layout_free(layout);
	ph_image_free(image);
	if (err) {
		ph_snapshot_free(snap);
		return err;
	}
	*out = snap;
	return NULL;
}

void ph_snapshot_free(struct ph_snapshot *snap)
{
	if (!snap)
		return;
	free(snap->exe);
	free(snap->interpreter_path);
	free(snap->debuginfo);
	for (size_t i = 0; i < snap->type_count; i++)
		free(snap->types[i].name);
	free(snap->types);
	ph_heap_bytes_free(&snap->heap);
	free(snap->core);
	ph_graph_free(&snap->graph);
	free(snap);
}
