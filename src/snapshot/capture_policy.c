#include "capture_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyheap/big_alloc.h"
#include "pyheap/gc_walk.h"

/* Below this much writable memory a whole copy is quick whatever it
 * holds (tens of milliseconds at worst): no estimate needed. */
#define SMALL_HEAP ((uint64_t)64 << 20)
/* More writable memory than a page per GC object: a heap of payload.
 * Counting stops at the bound, so telling costs a walk of at most
 * writable/4096 GC headers. */
#define PAYLOAD_BYTES_PER_OBJECT 4096
/* A sparse copy leaves out runs of at least this many pages no walk
 * asked for, and copies mappings this small whole. */
#define SKIP_RUN_PAGES 16
#define WHOLE_MAPPING ((uint64_t)256 << 10)
/* A missed page brings its aligned neighbourhood of this size along. */
#define MISS_NEIGHBOURHOOD ((uint64_t)64 << 10)
/* Sparse stops that may miss before falling back. */
#define MAX_MISSES 3

static const char *const policy_names[] = {"auto", "copy", "sparse", "stopped"};

const char *ph_capture_policy_name(enum ph_capture_policy policy)
{
	return (unsigned)policy < 4 ? policy_names[policy] : "?";
}

bool ph_capture_policy_parse(const char *name, enum ph_capture_policy *out)
{
	for (unsigned i = 0; i < 4; i++)
		if (strcmp(name, policy_names[i]) == 0) {
			*out = (enum ph_capture_policy)i;
			return true;
		}
	return false;
}

static bool count_object(void *ctx, uint64_t object, unsigned list)
{
	(void)ctx;
	(void)object;
	(void)list;
	return true;
}

/* GC objects of the running target, counting no further than bound: a
 * walk of the lists through a small cache, no stop. The lists may change
 * under it; an estimate is all that is wanted. */
static uint64_t count_objects(pid_t pid, struct ph_target *t, const struct ph_memory_map *map,
			      uint64_t bound)
{
	struct ph_memory_reader *live = NULL;
	struct ph_block_cache *cache = NULL;
	struct ph_error *err = ph_process_reader_new(pid, &live);
	if (!err)
		err = ph_block_cache_new(live, map, 16 << 10, &cache);
	uint64_t objects = 0;
	if (!err) {
		t->memory = cache;
		struct ph_walk_report report;
		ph_gc_walk(t, bound, true, count_object, NULL, &report);
		objects = report.objects;
		t->memory = NULL;
	}
	ph_error_free(err);
	ph_block_cache_free(cache);
	if (live)
		live->destroy(live);
	return objects;
}

static void mib(char *out, size_t size, uint64_t bytes)
{
	snprintf(out, size, "%.0f MiB", (double)bytes / (1 << 20));
}

struct ph_error *ph_capture_plan_choose(pid_t pid, struct ph_target *t,
					enum ph_capture_policy wanted,
					struct ph_capture_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	struct ph_memory_map map = {NULL, 0};
	struct ph_error *err = ph_memory_map_load(pid, &map);
	if (err)
		return err;
	uint64_t writable = ph_memory_map_writable(&map);
	char size[32], limit[32];
	mib(size, sizeof(size), writable);
	mib(limit, sizeof(limit), ph_budget_limit());
	if (wanted != PH_POLICY_AUTO) {
		plan->policy = wanted;
		plan->forced = true;
		snprintf(plan->reason, sizeof(plan->reason), "forced");
		if (wanted == PH_POLICY_COPY && !ph_budget_fits(writable))
			err = ph_budget_error("a whole copy of the target's writable memory", writable);
		ph_memory_map_free(&map);
		return err;
	}
	if (writable <= SMALL_HEAP && ph_budget_fits(writable)) {
		plan->policy = PH_POLICY_COPY;
		snprintf(plan->reason, sizeof(plan->reason), "%s of writable memory: a whole copy is quick",
			 size);
		ph_memory_map_free(&map);
		return NULL;
	}
	uint64_t bound = writable / PAYLOAD_BYTES_PER_OBJECT + 1;
	plan->objects_seen = count_objects(pid, t, &map, bound);
	ph_memory_map_free(&map);
	if (plan->objects_seen < bound) {
		plan->policy = PH_POLICY_SPARSE;
		snprintf(plan->reason, sizeof(plan->reason),
			 "%llu GC objects in %s of writable memory: mostly payload, copied sparsely",
			 (unsigned long long)plan->objects_seen, size);
	} else if (ph_budget_fits(writable)) {
		plan->policy = PH_POLICY_COPY;
		snprintf(plan->reason, sizeof(plan->reason),
			 "over %llu GC objects in %s of writable memory: objects, copied whole",
			 (unsigned long long)bound, size);
	} else {
		plan->policy = PH_POLICY_STOPPED;
		snprintf(plan->reason, sizeof(plan->reason),
			 "over %llu GC objects in %s of writable memory, more than the memory "
			 "budget (%s) holds: walked while stopped",
			 (unsigned long long)bound, size, limit);
	}
	return NULL;
}

struct range_list {
	struct ph_address_range *items;
	size_t count, capacity;
	uint64_t bytes;
};

static bool append(struct range_list *list, uint64_t start, uint64_t end)
{
	if (end <= start)
		return true;
	if (list->count && list->items[list->count - 1].end == start) {
		list->items[list->count - 1].end = end;
		list->bytes += end - start;
		return true;
	}
	if (list->count == list->capacity) {
		size_t capacity = list->capacity ? list->capacity * 2 : 64;
		struct ph_address_range *grown = realloc(list->items, capacity * sizeof(*grown));
		if (!grown)
			return false;
		list->items = grown;
		list->capacity = capacity;
	}
	list->items[list->count++] = (struct ph_address_range){start, end};
	list->bytes += end - start;
	return true;
}

/* Index of the first needed page >= address. */
static size_t first_needed(const struct ph_page_set *set, uint64_t address)
{
	size_t lo = 0, hi = set->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (set->pages[mid] < address)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* One mapping of a sparse copy: the pages asked for, and the short gaps
 * between them (cheaper to copy than to skip, and objects allocated since
 * the walk that found them tend to land there). */
static bool sparse_mapping(struct range_list *list, const struct ph_page_set *needed,
			   uint64_t start, uint64_t end)
{
	const uint64_t skip = SKIP_RUN_PAGES * PH_PAGE_SIZE;
	uint64_t copy_from = start, needed_end = start;
	for (size_t i = first_needed(needed, start); i < needed->count && needed->pages[i] < end;
	     i++) {
		uint64_t page = needed->pages[i];
		if (page - needed_end >= skip) {
			if (!append(list, copy_from, needed_end))
				return false;
			copy_from = page;
		}
		needed_end = page + PH_PAGE_SIZE;
	}
	if (end - needed_end >= skip)
		return append(list, copy_from, needed_end);
	return append(list, copy_from, end);
}

struct ph_error *ph_capture_plan_ranges(const struct ph_capture_plan *plan,
					const struct ph_memory_map *map,
					struct ph_address_range **ranges, size_t *count,
					uint64_t *bytes, uint64_t *skipped)
{
	struct range_list list = {NULL, 0, 0, 0};
	uint64_t writable = 0;
	bool ok = true;
	for (size_t i = 0; i < map->count && ok; i++) {
		const struct ph_memory_region *r = &map->regions[i];
		if (!ph_memory_region_copyable(r))
			continue;
		writable += r->end - r->start;
		if (plan->policy == PH_POLICY_SPARSE && r->end - r->start > WHOLE_MAPPING)
			ok = sparse_mapping(&list, &plan->needed, r->start, r->end);
		else
			ok = append(&list, r->start, r->end);
	}
	if (!ok) {
		free(list.items);
		return &ph_error_out_of_memory;
	}
	*ranges = list.items;
	*count = list.count;
	*bytes = list.bytes;
	*skipped = writable - list.bytes;
	return NULL;
}

void ph_capture_plan_walk_stopped(struct ph_capture_plan *plan, const char *why)
{
	plan->policy = PH_POLICY_STOPPED;
	snprintf(plan->reason, sizeof(plan->reason), "%s", why);
}

void ph_capture_plan_missed(struct ph_capture_plan *plan, const struct ph_page_set *missed)
{
	plan->misses++;
	bool ok = true;
	for (size_t i = 0; i < missed->count && ok; i++) {
		uint64_t from = missed->pages[i] & ~(MISS_NEIGHBOURHOOD - 1);
		for (uint64_t page = from; page < from + MISS_NEIGHBOURHOOD && ok; page += PH_PAGE_SIZE)
			ok = ph_page_set_add(&plan->needed, page);
	}
	ph_page_set_normalize(&plan->needed);
	/* the heap moved since the running target was walked: walk it again
	 * before the next stop (what it finds adds to what is known) */
	plan->needed_known = false;
	if (!ok || plan->misses >= MAX_MISSES)
		ph_capture_plan_fall_back(plan, "the heap kept moving under the sparse copies");
}

void ph_capture_plan_fall_back(struct ph_capture_plan *plan, const char *why)
{
	/* Never to a whole copy: sparse was chosen because the heap is mostly
	 * payload, and copying it whole would make the pause grow with the
	 * payload. A walk while stopped reads only what the walk needs. */
	char reason[sizeof(plan->reason)];
	snprintf(reason, sizeof(reason), "%.120s; %.80s: walked while stopped",
		 plan->forced ? "forced sparse" : plan->reason, why);
	ph_capture_plan_walk_stopped(plan, reason);
}

void ph_capture_plan_free(struct ph_capture_plan *plan)
{
	ph_page_set_free(&plan->needed);
}
