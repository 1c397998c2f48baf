#include "mimalloc_walk.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../debuginfo/mimalloc_layout.h"
#include "../debuginfo/ref_layout.h"
#include "mimalloc_segments.h"

#define MI_SLICE_SHIFT PH_MI_SLICE_SHIFT
#define MI_HUGE_BLOCK_SIZE PH_MI_HUGE_BLOCK_SIZE
/* The thread-free list keeps mi_delayed_t flags in its low two bits. */
#define MI_THREAD_FREE_FLAGS 3ull

/* ob_gc_bits (Include/internal/pycore_gc.h, 3.13 and 3.14) */
#define GC_BIT_TRACKED 0x01
#define GC_BIT_UNREACHABLE 0x04
#define GC_BIT_FROZEN 0x08

#define MAX_INTERPRETERS 4096
#define MAX_THREADS (1u << 20)
#define MAX_SEGMENTS (1u << 20)
#define MAX_PAGE_BYTES 256

enum source { HEAP_GC, HEAP_GC_PRE, ABANDONED_GC, ABANDONED_GC_PRE };

struct walk {
	const struct ph_target *t;
	const struct ph_mimalloc_layout *m;
	uint64_t slice_size, segment_size, segment_mask;
	uint64_t budget;
	bool tolerant;
	ph_gc_visit_fn visit;
	void *ctx;
	struct ph_walk_report *report;
	uint8_t skip_bits;     /* objects with these gc bits are not in gc.get_objects() */
	uint64_t offset_base;  /* bytes in front of an object without a pre-header */
	bool out_of_memory;
	bool any_broken; /* a tolerant walk skipped something */

	/* the current heap's delayed-free blocks, sorted */
	uint64_t *delayed;
	size_t delayed_count, delayed_capacity, delayed_matched;
	/* one bit per block of the current page: free */
	uint64_t *free_map;
	size_t free_map_words;
	/* segments walked through the abandoned pool: a loop in its lists */
	uint64_t *pool_segments;
	size_t pool_segment_count, pool_segment_capacity;
	/* every page visited: no page with objects may be left out */
	struct ph_mi_seen seen;
};

static enum ph_walk_status problem(struct walk *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static enum ph_walk_status problem(struct walk *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->report->problem, sizeof(w->report->problem), fmt, ap);
	va_end(ap);
	return PH_WALK_INCONSISTENT;
}

static uint64_t field_u64(const uint8_t *buf, uint64_t offset)
{
	uint64_t v;
	memcpy(&v, buf + offset, sizeof(v));
	return v;
}

static uint32_t field_u32(const uint8_t *buf, uint64_t offset)
{
	uint32_t v;
	memcpy(&v, buf + offset, sizeof(v));
	return v;
}

static uint16_t field_u16(const uint8_t *buf, uint64_t offset)
{
	uint16_t v;
	memcpy(&v, buf + offset, sizeof(v));
	return v;
}

static unsigned field_bits(const uint8_t *buf, const struct ph_bitfield *f)
{
	unsigned word = buf[f->byte] | (unsigned)buf[f->byte + 1] << 8;
	return (word >> f->bit) & ((1u << f->width) - 1);
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Brent's cycle detection for a singly linked list read from the target:
 * feed it each node; true once a node comes round again. Constant memory,
 * and a loop is found within a few times its length. */
struct loop_check {
	uint64_t saved, steps, limit;
};

static bool loops(struct loop_check *c, uint64_t node)
{
	if (c->limit == 0) {
		c->limit = 2;
		c->saved = node;
		return false;
	}
	if (node == c->saved)
		return true;
	if (++c->steps == c->limit) {
		c->limit *= 2;
		c->steps = 0;
		c->saved = node;
	}
	return false;
}

/* A page, as read from the target and checked against its segment. */
struct page {
	uint64_t address, segment;
	uint8_t raw[MAX_PAGE_BYTES];
	uint64_t start;     /* first block */
	uint64_t block_size;
	uint32_t capacity, used;
	unsigned tag;
};

static uint64_t block_start_offset(uint64_t xblock_size)
{
	/* _mi_segment_page_start_from_slice: small blocks start a few blocks
	 * into the page, to spread pages over cache sets */
	if (xblock_size >= 8 && xblock_size <= 64)
		return 3 * xblock_size;
	if (xblock_size > 64 && xblock_size <= 512)
		return xblock_size;
	return 0;
}

/* Reads the page at address and places its blocks; inconsistent unless it
 * is a used page of a segment laid out as mimalloc lays them out. */
static enum ph_walk_status read_page(struct walk *w, uint64_t address, struct page *p)
{
	const struct ph_mimalloc_layout *m = w->m;
	p->address = address;
	if (address < w->segment_size || (address & 7) ||
	    !ph_read(w->t, address, p->raw, m->page_size))
		return problem(w, "mimalloc page 0x%llx is unreadable", (unsigned long long)address);
	p->segment = (address - 1) & ~w->segment_mask;
	uint64_t slices = p->segment + m->segment_slices;
	uint64_t entries, segment_slices;
	if (address < slices || (address - slices) % m->page_size != 0 ||
	    !ph_read_u64(w->t, p->segment + m->segment_slice_entries, &entries) ||
	    !ph_read_u64(w->t, p->segment + m->segment_segment_slices, &segment_slices))
		return problem(w, "mimalloc page 0x%llx is not a slice of segment 0x%llx",
			       (unsigned long long)address, (unsigned long long)p->segment);
	uint64_t index = (address - slices) / m->page_size;
	uint32_t slice_count = field_u32(p->raw, m->page_slice_count);
	uint32_t slice_offset = field_u32(p->raw, m->page_slice_offset);
	uint32_t xblock_size = field_u32(p->raw, m->page_xblock_size);
	if (entries > m->segment_slice_max || index >= entries || slice_count == 0 ||
	    slice_offset != 0 || xblock_size == 0 || segment_slices > (1ull << 32) ||
	    index + slice_count > segment_slices)
		return problem(w,
			       "mimalloc page 0x%llx (slice %llu of %llu, %u slices) is not a used "
			       "page",
			       (unsigned long long)address, (unsigned long long)index,
			       (unsigned long long)entries, slice_count);
	uint64_t offset = block_start_offset(xblock_size);
	uint64_t page_bytes = (uint64_t)slice_count << MI_SLICE_SHIFT;
	p->start = p->segment + (index << MI_SLICE_SHIFT) + offset;
	p->block_size = xblock_size < MI_HUGE_BLOCK_SIZE ? xblock_size : page_bytes - offset;
	p->capacity = field_u16(p->raw, m->page_capacity);
	p->used = field_u32(p->raw, m->page_used);
	p->tag = field_bits(p->raw, &m->page_tag);
	if ((uint64_t)p->capacity * p->block_size > page_bytes - offset)
		return problem(w, "mimalloc page 0x%llx: %u blocks of %llu bytes overflow it",
			       (unsigned long long)address, p->capacity,
			       (unsigned long long)p->block_size);
	return PH_WALK_OK;
}

/* Marks the blocks of one free list in the free map; counts them. A block
 * outside the page, off the block grid, or met twice (a loop) means the
 * list is being changed, or corrupt. */
static enum ph_walk_status mark_list(struct walk *w, const struct page *p, uint64_t head,
				     const char *list, uint32_t *count)
{
	uint64_t end = p->start + (uint64_t)p->capacity * p->block_size;
	uint64_t block = head;
	*count = 0;
	while (block) {
		if (block < p->start || block >= end || (block - p->start) % p->block_size != 0)
			return problem(w, "mimalloc page 0x%llx: %s block 0x%llx is not one of its "
					  "blocks",
				       (unsigned long long)p->address, list,
				       (unsigned long long)block);
		uint64_t i = (block - p->start) / p->block_size;
		if (w->free_map[i / 64] & (1ull << (i % 64)))
			return problem(w, "mimalloc page 0x%llx: block 0x%llx is on its free lists "
					  "twice (%s)",
				       (unsigned long long)p->address, (unsigned long long)block,
				       list);
		w->free_map[i / 64] |= 1ull << (i % 64);
		(*count)++;
		if (!ph_read_u64(w->t, block, &block))
			return problem(w, "mimalloc page 0x%llx: %s block unreadable",
				       (unsigned long long)p->address, list);
	}
	return PH_WALK_OK;
}

/* Visits the objects of one page: its blocks minus every free one. */
static enum ph_walk_status walk_page(struct walk *w, const struct page *p, uint64_t object_offset,
				     enum source source)
{
	const struct ph_mimalloc_layout *m = w->m;
	if (p->capacity == 0)
		return PH_WALK_OK;
	if (object_offset + m->ob_gc_bits >= p->block_size)
		return problem(w, "mimalloc page 0x%llx: blocks of %llu bytes cannot hold objects",
			       (unsigned long long)p->address, (unsigned long long)p->block_size);
	size_t words = (p->capacity + 63) / 64;
	if (words > w->free_map_words) {
		uint64_t *grown = realloc(w->free_map, words * sizeof(*grown));
		if (!grown) {
			w->out_of_memory = true;
			return PH_WALK_STOPPED;
		}
		w->free_map = grown;
		w->free_map_words = words;
	}
	memset(w->free_map, 0, words * sizeof(*w->free_map));
	uint32_t free_count, local_count, thread_count;
	enum ph_walk_status status;
	if ((status = mark_list(w, p, field_u64(p->raw, m->page_free), "free", &free_count)) ||
	    (status = mark_list(w, p, field_u64(p->raw, m->page_local_free), "local-free",
				&local_count)) ||
	    (status = mark_list(w, p,
				field_u64(p->raw, m->page_xthread_free) & ~MI_THREAD_FREE_FLAGS,
				"thread-free", &thread_count)))
		return status;
	/* `used` counts live blocks and those freed by other threads that the
	 * owner has not collected yet (thread-free and delayed-free ones). */
	if ((uint64_t)p->used + free_count + local_count != p->capacity)
		return problem(w,
			       "mimalloc page 0x%llx: %u used + %u free + %u local-free blocks, "
			       "capacity %u (a thread is inside the allocator)",
			       (unsigned long long)p->address, p->used, free_count, local_count,
			       p->capacity);
	struct ph_mimalloc_stats *stats = &w->report->mimalloc;
	stats->pages++;
	stats->free_blocks += free_count;
	stats->local_free_blocks += local_count;
	stats->thread_free_blocks += thread_count;
	/* this heap's delayed frees that fall in this page */
	uint64_t end = p->start + (uint64_t)p->capacity * p->block_size;
	size_t lo = 0, hi = w->delayed_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->delayed[mid] < p->start)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t k = lo; k < w->delayed_count && w->delayed[k] < end; k++) {
		uint64_t block = w->delayed[k];
		if ((block - p->start) % p->block_size != 0)
			return problem(w, "delayed-free block 0x%llx is not a block of page 0x%llx",
				       (unsigned long long)block, (unsigned long long)p->address);
		uint64_t i = (block - p->start) / p->block_size;
		if (w->free_map[i / 64] & (1ull << (i % 64)))
			return problem(w, "block 0x%llx is on a free list and delayed-free",
				       (unsigned long long)block);
		w->free_map[i / 64] |= 1ull << (i % 64);
		w->delayed_matched++;
		stats->delayed_free_blocks++;
	}
	for (uint64_t i = 0; i < p->capacity; i++) {
		if (w->free_map[i / 64] & (1ull << (i % 64)))
			continue;
		uint64_t object = p->start + i * p->block_size + object_offset;
		uint8_t bits;
		if (!ph_read_u8(w->t, object + m->ob_gc_bits, &bits))
			return problem(w, "object 0x%llx in mimalloc page 0x%llx is unreadable",
				       (unsigned long long)object, (unsigned long long)p->address);
		if (!(bits & GC_BIT_TRACKED) || (bits & w->skip_bits))
			continue;
		if (w->budget == 0)
			return problem(w, "more objects in mimalloc pages than the target's memory "
					  "can hold");
		w->budget--;
		w->report->objects++;
		w->report->per_list[source]++;
		if (!w->visit(w->ctx, object, source))
			return PH_WALK_STOPPED;
	}
	return PH_WALK_OK;
}

/* The blocks other threads freed into this heap's pages while those were
 * full (heap->thread_delayed_free): free, though `used` still counts them. */
static enum ph_walk_status load_delayed(struct walk *w, uint64_t heap)
{
	uint64_t block;
	w->delayed_count = w->delayed_matched = 0;
	if (!ph_read_u64(w->t, heap + w->m->heap_thread_delayed_free, &block))
		return problem(w, "mimalloc heap 0x%llx is unreadable", (unsigned long long)heap);
	struct loop_check loop = {0, 0, 0};
	while (block) {
		if ((block & 7) || w->delayed_count >= w->budget || loops(&loop, block))
			return problem(w, "mimalloc heap 0x%llx: bad delayed-free list at 0x%llx",
				       (unsigned long long)heap, (unsigned long long)block);
		if (w->delayed_count == w->delayed_capacity) {
			size_t capacity = w->delayed_capacity ? w->delayed_capacity * 2 : 256;
			uint64_t *grown = realloc(w->delayed, capacity * sizeof(*grown));
			if (!grown) {
				w->out_of_memory = true;
				return PH_WALK_STOPPED;
			}
			w->delayed = grown;
			w->delayed_capacity = capacity;
		}
		w->delayed[w->delayed_count++] = block;
		if (!ph_read_u64(w->t, block, &block))
			return problem(w, "mimalloc heap 0x%llx: delayed-free block unreadable",
				       (unsigned long long)heap);
	}
	if (w->delayed_count > 1) /* qsort takes no NULL, even for nothing */
		qsort(w->delayed, w->delayed_count, sizeof(*w->delayed), compare_u64);
	return PH_WALK_OK;
}

/* A page a live thread owns: its segment belongs to a thread and none of
 * its pages are abandoned, or that thread is exiting (moving its pages to
 * the pool) or reclaiming the segment, and some pages are in neither. */
static enum ph_walk_status check_owned_segment(struct walk *w, const struct page *p)
{
	uint64_t thread_id, abandoned;
	if (!ph_read_u64(w->t, p->segment + w->m->segment_thread_id, &thread_id) ||
	    !ph_read_u64(w->t, p->segment + w->m->segment_abandoned, &abandoned))
		return problem(w, "mimalloc segment 0x%llx is unreadable",
			       (unsigned long long)p->segment);
	if (thread_id == 0 || abandoned != 0)
		return problem(w,
			       "mimalloc segment 0x%llx is changing hands (owner 0x%llx, %llu pages "
			       "abandoned)",
			       (unsigned long long)p->segment, (unsigned long long)thread_id,
			       (unsigned long long)abandoned);
	return PH_WALK_OK;
}

static enum ph_walk_status walk_heap(struct walk *w, uint64_t heap, uint64_t object_offset,
				     enum source source)
{
	const struct ph_mimalloc_layout *m = w->m;
	uint64_t page_count;
	if (!ph_read_u64(w->t, heap + m->heap_page_count, &page_count))
		return problem(w, "mimalloc heap 0x%llx is unreadable", (unsigned long long)heap);
	enum ph_walk_status status = load_delayed(w, heap);
	if (status)
		return status;
	uint64_t seen = 0;
	struct page p;
	for (uint64_t q = 0; q < m->heap_queue_count; q++) {
		uint64_t queue = heap + m->heap_pages + q * m->queue_size;
		uint64_t page, last, prev = 0;
		if (!ph_read_u64(w->t, queue + m->queue_first, &page) ||
		    !ph_read_u64(w->t, queue + m->queue_last, &last))
			return problem(w, "mimalloc heap 0x%llx: page queue %llu unreadable",
				       (unsigned long long)heap, (unsigned long long)q);
		while (page) {
			if (++seen > page_count)
				return problem(w, "mimalloc heap 0x%llx: more pages in its queues than "
						  "its count %llu",
					       (unsigned long long)heap, (unsigned long long)page_count);
			if ((status = read_page(w, page, &p)))
				return status;
			if (field_u64(p.raw, m->page_prev) != prev ||
			    field_u64(p.raw, m->page_xheap) != heap)
				return problem(w, "mimalloc heap 0x%llx: page 0x%llx links back to "
						  "0x%llx (expected 0x%llx), heap 0x%llx",
					       (unsigned long long)heap, (unsigned long long)page,
					       (unsigned long long)field_u64(p.raw, m->page_prev),
					       (unsigned long long)prev,
					       (unsigned long long)field_u64(p.raw, m->page_xheap));
			if (!ph_mi_seen_add(&w->seen, page, p.segment)) {
				w->out_of_memory = true;
				return PH_WALK_STOPPED;
			}
			if ((status = check_owned_segment(w, &p)) ||
			    (status = walk_page(w, &p, object_offset, source)))
				return status;
			prev = page;
			page = field_u64(p.raw, m->page_next);
		}
		if (last != prev)
			return problem(w, "mimalloc heap 0x%llx: queue %llu ends at 0x%llx, its last "
					  "is 0x%llx",
				       (unsigned long long)heap, (unsigned long long)q,
				       (unsigned long long)prev, (unsigned long long)last);
	}
	if (seen != page_count)
		return problem(w, "mimalloc heap 0x%llx: %llu pages in its queues, count %llu",
			       (unsigned long long)heap, (unsigned long long)seen,
			       (unsigned long long)page_count);
	if (w->delayed_matched != w->delayed_count)
		return problem(w, "mimalloc heap 0x%llx: %zu of %zu delayed-free blocks are in "
				  "none of its pages",
			       (unsigned long long)heap, w->delayed_count - w->delayed_matched,
			       w->delayed_count);
	return PH_WALK_OK;
}

/* One abandoned segment: its used pages tagged as GC heaps. */
static enum ph_walk_status walk_abandoned_segment(struct walk *w, uint64_t segment)
{
	const struct ph_mimalloc_layout *m = w->m;
	if (w->pool_segment_count == w->pool_segment_capacity) {
		size_t capacity = w->pool_segment_capacity ? w->pool_segment_capacity * 2 : 64;
		uint64_t *grown = realloc(w->pool_segments, capacity * sizeof(*grown));
		if (!grown) {
			w->out_of_memory = true;
			return PH_WALK_STOPPED;
		}
		w->pool_segments = grown;
		w->pool_segment_capacity = capacity;
	}
	w->pool_segments[w->pool_segment_count++] = segment;
	w->report->mimalloc.abandoned_segments++;
	uint64_t entries, thread_id;
	if (!ph_read_u64(w->t, segment + m->segment_slice_entries, &entries) ||
	    !ph_read_u64(w->t, segment + m->segment_thread_id, &thread_id) ||
	    entries > m->segment_slice_max)
		return problem(w, "abandoned segment 0x%llx is unreadable",
			       (unsigned long long)segment);
	if (thread_id != 0)
		return problem(w, "abandoned segment 0x%llx is being reclaimed by 0x%llx",
			       (unsigned long long)segment, (unsigned long long)thread_id);
	uint64_t slices = segment + m->segment_slices;
	uint32_t first_count;
	if (!ph_read_u32(w->t, slices + m->page_slice_count, &first_count) || first_count == 0)
		return problem(w, "abandoned segment 0x%llx has no info slice",
			       (unsigned long long)segment);
	/* slices[0] is the segment's own metadata (mi_slices_start_iterate) */
	struct page p;
	enum ph_walk_status status;
	for (uint64_t index = first_count; index < entries;) {
		uint64_t slice = slices + index * m->page_size;
		struct ph_mi_slice info;
		if (!ph_mi_slice_read(w->t, slice, &info) || info.slice_count == 0)
			return problem(w, "abandoned segment 0x%llx: slice %llu is not a span",
				       (unsigned long long)segment, (unsigned long long)index);
		if (info.xblock_size > 0 &&
		    (info.tag == m->heap_id_gc || info.tag == m->heap_id_gc_pre)) {
			if ((status = read_page(w, slice, &p)))
				return status;
			if (field_u64(p.raw, m->page_xheap) != 0)
				return problem(w, "abandoned page 0x%llx still names heap 0x%llx",
					       (unsigned long long)slice,
					       (unsigned long long)field_u64(p.raw, m->page_xheap));
			if (!ph_mi_seen_add(&w->seen, slice, segment)) {
				w->out_of_memory = true;
				return PH_WALK_STOPPED;
			}
			bool pre = info.tag == m->heap_id_gc_pre;
			w->delayed_count = 0; /* an abandoned page takes no delayed frees */
			status = walk_page(w, &p, w->offset_base + (pre ? 16 : 0),
					   pre ? ABANDONED_GC_PRE : ABANDONED_GC);
			if (status)
				return status;
		}
		index += info.slice_count;
	}
	return PH_WALK_OK;
}

static enum ph_walk_status walk_segment_list(struct walk *w, uint64_t segment, const char *list)
{
	struct loop_check loop = {0, 0, 0};
	for (uint64_t n = 0; segment; n++) {
		if ((segment & w->segment_mask) || n > MAX_SEGMENTS || loops(&loop, segment))
			return problem(w, "abandoned pool (%s): bad segment link 0x%llx", list,
				       (unsigned long long)segment);
		enum ph_walk_status status = walk_abandoned_segment(w, segment);
		if (status)
			return status;
		if (!ph_read_u64(w->t, segment + w->m->segment_abandoned_next, &segment))
			return problem(w, "abandoned segment unreadable");
	}
	return PH_WALK_OK;
}

/* A tolerant walk (the last attempt) keeps what it could read: a heap or
 * pool list that fails is counted as broken and the walk goes on. */
static enum ph_walk_status tolerate(struct walk *w, enum ph_walk_status status)
{
	if (status == PH_WALK_OK || status == PH_WALK_STOPPED || !w->tolerant)
		return status;
	w->report->broken_lists++;
	w->any_broken = true;
	return PH_WALK_OK;
}

static enum ph_walk_status walk_interpreter(struct walk *w, uint64_t interp)
{
	const struct ph_target *t = w->t;
	const struct ph_layout *l = t->layout;
	const struct ph_mimalloc_layout *m = w->m;
	enum ph_walk_status status;
	if (l->gc_collecting != PH_ABSENT) {
		uint32_t collecting;
		uint64_t flag = interp + l->interp_gc + l->gc_collecting;
		if (!ph_read_u32(t, flag, &collecting))
			return problem(w, "GC state at 0x%llx is unreadable", (unsigned long long)flag);
		/* a collection reuses ob_tid and sets UNREACHABLE bits */
		if (collecting && !w->tolerant) {
			w->report->collecting_flag = flag;
			return PH_WALK_COLLECTING;
		}
	}
	uint64_t tstate;
	if (!ph_read_u64(t, interp + l->refs->interp_threads_head, &tstate))
		return problem(w, "interpreter 0x%llx: thread list unreadable",
			       (unsigned long long)interp);
	struct loop_check loop = {0, 0, 0};
	for (unsigned n = 0; tstate; n++) {
		if (n >= MAX_THREADS || (tstate & 7) || loops(&loop, tstate))
			return problem(w, "interpreter 0x%llx: bad thread state link 0x%llx",
				       (unsigned long long)interp, (unsigned long long)tstate);
		uint64_t mts = tstate + m->tstate_mimalloc;
		int32_t initialized;
		if (!ph_read(t, mts + m->mts_initialized, &initialized, sizeof(initialized)))
			return problem(w, "thread state 0x%llx is unreadable",
				       (unsigned long long)tstate);
		if (initialized) {
			uint64_t heaps = mts + m->mts_heaps;
			uint64_t gc = heaps + m->heap_id_gc * m->heap_size;
			uint64_t gc_pre = heaps + m->heap_id_gc_pre * m->heap_size;
			if ((status = tolerate(w, walk_heap(w, gc, w->offset_base, HEAP_GC))) ||
			    (status = tolerate(w, walk_heap(w, gc_pre, w->offset_base + 16,
							    HEAP_GC_PRE))))
				return status;
		}
		if (!ph_read_u64(t, tstate + l->refs->tstate_next, &tstate))
			return problem(w, "thread state unreadable");
	}
	uint64_t pool = interp + m->interp_abandoned_pool, tagged, visited;
	if (!ph_read_u64(t, pool + m->pool_abandoned, &tagged) ||
	    !ph_read_u64(t, pool + m->pool_abandoned_visited, &visited))
		return problem(w, "abandoned pool 0x%llx is unreadable", (unsigned long long)pool);
	/* the list head carries an ABA tag in the bits below segment alignment */
	size_t first_pool_segment = w->pool_segment_count;
	if ((status = tolerate(w, walk_segment_list(w, tagged & ~w->segment_mask, "abandoned"))) ||
	    (status = tolerate(w, walk_segment_list(w, visited, "abandoned_visited"))))
		return status;
	/* one segment on both lists would be counted twice */
	uint64_t *listed = w->pool_segments + first_pool_segment;
	size_t listed_count = w->pool_segment_count - first_pool_segment;
	if (listed_count > 1) /* qsort takes no NULL, even for nothing */
		qsort(listed, listed_count, sizeof(*listed), compare_u64);
	for (size_t i = 1; i < listed_count; i++)
		if (listed[i] == listed[i - 1])
			return tolerate(w, problem(w, "the abandoned pool lists segment 0x%llx twice",
						   (unsigned long long)listed[i]));
	return PH_WALK_OK;
}

static enum ph_walk_status walk_all(struct walk *w)
{
	const struct ph_target *t = w->t;
	const struct ph_mimalloc_layout *m = w->m;
	int32_t debug_enabled = 0;
	if (m->runtime_debug_enabled != PH_ABSENT &&
	    !ph_read(t, t->runtime + m->runtime_debug_enabled, &debug_enabled,
		     sizeof(debug_enabled)))
		return problem(w, "_PyRuntime is unreadable");
	/* the debug allocator (PYTHONMALLOC=debug, -X dev) puts two words in
	 * front of every block's contents */
	w->offset_base = debug_enabled ? 16 : 0;
	uint64_t interp = ph_main_interpreter(t);
	if (!interp)
		return problem(w, "no interpreter is running (finalized, or not yet initialized)");
	struct loop_check loop = {0, 0, 0};
	for (unsigned n = 0; interp; n++) {
		if (n >= MAX_INTERPRETERS || loops(&loop, interp))
			return problem(w, "more than %d interpreters: the list is corrupt",
				       MAX_INTERPRETERS);
		w->report->interpreters++;
		enum ph_walk_status status = tolerate(w, walk_interpreter(w, interp));
		if (status)
			return status;
		if (!ph_read_u64(t, interp + t->layout->interp_next, &interp))
			return problem(w, "interpreter state is unreadable");
	}
	if (w->any_broken)
		return PH_WALK_INCONSISTENT;
	/* A thread exiting or reclaiming a segment moves its pages one by one:
	 * some may be in neither a heap nor the pool. */
	if (!w->tolerant)
		return ph_mi_check_transit(t, w->segment_size, &w->seen, w->report->problem,
					   sizeof(w->report->problem));
	return PH_WALK_OK;
}

/* Pages are read whole into struct page: every field must lie inside (a
 * layout file is input too). */
static bool page_fields_fit(const struct ph_mimalloc_layout *m)
{
	const struct {
		uint64_t offset, width;
	} fields[] = {
	    {m->page_slice_count, 4}, {m->page_slice_offset, 4}, {m->page_tag.byte, 2},
	    {m->page_capacity, 2},    {m->page_free, 8},         {m->page_used, 4},
	    {m->page_xblock_size, 4}, {m->page_local_free, 8},   {m->page_xthread_free, 8},
	    {m->page_xheap, 8},       {m->page_next, 8},         {m->page_prev, 8},
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i].offset > m->page_size || fields[i].width > m->page_size - fields[i].offset)
			return false;
	return m->page_tag.width >= 1 && m->page_tag.width <= 8 && m->page_tag.bit < 8;
}

enum ph_walk_status ph_mimalloc_walk(const struct ph_target *t, uint64_t max_objects,
				     bool tolerant, ph_gc_visit_fn visit, void *ctx,
				     struct ph_walk_report *report)
{
	const struct ph_mimalloc_layout *m = t->layout->mimalloc;
	memset(report, 0, sizeof(*report));
	struct walk w;
	memset(&w, 0, sizeof(w));
	w.t = t;
	w.m = m;
	w.budget = max_objects;
	w.tolerant = tolerant;
	w.visit = visit;
	w.ctx = ctx;
	w.report = report;
	w.slice_size = 1ull << MI_SLICE_SHIFT;
	w.segment_size = w.slice_size * (m->segment_slice_max - 1);
	w.segment_mask = w.segment_size - 1;
	if (m->page_size > MAX_PAGE_BYTES || (w.segment_size & w.segment_mask) ||
	    !page_fields_fit(m))
		return problem(&w, "unexpected mimalloc layout (page of %llu bytes, segments of "
				   "%llu)",
			       (unsigned long long)m->page_size,
			       (unsigned long long)w.segment_size);
	/* 3.13.0's gc.get_objects() returned them too (gh-125859) */
	if (t->version_minor > 13 || (t->version_minor == 13 && t->version_micro >= 1))
		w.skip_bits = GC_BIT_UNREACHABLE | GC_BIT_FROZEN;
	enum ph_walk_status status = walk_all(&w);
	free(w.delayed);
	free(w.free_map);
	free(w.pool_segments);
	if (w.seen.out_of_memory)
		w.out_of_memory = true;
	ph_mi_seen_free(&w.seen);
	if (w.out_of_memory) {
		snprintf(report->problem, sizeof(report->problem),
			 "out of memory walking mimalloc pages");
		return PH_WALK_STOPPED;
	}
	return status;
}
