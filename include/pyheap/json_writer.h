/* A streaming JSON writer: values go straight to a FILE with commas and
 * nesting tracked on a small stack, so a million-entry document never
 * exists as a tree in memory. Strings are escaped and invalid UTF-8 is
 * replaced, so target-controlled bytes always yield valid JSON. */
#ifndef PYHEAP_JSON_WRITER_H
#define PYHEAP_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define PH_JSON_MAX_DEPTH 64

struct ph_json_writer {
	FILE *out;
	int depth;
	bool pretty;
	bool need_comma[PH_JSON_MAX_DEPTH];
	bool after_key;
	bool failed; /* nesting misuse; I/O errors show through ferror(out) */
};

void ph_json_init(struct ph_json_writer *w, FILE *out, bool pretty);
void ph_json_begin_object(struct ph_json_writer *w);
void ph_json_end_object(struct ph_json_writer *w);
void ph_json_begin_array(struct ph_json_writer *w);
void ph_json_end_array(struct ph_json_writer *w);
void ph_json_key(struct ph_json_writer *w, const char *key);
void ph_json_string(struct ph_json_writer *w, const char *value);
void ph_json_string_n(struct ph_json_writer *w, const char *value, size_t len);
void ph_json_int(struct ph_json_writer *w, int64_t value);
void ph_json_uint(struct ph_json_writer *w, uint64_t value);
void ph_json_double(struct ph_json_writer *w, double value);
void ph_json_bool(struct ph_json_writer *w, bool value);
void ph_json_null(struct ph_json_writer *w);
/* Flat arrays of integers, the bulk of a graph: formatted by hand into a
 * buffer, one fwrite per few thousand numbers. Use between
 * begin_array/end_array as the array's only content. */
struct ph_int_stream {
	struct ph_json_writer *w;
	char buffer[65536];
	size_t used;
	bool first;
};
void ph_int_stream_begin(struct ph_int_stream *s, struct ph_json_writer *w);
void ph_int_stream_put(struct ph_int_stream *s, int64_t value);
void ph_int_stream_end(struct ph_int_stream *s);

/* Ends the document with a newline; false if anything failed. */
bool ph_json_finish(struct ph_json_writer *w);

/* Writes s as a JSON string literal (quotes included). */
void ph_json_write_escaped(FILE *out, const char *s, size_t len);

#endif
