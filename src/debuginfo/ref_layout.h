/* What the referent walkers need from DWARF. Most families are described
 * as "the members of struct X that point to Python objects", found by
 * their DWARF types, so a member added in a new version is followed
 * without a code change; the walkers skip the ones tp_traverse skips. */
#ifndef PYHEAP_REF_LAYOUT_H
#define PYHEAP_REF_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "pyheap/error.h"

#define PH_REF_WANTED_TYPES                                                                  \
	"PyFunctionObject", "PyCellObject", "PyMethodObject", "PyModuleObject",             \
	    "PyBaseExceptionObject", "PyTracebackObject", "PyMemberDef", "PyWeakReference",  \
	    "classmethod", "propertyobject", "_PyCFrame", "PyThreadState", "PyAsyncGenObject", \
	    "PyModuleDef", "_frame", "_typeobject", "_object", "_longobject", "_dictobject",      \
	    "_traceback", "_PyInterpreterFrame", "PyMemoryViewObject", "_PyManagedBufferObject"

#define PH_MAX_OBJECT_MEMBERS 40

struct ph_object_members {
	unsigned count;
	uint64_t offsets[PH_MAX_OBJECT_MEMBERS];
	char *names[PH_MAX_OBJECT_MEMBERS];
	uint64_t struct_size;
};

struct ph_ref_layout {
	struct ph_object_members function, cell, method, module, exception, traceback, weakref,
	    classmethod, property, type, heaptype, code, frame_object, generator, iframe;
	/* PyMemberDef, for __slots__ */
	uint64_t member_size, member_name, member_type, member_offset;
	uint64_t tp_members;
	/* traceback */
	uint64_t tb_lasti, tb_lineno;
	/* the module's name and dict */
	uint64_t md_dict;
	/* threads */
	uint64_t interp_threads_head; /* interp->tstate_head (<=3.10) or threads.head */
	uint64_t interp_modules;      /* interp->modules or imports.modules */
	uint64_t interp_builtins;
	uint64_t tstate_next, tstate_id, tstate_thread_id;
	uint64_t tstate_frame;         /* <= 3.10: PyFrameObject *frame */
	uint64_t tstate_cframe;        /* 3.11-3.12: _PyCFrame *cframe */
	uint64_t cframe_current_frame; /* 3.11-3.12 */
	uint64_t tstate_current_frame; /* 3.13+ */

	/* code objects: names of locals, where they come from */
	uint64_t co_nlocals, co_varnames, co_cellvars, co_freevars;   /* <= 3.10 */
	uint64_t co_nlocalsplus, co_localsplusnames, co_localspluskinds; /* 3.11+ */
	uint64_t co_name, co_qualname, co_filename, co_firstlineno;
	uint64_t co_lnotab, co_linetable, co_code, co_code_adaptive;

	/* frame objects */
	uint64_t f_back, f_code, f_localsplus, f_valuestack, f_stacktop, f_stackdepth;
	uint64_t f_lasti, f_lineno;   /* <= 3.10 */
	uint64_t f_frame;            /* 3.11+: the _PyInterpreterFrame */
	uint64_t f_frame_data;       /* 3.11+: _f_frame_data, the owned copy */
	/* interpreter frames (3.11+) */
	uint64_t iframe_code;        /* f_code or f_executable */
	bool iframe_code_tagged;     /* a _PyStackRef (3.14+) */
	uint64_t iframe_funcobj, iframe_globals, iframe_builtins, iframe_locals, iframe_frame_obj;
	uint64_t iframe_previous, iframe_owner, iframe_localsplus, iframe_stacktop,
	    iframe_stackpointer, iframe_instr;
	bool iframe_instr_is_prev; /* prev_instr (3.11-3.12) vs instr_ptr (3.13+) */
	/* generators */
	uint64_t gen_frame;        /* <= 3.10: gi_frame */
	uint64_t gen_iframe;       /* 3.11+: gi_iframe */
	uint64_t gen_frame_state;  /* 3.11+ */
	uint64_t gen_exc_value, gen_exc_type, gen_exc_traceback;
	uint64_t asyncgen_finalizer; /* ag_finalizer / ag_origin_or_finalizer */
	uint64_t co_firsttraceable;  /* 3.11+: _co_firsttraceable */
	/* dict values (3.13+) */
	uint64_t values_embedded, values_valid, values_capacity, values_size;
	uint64_t tstate_native_thread_id;
	/* extension modules' state, which their m_traverse visits */
	uint64_t md_def, md_state, def_m_size, def_m_traverse;
	/* a memoryview's managed buffer, and that buffer's exporter */
	uint64_t memoryview_mbuf, mbuf_master_obj;
};

struct ph_type_index;
struct ph_layout;
struct ph_error *ph_ref_layout_resolve(struct ph_type_index *index, struct ph_layout *layout,
				       struct ph_ref_layout **out);
void ph_ref_layout_free(struct ph_ref_layout *layout);

#endif
