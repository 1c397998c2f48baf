#ifndef PYHEAP_PYTHON_CODE_H
#define PYHEAP_PYTHON_CODE_H

#include "pyheap/target.h"

/* Slots of a frame for this code: locals, cells and free variables. */
int64_t ph_code_slot_count(const struct ph_target *t, uint64_t code);
/* The name of slot i. */
bool ph_code_slot_name(const struct ph_target *t, uint64_t code, int64_t slot, char *buf,
		       size_t size);
/* The str object naming slot i, or 0. */
uint64_t ph_code_slot_name_object(const struct ph_target *t, uint64_t code, int64_t slot);
/* co_qualname (or co_name) and co_filename. */
bool ph_code_names(const struct ph_target *t, uint64_t code, char *function, size_t fsize,
		   char *file, size_t file_size);
/* The line executing at instruction offset `offset` (in code units),
 * or -1. */
int ph_code_line(const struct ph_target *t, uint64_t code, int64_t offset_units);

#endif
