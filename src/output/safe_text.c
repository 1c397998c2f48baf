#include "pyheap/safe_text.h"

#include <stdbool.h>
#include <string.h>

void ph_safe_text(char *dst, size_t size, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	if (!size)
		return;
	for (const unsigned char *p = (const unsigned char *)src; *p && o + 5 < size; p++) {
		unsigned c = *p;
		bool c1 = c == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F;
		if (c < 0x20 || c == 0x7F || c1) {
			if (c1)
				c = *++p; /* the C1 code point itself */
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		} else {
			dst[o++] = (char)c;
		}
	}
	dst[o] = '\0';
}

void ph_fputs_safe(const char *s, FILE *out)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
			fprintf(out, "\\x%02x", p[1]);
			p++;
		} else if (*p < 0x20 || *p == 0x7F) {
			fprintf(out, "\\x%02x", *p);
		} else {
			fputc(*p, out);
		}
	}
}

void ph_redacted(char *dst, size_t size, const char *text, size_t length)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a 64 */
	for (size_t i = 0; i < length; i++)
		h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
	snprintf(dst, size, "<redacted %zu bytes #%08llx>", length, (unsigned long long)(h >> 32));
}
