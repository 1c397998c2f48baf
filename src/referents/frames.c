/* Frame objects and generators. */
#include "family.h"

void ph_walk_frame_object(struct ph_referent_visitor *v, uint64_t obj)
{
	ph_emit_object_members(v, obj, &v->t->layout->refs->frame_object, NULL);
}

void ph_walk_generator(struct ph_referent_visitor *v, uint64_t obj)
{
	ph_emit_object_members(v, obj, &v->t->layout->refs->generator, NULL);
}
