/* Executing frames as roots: frame objects (<= 3.10) or interpreter frames
 * (3.11+, which are not objects and become pseudo-nodes). */
#ifndef PYHEAP_SNAPSHOT_FRAMES_H
#define PYHEAP_SNAPSHOT_FRAMES_H

#include "graph_build.h"
#include "pyheap/referents.h"

void ph_thread_frame_roots(struct ph_graph_builder *b, uint64_t interp);
void ph_walk_pseudo_frame(struct ph_referent_visitor *v, struct ph_graph_builder *b, uint32_t node);

#endif
