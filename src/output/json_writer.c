#include "pyheap/json_writer.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void ph_json_init(struct ph_json_writer *w, FILE *out, bool pretty)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->pretty = pretty;
}

static void newline_indent(struct ph_json_writer *w)
{
	if (!w->pretty)
		return;
	fputc('\n', w->out);
	for (int i = 0; i < w->depth; i++)
		fputs("  ", w->out);
}

/* Emits the separator a new value needs at the current position. */
static void before_value(struct ph_json_writer *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0) {
		if (w->need_comma[w->depth])
			fputc(',', w->out);
		w->need_comma[w->depth] = true;
		newline_indent(w);
	}
}

static void open_container(struct ph_json_writer *w, char c)
{
	before_value(w);
	fputc(c, w->out);
	if (w->depth + 1 >= PH_JSON_MAX_DEPTH) {
		w->failed = true;
		return;
	}
	w->depth++;
	w->need_comma[w->depth] = false;
}

static void close_container(struct ph_json_writer *w, char c)
{
	if (w->depth == 0) {
		w->failed = true;
		return;
	}
	bool had_items = w->need_comma[w->depth];
	w->depth--;
	if (had_items)
		newline_indent(w);
	fputc(c, w->out);
}

void ph_json_begin_object(struct ph_json_writer *w) { open_container(w, '{'); }
void ph_json_end_object(struct ph_json_writer *w) { close_container(w, '}'); }
void ph_json_begin_array(struct ph_json_writer *w) { open_container(w, '['); }
void ph_json_end_array(struct ph_json_writer *w) { close_container(w, ']'); }

void ph_json_key(struct ph_json_writer *w, const char *key)
{
	before_value(w);
	ph_json_write_escaped(w->out, key, strlen(key));
	fputs(w->pretty ? ": " : ":", w->out);
	w->after_key = true;
}

/* Length of a valid UTF-8 sequence at s (at most len bytes), or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if ((c & 0xE0) == 0xC0) {
		n = 2;
		cp = c & 0x1F;
	} else if ((c & 0xF0) == 0xE0) {
		n = 3;
		cp = c & 0x0F;
	} else if ((c & 0xF8) == 0xF0) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	static const uint32_t minimum[5] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < minimum[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

void ph_json_write_escaped(FILE *out, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	fputc('"', out);
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			fputc('\\', out);
			fputc(c, out);
			i++;
		} else if (c < 0x20 || c == 0x7F) {
			switch (c) {
			case '\n': fputs("\\n", out); break;
			case '\r': fputs("\\r", out); break;
			case '\t': fputs("\\t", out); break;
			default: fprintf(out, "\\u%04x", c); break;
			}
			i++;
		} else if (c < 0x80) {
			fputc(c, out);
			i++;
		} else {
			size_t n = utf8_sequence(s + i, len - i);
			if (n == 0) {
				fputs("\\ufffd", out);
				i++;
			} else {
				fwrite(s + i, 1, n, out);
				i += n;
			}
		}
	}
	fputc('"', out);
}

void ph_json_string(struct ph_json_writer *w, const char *value)
{
	ph_json_string_n(w, value, strlen(value));
}

void ph_json_string_n(struct ph_json_writer *w, const char *value, size_t len)
{
	before_value(w);
	ph_json_write_escaped(w->out, value, len);
}

void ph_json_int(struct ph_json_writer *w, int64_t value)
{
	before_value(w);
	fprintf(w->out, "%" PRId64, value);
}

void ph_json_uint(struct ph_json_writer *w, uint64_t value)
{
	before_value(w);
	fprintf(w->out, "%" PRIu64, value);
}

void ph_json_double(struct ph_json_writer *w, double value)
{
	before_value(w);
	if (!isfinite(value))
		fputs("null", w->out); /* JSON has no NaN or infinity */
	else {
		/* Shortest of %.15g/%.17g that reads back as the same double. */
		char text[40];
		snprintf(text, sizeof(text), "%.15g", value);
		if (strtod(text, NULL) != value)
			snprintf(text, sizeof(text), "%.17g", value);
		fputs(text, w->out);
	}
}

void ph_json_bool(struct ph_json_writer *w, bool value)
{
	before_value(w);
	fputs(value ? "true" : "false", w->out);
}

void ph_json_null(struct ph_json_writer *w)
{
	before_value(w);
	fputs("null", w->out);
}

bool ph_json_finish(struct ph_json_writer *w)
{
	if (w->depth != 0)
		w->failed = true;
	fputc('\n', w->out);
	return !w->failed && !ferror(w->out);
}

void ph_int_stream_begin(struct ph_int_stream *s, struct ph_json_writer *w)
{
	s->w = w;
	s->used = 0;
	s->first = true;
}

void ph_int_stream_put(struct ph_int_stream *s, int64_t value)
{
	if (sizeof(s->buffer) - s->used < 24) {
		fwrite(s->buffer, 1, s->used, s->w->out);
		s->used = 0;
	}
	char *p = s->buffer + s->used;
	if (!s->first)
		*p++ = ',';
	s->first = false;
	uint64_t magnitude = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
	if (value < 0)
		*p++ = '-';
	/* two digits per division: these arrays hold millions of numbers */
	static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
				    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
				    "8081828384858687888990919293949596979899";
	char digits[24];
	int n = 24;
	while (magnitude >= 100) {
		unsigned two = (unsigned)(magnitude % 100) * 2;
		magnitude /= 100;
		digits[--n] = pairs[two + 1];
		digits[--n] = pairs[two];
	}
	if (magnitude >= 10) {
		unsigned two = (unsigned)magnitude * 2;
		digits[--n] = pairs[two + 1];
		digits[--n] = pairs[two];
	} else {
		digits[--n] = (char)('0' + magnitude);
	}
	memcpy(p, digits + n, (size_t)(24 - n));
	p += 24 - n;
	s->used = (size_t)(p - s->buffer);
}

void ph_int_stream_end(struct ph_int_stream *s)
{
	fwrite(s->buffer, 1, s->used, s->w->out);
	s->used = 0;
}
