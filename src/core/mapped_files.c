/* The files a core's process had mapped, found on disk and checked. A
 * default core (coredump_filter 0x33) leaves out read-only file mappings:
 * code and .rodata, where CPython and its extension modules keep type
 * names. Those bytes are read from the files themselves, but only from a
 * file whose GNU build-id equals the one the core saved from the
 * process's copy of its ELF notes: a library upgraded since the crash is
 * another file, and reading it would give wrong names silently. */
#include "pyheap/core.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAX_NOTES_READ = 64 * 1024, MAX_LOADS = 64 };

struct load_range {
	uint64_t offset, size; /* a PT_LOAD's bytes in the file */
};

struct checked_file {
	struct ph_mapped_file pub;
	struct load_range loads[MAX_LOADS];
	unsigned load_count;
	void *mapping;
};

struct ph_mapped_files {
	const struct ph_core *core;
	char *sysroot; /* "" for none; no trailing slash */
	char *exe_file;
	const char *exe_path; /* the executable as NT_FILE names it */
	struct checked_file *files; /* sorted by path */
	size_t count;
};

static int compare_paths(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct ph_error *ph_mapped_files_new(const struct ph_core *core, const char *sysroot,
				     const char *exe, struct ph_mapped_files **out)
{
	struct ph_mapped_files *files = calloc(1, sizeof(*files));
	const char **paths = calloc(core->file_count ? core->file_count : 1, sizeof(*paths));
	if (!files || !paths) {
		free(files);
		free(paths);
		return &ph_error_out_of_memory;
	}
	files->core = core;
	files->sysroot = strdup(sysroot ? sysroot : "");
	files->exe_file = exe ? strdup(exe) : NULL;
	files->exe_path = ph_core_executable(core);
	if (!files->sysroot || (exe && !files->exe_file)) {
		free(paths);
		ph_mapped_files_free(files);
		return &ph_error_out_of_memory;
	}
	size_t len = strlen(files->sysroot);
	while (len > 1 && files->sysroot[len - 1] == '/')
		files->sysroot[--len] = '\0';
	if (strcmp(files->sysroot, "/") == 0)
		files->sysroot[0] = '\0';
	for (size_t i = 0; i < core->file_count; i++)
		paths[i] = core->files[i].path;
	qsort(paths, core->file_count, sizeof(*paths), compare_paths);
	files->files = calloc(core->file_count ? core->file_count : 1, sizeof(*files->files));
	if (!files->files) {
		free(paths);
		ph_mapped_files_free(files);
		return &ph_error_out_of_memory;
	}
	for (size_t i = 0; i < core->file_count; i++) {
		if (files->count && strcmp(files->files[files->count - 1].pub.path, paths[i]) == 0)
			continue;
		files->files[files->count++].pub.path = paths[i];
	}
	free(paths);
	*out = files;
	return NULL;
}

void ph_mapped_files_free(struct ph_mapped_files *files)
{
	if (!files)
		return;
	for (size_t i = 0; i < files->count; i++) {
		struct checked_file *f = &files->files[i];
		free(f->pub.disk_path);
		if (f->mapping)
			munmap(f->mapping, f->pub.size);
	}
	free(files->files);
	free(files->sysroot);
	free(files->exe_file);
	free(files);
}

size_t ph_mapped_files_count(const struct ph_mapped_files *files)
{
	return files->count;
}

struct ph_mapped_file *ph_mapped_files_at(struct ph_mapped_files *files, size_t index)
{
	return index < files->count ? &files->files[index].pub : NULL;
}

/* Bytes at offset of the file named path, as the core saved them from
 * one of its mappings (never from disk). */
static bool saved_file_bytes(const struct ph_core *core, const char *path, uint64_t offset,
			     void *buf, size_t len)
{
	for (size_t i = 0; i < core->file_count; i++) {
		const struct ph_core_file_mapping *m = &core->files[i];
		if (strcmp(m->path, path) != 0 || offset < m->file_offset ||
		    offset - m->file_offset >= m->end - m->start ||
		    len > m->end - m->start - (offset - m->file_offset))
			continue;
		uint64_t at, contiguous;
		if (!ph_core_saved_offset(core, m->start + (offset - m->file_offset), &at, &contiguous) ||
		    contiguous < len)
			continue;
		memcpy(buf, core->data + at, len);
		return true;
	}
	return false;
}

/* Reads ELF bytes from somewhere: the core's saved copy, or the file. */
typedef bool (*elf_read_fn)(void *ctx, uint64_t offset, void *buf, size_t len);

static void hex(const unsigned char *bits, size_t len, char *out, size_t size)
{
	out[0] = '\0';
	for (size_t i = 0; i < len && 2 * i + 2 < size; i++)
		snprintf(out + 2 * i, 3, "%02x", bits[i]);
}

/* The GNU build-id in an ELF file's PT_NOTE segments, and its PT_LOADs. */
static bool elf_identity(elf_read_fn read, void *ctx, char *build_id, size_t size,
			 struct load_range *loads, unsigned *load_count)
{
	build_id[0] = '\0';
	if (load_count)
		*load_count = 0;
	Elf64_Ehdr eh;
	if (!read(ctx, 0, &eh, sizeof(eh)) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) ||
	    eh.e_phnum == 0 || eh.e_phnum > 1024)
		return false;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (eh.e_phoff > UINT64_MAX - (uint64_t)(i + 1) * sizeof(ph) ||
		    !read(ctx, eh.e_phoff + (uint64_t)i * sizeof(ph), &ph, sizeof(ph)))
			return false;
		if (ph.p_type == PT_LOAD && loads && *load_count < MAX_LOADS &&
		    ph.p_offset + ph.p_filesz >= ph.p_offset)
			loads[(*load_count)++] = (struct load_range){ph.p_offset, ph.p_filesz};
		if (ph.p_type != PT_NOTE || build_id[0] || ph.p_filesz > MAX_NOTES_READ ||
		    ph.p_filesz < 12)
			continue;
		unsigned char *notes = malloc(ph.p_filesz);
		if (!notes)
			continue;
		if (read(ctx, ph.p_offset, notes, ph.p_filesz)) {
			uint64_t at = 0;
			while (at + 12 <= ph.p_filesz) {
				uint32_t namesz, descsz, type;
				memcpy(&namesz, notes + at, 4);
				memcpy(&descsz, notes + at + 4, 4);
				memcpy(&type, notes + at + 8, 4);
				uint64_t name_at = at + 12;
				uint64_t desc_at = name_at + (((uint64_t)namesz + 3) & ~(uint64_t)3);
				if (desc_at > ph.p_filesz || descsz > ph.p_filesz - desc_at)
					break;
				if (type == NT_GNU_BUILD_ID && namesz == 4 &&
				    memcmp(notes + name_at, "GNU", 4) == 0 && descsz > 0) {
					hex(notes + desc_at, descsz, build_id, size);
					break;
				}
				at = desc_at + (((uint64_t)descsz + 3) & ~(uint64_t)3);
			}
		}
		free(notes);
	}
	return true;
}

struct saved_ctx {
	const struct ph_core *core;
	const char *path;
};

static bool read_saved(void *ctx, uint64_t offset, void *buf, size_t len)
{
	struct saved_ctx *c = ctx;
	return saved_file_bytes(c->core, c->path, offset, buf, len);
}

struct disk_ctx {
	const unsigned char *bytes;
	size_t size;
};

static bool read_disk(void *ctx, uint64_t offset, void *buf, size_t len)
{
	struct disk_ctx *c = ctx;
	if (offset > c->size || len > c->size - offset)
		return false;
	memcpy(buf, c->bytes + offset, len);
	return true;
}

static void strip_deleted(char *path)
{
	static const char suffix[] = " (deleted)";
	size_t len = strlen(path), n = sizeof(suffix) - 1;
	if (len > n && strcmp(path + len - n, suffix) == 0)
		path[len - n] = '\0';
}

static void check(struct ph_mapped_files *files, struct checked_file *f)
{
	struct ph_mapped_file *pub = &f->pub;
	bool is_exe = files->exe_file && files->exe_path && strcmp(pub->path, files->exe_path) == 0;
	size_t len = (is_exe ? strlen(files->exe_file) : strlen(files->sysroot) + strlen(pub->path)) + 1;
	pub->disk_path = malloc(len);
	if (!pub->disk_path) {
		pub->state = PH_MAPPED_MISSING;
		pub->open_errno = ENOMEM;
		return;
	}
	if (is_exe)
		snprintf(pub->disk_path, len, "%s", files->exe_file);
	else
		snprintf(pub->disk_path, len, "%s%s", files->sysroot, pub->path);
	strip_deleted(pub->disk_path);

	struct saved_ctx saved = {files->core, pub->path};
	pub->elf = elf_identity(read_saved, &saved, pub->core_build_id, sizeof(pub->core_build_id),
				NULL, NULL);
	for (size_t i = 0; i < files->core->file_count && !pub->core_build_id[0]; i++) {
		const struct ph_core_file_mapping *m = &files->core->files[i];
		const struct ph_core_segment *s = ph_core_segment_at(files->core, m->start);
		if (m->file_offset == 0 && strcmp(m->path, pub->path) == 0 && s &&
		    m->start - s->vaddr < s->filesz && m->start - s->vaddr >= s->present)
			pub->header_truncated = true;
	}

	int fd = open(pub->disk_path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		pub->open_errno = fd < 0 ? errno : ENOENT;
		pub->state = PH_MAPPED_MISSING;
		if (fd >= 0)
			close(fd);
		return;
	}
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		pub->open_errno = errno;
		pub->state = PH_MAPPED_MISSING;
		return;
	}
	f->mapping = map;
	pub->bytes = map;
	pub->size = (size_t)st.st_size;
	struct disk_ctx disk = {pub->bytes, pub->size};
	bool disk_elf = elf_identity(read_disk, &disk, pub->disk_build_id,
				     sizeof(pub->disk_build_id), f->loads, &f->load_count);
	pub->elf = pub->elf || disk_elf;
	if (!disk_elf || !pub->core_build_id[0] || !pub->disk_build_id[0]) {
		pub->state = PH_MAPPED_UNVERIFIABLE;
		return;
	}
	pub->state = strcmp(pub->core_build_id, pub->disk_build_id) == 0 ? PH_MAPPED_OK
									     : PH_MAPPED_MISMATCH;
}

struct ph_mapped_file *ph_mapped_files_get(struct ph_mapped_files *files, const char *path)
{
	size_t lo = 0, hi = files->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(path, files->files[mid].pub.path);
		if (c == 0) {
			struct checked_file *f = &files->files[mid];
			if (f->pub.state == PH_MAPPED_UNCHECKED)
				check(files, f);
			return &f->pub;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

struct ph_error *ph_mapped_file_error(const struct ph_mapped_files *files,
				      const struct ph_mapped_file *file)
{
	switch (file->state) {
	case PH_MAPPED_OK:
		return NULL;
	case PH_MAPPED_MISSING:
		if (files->sysroot[0])
			return ph_error_new(PH_EXIT_MISSING_FILE,
					    "%s, mapped by the process, is not in --sysroot %s (looked "
					    "for %s: %s)",
					    file->path, files->sysroot, file->disk_path,
					    strerror(file->open_errno));
		return ph_error_new(PH_EXIT_MISSING_FILE,
				    "%s, mapped by the process, is not on this machine (%s); for a "
				    "core from another machine or container, give its root "
				    "filesystem with --sysroot DIR",
				    file->disk_path ? file->disk_path : file->path,
				    strerror(file->open_errno));
	case PH_MAPPED_MISMATCH:
		return ph_error_new(PH_EXIT_BUILD_ID_MISMATCH,
				    "%s is not the file the process had mapped as %s: build-id %s on "
				    "disk, %s in the core (a different build or version; give the "
				    "right one with --sysroot%s)",
				    file->disk_path, file->path, file->disk_build_id, file->core_build_id,
				    files->exe_path && strcmp(file->path, files->exe_path) == 0
					? " or --exe"
					: "");
	case PH_MAPPED_UNVERIFIABLE:
		if (file->header_truncated)
			return ph_error_new(PH_EXIT_CORE_TRUNCATED,
					    "the core is truncated: it ends before its copy of the ELF "
					    "headers of %s, so that file cannot be checked or used",
					    file->path);
		if (!file->core_build_id[0])
			return ph_error_new(PH_EXIT_BUILD_ID_MISMATCH,
					    "cannot check that %s is the file the process had mapped: "
					    "the core saved no build-id for it (its ELF headers were "
					    "not dumped: coredump_filter bit 4)",
					    file->disk_path);
		return ph_error_new(PH_EXIT_BUILD_ID_MISMATCH,
				    "cannot check that %s is the file the process had mapped: it has "
				    "no build-id (the core says %s)",
				    file->disk_path, file->core_build_id);
	default:
		return ph_error_new(PH_EXIT_INTERNAL, "%s was never checked", file->path);
	}
}

static bool inside_load(const struct checked_file *f, uint64_t offset, size_t len)
{
	for (unsigned i = 0; i < f->load_count; i++) {
		uint64_t lo = f->loads[i].offset & ~(uint64_t)4095;
		uint64_t hi = f->loads[i].offset + f->loads[i].size;
		if (offset >= lo && offset < hi && len <= hi - offset)
			return true;
	}
	return false;
}

const void *ph_mapped_file_bytes(struct ph_mapped_file *file, uint64_t offset, size_t len)
{
	struct checked_file *f = (struct checked_file *)file;
	if (file->state != PH_MAPPED_OK || offset > file->size || len > file->size - offset ||
	    !inside_load(f, offset, len))
		return NULL;
	return file->bytes + offset;
}

bool ph_mapped_file_read(struct ph_mapped_file *file, uint64_t offset, void *buf, size_t len)
{
	const void *src = ph_mapped_file_bytes(file, offset, len);
	if (!src)
		return false;
	memcpy(buf, src, len);
	return true;
}
