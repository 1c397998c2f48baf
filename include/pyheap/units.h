/* Byte counts for people: IEC units (1.5 KiB, 3.8 GiB). */
#ifndef PYHEAP_UNITS_H
#define PYHEAP_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "12 B", "1.5 KiB", "-3.8 GiB"; with sign, positive values get a '+'. */
void ph_format_bytes(char *buf, size_t size, int64_t bytes, bool sign);
/* "1,600" */
void ph_format_count(char *buf, size_t size, uint64_t n);

#endif
