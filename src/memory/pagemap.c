#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pyheap/memory.h"

/* /proc/PID/pagemap: one 64-bit entry per page; bit 63 says the page is
 * in memory, bit 62 that it is in swap (Documentation/admin-guide/mm/
 * pagemap.rst). Both bits are shown to any reader allowed to ptrace the
 * process; only the frame numbers need CAP_SYS_ADMIN, and they are not
 * used. */
#define PAGEMAP_PRESENT (1ull << 63)
#define PAGEMAP_SWAPPED (1ull << 62)
#define ENTRIES_PER_READ 4096

bool ph_memory_region_untouched_reads_zero(const struct ph_memory_region *r)
{
	if (r->perms & PH_PERM_SHARED)
		return false; /* its pages may be in memory through another mapping */
	/* anonymous: no path, or a kernel-named area; a private file mapping's
	 * absent page holds the file's bytes, not zeros */
	return r->path[0] == '\0' || strcmp(r->path, "[heap]") == 0 ||
	       strncmp(r->path, "[stack", 6) == 0 || strncmp(r->path, "[anon:", 6) == 0;
}

struct ph_error *ph_pagemap_open(pid_t pid, int *fd)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return ph_error_new(errno == ENOENT || errno == ESRCH ? PH_EXIT_TARGET_GONE
								       : PH_EXIT_INTERNAL,
				    "%s: %s", path, strerror(errno));
	return NULL;
}

struct ph_error *ph_pagemap_touched_runs(int fd, uint64_t start, uint64_t end,
					 bool (*run)(void *ctx, uint64_t start, uint64_t end),
					 void *ctx)
{
	static uint64_t entries[ENTRIES_PER_READ];
	start &= ~(PH_PAGE_SIZE - 1);
	uint64_t run_start = 0;
	bool in_run = false;
	for (uint64_t page = start; page < end;) {
		uint64_t pages = (end - page + PH_PAGE_SIZE - 1) / PH_PAGE_SIZE;
		size_t want = pages < ENTRIES_PER_READ ? (size_t)pages : ENTRIES_PER_READ;
		off_t offset = (off_t)(page / PH_PAGE_SIZE * sizeof(uint64_t));
		ssize_t got = pread(fd, entries, want * sizeof(uint64_t), offset);
		if (got < (ssize_t)sizeof(uint64_t))
			return ph_error_new(got < 0 && errno == ESRCH ? PH_EXIT_TARGET_GONE
								       : PH_EXIT_INTERNAL,
					    "pagemap at 0x%llx: %s", (unsigned long long)page,
					    got < 0 ? strerror(errno) : "short read");
		size_t n = (size_t)got / sizeof(uint64_t);
		for (size_t i = 0; i < n; i++, page += PH_PAGE_SIZE) {
			bool touched = (entries[i] & (PAGEMAP_PRESENT | PAGEMAP_SWAPPED)) != 0;
			if (touched && !in_run) {
				run_start = page;
				in_run = true;
			} else if (!touched && in_run) {
				in_run = false;
				if (!run(ctx, run_start, page))
					return &ph_error_out_of_memory;
			}
		}
	}
	if (in_run && !run(ctx, run_start, end))
		return &ph_error_out_of_memory;
	return NULL;
}
