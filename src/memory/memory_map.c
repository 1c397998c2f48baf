#include "pyheap/memory.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util.h"

static struct ph_error *parse_line(const char *line, size_t len, struct ph_memory_region *region)
{
	/* start-end perms offset dev inode   path */
	char buf[4096 + 256];
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	memcpy(buf, line, len);
	buf[len] = '\0';
	uint64_t start, end, offset;
	char perms[5];
	int path_at = 0;
	if (sscanf(buf, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %*s %*s %n", &start, &end, perms,
		   &offset, &path_at) < 4 ||
	    path_at == 0 || end < start)
		return ph_error_new(PH_EXIT_INTERNAL, "unparsable memory map line '%s'", buf);
	region->start = start;
	region->end = end;
	region->file_offset = offset;
	region->perms = (perms[0] == 'r' ? PH_PERM_READ : 0) | (perms[1] == 'w' ? PH_PERM_WRITE : 0) |
			(perms[2] == 'x' ? PH_PERM_EXEC : 0) | (perms[3] == 's' ? PH_PERM_SHARED : 0);
	region->path = strdup(buf + path_at);
	if (!region->path)
		return &ph_error_out_of_memory;
	return NULL;
}

static int compare_regions(const void *a, const void *b)
{
	const struct ph_memory_region *ra = a, *rb = b;
	return ra->start < rb->start ? -1 : ra->start > rb->start;
}

struct ph_error *ph_memory_map_parse(const char *text, struct ph_memory_map *out)
{
	out->regions = NULL;
	out->count = 0;
	size_t capacity = 0;
	const char *line = text;
	while (*line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		if (len > 0) {
			if (out->count == capacity) {
				capacity = capacity ? capacity * 2 : 256;
				void *grown = realloc(out->regions, capacity * sizeof(*out->regions));
				if (!grown) {
					ph_memory_map_free(out);
					return &ph_error_out_of_memory;
				}
				out->regions = grown;
			}
			struct ph_error *err = parse_line(line, len, &out->regions[out->count]);
			if (err) {
				ph_memory_map_free(out);
				return err;
			}
			out->count++;
		}
		line += len + (eol ? 1 : 0);
	}
	qsort(out->regions, out->count, sizeof(*out->regions), compare_regions);
	return NULL;
}

struct ph_error *ph_memory_map_load(pid_t pid, struct ph_memory_map *out)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	char *text;
	struct ph_error *err = ph_read_whole_file(path, &text, NULL);
	if (err)
		return err;
	err = ph_memory_map_parse(text, out);
	free(text);
	return err ? ph_error_wrap(err, "%s", path) : NULL;
}

void ph_memory_map_free(struct ph_memory_map *map)
{
	for (size_t i = 0; i < map->count; i++)
		free(map->regions[i].path);
	free(map->regions);
	map->regions = NULL;
	map->count = 0;
}

const struct ph_memory_region *ph_memory_map_find(const struct ph_memory_map *map, uint64_t addr)
{
	size_t lo = 0, hi = map->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ph_memory_region *r = &map->regions[mid];
		if (addr < r->start)
			hi = mid;
		else if (addr >= r->end)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool ph_memory_map_readable(const struct ph_memory_map *map, uint64_t addr, uint64_t len)
{
	if (len == 0)
		return true;
	if (addr + len < addr)
		return false;
	uint64_t end = addr + len;
	while (addr < end) {
		const struct ph_memory_region *r = ph_memory_map_find(map, addr);
		if (!r || !(r->perms & PH_PERM_READ))
			return false;
		addr = r->end;
	}
	return true;
}
