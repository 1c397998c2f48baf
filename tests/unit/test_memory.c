/* The memory map parser and the block cache, against a fake reader that
 * serves a synthetic address space with holes. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pyheap/memory.h"
#include "unit.h"

static const char maps_text[] =
    "00400000-00401000 r--p 00000000 08:01 123   /usr/bin/python3.11\n"
    "7f0000000000-7f0000003000 rw-p 00000000 00:00 0 \n"
    "7f0000003000-7f0000005000 rw-p 00000000 00:00 0   [heap]\n"
    "7f0000006000-7f0000008000 ---p 00000000 00:00 0\n"
    "7f0000008000-7f0000010000 rw-p 00000000 00:00 0   /lib/with space.so\n"
    "7ffff0000000-7ffff0001000 r-xp 00000000 00:00 0   [vdso]\n";

/* Address space: byte at addr = (addr * 7) & 0xff where mapped+readable. */
struct fake_reader {
	struct ph_memory_reader base;
	const struct ph_memory_map *map;
	unsigned reads;
};

static struct ph_error *fake_read(struct ph_memory_reader *reader, uint64_t addr, void *buf,
				  size_t len, size_t *done)
{
	struct fake_reader *fake = (struct fake_reader *)reader;
	fake->reads++;
	unsigned char *out = buf;
	for (size_t i = 0; i < len; i++) {
		if (!ph_memory_map_readable(fake->map, addr + i, 1)) {
			*done = i;
			return ph_error_new(PH_EXIT_INCONSISTENT, "unreadable 0x%llx",
					    (unsigned long long)(addr + i));
		}
		out[i] = (unsigned char)((addr + i) * 7);
	}
	*done = len;
	return NULL;
}

static bool bytes_ok(const unsigned char *buf, uint64_t addr, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != (unsigned char)((addr + i) * 7))
			return false;
	return true;
}

/* The copy reader over this very process: 16 pages of a private
 * mapping, pages 0-3 and 8-11 copied, the rest skipped. */
static void test_copy_reader(void)
{
	enum { PAGES = 16, PAGE = 4096 };
	unsigned char *area = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(area != MAP_FAILED, "test mapping");
	if (area == MAP_FAILED)
		return;
	for (size_t i = 0; i < PAGES * PAGE; i++)
		area[i] = (unsigned char)(i * 7 + i / PAGE);
	uint64_t base = (uint64_t)(uintptr_t)area;
	struct ph_memory_map map;
	struct ph_error *err = ph_memory_map_load(getpid(), &map);
	CHECK(err == NULL, "own map: %s", err ? err->message : "");
	if (err) {
		munmap(area, PAGES * PAGE);
		return;
	}
	struct ph_memory_reader *live = NULL, *copy = NULL;
	err = ph_process_reader_new(getpid(), &live);
	CHECK(err == NULL, "live reader");
	struct ph_address_range ranges[] = {{base, base + 4 * PAGE}, {base + 8 * PAGE, base + 12 * PAGE}};
	uint64_t copied = 0;
	struct ph_copy_buffers *buffers = ph_copy_buffers_prepare(5 * PAGE); /* too small: the rest is extra */
	err = ph_copy_reader_new(getpid(), &map, ranges, 2, buffers, live, &copy, &copied);
	CHECK(err == NULL && copied == 8 * PAGE, "copied %llu: %s", (unsigned long long)copied,
	      err ? err->message : "");
	if (err) {
		live->destroy(live);
		ph_memory_map_free(&map);
		munmap(area, PAGES * PAGE);
		return;
	}
	/* the copy is of that moment */
	area[9 * PAGE + 1] ^= 0xff;
	unsigned char buf[3 * PAGE];
	size_t done = 0;
	err = ph_memory_read(copy, base + 9 * PAGE, buf, 16, &done);
	CHECK(err == NULL && buf[1] == (unsigned char)((9 * PAGE + 1) * 7 + 9), "copied page read");
	CHECK(copy->direct(copy, base + 2 * PAGE, 64) == NULL ||
		  memcmp(copy->direct(copy, base + 2 * PAGE, 64), area + 2 * PAGE, 64) == 0,
	      "direct pointer into the copy");
	CHECK(copy->direct(copy, base + 3 * PAGE, 2 * PAGE) == NULL, "no direct pointer across a gap");
	CHECK(ph_copy_reader_missed(copy)->count == 0, "nothing missed yet");
	err = ph_memory_read(copy, base + 3 * PAGE + 100, buf, 2 * PAGE, &done);
	CHECK(err != NULL && done == PAGE - 100, "a read into skipped memory fails after what was copied "
	      "(%zu)", done);
	ph_error_free(err);
	const struct ph_page_set *missed = ph_copy_reader_missed(copy);
	CHECK(missed->count == 2 && missed->pages[0] == base + 4 * PAGE &&
		  missed->pages[1] == base + 5 * PAGE,
	      "the skipped pages it wanted are recorded (%zu pages)", missed->count);
	static const char constant[] = "read-only data is read live";
	err = ph_memory_read(copy, (uint64_t)(uintptr_t)constant, buf, sizeof(constant), &done);
	CHECK(err == NULL && memcmp(buf, constant, sizeof(constant)) == 0, "constant memory read live");

	/* the block cache over it: a block with copied, skipped, copied pages */
	struct ph_block_cache *cache;
	err = ph_block_cache_new(copy, &map, 64 * 1024, &cache);
	CHECK(err == NULL, "cache over the copy");
	if (!err) {
		uint64_t block = base & ~(uint64_t)(64 * 1024 - 1);
		bool after_gap = true;
		/* every page of the area in the first block that lies after a
		 * skipped one and was copied must still read */
		for (uint64_t page = 8; page < 12; page++)
			if (base + page * PAGE < block + 64 * 1024 &&
			    !ph_cache_read(cache, base + page * PAGE + 8, buf, 8))
				after_gap = false;
		CHECK(!ph_cache_read(cache, base + 6 * PAGE, buf, 8), "a skipped page does not read");
		CHECK(after_gap && ph_cache_read(cache, base + 11 * PAGE, buf, 8) &&
			  buf[0] == (unsigned char)((11 * PAGE) * 7 + 11),
		      "copied pages after a skipped one in the same block read");
		ph_copy_reader_missed(copy);
		CHECK(ph_page_set_count_in(missed, base + 4 * PAGE, base + 8 * PAGE) >= 1 &&
			  ph_page_set_count_in(missed, base, base + 4 * PAGE) == 0 &&
			  ph_page_set_count_in(missed, base + 8 * PAGE, base + 12 * PAGE) == 0,
		      "only skipped pages are recorded as missed");
		ph_block_cache_free(cache);
	}
	copy->destroy(copy);

	/* a live cache that records what was asked for, page by page */
	err = ph_block_cache_new(live, &map, 16 * 1024, &cache);
	if (!err) {
		ph_cache_record_pages(cache);
		ph_cache_read(cache, base + 5 * PAGE + 10, buf, 8);
		ph_cache_read(cache, base + 7 * PAGE - 4, buf, 8); /* straddles pages 6 and 7 */
		struct ph_page_set asked = {NULL, 0, 0};
		ph_cache_recorded_pages(cache, &asked);
		ph_page_set_normalize(&asked);
		CHECK(asked.count == 3 && asked.pages[0] == base + 5 * PAGE &&
			  asked.pages[2] == base + 7 * PAGE,
		      "pages asked for: %zu", asked.count);
		ph_page_set_free(&asked);
		ph_block_cache_free(cache);
	}
	live->destroy(live);
	ph_memory_map_free(&map);
	munmap(area, PAGES * PAGE);
}

static void test_page_set(void)
{
	struct ph_page_set set = {NULL, 0, 0};
	uint64_t pages[] = {0x5000, 0x1000, 0x5fff, 0x3000, 0x1000};
	for (size_t i = 0; i < 5; i++)
		ph_page_set_add(&set, pages[i]);
	ph_page_set_normalize(&set);
	CHECK(set.count == 3 && set.pages[0] == 0x1000 && set.pages[1] == 0x3000 && set.pages[2] == 0x5000,
	      "sorted, unique, page aligned: %zu", set.count);
	CHECK(ph_page_set_count_in(&set, 0x2000, 0x5001) == 2 && ph_page_set_count_in(&set, 0x6000, 0x1000) == 0,
	      "counted in a range");
	ph_page_set_free(&set);
}

struct runs {
	uint64_t start[8], end[8];
	unsigned count;
};

static bool record_run(void *ctx, uint64_t start, uint64_t end)
{
	struct runs *runs = ctx;
	if (runs->count < 8) {
		runs->start[runs->count] = start;
		runs->end[runs->count] = end;
	}
	runs->count++;
	return true;
}

static long resident_pages(const unsigned char *area, size_t pages)
{
	unsigned char vec[64];
	if (pages > sizeof(vec) || mincore((void *)area, pages * 4096, vec) != 0)
		return -1;
	long resident = 0;
	for (size_t i = 0; i < pages; i++)
		resident += vec[i] & 1;
	return resident;
}

/* Pages of private anonymous memory the process never touched: pagemap
 * says which, and a copy serves them as zeros without reading them (a
 * read would commit them). Checked on the test's own memory. */
static void test_untouched_pages(void)
{
	enum { PAGES = 32, PAGE = 4096 };
	unsigned char *area = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(area != MAP_FAILED, "test mapping");
	if (area == MAP_FAILED)
		return;
	madvise(area, PAGES * PAGE, MADV_NOHUGEPAGE); /* one page touched is one page */
	uint64_t base = (uint64_t)(uintptr_t)area;
	area[3 * PAGE] = 3;
	area[4 * PAGE + 100] = 4;
	area[10 * PAGE + 4095] = 10;
	int fd = -1;
	struct ph_error *err = ph_pagemap_open(getpid(), &fd);
	CHECK(err == NULL, "pagemap: %s", err ? err->message : "");
	struct runs runs = {{0}, {0}, 0};
	if (!err)
		err = ph_pagemap_touched_runs(fd, base, base + PAGES * PAGE, record_run, &runs);
	CHECK(err == NULL && runs.count == 2 && runs.start[0] == base + 3 * PAGE &&
		  runs.end[0] == base + 5 * PAGE && runs.start[1] == base + 10 * PAGE &&
		  runs.end[1] == base + 11 * PAGE,
	      "touched runs: pages 3-4 and 10 (got %u runs)", runs.count);
	ph_error_free(err);
	if (fd >= 0)
		close(fd);

	struct ph_memory_map map;
	err = ph_memory_map_load(getpid(), &map);
	CHECK(err == NULL, "own map: %s", err ? err->message : "");
	if (err) {
		munmap(area, PAGES * PAGE);
		return;
	}
	const struct ph_memory_region *region = ph_memory_map_find(&map, base);
	CHECK(region && ph_memory_region_untouched_reads_zero(region),
	      "an anonymous private mapping reads zero where untouched");
	struct ph_memory_reader *live = NULL, *copy = NULL;
	err = ph_process_reader_new(getpid(), &live);
	CHECK(err == NULL, "live reader");
	struct ph_address_range whole = {base, base + PAGES * PAGE};
	uint64_t copied = 0;
	if (!err)
		err = ph_copy_reader_new(getpid(), &map, &whole, 1, NULL, live, &copy, &copied);
	CHECK(err == NULL && copied == 3 * PAGE, "copied only the 3 touched pages: %llu bytes",
	      (unsigned long long)copied);
	if (!err) {
		CHECK(ph_copy_reader_untouched(copy) == (PAGES - 3) * (uint64_t)PAGE,
		      "untouched bytes counted: %llu", (unsigned long long)ph_copy_reader_untouched(copy));
		unsigned char buf[PAGE];
		size_t done = 0;
		err = ph_memory_read(copy, base + 4 * PAGE, buf, PAGE, &done);
		CHECK(err == NULL && buf[100] == 4 && buf[0] == 0, "a touched page is copied");
		ph_error_free(err);
		memset(buf, 0xff, sizeof(buf));
		err = ph_memory_read(copy, base + 20 * PAGE, buf, PAGE, &done);
		bool zeros = err == NULL;
		for (size_t i = 0; i < PAGE && zeros; i++)
			zeros = buf[i] == 0;
		CHECK(zeros, "an untouched page reads as zeros");
		ph_error_free(err);
		CHECK(resident_pages(area, PAGES) == 3, "the untouched pages stay uncommitted (%ld resident)",
		      resident_pages(area, PAGES));
		copy->destroy(copy);
	}
	if (live)
		live->destroy(live);
	ph_memory_map_free(&map);
	munmap(area, PAGES * PAGE);
}

int main(void)
{
	test_page_set();
	test_copy_reader();
	test_untouched_pages();
	struct ph_memory_map map;
	struct ph_error *err = ph_memory_map_parse(maps_text, &map);
	CHECK(err == NULL, "parse: %s", err ? err->message : "");
	if (err)
		return unit_finish("unit-memory");
	CHECK(map.count == 6, "6 regions, got %zu", map.count);
	CHECK(strcmp(map.regions[4].path, "/lib/with space.so") == 0, "path with space: '%s'",
	      map.regions[4].path);
	CHECK(map.regions[1].perms == (PH_PERM_READ | PH_PERM_WRITE), "perms");
	CHECK(map.regions[3].perms == 0, "---p has no permissions");
	CHECK(ph_memory_map_find(&map, 0x7f0000005000) == NULL, "hole is unmapped");
	CHECK(ph_memory_map_readable(&map, 0x7f0000002ff0, 0x20), "reads across adjacent regions");
	CHECK(!ph_memory_map_readable(&map, 0x7f0000004ff0, 0x20), "not across a hole");
	CHECK(!ph_memory_map_readable(&map, 0x7f0000006000, 8), "not in a ---p region");
	CHECK(!ph_memory_map_readable(&map, UINT64_MAX - 4, 16), "overflowing range");

	struct ph_memory_map bad;
	err = ph_memory_map_parse("this is not a map line\n", &bad);
	CHECK(err != NULL, "garbage is rejected");
	ph_error_free(err);

	struct fake_reader fake = {{fake_read, NULL, NULL, 0}, &map, 0};
	struct ph_block_cache *cache;
	err = ph_block_cache_new(&fake.base, &map, 64 * 1024, &cache);
	CHECK(err == NULL, "cache");
	if (err)
		return unit_finish("unit-memory");
	unsigned char buf[0x3000];

	/* Regression: the first read loads one mapping's part of a block; a
	 * later read in the adjacent mapping of the same block must load
	 * that part too (the 3.8/3.9 "unreadable GC header" bug). */
	CHECK(ph_cache_read(cache, 0x7f0000000100, buf, 16) && bytes_ok(buf, 0x7f0000000100, 16),
	      "first mapping");
	CHECK(ph_cache_read(cache, 0x7f0000003100, buf, 16) && bytes_ok(buf, 0x7f0000003100, 16),
	      "adjacent mapping in the same block");
	CHECK(ph_cache_read(cache, 0x7f0000002ff8, buf, 16) && bytes_ok(buf, 0x7f0000002ff8, 16),
	      "read straddling the two mappings");
	CHECK(!ph_cache_read(cache, 0x7f0000004ff8, buf, 16), "read running into a hole fails");
	CHECK(!ph_cache_read(cache, 0x7f0000006000, buf, 8), "---p region is not readable");
	CHECK(ph_cache_read(cache, 0x7f0000008000, buf, 0x3000) && bytes_ok(buf, 0x7f0000008000, 0x3000),
	      "large read in the third mapping");
	CHECK(!ph_cache_read(cache, 0x10, buf, 8), "zero page");
	CHECK(!ph_cache_read(cache, UINT64_MAX - 3, buf, 8), "wrapping address");
	unsigned reads_before = fake.reads;
	for (int i = 0; i < 1000; i++)
		ph_cache_read(cache, 0x7f0000000100 + (uint64_t)(i % 64) * 8, buf, 8);
	CHECK(fake.reads == reads_before, "cached reads do not hit the reader (%u more)",
	      fake.reads - reads_before);
	CHECK(ph_cache_fatal_error(cache) == NULL, "unmapped reads are not fatal");

	/* many blocks: forces the table to grow */
	struct ph_memory_map big;
	err = ph_memory_map_parse("100000000-200000000 rw-p 00000000 00:00 0\n", &big);
	struct fake_reader fake_big = {{fake_read, NULL, NULL, 0}, &big, 0};
	struct ph_block_cache *big_cache;
	err = ph_block_cache_new(&fake_big.base, &big, 4096, &big_cache);
	bool all = true;
	for (uint64_t i = 0; i < 20000; i++) {
		uint64_t addr = 0x100000000 + i * 4096 * 3 + (i % 4000);
		if (!ph_cache_read(big_cache, addr, buf, 8) || !bytes_ok(buf, addr, 8))
			all = false;
	}
	CHECK(all, "20000 blocks through a growing table");
	ph_block_cache_free(big_cache);
	ph_memory_map_free(&big);

	char name[16];
	CHECK(!ph_cache_read_cstring(cache, 0x7f0000004ffa, name, sizeof(name)),
	      "unterminated string at a hole");
	ph_block_cache_free(cache);
	ph_memory_map_free(&map);
	return unit_finish("unit-memory");
}
