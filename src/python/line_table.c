/* Line numbers from code objects: co_lnotab (3.8-3.9), PEP 626
 * co_linetable pairs (3.10), and the location table (3.11+). Which one is
 * decided by the members the code object has. Offsets are in bytes. */
#include "../debuginfo/ref_layout.h"
#include "python_code.h"

enum { MAX_TABLE = 1 << 20 };

/* The bytes of a bytes object, or false. */
static bool read_bytes(const struct ph_target *t, uint64_t obj, unsigned char *buf, size_t max,
		       size_t *len)
{
	int64_t n;
	if (!obj || t->layout->bytes_sval == PH_ABSENT ||
	    !ph_read_i64(t, obj + t->layout->ob_size, &n) || n < 0 || (uint64_t)n > max)
		return false;
	*len = (size_t)n;
	return n == 0 || ph_read(t, obj + t->layout->bytes_sval, buf, (size_t)n);
}

static int lnotab_line(const unsigned char *p, size_t len, int line, int64_t addrq)
{
	int64_t addr = 0;
	for (size_t i = 0; i + 1 < len; i += 2) {
		addr += p[i];
		if (addr > addrq)
			break;
		line += (signed char)p[i + 1];
	}
	return line;
}

static int pairs_line(const unsigned char *p, size_t len, int line, int64_t addrq)
{
	int64_t end = 0;
	for (size_t i = 0; i + 1 < len; i += 2) {
		int64_t start = end;
		end = start + p[i];
		int entry_line = -1;
		signed char ldelta = (signed char)p[i + 1];
		if (ldelta != -128) {
			line += ldelta;
			entry_line = line;
		}
		if (start == end)
			continue;
		if (start <= addrq && addrq < end)
			return entry_line;
	}
	return -1;
}

static bool varint(const unsigned char **p, const unsigned char *end, uint64_t *value)
{
	if (*p >= end)
		return false;
	unsigned read = *(*p)++;
	uint64_t val = read & 63;
	unsigned shift = 0;
	while (read & 64) {
		if (*p >= end || shift > 56)
			return false;
		read = *(*p)++;
		shift += 6;
		val |= (uint64_t)(read & 63) << shift;
	}
	*value = val;
	return true;
}

static bool svarint(const unsigned char **p, const unsigned char *end, int64_t *value)
{
	uint64_t u;
	if (!varint(p, end, &u))
		return false;
	*value = (u & 1) ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
	return true;
}

static int locations_line(const unsigned char *p, size_t len, int line, int64_t addrq)
{
	const unsigned char *end = p + len;
	int64_t addr = 0;
	while (p < end) {
		unsigned b = *p++;
		if (!(b & 128))
			return -1; /* not at an entry start: corrupt */
		unsigned code = (b >> 3) & 15;
		int64_t start = addr;
		addr += ((b & 7) + 1) * 2;
		int entry_line;
		int64_t delta;
		uint64_t ignored;
		if (code == 15) {
			entry_line = -1;
		} else if (code == 14) {
			if (!svarint(&p, end, &delta) || !varint(&p, end, &ignored) ||
			    !varint(&p, end, &ignored) || !varint(&p, end, &ignored))
				return -1;
			line += (int)delta;
			entry_line = line;
		} else if (code == 13) {
			if (!svarint(&p, end, &delta))
				return -1;
			line += (int)delta;
			entry_line = line;
		} else if (code >= 10) {
			line += (int)code - 10;
			entry_line = line;
			p += 2;
		} else {
			entry_line = line;
			p += 1;
		}
		if (start <= addrq && addrq < addr)
			return entry_line;
	}
	return -1;
}

int ph_code_line(const struct ph_target *t, uint64_t code, int64_t byte_offset)
{
	const struct ph_ref_layout *r = t->layout->refs;
	int32_t first;
	if (r->co_firstlineno == PH_ABSENT || !ph_read(t, code + r->co_firstlineno, &first, 4))
		return -1;
	if (byte_offset < 0)
		return first;
	static unsigned char table[MAX_TABLE];
	size_t len;
	uint64_t obj;
	if (r->co_code_adaptive != PH_ABSENT) {
		if (!ph_read_u64(t, code + r->co_linetable, &obj) || !read_bytes(t, obj, table, MAX_TABLE, &len))
			return -1;
		return locations_line(table, len, first, byte_offset);
	}
	if (r->co_linetable != PH_ABSENT) {
		if (!ph_read_u64(t, code + r->co_linetable, &obj) || !read_bytes(t, obj, table, MAX_TABLE, &len))
			return -1;
		return pairs_line(table, len, first, byte_offset);
	}
	if (!ph_read_u64(t, code + r->co_lnotab, &obj) || !read_bytes(t, obj, table, MAX_TABLE, &len))
		return -1;
	return lnotab_line(table, len, first, byte_offset);
}
