/* Reading int values (for labels and details), both digit layouts:
 * ob_size with sign (<= 3.11) and lv_tag (3.12+). */
#include "../debuginfo/sizeof_layout.h"
#include "pyheap/target.h"

bool ph_int_value(const struct ph_target *t, uint64_t obj, int64_t *value)
{
	const struct ph_sizeof_layout *s = t->layout->sizes;
	uint64_t ndigits;
	bool negative;
	uint64_t digits_at;
	if (s->long_lv_tag != PH_ABSENT) {
		uint64_t tag;
		if (!ph_read_u64(t, obj + s->long_lv_tag, &tag))
			return false;
		ndigits = tag >> 3;
		negative = (tag & 3) == 2;
		digits_at = obj + s->long_lv_tag + 8;
	} else {
		int64_t ob_size;
		if (s->long_digits == PH_ABSENT || !ph_read_i64(t, obj + t->layout->ob_size, &ob_size))
			return false;
		negative = ob_size < 0;
		ndigits = ph_magnitude(ob_size);
		digits_at = obj + s->long_digits;
	}
	if (ndigits > 2)
		return false; /* more than 60 bits: not needed for labels */
	uint32_t digits[2] = {0, 0};
	if (ndigits && !ph_read(t, digits_at, digits, (size_t)ndigits * 4))
		return false;
	uint64_t magnitude = (uint64_t)digits[0] | ((uint64_t)digits[1] << 30);
	*value = negative ? -(int64_t)magnitude : (int64_t)magnitude;
	return true;
}
