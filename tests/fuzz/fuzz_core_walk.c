/* Fuzz target for the whole walker, through a core file. A real core
 * (PYHEAP_FUZZ_CORE, made by tests/fuzz/make_core.py from a fixture) is
 * loaded once, with its interpreter and layouts; a clean walk records which
 * bytes of the core the walker reads. Each input is then a list of patches
 * applied to a copy of the core: to its notes, to its ELF and program
 * headers, to the memory the walker reads, or a cut (a truncated core). The
 * patched core is parsed, its files checked, its heap walked with the graph
 * and written as JSON, and the patches undone. Anything but a snapshot
 * (complete or partial) or a clean error is a finding.
 *
 * Input format, repeated: selector (1 byte), offset (4 bytes, little
 * endian), length (1 byte, 1-16), then that many bytes. The selector picks
 * the area (offset is taken modulo its size): 0 notes, 1 headers, 2-3
 * memory the walk read; 0xff cuts the core at offset.
 *
 * Built with clang -fsanitize=fuzzer it is a libFuzzer target
 * (scripts/fuzz); built without, main() replays the files named on the
 * command line (scripts/test). */
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyheap/core_snapshot.h"

struct range {
	uint64_t offset, length;
};

struct ranges {
	struct range *items;
	size_t count, capacity;
	uint64_t total;
};

static struct {
	bool ready;
	unsigned char *pristine, *work;
	size_t size;
	struct ph_core_target target; /* opened from the file, for its image and layouts */
	struct ranges touched, notes, headers;
	FILE *sink;
} g;

static void add_range(struct ranges *r, uint64_t offset, uint64_t length)
{
	if (r->count && r->items[r->count - 1].offset + r->items[r->count - 1].length == offset) {
		r->items[r->count - 1].length += length;
		return;
	}
	if (r->count == r->capacity) {
		size_t capacity = r->capacity ? r->capacity * 2 : 1024;
		struct range *grown = realloc(r->items, capacity * sizeof(*grown));
		if (!grown)
			abort();
		r->items = grown;
		r->capacity = capacity;
	}
	r->items[r->count++] = (struct range){offset, length};
}

static void record(void *ctx, uint64_t offset, uint64_t length)
{
	add_range(ctx, offset, length);
}

static int compare_ranges(const void *a, const void *b)
{
	const struct range *ra = a, *rb = b;
	return ra->offset < rb->offset ? -1 : ra->offset > rb->offset;
}

/* Sorted, merged, and counted. */
static void normalize(struct ranges *r)
{
	if (r->count)
		qsort(r->items, r->count, sizeof(*r->items), compare_ranges);
	size_t kept = 0;
	r->total = 0;
	for (size_t i = 0; i < r->count; i++) {
		struct range *last = kept ? &r->items[kept - 1] : NULL;
		if (last && r->items[i].offset <= last->offset + last->length) {
			uint64_t end = r->items[i].offset + r->items[i].length;
			if (end > last->offset + last->length)
				last->length = end - last->offset;
			continue;
		}
		r->items[kept++] = r->items[i];
	}
	r->count = kept;
	for (size_t i = 0; i < r->count; i++)
		r->total += r->items[i].length;
}

/* The byte at position `at` (modulo the total) of an area. */
static uint64_t locate(const struct ranges *r, uint64_t at)
{
	at %= r->total;
	for (size_t i = 0; i < r->count; i++) {
		if (at < r->items[i].length)
			return r->items[i].offset + at;
		at -= r->items[i].length;
	}
	return r->items[0].offset;
}

static const struct ph_snapshot_options walk_options = {
    .timeout_ms = 0, .max_attempts = 1, .progress = false, .graph = true, .redact = false,
    .layout_file = NULL};

static void setup(void)
{
	const char *path = getenv("PYHEAP_FUZZ_CORE");
	if (!path) {
		fprintf(stderr, "set PYHEAP_FUZZ_CORE to a core made by tests/fuzz/make_core.py\n");
		exit(2);
	}
	FILE *f = fopen(path, "rb");
	if (!f || fseek(f, 0, SEEK_END) != 0) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(2);
	}
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	g.size = (size_t)size;
	g.pristine = malloc(g.size);
	g.work = malloc(g.size);
	if (!g.pristine || !g.work || fread(g.pristine, 1, g.size, f) != g.size) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(2);
	}
	fclose(f);
	memcpy(g.work, g.pristine, g.size);
	struct ph_core_source_options source = {path, NULL, NULL};
	struct ph_error *err = ph_core_target_open(&source, &walk_options, &g.target);
	if (err) {
		fprintf(stderr, "%s: %s\n", path, err->message);
		exit(2);
	}
	g.sink = fopen("/dev/null", "w");
	/* the clean walk: which bytes does the walker read? */
	g.target.observe = record;
	g.target.observe_ctx = &g.touched;
	struct ph_snapshot *snap = NULL;
	err = ph_snapshot_from_core(&g.target, &walk_options, &snap);
	if (err || !snap->complete) {
		fprintf(stderr, "%s: the unmutated core does not walk cleanly: %s\n", path,
			err ? err->message : snap->problem);
		exit(2);
	}
	ph_snapshot_free(snap);
	g.target.observe = NULL;
	normalize(&g.touched);
	Elf64_Ehdr eh;
	memcpy(&eh, g.pristine, sizeof(eh));
	add_range(&g.headers, 0, eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr));
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, g.pristine + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_NOTE)
			add_range(&g.notes, ph.p_offset, ph.p_filesz);
	}
	normalize(&g.headers);
	normalize(&g.notes);
	fprintf(stderr, "fuzz_core_walk: %s: %zu bytes, the walk reads %llu of them in %zu ranges\n",
		path, g.size, (unsigned long long)g.touched.total, g.touched.count);
	g.ready = true;
}

struct undo {
	uint64_t offset;
	unsigned char bytes[16];
	size_t length;
};

/* The interpreter found in the patched core is the one set up: reuse its
 * image (symbols where the process had them) and layouts; else find it
 * again and keep the layouts only for the same build. */
static bool same_interpreter(const struct ph_core *core)
{
	const char *path = g.target.image->map_name;
	uint64_t low = UINT64_MAX;
	for (size_t i = 0; i < core->file_count; i++)
		if (strcmp(core->files[i].path, path) == 0 && core->files[i].start < low)
			low = core->files[i].start;
	return low == g.target.image->load_address;
}

static void walk(size_t size)
{
	struct ph_core_target it;
	memset(&it, 0, sizeof(it));
	struct ph_error *err = ph_core_parse(g.work, size, &it.core);
	if (err) {
		ph_error_free(err);
		return;
	}
	struct ph_image *found = NULL;
	err = ph_mapped_files_new(&it.core, "", NULL, &it.files);
	if (!err && same_interpreter(&it.core)) {
		it.image = g.target.image;
	} else if (!err) {
		err = ph_image_find_in_core(&it.core, it.files, "", &found);
		if (!err && strcmp(found->build_id, g.target.image->build_id) != 0)
			err = ph_error_new(PH_EXIT_BUILD_ID_MISMATCH, "another interpreter");
		it.image = found;
	}
	it.layout = g.target.layout;
	struct ph_snapshot *snap = NULL;
	if (!err)
		err = ph_snapshot_from_core(&it, &walk_options, &snap);
	if (!err) {
		ph_snapshot_write_json(snap, g.sink);
		ph_snapshot_free(snap);
	}
	ph_error_free(err);
	ph_image_free(found);
	ph_mapped_files_free(it.files);
	ph_core_close(&it.core);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!g.ready)
		setup();
	struct undo undo[64];
	size_t undo_count = 0, core_size = g.size;
	size_t at = 0;
	while (at + 6 <= size && undo_count < 64) {
		uint8_t selector = data[at];
		uint32_t offset;
		memcpy(&offset, data + at + 1, 4);
		size_t length = data[at + 5] % 16 + 1;
		at += 6;
		if (selector == 0xff) {
			core_size = offset % g.size;
			continue;
		}
		if (at + length > size)
			length = size - at;
		if (length == 0)
			break;
		const struct ranges *area = selector % 4 == 0 ? &g.notes
					    : selector % 4 == 1 ? &g.headers
								: &g.touched;
		if (!area->total)
			area = &g.touched;
		uint64_t where = locate(area, offset);
		if (where + length > g.size)
			length = g.size - where;
		struct undo *u = &undo[undo_count++];
		u->offset = where;
		u->length = length;
		memcpy(u->bytes, g.work + where, length);
		memcpy(g.work + where, data + at, length);
		at += length;
	}
	walk(core_size);
	while (undo_count > 0) {
		struct undo *u = &undo[--undo_count];
		memcpy(g.work + u->offset, u->bytes, u->length);
	}
	return 0;
}

#include "replay_main.h"
