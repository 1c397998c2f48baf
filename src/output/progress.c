#include "pyheap/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util.h"

/* A step shorter than this never shows a line: no flicker for quick runs. */
#define PROGRESS_DELAY_NS 300000000ull
#define PROGRESS_REDRAW_NS 100000000ull

static bool colour_wanted(void)
{
	const char *no_color = getenv("NO_COLOR");
	const char *term = getenv("TERM");
	if (no_color && no_color[0]) /* no-color.org: set and not empty */
		return false;
	return !(term && strcmp(term, "dumb") == 0);
}

static void set_step(struct ph_progress *p)
{
	/* look at the clock about a thousand times over the step */
	p->step = p->total / 1000;
	if (p->step < 1024)
		p->step = 1024;
	p->next_check = 0;
}

void ph_progress_begin(struct ph_progress *p, bool quiet, const char *what, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->enabled = !quiet && isatty(STDERR_FILENO);
	if (!p->enabled)
		return;
	p->colour = colour_wanted();
	snprintf(p->what, sizeof(p->what), "%s", what);
	p->total = total;
	p->start_ns = ph_now_ns();
	/* tests see the line at once instead of after the delay */
	if (getenv("PYHEAP_TEST_PROGRESS"))
		p->start_ns -= PROGRESS_DELAY_NS;
	set_step(p);
}

void ph_progress_phase(struct ph_progress *p, const char *what, uint64_t total)
{
	if (!p->enabled)
		return;
	snprintf(p->what, sizeof(p->what), "%s", what);
	p->total = total;
	set_step(p);
	p->last_draw_ns = 0;
	ph_progress_tick(p, 0);
}

static void draw(struct ph_progress *p, const char *text)
{
	int n = (int)strlen(text);
	fprintf(stderr, "\r%s%s%s%*s", p->colour ? "\033[1m" : "", text, p->colour ? "\033[0m" : "",
		p->width > (unsigned)n ? (int)(p->width - (unsigned)n) : 0, "");
	fflush(stderr);
	if ((unsigned)n > p->width)
		p->width = (unsigned)n;
	p->shown = true;
}

void ph_progress_status(struct ph_progress *p, const char *what)
{
	if (!p->enabled)
		return;
	char line[256];
	snprintf(line, sizeof(line), "pyheap: %s", what);
	draw(p, line);
	snprintf(p->what, sizeof(p->what), "%s", what);
	p->total = 0;
	set_step(p);
}

static void erase(struct ph_progress *p)
{
	if (!p->shown)
		return;
	/* spaces, not an escape sequence: works on any terminal */
	fprintf(stderr, "\r%*s\r", (int)p->width, "");
	p->shown = false;
}

void ph_progress_tick(struct ph_progress *p, uint64_t done)
{
	if (!p->enabled)
		return;
	p->next_check = done + p->step;
	uint64_t now = ph_now_ns();
	if (now - p->start_ns < PROGRESS_DELAY_NS || now - p->last_draw_ns < PROGRESS_REDRAW_NS)
		return;
	p->last_draw_ns = now;
	char amount[64];
	if (p->total)
		snprintf(amount, sizeof(amount), "%3u%% (%llu of %llu)",
			 (unsigned)(done >= p->total ? 100 : done * 100 / p->total),
			 (unsigned long long)done, (unsigned long long)p->total);
	else
		snprintf(amount, sizeof(amount), "%llu", (unsigned long long)done);
	double seconds = (double)(now - p->start_ns) / 1e9;
	char line[256];
	snprintf(line, sizeof(line), "pyheap: %s %s, %.0f s", p->what, amount, seconds);
	draw(p, line);
}

void ph_progress_clear(struct ph_progress *p)
{
	if (!p->enabled)
		return;
	erase(p);
	fflush(stderr);
	p->last_draw_ns = 0;
}

void ph_progress_end(struct ph_progress *p)
{
	if (!p->enabled)
		return;
	erase(p);
	fflush(stderr);
	p->enabled = false;
}
