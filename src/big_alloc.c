#include "pyheap/big_alloc.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util.h"

#define HUGE_PAGE ((size_t)2 << 20)

/* Every live mapping, so ph_big_free can tell a mapping from a malloc
 * pointer (the snapshot reader's arrays) and knows its length. */
struct mapping {
	void *base;
	size_t length; /* a multiple of HUGE_PAGE */
};

static struct {
	bool ready;
	uint64_t limit, used, peak, refused;
	char source[96];
	struct mapping *mappings;
	size_t count, capacity;
} budget;

static void budget_init(void)
{
	if (budget.ready)
		return;
	budget.ready = true;
	const char *env = getenv("PYHEAP_MEMORY_BUDGET_MB");
	char *end = NULL;
	if (env && *env) {
		unsigned long long mb = strtoull(env, &end, 10);
		if (end && !*end && mb < (1ull << 40)) {
			budget.limit = mb << 20;
			snprintf(budget.source, sizeof(budget.source), "PYHEAP_MEMORY_BUDGET_MB=%llu", mb);
			return;
		}
	}
	uint64_t available_kib = 0;
	char *text = NULL;
	struct ph_error *err = ph_read_whole_file("/proc/meminfo", &text, NULL);
	if (!err) {
		const char *line = strstr(text, "MemAvailable:");
		if (line)
			available_kib = strtoull(line + 13, NULL, 10);
		free(text);
	}
	ph_error_free(err);
	if (!available_kib) {
		/* no /proc/meminfo (or a kernel without MemAvailable): no limit
		 * pyheap can justify, so none but the kernel's */
		budget.limit = UINT64_MAX;
		snprintf(budget.source, sizeof(budget.source), "no limit (MemAvailable unknown)");
		return;
	}
	budget.limit = available_kib * 1024 / 2;
	snprintf(budget.source, sizeof(budget.source), "half of MemAvailable (%llu MiB)",
		 (unsigned long long)(available_kib >> 10));
}

uint64_t ph_budget_limit(void)
{
	budget_init();
	return budget.limit;
}

const char *ph_budget_source(void)
{
	budget_init();
	return budget.source;
}

uint64_t ph_budget_used(void)
{
	return budget.used;
}

uint64_t ph_budget_peak(void)
{
	return budget.peak;
}

bool ph_budget_fits(uint64_t bytes)
{
	budget_init();
	return bytes <= budget.limit && budget.used <= budget.limit - bytes;
}

uint64_t ph_budget_refusal(void)
{
	return budget.refused;
}

struct ph_error *ph_budget_error(const char *what, uint64_t needed)
{
	budget_init();
	return ph_error_new(PH_EXIT_MEMORY_BUDGET,
			    "%s needs %llu MiB more, and pyheap's memory budget of %llu MiB (%s) "
			    "has %llu MiB left: stopping here, before the host runs short of memory "
			    "(the target was released, or never stopped). PYHEAP_MEMORY_BUDGET_MB sets "
			    "the budget; snap --no-graph needs less",
			    what, (unsigned long long)((needed + (1u << 20) - 1) >> 20),
			    (unsigned long long)(budget.limit >> 20), budget.source,
			    (unsigned long long)((budget.limit - (budget.used < budget.limit ? budget.used
											   : budget.limit)) >> 20));
}

static bool charge(uint64_t bytes)
{
	if (!ph_budget_fits(bytes)) {
		budget.refused = bytes;
		return false;
	}
	budget.used += bytes;
	if (budget.used > budget.peak)
		budget.peak = budget.used;
	return true;
}

static struct mapping *find_mapping(const void *base)
{
	for (size_t i = 0; i < budget.count; i++)
		if (budget.mappings[i].base == base)
			return &budget.mappings[i];
	return NULL;
}

static size_t round_up(size_t size)
{
	return (size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

/* length bytes at a 2 MiB boundary, advised for huge pages. */
static void *map_aligned(size_t length)
{
	if (length > SIZE_MAX - HUGE_PAGE)
		return NULL;
	unsigned char *raw = mmap(NULL, length + HUGE_PAGE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	unsigned char *base =
	    (unsigned char *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
	if (base > raw)
		munmap(raw, (size_t)(base - raw));
	size_t tail = (size_t)(raw + length + HUGE_PAGE - (base + length));
	if (tail)
		munmap(base + length, tail);
	madvise(base, length, MADV_HUGEPAGE);
	return base;
}

static bool remember(void *base, size_t length)
{
	if (budget.count == budget.capacity) {
		size_t capacity = budget.capacity ? budget.capacity * 2 : 64;
		struct mapping *grown = realloc(budget.mappings, capacity * sizeof(*grown));
		if (!grown)
			return false;
		budget.mappings = grown;
		budget.capacity = capacity;
	}
	budget.mappings[budget.count++] = (struct mapping){base, length};
	return true;
}

static void forget(struct mapping *m)
{
	*m = budget.mappings[--budget.count];
	if (budget.count == 0) {
		free(budget.mappings);
		budget.mappings = NULL;
		budget.capacity = 0;
	}
}

void *ph_big_alloc(size_t size)
{
	if (size < PH_BIG_ALLOC_MIN)
		return calloc(1, size ? size : 1);
	size_t length = round_up(size);
	if (!charge(length))
		return NULL;
	void *base = map_aligned(length);
	if (!base || !remember(base, length)) {
		if (base)
			munmap(base, length);
		budget.used -= length;
		return NULL;
	}
	return base;
}

void *ph_big_calloc(size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	return ph_big_alloc(count * size);
}

void ph_big_free(void *buffer)
{
	if (!buffer)
		return;
	struct mapping *m = find_mapping(buffer);
	if (!m) {
		free(buffer);
		return;
	}
	munmap(m->base, m->length);
	budget.used -= m->length;
	forget(m);
}

/* Moves a mapping's pages to a fresh aligned range of `length` bytes:
 * page tables move, bytes are not copied. */
static void *move_mapping(struct mapping *m, size_t length)
{
	void *base = map_aligned(length);
	if (!base)
		return NULL;
	void *moved = mremap(m->base, m->length, m->length, MREMAP_MAYMOVE | MREMAP_FIXED, base);
	if (moved == MAP_FAILED) {
		munmap(base, length);
		return NULL;
	}
	madvise((unsigned char *)base, length, MADV_HUGEPAGE);
	return base;
}

void *ph_big_realloc(void *buffer, size_t size)
{
	if (!buffer)
		return ph_big_alloc(size);
	struct mapping *m = find_mapping(buffer);
	if (!m) {
		/* a malloc'd buffer: stays one while small */
		size_t old = malloc_usable_size(buffer);
		if (size < PH_BIG_ALLOC_MIN) {
			unsigned char *grown = realloc(buffer, size ? size : 1);
			if (grown && size > old)
				memset(grown + old, 0, size - old);
			return grown;
		}
		unsigned char *big = ph_big_alloc(size);
		if (!big)
			return NULL;
		memcpy(big, buffer, old < size ? old : size);
		free(buffer);
		return big;
	}
	size_t length = round_up(size ? size : 1);
	if (length == m->length)
		return buffer;
	if (length < m->length) {
		munmap((unsigned char *)m->base + length, m->length - length);
		budget.used -= m->length - length;
		m->length = length;
		return buffer;
	}
	if (!charge(length - m->length))
		return NULL;
	void *grown = mremap(m->base, m->length, length, 0); /* in place */
	if (grown == MAP_FAILED)
		grown = move_mapping(m, length);
	if (!grown) {
		budget.used -= length - m->length;
		return NULL;
	}
	madvise(grown, length, MADV_HUGEPAGE);
	m->base = grown;
	m->length = length;
	return grown;
}

void ph_big_prefault(void *buffer, size_t size)
{
	if (!buffer || !size)
		return;
	if (madvise(buffer, size, MADV_POPULATE_WRITE) == 0)
		return;
	/* before Linux 5.14: one write per page */
	volatile unsigned char *p = buffer;
	for (size_t at = 0; at < size; at += 4096)
		p[at] = 0;
}
