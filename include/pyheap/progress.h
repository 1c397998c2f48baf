/* Progress of a long step (walking millions of objects, loading a big
 * snapshot, exporting, computing dominators) on stderr: only when stderr is
 * a terminal and the command was not asked to be quiet, redrawn in place at
 * most ten times a second, shown only once the step has run for a while,
 * and erased when it ends so the terminal keeps only real output. Colour
 * only when NO_COLOR is unset and TERM is not "dumb".
 *
 *     struct ph_progress p;
 *     ph_progress_begin(&p, quiet, "exporting nodes", node_count);
 *     for (i = 0; i < node_count; i++) { ...; ph_progress_update(&p, i); }
 *     ph_progress_end(&p);
 *
 * ph_progress_update is cheap enough for a per-object loop: it reads the
 * clock only every few thousand calls. */
#ifndef PYHEAP_PROGRESS_H
#define PYHEAP_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct ph_progress {
	bool enabled;      /* stderr is a terminal and not quiet */
	bool colour;
	bool shown;        /* a line is on the screen */
	char what[160];    /* "exporting nodes" (copied) */
	uint64_t total;    /* 0 when unknown: a count is shown instead of a percentage */
	uint64_t next_check; /* done-count at which to look at the clock again */
	uint64_t step;
	uint64_t start_ns, last_draw_ns;
	unsigned width;    /* characters of the last line drawn, to erase it */
};

void ph_progress_begin(struct ph_progress *p, bool quiet, const char *what, uint64_t total);
/* The next phase of the same command: a new label and total, same line. */
void ph_progress_phase(struct ph_progress *p, const char *what, uint64_t total);
/* A step that reports no counts (reading a file): its label at once. */
void ph_progress_status(struct ph_progress *p, const char *what);
void ph_progress_tick(struct ph_progress *p, uint64_t done);
static inline void ph_progress_update(struct ph_progress *p, uint64_t done)
{
	if (p->enabled && done >= p->next_check)
		ph_progress_tick(p, done);
}
/* Erases the line for a message; the next update draws it again. */
void ph_progress_clear(struct ph_progress *p);
/* Erases the line; call before printing anything else to stderr. */
void ph_progress_end(struct ph_progress *p);

#endif
