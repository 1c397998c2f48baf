/* The core file parser, the mapped-file checks and the core memory reader,
 * against synthetic cores built here byte by byte: what each part of a core
 * means, and what a broken one gives. The file-backed reads use this test's
 * own executable as the mapped ELF file (it has a build-id). */
#include <elf.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/snapshot/heap_walk.h"
#include "pyheap/core.h"
#include "unit.h"

#ifndef NT_FILE
#define NT_FILE 0x46494c45
#endif

struct buf {
	unsigned char *data;
	size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 4096;
		b->data = realloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void put_u64(struct buf *b, uint64_t v)
{
	put(b, &v, 8);
}

static void pad4(struct buf *b)
{
	static const unsigned char zero[4];
	put(b, zero, (4 - b->len % 4) % 4);
}

static void note(struct buf *b, const char *owner, uint32_t type, const void *desc, uint32_t size)
{
	uint32_t head[3] = {(uint32_t)strlen(owner) + 1, size, type};
	put(b, head, sizeof(head));
	put(b, owner, head[0]);
	pad4(b);
	put(b, desc, size);
	pad4(b);
}

struct mapping {
	uint64_t start, end, offset;
	const char *path;
};

static void file_note(struct buf *b, uint64_t page_size, const struct mapping *m, size_t n)
{
	struct buf d = {0};
	put_u64(&d, n);
	put_u64(&d, page_size);
	for (size_t i = 0; i < n; i++) {
		put_u64(&d, m[i].start);
		put_u64(&d, m[i].end);
		put_u64(&d, m[i].offset / page_size);
	}
	for (size_t i = 0; i < n; i++)
		put(&d, m[i].path, strlen(m[i].path) + 1);
	note(b, "CORE", NT_FILE, d.data, (uint32_t)d.len);
	free(d.data);
}

struct segment {
	uint64_t vaddr, memsz;
	const unsigned char *bytes; /* filesz bytes */
	uint64_t filesz;
	uint32_t flags;
};

/* ELF header, PT_NOTE, PT_LOADs, notes, then each segment's bytes. */
static struct buf make_core(const struct buf *notes, const struct segment *s, size_t n)
{
	struct buf b = {0};
	Elf64_Ehdr eh = {0};
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_CORE;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = (uint16_t)(n + 1);
	put(&b, &eh, sizeof(eh));
	uint64_t at = sizeof(eh) + (n + 1) * sizeof(Elf64_Phdr);
	Elf64_Phdr ph = {PT_NOTE, PF_R, at, 0, 0, notes->len, 0, 1};
	put(&b, &ph, sizeof(ph));
	at += notes->len;
	for (size_t i = 0; i < n; i++) {
		Elf64_Phdr load = {PT_LOAD, s[i].flags, at, s[i].vaddr, 0, s[i].filesz, s[i].memsz, 4096};
		put(&b, &load, sizeof(load));
		at += s[i].filesz;
	}
	put(&b, notes->data, notes->len);
	for (size_t i = 0; i < n; i++)
		put(&b, s[i].bytes, s[i].filesz);
	return b;
}

static void identity_notes(struct buf *notes, int pid, uint64_t entry)
{
	unsigned char prstatus[336] = {0};
	int32_t p = pid;
	memcpy(prstatus + 32, &p, 4);
	note(notes, "CORE", NT_PRSTATUS, prstatus, sizeof(prstatus));
	note(notes, "CORE", NT_PRSTATUS, prstatus, sizeof(prstatus)); /* a second thread */
	unsigned char prpsinfo[136] = {0};
	memcpy(prpsinfo + 40, "python3", 7);
	memcpy(prpsinfo + 56, "python3\0app.py", 14); /* gdb keeps the NULs */
	note(notes, "CORE", NT_PRPSINFO, prpsinfo, sizeof(prpsinfo));
	uint64_t auxv[] = {AT_PHDR, entry, AT_ENTRY, entry, AT_NULL, 0};
	note(notes, "CORE", NT_AUXV, auxv, sizeof(auxv));
}

static unsigned char *read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*size = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *data = malloc(*size);
	if (fread(data, 1, *size, f) != *size) {
		free(data);
		data = NULL;
	}
	fclose(f);
	return data;
}

/* The offset of a PT_LOAD of the file past its first page, and of its
 * build-id note's descriptor. */
static void elf_facts(const unsigned char *file, uint64_t *load_offset, uint64_t *build_id_at)
{
	Elf64_Ehdr eh;
	memcpy(&eh, file, sizeof(eh));
	*load_offset = 0;
	*build_id_at = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, file + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD && ph.p_offset >= 4096 && ph.p_filesz > 64 && !*load_offset)
			*load_offset = ph.p_offset;
		if (ph.p_type == PT_NOTE && !*build_id_at) {
			for (uint64_t at = ph.p_offset; at + 12 <= ph.p_offset + ph.p_filesz;) {
				uint32_t h[3];
				memcpy(h, file + at, 12);
				uint64_t desc = at + 12 + ((h[0] + 3) & ~3u);
				if (h[2] == NT_GNU_BUILD_ID)
					*build_id_at = desc;
				at = desc + ((h[1] + 3) & ~3u);
			}
		}
	}
}

static void test_rejects(void)
{
	struct ph_core core;
	struct ph_error *err = ph_core_parse("hello, world", 12, &core);
	CHECK(err && err->exit_code == PH_EXIT_BAD_INPUT, "text: %s", err ? err->message : "accepted");
	ph_error_free(err);
	err = ph_core_parse("\177ELF\2\1\1", 7, &core);
	CHECK(err && err->exit_code == PH_EXIT_CORE_TRUNCATED, "short ELF: %s",
	      err ? err->message : "accepted");
	ph_error_free(err);
	struct buf notes = {0};
	identity_notes(&notes, 42, 0x400000);
	struct buf b = make_core(&notes, NULL, 0);
	((Elf64_Ehdr *)b.data)->e_type = ET_EXEC;
	err = ph_core_parse(b.data, b.len, &core);
	CHECK(err && err->exit_code == PH_EXIT_BAD_INPUT && strstr(err->message, "executable"),
	      "ET_EXEC: %s", err ? err->message : "accepted");
	ph_error_free(err);
	((Elf64_Ehdr *)b.data)->e_type = ET_CORE;
	err = ph_core_parse(b.data, 100, &core);
	CHECK(err && err->exit_code == PH_EXIT_CORE_TRUNCATED, "cut in the headers: %s",
	      err ? err->message : "accepted");
	ph_error_free(err);
	err = ph_core_parse(b.data, b.len - 8, &core);
	CHECK(err && err->exit_code == PH_EXIT_CORE_TRUNCATED && strstr(err->message, "notes"),
	      "cut in the notes: %s", err ? err->message : "accepted");
	ph_error_free(err);
	((Elf64_Ehdr *)b.data)->e_ident[EI_CLASS] = ELFCLASS32;
	err = ph_core_parse(b.data, b.len, &core);
	CHECK(err && err->exit_code == PH_EXIT_BAD_INPUT, "32-bit: %s", err ? err->message : "accepted");
	ph_error_free(err);
	free(b.data);
	free(notes.data);
}

static void test_segments_and_notes(void)
{
	unsigned char heap[8192], stack[4096];
	for (size_t i = 0; i < sizeof(heap); i++)
		heap[i] = (unsigned char)(i * 7);
	memset(stack, 0x5a, sizeof(stack));
	struct buf notes = {0};
	identity_notes(&notes, 1234, 0x500000);
	struct mapping files[] = {{0x500000, 0x502000, 0x3000, "/no/such/python3"}};
	file_note(&notes, 4096, files, 1);
	struct segment segs[] = {
	    {0x700000, 0x4000, heap, sizeof(heap), PF_R | PF_W}, /* 8 KiB of 16 saved */
	    {0x600000, 0x1000, stack, sizeof(stack), PF_R | PF_W},
	    {0x600800, 0x1000, stack, sizeof(stack), PF_R}, /* overlaps the one before */
	    {0x500000, 0x2000, NULL, 0, PF_R | PF_X},         /* not saved: in the file */
	};
	struct buf b = make_core(&notes, segs, 4);
	struct ph_core core;
	struct ph_error *err = ph_core_parse(b.data, b.len, &core);
	CHECK(!err, "parse: %s", err ? err->message : "");
	if (err)
		return;
	CHECK(core.pid == 1234 && core.threads == 2, "pid %d threads %u", core.pid, core.threads);
	CHECK(strcmp(core.command, "python3") == 0 && strcmp(core.arguments, "python3 app.py") == 0,
	      "command '%s' arguments '%s'", core.command, core.arguments);
	CHECK(core.segment_count == 3 && core.dropped == 1 && strstr(core.problem, "overlap"),
	      "segments %zu dropped %u problem '%s'", core.segment_count, core.dropped, core.problem);
	CHECK(core.file_count == 1 && core.files[0].file_offset == 0x3000,
	      "NT_FILE in pages: %zu files, offset 0x%llx", core.file_count,
	      core.file_count ? (unsigned long long)core.files[0].file_offset : 0ull);
	const char *exe = ph_core_executable(&core);
	CHECK(exe && strcmp(exe, "/no/such/python3") == 0, "executable %s", exe ? exe : "none");
	uint64_t offset, contiguous;
	CHECK(ph_core_saved_offset(&core, 0x700010, &offset, &contiguous) && contiguous == 8192 - 16 &&
		  b.data[offset] == heap[16],
	      "saved offset");
	CHECK(!ph_core_saved_offset(&core, 0x702000, &offset, &contiguous), "unsaved tail");

	struct ph_mapped_files *mapped;
	err = ph_mapped_files_new(&core, "", NULL, &mapped);
	CHECK(!err, "mapped files: %s", err ? err->message : "");
	struct ph_memory_reader *reader;
	err = ph_core_reader_new(&core, mapped, &reader);
	unsigned char out[64];
	size_t done;
	err = ph_memory_read(reader, 0x701ff0, out, 16, &done);
	CHECK(!err && done == 16 && memcmp(out, heap + 0x1ff0, 16) == 0, "saved bytes: %s",
	      err ? err->message : "");
	ph_error_free(err);
	err = ph_memory_read(reader, 0x701ff8, out, 16, &done);
	CHECK(err && err->exit_code == PH_EXIT_INCONSISTENT && done == 8,
	      "past the saved part: done %zu, %s", done, err ? err->message : "read");
	ph_error_free(err);
	err = ph_memory_read(reader, 0x500100, out, 8, &done);
	CHECK(err && done == 0, "a missing file gives nothing: %s", err ? err->message : "read");
	ph_error_free(err);
	struct ph_mapped_file *file = ph_mapped_files_get(mapped, "/no/such/python3");
	CHECK(file && file->state == PH_MAPPED_MISSING && file->needed, "missing and needed");
	err = ph_mapped_file_error(mapped, file);
	CHECK(err && err->exit_code == PH_EXIT_MISSING_FILE && strstr(err->message, "--sysroot"),
	      "missing: %s", err ? err->message : "no error");
	ph_error_free(err);
	err = ph_memory_read(reader, 0x800000, out, 8, &done);
	CHECK(err != NULL, "outside every segment");
	ph_error_free(err);

	struct ph_memory_map map;
	err = ph_core_memory_map(&core, &map);
	CHECK(!err && map.count == 3 && map.regions[0].start == 0x500000 &&
		  strcmp(map.regions[0].path, "/no/such/python3") == 0 &&
		  map.regions[2].perms == (PH_PERM_READ | PH_PERM_WRITE),
	      "memory map: %zu regions", map.count);
	ph_memory_map_free(&map);
	reader->destroy(reader);
	ph_mapped_files_free(mapped);
	ph_core_close(&core);

	/* truncated: the file ends 4 KiB into the heap's saved 8 KiB (the
	 * stack and the dropped segment come after it) */
	err = ph_core_parse(b.data, b.len - 2 * sizeof(stack) - 4096, &core);
	CHECK(!err && core.truncated_bytes == 4096 + 4096 && core.saved_bytes == 8192 + 4096,
	      "truncated %llu",
	      err ? 0ull : (unsigned long long)core.truncated_bytes);
	if (!err) {
		ph_mapped_files_new(&core, "", NULL, &mapped);
		ph_core_reader_new(&core, mapped, &reader);
		err = ph_memory_read(reader, 0x701000, out, 8, &done);
		CHECK(err && ph_core_reader_report(reader)->truncated_reads == 1,
		      "a read in the missing part: %s", err ? err->message : "read");
		ph_error_free(err);
		reader->destroy(reader);
		ph_mapped_files_free(mapped);
		ph_core_close(&core);
	}
	free(b.data);
	free(notes.data);
}

/* A file mapping read from disk: this test's executable, its first page
 * saved in the core as the kernel saves ELF headers. */
static void test_file_backed(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return;
	self[n] = '\0';
	size_t size;
	unsigned char *file = read_file(self, &size);
	uint64_t load_offset, build_id_at;
	if (!file)
		return;
	elf_facts(file, &load_offset, &build_id_at);
	CHECK(load_offset && build_id_at && build_id_at < 4096,
	      "the test binary has a build-id in its first page and a second load segment");
	if (!load_offset || !build_id_at || build_id_at >= 4096) {
		free(file);
		return;
	}
	uint64_t base = 0x10000000, span = (size + 4095) & ~(uint64_t)4095;
	unsigned char header[4096];
	memcpy(header, file, sizeof(header));
	for (int pass = 0; pass < 2; pass++) {
		struct buf notes = {0};
		identity_notes(&notes, 7, base + load_offset);
		struct mapping files[] = {{base, base + span, 0, self}};
		file_note(&notes, 1, files, 1); /* gdb's page size */
		struct segment segs[] = {{base, span, header, sizeof(header), PF_R | PF_X}};
		struct buf b = make_core(&notes, segs, 1);
		struct ph_core core;
		struct ph_error *err = ph_core_parse(b.data, b.len, &core);
		CHECK(!err, "parse: %s", err ? err->message : "");
		struct ph_mapped_files *mapped;
		ph_mapped_files_new(&core, "", NULL, &mapped);
		struct ph_memory_reader *reader;
		ph_core_reader_new(&core, mapped, &reader);
		unsigned char out[32];
		size_t done;
		err = ph_memory_read(reader, base + load_offset + 16, out, sizeof(out), &done);
		struct ph_mapped_file *f = ph_mapped_files_get(mapped, self);
		if (pass == 0) {
			CHECK(!err && memcmp(out, file + load_offset + 16, sizeof(out)) == 0 &&
				  f->state == PH_MAPPED_OK &&
				  ph_core_reader_report(reader)->file_reads == sizeof(out),
			      "from the file, build-id %s: %s", f->core_build_id,
			      err ? err->message : "");
		} else {
			struct ph_error *why = ph_mapped_file_error(mapped, f);
			CHECK(err && f->state == PH_MAPPED_MISMATCH && why &&
				  why->exit_code == PH_EXIT_BUILD_ID_MISMATCH &&
				  strstr(why->message, f->core_build_id) &&
				  strstr(why->message, f->disk_build_id),
			      "another build: %s", why ? why->message : "no error");
			ph_error_free(why);
		}
		ph_error_free(err);
		reader->destroy(reader);
		ph_mapped_files_free(mapped);
		ph_core_close(&core);
		free(b.data);
		free(notes.data);
		header[build_id_at] ^= 0xff; /* the second pass: the core saw another build */
	}
	free(file);
}

/* A fuzzing finding: a core whose objects all had unreadable types left
 * the type table empty, and the totals sorted a NULL array (UBSan). */
static void test_no_readable_type(void)
{
	struct ph_type_table table;
	ph_type_table_init(&table);
	struct ph_snapshot snap;
	memset(&snap, 0, sizeof(snap));
	struct ph_error *err = ph_heap_walk_aggregate(&table, &snap);
	CHECK(!err && snap.type_count == 0, "an empty type table: %s", err ? err->message : "");
	free(snap.types);
	ph_type_table_free(&table);
}

int main(void)
{
	test_no_readable_type();
	test_rejects();
	test_segments_and_notes();
	test_file_backed();
	return unit_finish("unit-core-file");
}
