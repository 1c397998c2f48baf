/* What the referent walkers need from DWARF. Most families are described
 * as "the members of struct X that point to Python objects", found by
 * their DWARF types, so a member added in a new version is followed
 * without a code change; the walkers skip the ones tp_traverse skips. */
#ifndef PYHEAP_REF_LAYOUT_H
#define PYHEAP_REF_LAYOUT_H

#include <stdint.h>

#include "pyheap/error.h"

#define PH_REF_WANTED_TYPES                                                                  \
	"PyFunctionObject", "PyCellObject", "PyMethodObject", "PyModuleObject",             \
	    "PyBaseExceptionObject", "PyTracebackObject", "PyMemberDef", "PyWeakReference",  \
	    "classmethod", "propertyobject", "_PyCFrame", "PyThreadState"

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
};

struct ph_type_index;
struct ph_layout;
struct ph_error *ph_ref_layout_resolve(struct ph_type_index *index, struct ph_layout *layout,
				       struct ph_ref_layout **out);
void ph_ref_layout_free(struct ph_ref_layout *layout);

#endif
