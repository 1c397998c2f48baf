/* Executing frames as roots, and frame descriptions ("f (x.py:3)"). */
#include "frames.h"

#include <stdio.h>
#include <string.h>

#include "../debuginfo/ref_layout.h"
#include "../python/python_code.h"
#include "../referents/family.h"

enum { MAX_FRAMES = 100000, MAX_THREADS = 100000 };
enum { OWNED_BY_GENERATOR = 1 };

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* Byte offset of the current instruction of an interpreter frame. */
static int64_t iframe_offset(const struct ph_target *t, uint64_t iframe, uint64_t code)
{
	const struct ph_ref_layout *r = t->layout->refs;
	uint64_t instr;
	if (r->iframe_instr == PH_ABSENT || r->co_code_adaptive == PH_ABSENT ||
	    !ph_read_u64(t, iframe + r->iframe_instr, &instr))
		return -1;
	return (int64_t)(instr - (code + r->co_code_adaptive));
}

bool ph_describe_frame(const struct ph_target *t, uint64_t frame_or_iframe, bool is_iframe,
		       char *buf, size_t size)
{
	const struct ph_ref_layout *r = t->layout->refs;
	uint64_t code = 0, iframe = 0;
	int line = -1;
	if (is_iframe || r->f_frame != PH_ABSENT) {
		iframe = frame_or_iframe;
		if (!is_iframe && !ph_read_u64(t, frame_or_iframe + r->f_frame, &iframe))
			return false;
		code = iframe ? ph_iframe_code(t, iframe) : 0;
		if (code)
			line = ph_code_line(t, code, iframe_offset(t, iframe, code));
	} else {
		int32_t lasti = -1, lineno = 0;
		uint64_t trace = 0;
		if (!ph_read_u64(t, frame_or_iframe + r->f_code, &code) || !code)
			return false;
		ph_read(t, frame_or_iframe + r->f_lasti, &lasti, 4);
		ph_read(t, frame_or_iframe + r->f_lineno, &lineno, 4);
		if (r->co_linetable != PH_ABSENT) /* 3.10: units, lineno set while tracing */
			line = lineno ? lineno : ph_code_line(t, code, lasti < 0 ? -1 : (int64_t)lasti * 2);
		else {
			for (unsigned i = 0; i < r->frame_object.count; i++)
				if (strcmp(r->frame_object.names[i], "f_trace") == 0)
					ph_read_u64(t, frame_or_iframe + r->frame_object.offsets[i], &trace);
			line = trace ? lineno : ph_code_line(t, code, lasti);
		}
	}
	if (!code)
		return false;
	char function[256], file[1024];
	ph_code_names(t, code, function, sizeof(function), file, sizeof(file));
	if (line >= 0)
		snprintf(buf, size, "%s (%s:%d)", function, base_name(file), line);
	else
		snprintf(buf, size, "%s (%s)", function, base_name(file));
	return true;
}

static uint32_t intern(struct ph_graph_builder *b, const char *text)
{
	uint32_t index = ph_strings_intern(&b->graph->strings, text);
	if (index == PH_NO_STRING)
		b->out_of_memory = true;
	return index;
}

/* Frames a traceback or sys._getframe would not show: the C-stack and
 * interpreter entry frames, and frames that have not reached RESUME. */
static bool skip_iframe(const struct ph_target *t, uint64_t iframe, uint64_t code)
{
	const struct ph_ref_layout *r = t->layout->refs;
	uint8_t owner = 0;
	if (r->iframe_owner != PH_ABSENT)
		ph_read_u8(t, iframe + r->iframe_owner, &owner);
	int minor = t->version_minor;
	if ((minor == 12 || minor == 13) && owner == 3)
		return true;
	if (minor >= 14 && owner >= 3)
		return true;
	if (!code)
		return true;
	uint64_t code_type = 0;
	if (!ph_read_ob_type(t, code, &code_type) || code_type != t->ref_types[PH_REF_CODE])
		return true;
	if (owner != OWNED_BY_GENERATOR && r->co_firsttraceable != PH_ABSENT) {
		int32_t first = 0;
		ph_read(t, code + r->co_firsttraceable, &first, 4);
		if (iframe_offset(t, iframe, code) < (int64_t)first * 2)
			return true;
	}
	return false;
}

static void add_thread_root(struct ph_graph_builder *b, uint32_t node, const char *thread)
{
	uint32_t name = intern(b, thread);
	if (!ph_graph_add_root(b->graph, node, PH_ROOT_THREAD_FRAME, name))
		b->out_of_memory = true;
}

void ph_thread_frame_roots(struct ph_graph_builder *b, uint64_t interp)
{
	const struct ph_target *t = b->t;
	const struct ph_ref_layout *r = t->layout->refs;
	uint64_t tstate = 0;
	if (r->interp_threads_head == PH_ABSENT || !ph_read_u64(t, interp + r->interp_threads_head, &tstate))
		return;
	for (int threads = 0; tstate && threads < MAX_THREADS; threads++) {
		/* the kernel's thread id where the interpreter records it (3.8.?+),
		 * else the interpreter's own thread number */
		uint64_t native = 0, number = 0;
		char thread[64];
		if (r->tstate_native_thread_id != PH_ABSENT)
			ph_read_u64(t, tstate + r->tstate_native_thread_id, &native);
		if (native)
			snprintf(thread, sizeof(thread), "thread %llu", (unsigned long long)native);
		else if (r->tstate_id != PH_ABSENT && ph_read_u64(t, tstate + r->tstate_id, &number))
			snprintf(thread, sizeof(thread), "thread #%llu", (unsigned long long)number);
		else
			snprintf(thread, sizeof(thread), "a thread");
		if (r->tstate_frame != PH_ABSENT && r->f_frame == PH_ABSENT) {
			/* <= 3.10: frame objects, linked by f_back; executing
			 * frames are usually untracked (_PyFrame_New_NoTrack) */
			uint64_t frame = 0;
			ph_read_u64(t, tstate + r->tstate_frame, &frame);
			for (int n = 0; frame && n < MAX_FRAMES; n++) {
				uint32_t node = ph_graph_builder_node(b, frame);
				if (node != UINT32_MAX)
					add_thread_root(b, node, thread);
				if (!ph_read_u64(t, frame + r->f_back, &frame))
					break;
			}
		} else {
			uint64_t iframe = 0;
			if (r->tstate_current_frame != PH_ABSENT) {
				ph_read_u64(t, tstate + r->tstate_current_frame, &iframe);
			} else if (r->tstate_cframe != PH_ABSENT && r->cframe_current_frame != PH_ABSENT) {
				uint64_t cframe = 0;
				if (ph_read_u64(t, tstate + r->tstate_cframe, &cframe) && cframe)
					ph_read_u64(t, cframe + r->cframe_current_frame, &iframe);
			}
			for (int n = 0; iframe && n < MAX_FRAMES; n++) {
				uint64_t code = ph_iframe_code(t, iframe);
				if (!skip_iframe(t, iframe, code) && ph_graph_find(b->graph, iframe) == UINT32_MAX) {
					uint32_t node =
					    ph_graph_add_node(b->graph, iframe, PH_NODE_PSEUDO);
					if (node == UINT32_MAX) {
						b->out_of_memory = true;
						return;
					}
					b->graph->nodes[node].type = intern(b, "frame");
					char detail[1400];
					if (ph_describe_frame(t, iframe, true, detail, sizeof(detail)))
						b->graph->nodes[node].detail = intern(b, detail);
					add_thread_root(b, node, thread);
				}
				if (r->iframe_previous == PH_ABSENT ||
				    !ph_read_u64(t, iframe + r->iframe_previous, &iframe))
					break;
			}
		}
		if (!ph_read_u64(t, tstate + r->tstate_next, &tstate))
			break;
	}
}

void ph_walk_pseudo_frame(struct ph_referent_visitor *v, struct ph_graph_builder *b, uint32_t node)
{
	const struct ph_ref_layout *r = b->t->layout->refs;
	uint64_t iframe = b->graph->nodes[node].address;
	ph_walk_iframe(v, iframe, false);
	/* borrowed, but how an executing frame reaches its module's names */
	emit_member(v, iframe, r->iframe_globals, "f_globals");
	emit_member(v, iframe, r->iframe_builtins, "f_builtins");
}

bool ph_traceback_location(const struct ph_target *t, uint64_t frame, int lineno, int lasti,
			   char *function, size_t fsize, char *file, size_t file_size, int *line)
{
	const struct ph_ref_layout *r = t->layout->refs;
	uint64_t code = 0, iframe = 0;
	if (r->f_frame != PH_ABSENT) {
		if (!ph_read_u64(t, frame + r->f_frame, &iframe) || !iframe)
			return false;
		code = ph_iframe_code(t, iframe);
	} else if (!ph_read_u64(t, frame + r->f_code, &code)) {
		return false;
	}
	if (!code)
		return false;
	/* tb_lineno is exact up to 3.10; later it is -1 and computed from
	 * tb_lasti (bytes) when asked */
	*line = lineno >= 0 ? lineno : ph_code_line(t, code, lasti);
	ph_code_names(t, code, function, fsize, file, file_size);
	return true;
}

bool ph_describe_traceback_line(const struct ph_target *t, uint64_t frame, int lineno, int lasti,
				char *buf, size_t size)
{
	char function[256], file[1024];
	int line;
	if (!ph_traceback_location(t, frame, lineno, lasti, function, sizeof(function), file,
				   sizeof(file), &line))
		return false;
	if (line >= 0)
		snprintf(buf, size, "%s (%s:%d)", function, base_name(file), line);
	else
		snprintf(buf, size, "%s (%s)", function, base_name(file));
	return true;
}
