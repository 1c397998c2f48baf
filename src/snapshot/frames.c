#include "frames.h"

void ph_thread_frame_roots(struct ph_graph_builder *b, uint64_t interp)
{
	(void)b;
	(void)interp;
}

void ph_walk_pseudo_frame(struct ph_referent_visitor *v, struct ph_graph_builder *b, uint32_t node)
{
	(void)v;
	(void)b;
	(void)node;
}
