#include "ref_layout.h"

#include <dwarf.h>
#include <stdlib.h>
#include <string.h>

#include "pyheap/dwarf_types.h"
#include "pyheap/layout.h"

static struct ph_type_index *current_index;

/* Whether a struct is a Python object: struct _object itself, or a struct
 * whose first member is an ob_base that is one. A unit may hold only a
 * declaration (struct _frame in traceback.c): look it up by its tag. */
static bool is_object_struct(Dwarf_Die *die, int depth)
{
	if (depth > 6)
		return false;
	Dwarf_Die type = *die;
	ph_dwarf_peel(&type);
	if (dwarf_tag(&type) != DW_TAG_structure_type)
		return false;
	const char *name = dwarf_diename(&type);
	if (name && strcmp(name, "_object") == 0)
		return true;
	if (dwarf_hasattr(&type, DW_AT_declaration)) {
		Dwarf_Die complete;
		if (!name || !current_index || !ph_type_index_lookup(current_index, name, &complete))
			return false;
		type = complete;
	}
	struct ph_member base;
	if (!ph_dwarf_member(&type, "ob_base", &base) || base.offset != 0)
		return false;
	return is_object_struct(&base.type, depth + 1);
}

static void collect_members(Dwarf_Die *structure, struct ph_object_members *out)
{
	memset(out, 0, sizeof(*out));
	Dwarf_Die type = *structure, child;
	ph_dwarf_peel(&type);
	ph_dwarf_size(&type, &out->struct_size);
	if (dwarf_child(&type, &child) != 0)
		return;
	do {
		if (dwarf_tag(&child) != DW_TAG_member || out->count == PH_MAX_OBJECT_MEMBERS)
			continue;
		const char *name = dwarf_diename(&child);
		struct ph_member m;
		Dwarf_Die pointee;
		if (!name || !ph_dwarf_member(&type, name, &m) || m.bit_offset >= 0 ||
		    !ph_dwarf_pointee(&m.type, &pointee) || !is_object_struct(&pointee, 0))
			continue;
		out->offsets[out->count] = m.offset;
		out->names[out->count] = strdup(name);
		if (out->names[out->count])
			out->count++;
	} while (dwarf_siblingof(&child, &child) == 0);
}

static void collect(struct ph_type_index *index, const char *type, struct ph_object_members *out)
{
	Dwarf_Die die;
	memset(out, 0, sizeof(*out));
	if (ph_type_index_lookup(index, type, &die))
		collect_members(&die, out);
}

struct ph_error *ph_ref_layout_resolve(struct ph_type_index *index, struct ph_layout *layout,
				       struct ph_ref_layout **out)
{
	(void)layout;
	struct ph_ref_layout *r = calloc(1, sizeof(*r));
	if (!r)
		return &ph_error_out_of_memory;
	current_index = index;
	collect(index, "PyFunctionObject", &r->function);
	collect(index, "PyCellObject", &r->cell);
	collect(index, "PyMethodObject", &r->method);
	collect(index, "PyModuleObject", &r->module);
	collect(index, "PyBaseExceptionObject", &r->exception);
	collect(index, "PyTracebackObject", &r->traceback);
	collect(index, "PyWeakReference", &r->weakref);
	collect(index, "classmethod", &r->classmethod);
	collect(index, "propertyobject", &r->property);
	collect(index, "PyTypeObject", &r->type);
	collect(index, "PyHeapTypeObject", &r->heaptype);
	collect(index, "PyCodeObject", &r->code);
	collect(index, "PyFrameObject", &r->frame_object);
	collect(index, "PyGenObject", &r->generator);
	collect(index, "_PyInterpreterFrame", &r->iframe);
	current_index = NULL;

	Dwarf_Die die;
	r->member_size = PH_ABSENT;
	if (ph_type_index_lookup(index, "PyMemberDef", &die))
		ph_dwarf_size(&die, &r->member_size);
	r->member_name = ph_type_index_offset(index, "PyMemberDef", "name");
	r->member_type = ph_type_index_offset(index, "PyMemberDef", "type");
	r->member_offset = ph_type_index_offset(index, "PyMemberDef", "offset");
	r->tp_members = ph_type_index_offset(index, "PyTypeObject", "tp_members");
	r->tb_lasti = ph_type_index_offset(index, "PyTracebackObject", "tb_lasti");
	r->tb_lineno = ph_type_index_offset(index, "PyTracebackObject", "tb_lineno");
	r->md_dict = ph_type_index_offset(index, "PyModuleObject", "md_dict");

	r->interp_threads_head = ph_type_index_offset(index, "PyInterpreterState", "threads.head");
	if (r->interp_threads_head == PH_ABSENT)
		r->interp_threads_head = ph_type_index_offset(index, "PyInterpreterState", "tstate_head");
	r->interp_modules = ph_type_index_offset(index, "PyInterpreterState", "imports.modules");
	if (r->interp_modules == PH_ABSENT)
		r->interp_modules = ph_type_index_offset(index, "PyInterpreterState", "modules");
	r->interp_builtins = ph_type_index_offset(index, "PyInterpreterState", "builtins");
	r->tstate_next = ph_type_index_offset(index, "PyThreadState", "next");
	r->tstate_id = ph_type_index_offset(index, "PyThreadState", "id");
	r->tstate_thread_id = ph_type_index_offset(index, "PyThreadState", "thread_id");
	r->tstate_frame = ph_type_index_offset(index, "PyThreadState", "frame");
	r->tstate_cframe = ph_type_index_offset(index, "PyThreadState", "cframe");
	r->cframe_current_frame = ph_type_index_offset(index, "_PyCFrame", "current_frame");
	r->tstate_current_frame = ph_type_index_offset(index, "PyThreadState", "current_frame");
	r->co_nlocals = ph_type_index_offset(index, "PyCodeObject", "co_nlocals");
	r->co_varnames = ph_type_index_offset(index, "PyCodeObject", "co_varnames");
	r->co_cellvars = ph_type_index_offset(index, "PyCodeObject", "co_cellvars");
	r->co_freevars = ph_type_index_offset(index, "PyCodeObject", "co_freevars");
	r->co_nlocalsplus = ph_type_index_offset(index, "PyCodeObject", "co_nlocalsplus");
	r->co_localsplusnames = ph_type_index_offset(index, "PyCodeObject", "co_localsplusnames");
	r->co_localspluskinds = ph_type_index_offset(index, "PyCodeObject", "co_localspluskinds");
	r->co_name = ph_type_index_offset(index, "PyCodeObject", "co_name");
	r->co_qualname = ph_type_index_offset(index, "PyCodeObject", "co_qualname");
	r->co_filename = ph_type_index_offset(index, "PyCodeObject", "co_filename");
	r->co_firstlineno = ph_type_index_offset(index, "PyCodeObject", "co_firstlineno");
	r->co_lnotab = ph_type_index_offset(index, "PyCodeObject", "co_lnotab");
	r->co_linetable = ph_type_index_offset(index, "PyCodeObject", "co_linetable");
	r->co_code = ph_type_index_offset(index, "PyCodeObject", "co_code");
	r->co_code_adaptive = ph_type_index_offset(index, "PyCodeObject", "co_code_adaptive");

	r->f_back = ph_type_index_offset(index, "PyFrameObject", "f_back");
	r->f_code = ph_type_index_offset(index, "PyFrameObject", "f_code");
	r->f_localsplus = ph_type_index_offset(index, "PyFrameObject", "f_localsplus");
	r->f_valuestack = ph_type_index_offset(index, "PyFrameObject", "f_valuestack");
	r->f_stacktop = ph_type_index_offset(index, "PyFrameObject", "f_stacktop");
	r->f_stackdepth = ph_type_index_offset(index, "PyFrameObject", "f_stackdepth");
	r->f_lasti = ph_type_index_offset(index, "PyFrameObject", "f_lasti");
	r->f_lineno = ph_type_index_offset(index, "PyFrameObject", "f_lineno");
	r->f_frame = ph_type_index_offset(index, "PyFrameObject", "f_frame");
	r->f_frame_data = ph_type_index_offset(index, "PyFrameObject", "_f_frame_data");

	r->iframe_code = ph_type_index_offset(index, "_PyInterpreterFrame", "f_code");
	if (r->iframe_code == PH_ABSENT) {
		r->iframe_code = ph_type_index_offset(index, "_PyInterpreterFrame", "f_executable");
		r->iframe_code_tagged =
		    ph_type_index_member_is_aggregate(index, "_PyInterpreterFrame", "f_executable");
	}
	r->iframe_funcobj = ph_type_index_offset(index, "_PyInterpreterFrame", "f_funcobj");
	if (r->iframe_funcobj == PH_ABSENT)
		r->iframe_funcobj = ph_type_index_offset(index, "_PyInterpreterFrame", "f_func");
	r->iframe_globals = ph_type_index_offset(index, "_PyInterpreterFrame", "f_globals");
	r->iframe_builtins = ph_type_index_offset(index, "_PyInterpreterFrame", "f_builtins");
	r->iframe_locals = ph_type_index_offset(index, "_PyInterpreterFrame", "f_locals");
	r->iframe_frame_obj = ph_type_index_offset(index, "_PyInterpreterFrame", "frame_obj");
	r->iframe_previous = ph_type_index_offset(index, "_PyInterpreterFrame", "previous");
	r->iframe_owner = ph_type_index_offset(index, "_PyInterpreterFrame", "owner");
	r->iframe_localsplus = ph_type_index_offset(index, "_PyInterpreterFrame", "localsplus");
	r->iframe_stacktop = ph_type_index_offset(index, "_PyInterpreterFrame", "stacktop");
	r->iframe_stackpointer = ph_type_index_offset(index, "_PyInterpreterFrame", "stackpointer");
	r->iframe_instr = ph_type_index_offset(index, "_PyInterpreterFrame", "prev_instr");
	r->iframe_instr_is_prev = r->iframe_instr != PH_ABSENT;
	if (r->iframe_instr == PH_ABSENT)
		r->iframe_instr = ph_type_index_offset(index, "_PyInterpreterFrame", "instr_ptr");

	r->gen_frame = ph_type_index_offset(index, "PyGenObject", "gi_frame");
	r->gen_iframe = ph_type_index_offset(index, "PyGenObject", "gi_iframe");
	r->gen_frame_state = ph_type_index_offset(index, "PyGenObject", "gi_frame_state");
	r->gen_exc_value = ph_type_index_offset(index, "PyGenObject", "gi_exc_state.exc_value");
	r->gen_exc_type = ph_type_index_offset(index, "PyGenObject", "gi_exc_state.exc_type");
	r->gen_exc_traceback = ph_type_index_offset(index, "PyGenObject", "gi_exc_state.exc_traceback");
	r->asyncgen_finalizer = ph_type_index_offset(index, "PyAsyncGenObject", "ag_origin_or_finalizer");
	if (r->asyncgen_finalizer == PH_ABSENT)
		r->asyncgen_finalizer = ph_type_index_offset(index, "PyAsyncGenObject", "ag_finalizer");
	r->co_firsttraceable = ph_type_index_offset(index, "PyCodeObject", "_co_firsttraceable");
	r->values_embedded = ph_type_index_offset(index, "_dictvalues", "embedded");
	r->values_valid = ph_type_index_offset(index, "_dictvalues", "valid");
	r->values_capacity = ph_type_index_offset(index, "_dictvalues", "capacity");
	r->values_size = ph_type_index_offset(index, "_dictvalues", "size");
	r->tstate_native_thread_id = ph_type_index_offset(index, "PyThreadState", "native_thread_id");
	r->md_def = ph_type_index_offset(index, "PyModuleObject", "md_def");
	r->md_state = ph_type_index_offset(index, "PyModuleObject", "md_state");
	r->def_m_size = ph_type_index_offset(index, "PyModuleDef", "m_size");
	r->def_m_traverse = ph_type_index_offset(index, "PyModuleDef", "m_traverse");
	r->memoryview_mbuf = ph_type_index_offset(index, "PyMemoryViewObject", "mbuf");
	r->mbuf_master_obj = ph_type_index_offset(index, "_PyManagedBufferObject", "master.obj");
	*out = r;
	return NULL;
}

static void free_members(struct ph_object_members *m)
{
	for (unsigned i = 0; i < m->count; i++)
		free(m->names[i]);
}

void ph_ref_layout_free(struct ph_ref_layout *r)
{
	if (!r)
		return;
	struct ph_object_members *all[] = {&r->function,  &r->cell,      &r->method,   &r->module,
					   &r->exception, &r->traceback, &r->weakref,  &r->classmethod,
					   &r->property,  &r->type,      &r->heaptype, &r->code,
					   &r->frame_object, &r->generator, &r->iframe};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		free_members(all[i]);
	free(r);
}
