/* pyheap's own large buffers (the copy of the target, the block cache, the
 * graph's arrays and tables) and the memory budget they share.
 *
 * Large buffers are mapped in 2 MiB-aligned pieces with MADV_HUGEPAGE: on a
 * guest with shadow page tables or lazily backed memory, every fresh 4 KiB
 * page costs a trip to the hypervisor (about 10 us measured on the PVM
 * guest of docs/performance.md, against 0.2 us per 4 KiB inside a 2 MiB
 * page), and a random walk over hundreds of megabytes misses the TLB far
 * less with 2 MiB pages.
 *
 * The budget is a share of MemAvailable when pyheap starts (half, or
 * PYHEAP_MEMORY_BUDGET_MB): every large buffer is counted against it, and an
 * allocation that would pass it fails instead, so a snapshot too big for the
 * host ends with PH_EXIT_MEMORY_BUDGET and a message instead of pushing the
 * host into the OOM killer. Small allocations (malloc) are not counted. */
#ifndef PYHEAP_BIG_ALLOC_H
#define PYHEAP_BIG_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pyheap/error.h"

/* Buffers at least this large are mapped with huge pages; smaller ones
 * come from malloc. */
#define PH_BIG_ALLOC_MIN ((size_t)2 << 20)

/* Zero-filled, or NULL when out of memory or past the budget (then
 * ph_budget_refusal() says so). */
void *ph_big_alloc(size_t size);
/* count * size bytes, zeroed; NULL also when the product overflows. */
void *ph_big_calloc(size_t count, size_t size);
/* Grows or shrinks a buffer from ph_big_alloc (or NULL); new bytes are
 * zero. On failure the old buffer is left as it was. */
void *ph_big_realloc(void *buffer, size_t size);
/* Any pointer from ph_big_alloc/ph_big_realloc, or from malloc (the
 * snapshot reader's arrays), or NULL. */
void ph_big_free(void *buffer);
/* Faults the first size bytes in now (while the target still runs, for
 * a buffer that will be filled while it is stopped). */
void ph_big_prefault(void *buffer, size_t size);

/* The limit in bytes, and how it was set ("half of MemAvailable (N MiB)",
 * "PYHEAP_MEMORY_BUDGET_MB"). */
uint64_t ph_budget_limit(void);
const char *ph_budget_source(void);
/* Bytes held in large buffers now, and at most so far. */
uint64_t ph_budget_used(void);
uint64_t ph_budget_peak(void);
/* Whether `bytes` more would still be within the limit. */
bool ph_budget_fits(uint64_t bytes);
/* The size of the last allocation refused for the budget, 0 if none. */
uint64_t ph_budget_refusal(void);
/* A PH_EXIT_MEMORY_BUDGET error naming `what` needed more than the budget
 * allows, with how to raise it. */
struct ph_error *ph_budget_error(const char *what, uint64_t needed);

#endif
