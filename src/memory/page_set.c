#include <stdlib.h>

#include "pyheap/memory.h"

bool ph_page_set_add(struct ph_page_set *set, uint64_t page)
{
	if (set->count == set->capacity) {
		size_t capacity = set->capacity ? set->capacity * 2 : 256;
		uint64_t *grown = realloc(set->pages, capacity * sizeof(*grown));
		if (!grown)
			return false;
		set->pages = grown;
		set->capacity = capacity;
	}
	set->pages[set->count++] = page & ~(PH_PAGE_SIZE - 1);
	return true;
}

bool ph_page_set_add_all(struct ph_page_set *set, const struct ph_page_set *more)
{
	for (size_t i = 0; i < more->count; i++)
		if (!ph_page_set_add(set, more->pages[i]))
			return false;
	return true;
}

static int compare_pages(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

void ph_page_set_normalize(struct ph_page_set *set)
{
	if (set->count < 2)
		return;
	qsort(set->pages, set->count, sizeof(*set->pages), compare_pages);
	size_t kept = 1;
	for (size_t i = 1; i < set->count; i++)
		if (set->pages[i] != set->pages[kept - 1])
			set->pages[kept++] = set->pages[i];
	set->count = kept;
}

/* Index of the first page >= address. */
static size_t lower_bound(const struct ph_page_set *set, uint64_t address)
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

size_t ph_page_set_count_in(const struct ph_page_set *set, uint64_t start, uint64_t end)
{
	if (end <= start)
		return 0;
	return lower_bound(set, end) - lower_bound(set, start);
}

void ph_page_set_free(struct ph_page_set *set)
{
	free(set->pages);
	set->pages = NULL;
	set->count = set->capacity = 0;
}
