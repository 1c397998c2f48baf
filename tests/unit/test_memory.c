/* The memory map parser and the block cache, against a fake reader that
 * serves a synthetic address space with holes. */
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
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
