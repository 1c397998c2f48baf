/* Internal to src/referents/: the per-family walkers. */
#ifndef PYHEAP_REFERENTS_FAMILY_H
#define PYHEAP_REFERENTS_FAMILY_H

#include "../debuginfo/ref_layout.h"
#include "pyheap/referents.h"

void ph_referents_bind_symbols(struct ph_target *t);

static inline void emit(struct ph_referent_visitor *v, uint64_t target, enum ph_edge_kind kind,
			uint64_t number, const char *name)
{
	if (target)
		v->edge(v, target, kind, number, name);
}

/* Reads a pointer member and emits it as an attribute edge. */
static inline void emit_member(struct ph_referent_visitor *v, uint64_t obj, uint64_t offset,
			       const char *name)
{
	uint64_t target;
	if (offset == UINT64_MAX)
		return;
	if (!ph_read_u64(v->t, obj + offset, &target)) {
		v->truncated = true;
		return;
	}
	emit(v, target, PH_EDGE_ATTRIBUTE, 0, name);
}

/* Emits every object member of a struct except those named in skip
 * (NULL-terminated), with Python-level names where there are some. */
void ph_emit_object_members(struct ph_referent_visitor *v, uint64_t obj,
			    const struct ph_object_members *members, const char *const *skip);

/* Emits only the named members, in that order. */
void ph_emit_only_members(struct ph_referent_visitor *v, uint64_t obj,
			  const struct ph_object_members *members, const char *const *only);

void ph_walk_dict(struct ph_referent_visitor *v, uint64_t obj);
void ph_walk_sequence(struct ph_referent_visitor *v, uint64_t obj, bool is_list);
void ph_walk_set(struct ph_referent_visitor *v, uint64_t obj);
void ph_walk_instance(struct ph_referent_visitor *v, uint64_t obj, const struct ph_type_entry *type);
void ph_walk_frame_object(struct ph_referent_visitor *v, uint64_t obj);
void ph_walk_generator(struct ph_referent_visitor *v, uint64_t obj);
/* Interpreter frames (3.11+): the code object, and the frame's parts. */
uint64_t ph_iframe_code(const struct ph_target *t, uint64_t iframe);
void ph_walk_iframe(struct ph_referent_visitor *v, uint64_t iframe, bool mode_traverse);
void ph_walk_iframe_slots(struct ph_referent_visitor *v, uint64_t iframe, bool mode_traverse);
void ph_walk_conservative(struct ph_referent_visitor *v, uint64_t obj, uint64_t from,
			  uint64_t to);
/* Visits the family's own referents (not the instance part). */
void ph_walk_family(struct ph_referent_visitor *v, uint64_t obj, const struct ph_type_entry *type,
		    int family);

#endif
