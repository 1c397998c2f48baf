/* Block cache over a memory reader. Blocks are aligned to block_size; a
 * block can span several mappings (or holes between them), so validity is
 * kept per 4 KiB page and each mapping's part is copied when first needed. The table is open-addressed on the block address and
 * grows by doubling; block bodies live in large slabs so a million-object
 * heap costs a few thousand allocations, not millions. */
#include "pyheap/memory.h"

#include "pyheap/big_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PAGE_SHIFT = 12, MAX_BLOCK_SIZE = 64 << PAGE_SHIFT };

struct cached_block {
	uint64_t base;       /* aligned block address; 0 = empty slot */
	uint64_t loaded;     /* bit i: page i was looked at */
	uint64_t valid;      /* bit i: page i holds target bytes */
	uint64_t asked;      /* bit i: a read asked for page i (when recording) */
	unsigned char *data; /* block_size bytes, indexed from base */
};

struct ph_block_cache {
	struct ph_memory_reader *backing;
	const struct ph_memory_map *map;
	size_t block_size;
	uint64_t block_mask;
	struct cached_block *slots;
	size_t slot_count; /* power of two */
	size_t used;
	unsigned char **slabs;
	size_t slab_count, slab_capacity;
	size_t slab_used; /* blocks used in the newest slab */
	struct cached_block *last; /* most recent hit: the walk is local */
	bool recording;            /* keep `asked` up to date */
	uint64_t bytes_copied;
	struct ph_error *fatal;
	/* testing only (PYHEAP_TEST_CORRUPT=seed:flips-per-MiB): flip random
	 * bytes of our copy, never of the target, to prove the walk survives
	 * garbage */
	uint64_t corrupt_state;
	unsigned corrupt_per_mib;
};

/* A slab is one huge page at least (see pyheap/big_alloc.h). */
static size_t blocks_per_slab(const struct ph_block_cache *cache)
{
	size_t blocks = PH_BIG_ALLOC_MIN / cache->block_size;
	return blocks > 64 ? blocks : 64;
}

static size_t hash_block(uint64_t base, size_t mask)
{
	uint64_t h = base * 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 17) & mask;
}

struct ph_error *ph_block_cache_new(struct ph_memory_reader *backing,
				    const struct ph_memory_map *map, size_t block_size,
				    struct ph_block_cache **out)
{
	if (block_size < 4096 || block_size > MAX_BLOCK_SIZE || (block_size & (block_size - 1)))
		return ph_error_new(PH_EXIT_INTERNAL, "block size %zu is not a power of two >= 4096",
				    block_size);
	struct ph_block_cache *cache = calloc(1, sizeof(*cache));
	if (!cache)
		return &ph_error_out_of_memory;
	cache->backing = backing;
	cache->map = map;
	cache->block_size = block_size;
	cache->block_mask = ~(uint64_t)(block_size - 1);
	cache->slot_count = 4096;
	const char *corrupt = getenv("PYHEAP_TEST_CORRUPT");
	if (corrupt) {
		unsigned long long seed = 0;
		unsigned rate = 0;
		if (sscanf(corrupt, "%llu:%u", &seed, &rate) == 2 && rate) {
			cache->corrupt_state = seed * 2654435761u + 1;
			cache->corrupt_per_mib = rate;
		}
	}
	cache->slots = ph_big_alloc(cache->slot_count * sizeof(*cache->slots));
	if (!cache->slots) {
		free(cache);
		return &ph_error_out_of_memory;
	}
	*out = cache;
	return NULL;
}

void ph_block_cache_free(struct ph_block_cache *cache)
{
	if (!cache)
		return;
	for (size_t i = 0; i < cache->slab_count; i++)
		ph_big_free(cache->slabs[i]);
	free(cache->slabs);
	ph_big_free(cache->slots);
	ph_error_free(cache->fatal);
	free(cache);
}

static unsigned char *allocate_block_body(struct ph_block_cache *cache)
{
	if (cache->slab_count == 0 || cache->slab_used == blocks_per_slab(cache)) {
		if (cache->slab_count == cache->slab_capacity) {
			size_t capacity = cache->slab_capacity ? cache->slab_capacity * 2 : 64;
			unsigned char **grown = realloc(cache->slabs, capacity * sizeof(*grown));
			if (!grown)
				return NULL;
			cache->slabs = grown;
			cache->slab_capacity = capacity;
		}
		unsigned char *slab = ph_big_alloc(cache->block_size * blocks_per_slab(cache));
		if (!slab) {
			if (!cache->fatal)
				cache->fatal = ph_budget_refusal()
						   ? ph_budget_error("caching the target's memory",
								     ph_budget_refusal())
						   : ph_error_new(PH_EXIT_INTERNAL,
								  "out of memory caching the target's memory");
			return NULL;
		}
		cache->slabs[cache->slab_count++] = slab;
		cache->slab_used = 0;
	}
	return cache->slabs[cache->slab_count - 1] + cache->block_size * cache->slab_used++;
}

static int grow_table(struct ph_block_cache *cache)
{
	size_t count = cache->slot_count * 2;
	struct cached_block *slots = ph_big_alloc(count * sizeof(*slots));
	if (!slots)
		return -1;
	for (size_t i = 0; i < cache->slot_count; i++) {
		struct cached_block *old = &cache->slots[i];
		if (!old->base)
			continue;
		size_t at = hash_block(old->base, count - 1);
		while (slots[at].base)
			at = (at + 1) & (count - 1);
		slots[at] = *old;
	}
	ph_big_free(cache->slots);
	cache->slots = slots;
	cache->slot_count = count;
	cache->last = NULL;
	return 0;
}

/* Finds the block holding addr, creating an empty one on first sight.
 * NULL when addr is in no readable mapping. */
static struct cached_block *get_block(struct ph_block_cache *cache, uint64_t addr)
{
	uint64_t base = addr & cache->block_mask;
	if (cache->last && cache->last->base == base)
		return cache->last;
	if (base == 0)
		return NULL; /* the zero page is never a Python object */
	size_t mask = cache->slot_count - 1;
	size_t at = hash_block(base, mask);
	while (cache->slots[at].base) {
		if (cache->slots[at].base == base) {
			cache->last = &cache->slots[at];
			return cache->last;
		}
		at = (at + 1) & mask;
	}
	const struct ph_memory_region *region = ph_memory_map_find(cache->map, addr);
	if (!region || !(region->perms & PH_PERM_READ))
		return NULL;
	if ((cache->used + 1) * 4 > cache->slot_count * 3) {
		if (grow_table(cache) < 0)
			return NULL;
		return get_block(cache, addr);
	}
	unsigned char *data = allocate_block_body(cache);
	if (!data)
		return NULL;
	struct cached_block *slot = &cache->slots[at];
	slot->base = base;
	slot->loaded = 0;
	slot->valid = 0;
	slot->asked = 0;
	slot->data = data;
	cache->used++;
	cache->last = slot;
	return slot;
}

static uint64_t page_bits(uint64_t first, uint64_t count)
{
	return count >= 64 ? ~0ull : ((1ull << count) - 1) << first;
}

static uint64_t next_random(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

static void corrupt_bytes(struct ph_block_cache *cache, unsigned char *data, size_t len)
{
	uint64_t flips = ((uint64_t)len * cache->corrupt_per_mib) >> 20;
	if (!flips && next_random(&cache->corrupt_state) % (1u << 20) < len * cache->corrupt_per_mib)
		flips = 1;
	for (uint64_t i = 0; i < flips; i++) {
		uint64_t r = next_random(&cache->corrupt_state);
		data[r % len] ^= (unsigned char)(1u << ((r >> 32) & 7));
	}
}

/* Copies the part of the mapping holding page `page` that falls inside
 * the block, in one read, and marks those pages. A read that stops short
 * (a page the backing reader lacks) goes on page by page, so each page's
 * validity is its own. */
static void load_page(struct ph_block_cache *cache, struct cached_block *block, uint64_t page)
{
	uint64_t addr = block->base + (page << PAGE_SHIFT);
	const struct ph_memory_region *region = ph_memory_map_find(cache->map, addr);
	if (!region || !(region->perms & PH_PERM_READ)) {
		block->loaded |= 1ull << page;
		return;
	}
	uint64_t end = block->base + cache->block_size;
	uint64_t lo = region->start > block->base ? region->start : block->base;
	uint64_t hi = region->end < end ? region->end : end;
	uint64_t first = (lo - block->base) >> PAGE_SHIFT;
	uint64_t count = (hi - lo + (1u << PAGE_SHIFT) - 1) >> PAGE_SHIFT;
	block->loaded |= page_bits(first, count);
	while (lo < hi) {
		size_t done = 0;
		struct ph_error *err =
		    ph_memory_read(cache->backing, lo, block->data + (lo - block->base), hi - lo, &done);
		if (err) {
			if (err->exit_code != PH_EXIT_INCONSISTENT && !cache->fatal)
				cache->fatal = err;
			else
				ph_error_free(err);
		}
		cache->bytes_copied += done;
		if (cache->corrupt_per_mib && done)
			corrupt_bytes(cache, block->data + (lo - block->base), done);
		uint64_t first_valid = (lo - block->base) >> PAGE_SHIFT;
		block->valid |= page_bits(first_valid, done >> PAGE_SHIFT);
		if (done == hi - lo || cache->fatal)
			break;
		/* skip the page that failed, try the next */
		lo = ((lo + done) & ~(uint64_t)((1u << PAGE_SHIFT) - 1)) + (1u << PAGE_SHIFT);
	}
}

bool ph_cache_read(struct ph_block_cache *cache, uint64_t addr, void *buf, size_t len)
{
	unsigned char *dst = buf;
	if (addr + len < addr)
		return false;
	if (cache->backing->direct && !cache->corrupt_per_mib && !cache->recording) {
		/* the backing reader holds a copy already: no second one */
		const void *src = cache->backing->direct(cache->backing, addr, len);
		if (src) {
			memcpy(dst, src, len);
			return true;
		}
	}
	while (len > 0) {
		struct cached_block *block = get_block(cache, addr);
		if (!block)
			return false;
		uint64_t offset = addr - block->base;
		size_t chunk = cache->block_size - (size_t)offset;
		if (chunk > len)
			chunk = len;
		uint64_t first = offset >> PAGE_SHIFT;
		uint64_t last = (offset + chunk - 1) >> PAGE_SHIFT;
		uint64_t need = page_bits(first, last - first + 1);
		if (cache->recording)
			block->asked |= need;
		if ((block->loaded & need) != need) {
			for (uint64_t page = first; page <= last; page++)
				if (!(block->loaded & (1ull << page)))
					load_page(cache, block, page);
		}
		if ((block->valid & need) != need)
			return false;
		memcpy(dst, block->data + offset, chunk);
		dst += chunk;
		addr += chunk;
		len -= chunk;
	}
	return true;
}

bool ph_cache_read_cstring(struct ph_block_cache *cache, uint64_t addr, char *buf, size_t max)
{
	if (max == 0)
		return false;
	for (size_t i = 0; i + 1 < max; i++) {
		char c;
		if (!ph_cache_read(cache, addr + i, &c, 1))
			return false;
		buf[i] = c;
		if (c == '\0')
			return true;
	}
	buf[max - 1] = '\0';
	return false; /* longer than any name we accept */
}

void ph_cache_record_pages(struct ph_block_cache *cache)
{
	cache->recording = true;
}

bool ph_cache_recorded_pages(const struct ph_block_cache *cache, struct ph_page_set *out)
{
	for (size_t i = 0; i < cache->slot_count; i++) {
		const struct cached_block *block = &cache->slots[i];
		if (!block->base)
			continue;
		for (unsigned page = 0; page < 64; page++)
			if (block->asked & (1ull << page) &&
			    !ph_page_set_add(out, block->base + ((uint64_t)page << PAGE_SHIFT)))
				return false;
	}
	return true;
}

uint64_t ph_cache_bytes_copied(const struct ph_block_cache *cache)
{
	return cache->bytes_copied;
}

const struct ph_error *ph_cache_fatal_error(const struct ph_block_cache *cache)
{
	return cache->fatal;
}
