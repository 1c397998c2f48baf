/* Executing frames as roots: frame objects (<= 3.10) or interpreter frames
 * (3.11+, which are not objects and become pseudo-nodes). */
#ifndef PYHEAP_SNAPSHOT_FRAMES_H
#define PYHEAP_SNAPSHOT_FRAMES_H

#include "graph_build.h"
#include "pyheap/referents.h"

/* "function (file.py:line)" for a frame object or an interpreter frame. */
bool ph_describe_frame(const struct ph_target *t, uint64_t frame_or_iframe, bool is_iframe,
		       char *buf, size_t size);
/* Function, file and line of a traceback entry. */
bool ph_traceback_location(const struct ph_target *t, uint64_t frame, int lineno, int lasti,
			   char *function, size_t fsize, char *file, size_t file_size, int *line);
/* "function (file.py:line)" for a traceback entry. */
bool ph_describe_traceback_line(const struct ph_target *t, uint64_t frame, int lineno, int lasti,
				char *buf, size_t size);
void ph_thread_frame_roots(struct ph_graph_builder *b, uint64_t interp);
void ph_walk_pseudo_frame(struct ph_referent_visitor *v, struct ph_graph_builder *b, uint32_t node);

#endif
