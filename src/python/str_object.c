/* Reading str objects (PEP 393 layouts: compact ASCII, compact, legacy). */
#include <string.h>

#include "pyheap/target.h"

bool ph_is_str(const struct ph_target *t, uint64_t obj)
{
	uint64_t type, flags;
	if (!ph_read_ob_type(t, obj, &type))
		return false;
	if (type == t->unicode_type)
		return true;
	return ph_read_type_flags(t, type, &flags) && (flags & PH_TPFLAGS_UNICODE_SUBCLASS);
}

static size_t put_utf8(char *out, uint32_t cp)
{
	if (cp >= 0xD800 && cp <= 0xDFFF)
		cp = 0xFFFD; /* lone surrogates have no UTF-8 form */
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	if (cp > 0x10FFFF)
		cp = 0xFFFD;
	if (cp == 0xFFFD)
		return put_utf8(out, cp);
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

bool ph_str_header_read(const struct ph_target *t, uint64_t obj, struct ph_str_header *h)
{
	const struct ph_layout *l = t->layout;
	int64_t length;
	uint32_t kind, compact, ascii;
	if (!ph_read_i64(t, obj + l->str_length, &length) || length < 0 ||
	    !ph_read_bitfield(t, obj, &l->str_kind, &kind) ||
	    !ph_read_bitfield(t, obj, &l->str_compact, &compact) ||
	    !ph_read_bitfield(t, obj, &l->str_ascii, &ascii))
		return false;
	*h = (struct ph_str_header){(uint64_t)length, kind, compact != 0, ascii != 0, 0};
	if (compact)
		h->data = obj + (ascii ? l->ascii_size : l->compact_size);
	else if (!ph_read_u64(t, obj + l->str_data_any, &h->data))
		return false;
	return true;
}

bool ph_str_read(const struct ph_target *t, uint64_t obj, char *buf, size_t max, bool *truncated)
{
	if (max == 0 || !ph_is_str(t, obj))
		return false;
	struct ph_str_header h;
	if (!ph_str_header_read(t, obj, &h))
		return false;
	if ((h.kind != 1 && h.kind != 2 && h.kind != 4) || h.data == 0)
		return false; /* a legacy string not yet made ready: no PEP 393 data */
	uint64_t length = h.length, data = h.data, kind = h.kind;

	/* Read at most what fits: each code point becomes >= 1 byte. */
	uint64_t want = (uint64_t)length;
	bool cut = false;
	if (want > max - 1) {
		want = max - 1;
		cut = true;
	}
	unsigned char raw[4096];
	size_t out = 0;
	uint64_t done = 0;
	while (done < want) {
		uint64_t chunk = want - done;
		if (chunk * kind > sizeof(raw))
			chunk = sizeof(raw) / kind;
		if (!ph_read(t, data + done * kind, raw, (size_t)(chunk * kind)))
			return false;
		for (uint64_t i = 0; i < chunk; i++) {
			uint32_t cp;
			if (kind == 1)
				cp = raw[i];
			else if (kind == 2)
				cp = (uint32_t)raw[2 * i] | (uint32_t)raw[2 * i + 1] << 8;
			else
				memcpy(&cp, raw + 4 * i, 4);
			char encoded[4];
			size_t n = put_utf8(encoded, cp);
			if (out + n > max - 1) {
				cut = true;
				done = want;
				break;
			}
			memcpy(buf + out, encoded, n);
			out += n;
		}
		done += chunk;
	}
	buf[out] = '\0';
	if (truncated)
		*truncated = cut;
	return true;
}
