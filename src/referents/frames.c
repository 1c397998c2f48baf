/* Frame objects, interpreter frames (3.11+) and generators, as their
 * traverse functions see them (frame_traverse, _PyFrame_Traverse,
 * gen_traverse), with locals labelled by name. */
#include <string.h>

#include "../python/python_code.h"
#include "family.h"

/* A _PyStackRef (3.14+) or a plain pointer: the object, or 0 for NULL and
 * tagged ints. */
static uint64_t decode_ref(const struct ph_ref_layout *r, uint64_t bits)
{
	if (!r->iframe_code_tagged)
		return bits;
	if (bits == 1 || (bits & 3) == 3)
		return 0;
	return bits & ~(uint64_t)1;
}

uint64_t ph_iframe_code(const struct ph_target *t, uint64_t iframe)
{
	const struct ph_ref_layout *r = t->layout->refs;
	uint64_t bits;
	if (r->iframe_code == PH_ABSENT || !ph_read_u64(t, iframe + r->iframe_code, &bits))
		return 0;
	return decode_ref(r, bits);
}

/* Slots of an interpreter frame. mode_traverse: [0, stacktop) as
 * _PyFrame_Traverse does (nothing past the locals of a running frame);
 * otherwise the named slots only, [0, co_nlocalsplus). */
void ph_walk_iframe_slots(struct ph_referent_visitor *v, uint64_t iframe, bool mode_traverse)
{
	const struct ph_target *t = v->t;
	const struct ph_ref_layout *r = t->layout->refs;
	uint64_t code = ph_iframe_code(t, iframe);
	int64_t named = code ? ph_code_slot_count(t, code) : 0;
	int64_t count = named;
	if (mode_traverse) {
		count = 0;
		if (r->iframe_stackpointer != PH_ABSENT) {
			uint64_t sp;
			if (ph_read_u64(t, iframe + r->iframe_stackpointer, &sp) &&
			    sp >= iframe + r->iframe_localsplus)
				count = (int64_t)((sp - iframe - r->iframe_localsplus) / 8);
		} else if (r->iframe_stacktop != PH_ABSENT) {
			int32_t top;
			if (ph_read(t, iframe + r->iframe_stacktop, &top, 4) && top > 0)
				count = top;
		}
		if (count > named + 4096)
			count = 0; /* not believable */
	}
	for (int64_t i = 0; i < count; i++) {
		uint64_t bits;
		if (!ph_read_u64(t, iframe + r->iframe_localsplus + (uint64_t)i * 8, &bits)) {
			v->truncated = true;
			return;
		}
		uint64_t value = decode_ref(r, bits);
		if (!value)
			continue;
		uint64_t name = i < named ? ph_code_slot_name_object(t, code, i) : 0;
		uint32_t label = name ? v->label(v, name, PH_LABEL_STR) : UINT32_MAX;
		if (label != UINT32_MAX)
			v->edge_label(v, value, PH_EDGE_LOCAL, label);
		else
			emit(v, value, PH_EDGE_ATTRIBUTE, 0, "<stack>");
	}
}

/* _PyFrame_Traverse without the slots: frame_obj, f_locals, the function
 * and the code. */
static void walk_iframe_specials(struct ph_referent_visitor *v, uint64_t iframe)
{
	const struct ph_ref_layout *r = v->t->layout->refs;
	uint64_t bits;
	emit_member(v, iframe, r->iframe_frame_obj, "frame_obj");
	emit_member(v, iframe, r->iframe_locals, "f_locals");
	if (r->iframe_funcobj != PH_ABSENT && ph_read_u64(v->t, iframe + r->iframe_funcobj, &bits))
		emit(v, decode_ref(r, bits), PH_EDGE_ATTRIBUTE, 0, "f_func");
	emit(v, ph_iframe_code(v->t, iframe), PH_EDGE_ATTRIBUTE, 0, "f_code");
}

void ph_walk_iframe(struct ph_referent_visitor *v, uint64_t iframe, bool mode_traverse)
{
	walk_iframe_specials(v, iframe);
	ph_walk_iframe_slots(v, iframe, mode_traverse);
}

void ph_walk_frame_object(struct ph_referent_visitor *v, uint64_t obj)
{
	const struct ph_target *t = v->t;
	const struct ph_ref_layout *r = t->layout->refs;
	if (r->f_frame == PH_ABSENT) {
		/* <= 3.10: the frame object is the frame */
		static const char *const only[] = {"f_back",   "f_code",   "f_builtins",
						   "f_globals", "f_locals", "f_trace", NULL};
		ph_emit_only_members(v, obj, &r->frame_object, only);
		uint64_t code;
		if (!ph_read_u64(t, obj + r->f_code, &code) || !code)
			return;
		int64_t slots = ph_code_slot_count(t, code);
		for (int64_t i = 0; i < slots; i++) {
			uint64_t value;
			if (!ph_read_u64(t, obj + r->f_localsplus + (uint64_t)i * 8, &value)) {
				v->truncated = true;
				return;
			}
			if (!value)
				continue;
			uint64_t name = ph_code_slot_name_object(t, code, i);
			uint32_t label = name ? v->label(v, name, PH_LABEL_STR) : UINT32_MAX;
			if (label != UINT32_MAX)
				v->edge_label(v, value, PH_EDGE_LOCAL, label);
			else
				emit(v, value, PH_EDGE_ATTRIBUTE, 0, "<slot>");
		}
		uint64_t stack, top = 0;
		int32_t depth = 0;
		if (!ph_read_u64(t, obj + r->f_valuestack, &stack) || !stack)
			return;
		if (r->f_stacktop != PH_ABSENT && ph_read_u64(t, obj + r->f_stacktop, &top) && top > stack)
			depth = (int32_t)((top - stack) / 8);
		else if (r->f_stackdepth != PH_ABSENT)
			ph_read(t, obj + r->f_stackdepth, &depth, 4);
		for (int32_t i = 0; i < depth && i < 65536; i++) {
			uint64_t value;
			if (ph_read_u64(t, stack + (uint64_t)i * 8, &value))
				emit(v, value, PH_EDGE_ATTRIBUTE, 0, "<stack>");
		}
		return;
	}
	/* 3.11+: f_back, f_trace (and 3.13+'s extra locals), then the
	 * interpreter frame only if this object owns it */
	static const char *const only[] = {"f_back", "f_trace", "f_extra_locals", "f_locals_cache",
					   "f_overwritten_fast_locals", NULL};
	ph_emit_only_members(v, obj, &r->frame_object, only);
	uint64_t iframe;
	if (ph_read_u64(t, obj + r->f_frame, &iframe) && iframe == obj + r->f_frame_data)
		ph_walk_iframe(v, iframe, true);
}

enum { FRAME_CLEARED = 4 };

void ph_walk_generator(struct ph_referent_visitor *v, uint64_t obj)
{
	const struct ph_target *t = v->t;
	const struct ph_ref_layout *r = t->layout->refs;
	uint64_t type = 0;
	ph_read_ob_type(t, obj, &type);
	if (type && type == t->async_gen_type)
		emit_member(v, obj, r->asyncgen_finalizer, "ag_finalizer");
	if (r->gen_iframe == PH_ABSENT) {
		static const char *const only[] = {"gi_frame", "gi_code", "gi_name", "gi_qualname", NULL};
		ph_emit_only_members(v, obj, &r->generator, only);
		emit_member(v, obj, r->gen_exc_type, "exc_type");
		emit_member(v, obj, r->gen_exc_value, "exc_value");
		emit_member(v, obj, r->gen_exc_traceback, "exc_traceback");
		return;
	}
	static const char *const only[] = {"gi_code", "gi_name", "gi_qualname", NULL};
	ph_emit_only_members(v, obj, &r->generator, only);
	int8_t state = FRAME_CLEARED;
	ph_read(t, obj + r->gen_frame_state, &state, 1);
	uint64_t iframe = obj + r->gen_iframe;
	if (state < FRAME_CLEARED || (t->version_minor >= 13 && state != FRAME_CLEARED))
		ph_walk_iframe(v, iframe, true);
	else if (t->version_minor >= 14)
		emit(v, ph_iframe_code(t, iframe), PH_EDGE_ATTRIBUTE, 0, "f_code");
	emit_member(v, obj, r->gen_exc_value, "exc_value");
}
