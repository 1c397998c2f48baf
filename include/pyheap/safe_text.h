/* Printing text that came from a target: its bytes are the target's to
 * choose, and a terminal interprets control characters (ANSI escapes can
 * rewrite the screen or the window title). Every text output of pyheap
 * goes through here; JSON output escapes on its own. */
#ifndef PYHEAP_SAFE_TEXT_H
#define PYHEAP_SAFE_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Copies src into dst (size bytes, NUL-terminated) with C0 controls, DEL
 * and C1 controls (U+0080-U+009F) written as \xNN. */
void ph_safe_text(char *dst, size_t size, const char *src);
/* fputs with the same escaping. */
void ph_fputs_safe(const char *s, FILE *out);

/* --redact: a string's contents replaced by its length and a hash, so the
 * same secret still matches itself across snapshots. */
void ph_redacted(char *dst, size_t size, const char *text, size_t length);

#endif
