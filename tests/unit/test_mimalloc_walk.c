/* The free-threaded walk over a synthetic address space: one thread with a
 * GC and a GC_PRE heap in a segment it owns, and an abandoned segment in
 * the pool. Every block, free or not, carries a header whose GC bits say
 * "tracked": only the free lists (free, local-free, thread-free, the
 * heap's delayed-free) tell the walk which ones are objects. Then the
 * states a stop can catch, and corrupt ones, each must be refused. */
#include <stdlib.h>
#include <string.h>

#include "../../src/debuginfo/mimalloc_layout.h"
#include "../../src/debuginfo/ref_layout.h"
#include "../../src/python/mimalloc_walk.h"
#include "pyheap/memory.h"
#include "unit.h"

#define META 0x10000000ull          /* runtime, interpreter, thread state */
#define OWNED 0x7f0002000000ull     /* 32 MiB-aligned segments */
#define ABANDONED 0x7f0004000000ull
#define SLICE 0x10000ull
#define META_SIZE 0x10000ull
#define SEGMENT_BYTES (4 * SLICE) /* header slice and three page slices */

#define RUNTIME META
#define INTERP (META + 0x1000)
#define TSTATE (META + 0x4000)

struct world {
	uint8_t meta[META_SIZE];
	uint8_t owned[SEGMENT_BYTES];
	uint8_t abandoned[SEGMENT_BYTES];
};

struct fake_reader {
	struct ph_memory_reader base;
	struct world *world;
};

static uint8_t *locate(struct world *w, uint64_t addr, size_t len)
{
	if (addr >= META && addr + len <= META + META_SIZE)
		return w->meta + (addr - META);
	if (addr >= OWNED && addr + len <= OWNED + SEGMENT_BYTES)
		return w->owned + (addr - OWNED);
	if (addr >= ABANDONED && addr + len <= ABANDONED + SEGMENT_BYTES)
		return w->abandoned + (addr - ABANDONED);
	return NULL;
}

static struct ph_error *fake_read(struct ph_memory_reader *reader, uint64_t addr, void *buf,
				  size_t len, size_t *done)
{
	struct fake_reader *fake = (struct fake_reader *)reader;
	uint8_t *at = locate(fake->world, addr, len);
	if (!at) {
		*done = 0;
		return ph_error_new(PH_EXIT_INCONSISTENT, "unmapped 0x%llx", (unsigned long long)addr);
	}
	memcpy(buf, at, len);
	*done = len;
	return NULL;
}

static void put64(struct world *w, uint64_t addr, uint64_t value)
{
	memcpy(locate(w, addr, 8), &value, 8);
}

static void put32(struct world *w, uint64_t addr, uint32_t value)
{
	memcpy(locate(w, addr, 4), &value, 4);
}

static void put16(struct world *w, uint64_t addr, uint16_t value)
{
	memcpy(locate(w, addr, 2), &value, 2);
}

static void put8(struct world *w, uint64_t addr, uint8_t value)
{
	*locate(w, addr, 1) = value;
}

static struct ph_mimalloc_layout mi = {
    .ob_tid = 0, .ob_gc_bits = 11, .ob_ref_local = 12, .ob_ref_shared = 16,
    .runtime_debug_enabled = PH_ABSENT,
    .interp_abandoned_pool = 0x100, .pool_abandoned = 0, .pool_abandoned_visited = 64,
    .tstate_mimalloc = 0x200, .mts_heaps = 8, .mts_initialized = 8 + 4 * 0x400,
    .heap_size = 0x400, .heap_count = 4, .heap_id_gc = 2, .heap_id_gc_pre = 3,
    .heap_pages = 8, .heap_queue_count = 4, .queue_size = 24, .queue_first = 0, .queue_last = 8,
    .heap_thread_delayed_free = 0x200, .heap_page_count = 0x208, .heap_tag = 0x210,
    .page_size = 96, .page_slice_count = 0, .page_slice_offset = 4, .page_tag = {8, 3, 4},
    .page_capacity = 10, .page_reserved = 12, .page_free = 16, .page_used = 24,
    .page_xblock_size = 28, .page_local_free = 32, .page_xthread_free = 40, .page_xheap = 48,
    .page_next = 56, .page_prev = 64, .page_keys = PH_ABSENT,
    .segment_slices = 264, .segment_slice_max = 513, .segment_slice_entries = 248,
    .segment_segment_slices = 224, .segment_kind = 240, .segment_thread_id = 256,
    .segment_abandoned = 192, .segment_used = 208, .segment_abandoned_next = 176,
    .arena_start = 32, .arena_block_count = 40, .arena_field_count = 48, .arena_blocks_inuse = 136,
};

static uint64_t heap_address(unsigned id)
{
	return TSTATE + mi.tstate_mimalloc + mi.mts_heaps + id * mi.heap_size;
}

static uint64_t slice_address(uint64_t segment, unsigned index)
{
	return segment + mi.segment_slices + index * mi.page_size;
}

/* Blocks of a page at slice index of segment, as mimalloc places them. */
static uint64_t block_address(uint64_t segment, unsigned index, uint32_t block_size, unsigned i)
{
	uint64_t start_offset = block_size <= 64 ? 3 * block_size : block_size <= 512 ? block_size : 0;
	return segment + index * SLICE + start_offset + (uint64_t)i * block_size;
}

static void page(struct world *w, uint64_t segment, unsigned index, unsigned tag, uint32_t block_size,
		 uint16_t capacity, uint32_t used, uint64_t heap)
{
	uint64_t p = slice_address(segment, index);
	put32(w, p + mi.page_slice_count, 1);
	put32(w, p + mi.page_slice_offset, 0);
	put8(w, p + mi.page_tag.byte, (uint8_t)(tag << mi.page_tag.bit));
	put16(w, p + mi.page_capacity, capacity);
	put32(w, p + mi.page_used, used);
	put32(w, p + mi.page_xblock_size, block_size);
	put64(w, p + mi.page_xheap, heap);
	/* every block looks like a tracked object, free or not */
	uint64_t object_offset = tag == mi.heap_id_gc_pre ? 16 : 0;
	for (unsigned i = 0; i < capacity; i++)
		put8(w, block_address(segment, index, block_size, i) + object_offset + mi.ob_gc_bits, 0x01);
}

static void segment_header(struct world *w, uint64_t segment, uint64_t thread_id, uint64_t entries)
{
	put64(w, segment + mi.segment_slice_entries, entries);
	put64(w, segment + mi.segment_segment_slices, 512);
	put64(w, segment + mi.segment_thread_id, thread_id);
	/* slices[0]: the segment's own info; the rest free spans unless set */
	for (unsigned i = 0; i < entries; i++)
		put32(w, slice_address(segment, i) + mi.page_slice_count, 1);
	put32(w, slice_address(segment, 0) + mi.page_xblock_size, 1);
}

static void queue(struct world *w, unsigned heap_id, unsigned bin, uint64_t first, uint64_t last)
{
	uint64_t q = heap_address(heap_id) + mi.heap_pages + bin * mi.queue_size;
	put64(w, q + mi.queue_first, first);
	put64(w, q + mi.queue_last, last);
}

/* Owned segment: P1 (GC heap, 64-byte blocks, capacity 10) with free
 * 1 -> 3, local-free 5, thread-free 7, delayed-free 9 on the heap's list;
 * block 4 untracked, 6 frozen. P2 (GC_PRE heap, 128-byte blocks, 4 used),
 * block 3 unreachable. Abandoned segment: P3 (GC, capacity 3), block 1 on
 * its thread-free list. Objects: P1 0 2 8, P2 0 1 2, P3 0 2. */
static void build(struct world *w)
{
	memset(w, 0, sizeof(*w));
	put64(w, RUNTIME, INTERP);
	put64(w, INTERP + 0x30, TSTATE); /* threads.head */
	put32(w, TSTATE + mi.tstate_mimalloc + mi.mts_initialized, 1);

	segment_header(w, OWNED, 0x1234, 4);
	uint64_t gc = heap_address(2), pre = heap_address(3);
	page(w, OWNED, 1, 2, 64, 10, 7, gc);
	page(w, OWNED, 2, 3, 128, 4, 4, pre);
	uint64_t p1 = slice_address(OWNED, 1);
	put64(w, p1 + mi.page_free, block_address(OWNED, 1, 64, 1));
	put64(w, block_address(OWNED, 1, 64, 1), block_address(OWNED, 1, 64, 3));
	put64(w, p1 + mi.page_local_free, block_address(OWNED, 1, 64, 5));
	put64(w, p1 + mi.page_xthread_free, block_address(OWNED, 1, 64, 7) | 2);
	put64(w, gc + mi.heap_thread_delayed_free, block_address(OWNED, 1, 64, 9));
	put8(w, block_address(OWNED, 1, 64, 4) + mi.ob_gc_bits, 0x00);
	put8(w, block_address(OWNED, 1, 64, 6) + mi.ob_gc_bits, 0x09);
	put8(w, block_address(OWNED, 2, 128, 3) + 16 + mi.ob_gc_bits, 0x05);
	queue(w, 2, 1, p1, p1);
	put64(w, gc + mi.heap_page_count, 1);
	uint64_t p2 = slice_address(OWNED, 2);
	queue(w, 3, 2, p2, p2);
	put64(w, pre + mi.heap_page_count, 1);

	segment_header(w, ABANDONED, 0, 3);
	page(w, ABANDONED, 1, 2, 64, 3, 3, 0);
	put64(w, slice_address(ABANDONED, 1) + mi.page_xthread_free, block_address(ABANDONED, 1, 64, 1) | 3);
	put64(w, INTERP + mi.interp_abandoned_pool + mi.pool_abandoned, ABANDONED | 5); /* ABA tag */
}

struct seen {
	uint64_t objects[64];
	unsigned count[8];
	unsigned total;
};

static bool visit(void *ctx, uint64_t object, unsigned list)
{
	struct seen *s = ctx;
	if (s->total < 64)
		s->objects[s->total] = object;
	s->total++;
	s->count[list]++;
	return true;
}

static bool found(const struct seen *s, uint64_t object)
{
	for (unsigned i = 0; i < s->total && i < 64; i++)
		if (s->objects[i] == object)
			return true;
	return false;
}

struct fixture {
	struct world world;
	struct fake_reader reader;
	struct ph_memory_map map;
	struct ph_layout layout;
	struct ph_ref_layout refs;
	struct ph_image image;
	struct ph_target t;
};

static enum ph_walk_status walk(struct fixture *f, bool tolerant, struct seen *s,
				struct ph_walk_report *report)
{
	struct ph_block_cache *cache;
	memset(s, 0, sizeof(*s));
	struct ph_error *err = ph_block_cache_new(&f->reader.base, &f->map, 4096, &cache);
	if (err) {
		ph_error_free(err);
		return PH_WALK_STOPPED;
	}
	f->t.memory = cache;
	enum ph_walk_status status = ph_mimalloc_walk(&f->t, 1000, tolerant, visit, s, report);
	ph_block_cache_free(cache);
	return status;
}

static void setup(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	build(&f->world);
	f->reader = (struct fake_reader){{fake_read, NULL, NULL, 0}, &f->world};
	struct ph_error *err = ph_memory_map_parse("10000000-10010000 rw-p 00000000 00:00 0\n"
						   "7f0002000000-7f0002040000 rw-p 00000000 00:00 0\n"
						   "7f0004000000-7f0004040000 rw-p 00000000 00:00 0\n",
						   &f->map);
	if (err) {
		ph_error_free(err);
		abort();
	}
	f->refs.interp_threads_head = 0x30;
	f->refs.tstate_next = 0;
	f->layout.runtime_interpreters_head = 0;
	f->layout.interp_next = 0x10;
	f->layout.interp_gc = 0x20;
	f->layout.gc_collecting = 8;
	f->layout.refs = &f->refs;
	f->layout.mimalloc = &mi;
	f->layout.pointer_size = 8;
	f->t.layout = &f->layout;
	/* no mi_arenas symbol: no arena table to check */
	static struct ph_symbol unrelated = {"unrelated", 0x1000, 8};
	f->image.symbols = &unrelated;
	f->image.symbol_count = 1;
	f->t.image = &f->image;
	f->t.runtime = RUNTIME;
	f->t.version_minor = 14;
	f->t.version_micro = 7;
}

static enum ph_walk_status walk_changed(void (*change)(struct world *), struct ph_walk_report *report)
{
	static struct fixture f;
	struct seen s;
	setup(&f);
	change(&f.world);
	enum ph_walk_status status = walk(&f, false, &s, report);
	ph_memory_map_free(&f.map);
	return status;
}

static void used_off_by_one(struct world *w)
{
	put32(w, slice_address(OWNED, 1) + mi.page_used, 8);
}

static void free_list_loops(struct world *w)
{
	put64(w, block_address(OWNED, 1, 64, 3), block_address(OWNED, 1, 64, 1));
}

static void free_list_off_grid(struct world *w)
{
	put64(w, block_address(OWNED, 1, 64, 1), block_address(OWNED, 1, 64, 3) + 8);
}

static void collecting(struct world *w)
{
	put32(w, INTERP + 0x20 + 8, 1);
}

static void segment_half_abandoned(struct world *w)
{
	put64(w, OWNED + mi.segment_abandoned, 1);
}

static void page_in_no_queue(struct world *w)
{
	/* a page with objects that a thread is moving: in no heap's queue */
	page(w, OWNED, 3, 2, 64, 2, 2, 0);
}

static void delayed_block_elsewhere(struct world *w)
{
	put64(w, heap_address(2) + mi.heap_thread_delayed_free, block_address(OWNED, 2, 128, 1));
}

static void pool_loops(struct world *w)
{
	put64(w, ABANDONED + mi.segment_abandoned_next, ABANDONED);
}

static void bad_back_link(struct world *w)
{
	put64(w, slice_address(OWNED, 1) + mi.page_prev, slice_address(OWNED, 2));
}

static void pool_segment_owned(struct world *w)
{
	put64(w, ABANDONED + mi.segment_thread_id, 0x99);
}

static void heap_count_wrong(struct world *w)
{
	put64(w, heap_address(2) + mi.heap_page_count, 2);
}

static void thread_list_loops(struct world *w)
{
	put64(w, TSTATE, TSTATE); /* tstate->next */
}

int main(void)
{
	static struct fixture f;
	struct seen s;
	struct ph_walk_report report;
	setup(&f);
	enum ph_walk_status status = walk(&f, false, &s, &report);
	CHECK(status == PH_WALK_OK, "status %d: %s", status, report.problem);
	CHECK(s.total == 8, "8 objects, got %u", s.total);
	CHECK(s.count[0] == 3 && s.count[1] == 3 && s.count[2] == 2 && s.count[3] == 0,
	      "per source %u %u %u %u", s.count[0], s.count[1], s.count[2], s.count[3]);
	unsigned expected_p1[] = {0, 2, 8}, expected_p2[] = {0, 1, 2}, expected_p3[] = {0, 2};
	for (unsigned i = 0; i < 3; i++)
		CHECK(found(&s, block_address(OWNED, 1, 64, expected_p1[i])), "P1 block %u", expected_p1[i]);
	for (unsigned i = 0; i < 3; i++)
		CHECK(found(&s, block_address(OWNED, 2, 128, expected_p2[i]) + 16), "P2 block %u",
		      expected_p2[i]);
	for (unsigned i = 0; i < 2; i++)
		CHECK(found(&s, block_address(ABANDONED, 1, 64, expected_p3[i])), "P3 block %u",
		      expected_p3[i]);
	CHECK(!found(&s, block_address(OWNED, 1, 64, 7)), "a thread-free block is no object");
	CHECK(!found(&s, block_address(OWNED, 1, 64, 9)), "a delayed-free block is no object");
	CHECK(report.objects == 8 && report.interpreters == 1, "report: %llu objects, %u interpreters",
	      (unsigned long long)report.objects, report.interpreters);
	CHECK(report.mimalloc.pages == 3 && report.mimalloc.abandoned_segments == 1 &&
		  report.mimalloc.free_blocks == 2 && report.mimalloc.local_free_blocks == 1 &&
		  report.mimalloc.thread_free_blocks == 2 && report.mimalloc.delayed_free_blocks == 1,
	      "statistics: %llu pages, %llu segments, free %llu local %llu thread %llu delayed %llu",
	      (unsigned long long)report.mimalloc.pages,
	      (unsigned long long)report.mimalloc.abandoned_segments,
	      (unsigned long long)report.mimalloc.free_blocks,
	      (unsigned long long)report.mimalloc.local_free_blocks,
	      (unsigned long long)report.mimalloc.thread_free_blocks,
	      (unsigned long long)report.mimalloc.delayed_free_blocks);

	/* 3.13.0's gc.get_objects() kept frozen and unreachable objects */
	f.t.version_minor = 13;
	f.t.version_micro = 0;
	status = walk(&f, false, &s, &report);
	CHECK(status == PH_WALK_OK && s.total == 10, "3.13.0: %u objects", s.total);
	ph_memory_map_free(&f.map);

	static const struct {
		const char *what;
		void (*change)(struct world *);
		enum ph_walk_status expected;
	} cases[] = {
	    {"used + free + local-free != capacity", used_off_by_one, PH_WALK_INCONSISTENT},
	    {"a free list that loops", free_list_loops, PH_WALK_INCONSISTENT},
	    {"a free block off the block grid", free_list_off_grid, PH_WALK_INCONSISTENT},
	    {"a collection running", collecting, PH_WALK_COLLECTING},
	    {"a segment with abandoned pages in a heap", segment_half_abandoned, PH_WALK_INCONSISTENT},
	    {"a page with objects in no queue", page_in_no_queue, PH_WALK_INCONSISTENT},
	    {"a delayed-free block in none of the heap's pages", delayed_block_elsewhere,
	     PH_WALK_INCONSISTENT},
	    {"a pool list that loops", pool_loops, PH_WALK_INCONSISTENT},
	    {"a page whose back link is wrong", bad_back_link, PH_WALK_INCONSISTENT},
	    {"a pool segment a thread owns", pool_segment_owned, PH_WALK_INCONSISTENT},
	    {"a heap whose page count is wrong", heap_count_wrong, PH_WALK_INCONSISTENT},
	    {"a thread list that loops", thread_list_loops, PH_WALK_INCONSISTENT},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		status = walk_changed(cases[i].change, &report);
		CHECK(status == cases[i].expected, "%s: status %d (%s)", cases[i].what, status,
		      report.problem);
	}

	/* a tolerant walk keeps the heaps it could read */
	setup(&f);
	free_list_loops(&f.world);
	status = walk(&f, true, &s, &report);
	CHECK(status == PH_WALK_INCONSISTENT && report.broken_lists == 1 && s.count[1] == 3 &&
		  s.count[2] == 2,
	      "tolerant: status %d, %u broken, %u + %u objects kept", status, report.broken_lists,
	      s.count[1], s.count[2]);
	ph_memory_map_free(&f.map);
	return unit_finish("unit-mimalloc-walk");
}
