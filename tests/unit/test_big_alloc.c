/* pyheap's own large buffers: huge-page alignment, zero fill, growth that
 * keeps the bytes, malloc pointers freed too, and the memory budget
 * refusing what would pass it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pyheap/big_alloc.h"
#include "unit.h"

static bool all_zero(const unsigned char *p, size_t from, size_t to)
{
	for (size_t i = from; i < to; i += 4093)
		if (p[i])
			return false;
	return p[to - 1] == 0;
}

int main(void)
{
	/* read once, at the first allocation */
	setenv("PYHEAP_MEMORY_BUDGET_MB", "64", 1);
	CHECK(ph_budget_limit() == (uint64_t)64 << 20, "limit %llu",
	      (unsigned long long)ph_budget_limit());
	CHECK(strstr(ph_budget_source(), "PYHEAP_MEMORY_BUDGET_MB") != NULL, "source '%s'",
	      ph_budget_source());

	unsigned char *small = ph_big_alloc(1000);
	CHECK(small && all_zero(small, 0, 1000), "a small buffer is zeroed malloc memory");
	CHECK(ph_budget_used() == 0, "small buffers are not counted: %llu",
	      (unsigned long long)ph_budget_used());

	size_t size = (size_t)5 << 20;
	unsigned char *big = ph_big_alloc(size);
	CHECK(big && ((uintptr_t)big & ((2u << 20) - 1)) == 0, "a large buffer is 2 MiB aligned: %p",
	      (void *)big);
	CHECK(big && all_zero(big, 0, size), "and zeroed");
	CHECK(ph_budget_used() == (uint64_t)6 << 20, "counted in whole huge pages: %llu",
	      (unsigned long long)ph_budget_used());
	if (!big)
		return unit_finish("unit-big-alloc");
	memset(big, 0xab, size);
	ph_big_prefault(big, size);
	CHECK(big[0] == 0xab && big[size - 1] == 0xab, "prefaulting keeps what is there");

	/* something mapped right after it forces the next growth to move */
	unsigned char *neighbour = ph_big_alloc((size_t)2 << 20);
	unsigned char *grown = ph_big_realloc(big, (size_t)20 << 20);
	CHECK(grown != NULL, "grows");
	if (grown) {
		CHECK(grown[0] == 0xab && grown[size - 1] == 0xab, "growth keeps the bytes");
		CHECK(all_zero(grown, size, (size_t)20 << 20), "new bytes are zero");
		CHECK(((uintptr_t)grown & ((2u << 20) - 1)) == 0, "still aligned after growing");
		big = grown;
	}
	unsigned char *shrunk = ph_big_realloc(big, (size_t)3 << 20);
	CHECK(shrunk == big && shrunk[0] == 0xab, "shrinks in place");
	big = shrunk;
	CHECK(ph_budget_used() == (uint64_t)6 << 20, "in use after shrinking: %llu",
	      (unsigned long long)ph_budget_used());

	unsigned char *promoted = ph_big_realloc(small, (size_t)3 << 20);
	CHECK(promoted && all_zero(promoted, 0, (size_t)3 << 20), "a small buffer grows into a large one");
	small = NULL;

	CHECK(ph_budget_fits((uint64_t)50 << 20) && !ph_budget_fits((uint64_t)60 << 20),
	      "fits: %llu in use", (unsigned long long)ph_budget_used());
	unsigned char *too_big = ph_big_alloc((size_t)60 << 20);
	CHECK(too_big == NULL, "an allocation past the budget is refused");
	CHECK(ph_budget_refusal() == (uint64_t)60 << 20, "and remembered: %llu",
	      (unsigned long long)ph_budget_refusal());
	struct ph_error *err = ph_budget_error("the test", (uint64_t)60 << 20);
	CHECK(err->exit_code == PH_EXIT_MEMORY_BUDGET && strstr(err->message, "60 MiB") &&
		  strstr(err->message, "PYHEAP_MEMORY_BUDGET_MB"),
	      "the error names the size and the knob: %s", err->message);
	ph_error_free(err);
	unsigned char *refused_growth = ph_big_realloc(big, (size_t)80 << 20);
	CHECK(refused_growth == NULL && big[0] == 0xab, "refused growth leaves the buffer as it was");

	ph_big_free(big);
	ph_big_free(neighbour);
	ph_big_free(promoted);
	void *plain = malloc(100);
	ph_big_free(plain); /* a malloc pointer (the snapshot reader's) */
	ph_big_free(NULL);
	CHECK(ph_budget_used() == 0, "all returned: %llu", (unsigned long long)ph_budget_used());
	CHECK(ph_budget_peak() == (uint64_t)22 << 20, "peak %llu",
	      (unsigned long long)ph_budget_peak());
	return unit_finish("unit-big-alloc");
}
