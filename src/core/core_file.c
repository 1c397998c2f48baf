/* Parsing an ELF core: program headers and notes, from bytes in memory.
 * Written against the ELF specification and the kernel's note layouts
 * (fs/binfmt_elf.c), not through libelf, so that every offset a hostile
 * core holds is checked here, in one place. */
#include "pyheap/core.h"

#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core_internal.h"

#ifndef NT_FILE
#define NT_FILE 0x46494c45
#endif
#ifndef NT_SIGINFO
#define NT_SIGINFO 0x53494749
#endif

/* Offsets in the 64-bit kernel structures (include/uapi/linux/elfcore.h):
 * struct elf_prstatus starts with elf_siginfo (3 ints), pr_cursig (short,
 * padded), pr_sigpend and pr_sighold (unsigned long), then pr_pid. */
enum {
	PRSTATUS_CURSIG = 12,
	PRSTATUS_PID = 32,
	PRPSINFO_SIZE = 136,
	PRPSINFO_PID = 24,
	PRPSINFO_FNAME = 40,
	PRPSINFO_PSARGS = 56,
	MAX_FILE_MAPPINGS = 1 << 20,
};

static uint64_t load_u64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t load_u32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static void note_problem(struct ph_core *core, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note_problem(struct ph_core *core, const char *fmt, ...)
{
	core->dropped++;
	if (core->problem[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(core->problem, sizeof(core->problem), fmt, ap);
	va_end(ap);
}

static void copy_text(char *out, size_t out_size, const unsigned char *in, size_t in_size)
{
	size_t n = 0;
	while (n < in_size && n + 1 < out_size && in[n])
		n++;
	memcpy(out, in, n);
	out[n] = '\0';
}

/* pr_psargs: the kernel joins arguments with spaces, gdb leaves the NULs
 * of /proc/PID/cmdline between them. */
static void copy_arguments(char *out, size_t out_size, const unsigned char *in, size_t in_size)
{
	size_t end = in_size;
	while (end > 0 && in[end - 1] == '\0')
		end--;
	size_t n = 0;
	for (; n < end && n + 1 < out_size; n++)
		out[n] = in[n] ? (char)in[n] : ' ';
	out[n] = '\0';
}

static int compare_segments(const void *a, const void *b)
{
	const struct ph_core_segment *sa = a, *sb = b;
	return sa->vaddr < sb->vaddr ? -1 : sa->vaddr > sb->vaddr;
}

static int compare_files(const void *a, const void *b)
{
	const struct ph_core_file_mapping *fa = a, *fb = b;
	return fa->start < fb->start ? -1 : fa->start > fb->start;
}

/* NT_FILE: count, page size, count (start, end, page offset) triples,
 * then count NUL-terminated names. */
static void parse_file_note(struct ph_core *core, const unsigned char *desc, uint64_t size)
{
	if (core->has_file_note) {
		note_problem(core, "a second NT_FILE note (ignored)");
		return;
	}
	if (size < 16) {
		note_problem(core, "NT_FILE note of %llu bytes is too short", (unsigned long long)size);
		return;
	}
	uint64_t count = load_u64(desc), page_size = load_u64(desc + 8);
	/* the kernel counts offsets in pages; gdb gives a page size of 1 */
	if (page_size == 0 || page_size > (1u << 30) || (page_size & (page_size - 1))) {
		note_problem(core, "NT_FILE note gives a page size of %llu", (unsigned long long)page_size);
		return;
	}
	if (count > MAX_FILE_MAPPINGS || count > (size - 16) / 24) {
		note_problem(core, "NT_FILE note claims %llu mappings in %llu bytes",
			     (unsigned long long)count, (unsigned long long)size);
		return;
	}
	const unsigned char *names = desc + 16 + count * 24;
	uint64_t names_size = size - 16 - count * 24;
	core->names = malloc(names_size + 1);
	core->files = calloc(count ? count : 1, sizeof(*core->files));
	if (!core->names || !core->files)
		return;
	memcpy(core->names, names, names_size);
	core->names[names_size] = '\0';
	core->has_file_note = true;
	uint64_t at = 0;
	for (uint64_t i = 0; i < count; i++) {
		const unsigned char *triple = desc + 16 + i * 24;
		uint64_t start = load_u64(triple), end = load_u64(triple + 8), pages = load_u64(triple + 16);
		if (at >= names_size) {
			note_problem(core, "NT_FILE note: names end after %llu of %llu mappings",
				     (unsigned long long)i, (unsigned long long)count);
			break;
		}
		const char *name = core->names + at;
		at += strlen(name) + 1;
		if (end <= start || pages > UINT64_MAX / page_size) {
			note_problem(core, "NT_FILE mapping %s at 0x%llx-0x%llx (page %llu) is impossible",
				     name, (unsigned long long)start, (unsigned long long)end,
				     (unsigned long long)pages);
			continue;
		}
		core->files[core->file_count++] =
		    (struct ph_core_file_mapping){start, end, pages * page_size, name};
	}
	qsort(core->files, core->file_count, sizeof(*core->files), compare_files);
	/* overlapping mappings cannot both be true: keep the first */
	size_t kept = 0;
	for (size_t i = 0; i < core->file_count; i++) {
		if (kept && core->files[i].start < core->files[kept - 1].end) {
			note_problem(core, "NT_FILE mappings at 0x%llx and 0x%llx overlap",
				     (unsigned long long)core->files[kept - 1].start,
				     (unsigned long long)core->files[i].start);
			continue;
		}
		core->files[kept++] = core->files[i];
	}
	core->file_count = kept;
}

static void parse_auxv(struct ph_core *core, const unsigned char *desc, uint64_t size)
{
	for (uint64_t at = 0; at + 16 <= size; at += 16) {
		uint64_t type = load_u64(desc + at), value = load_u64(desc + at + 8);
		if (type == AT_NULL)
			break;
		if (type == AT_ENTRY)
			core->auxv_entry = value;
		else if (type == AT_PHDR)
			core->auxv_phdr = value;
	}
}

static void parse_note(struct ph_core *core, const char *owner, uint32_t type,
		       const unsigned char *desc, uint64_t size)
{
	if (strcmp(owner, "GDB") == 0) {
		core->written_by_gdb = true;
		return;
	}
	if (strcmp(owner, "CORE") != 0)
		return;
	switch (type) {
	case NT_PRSTATUS:
		if (core->threads++ == 0 && size >= PRSTATUS_PID + 4) {
			int32_t pid = (int32_t)load_u32(desc + PRSTATUS_PID);
			if (pid > 0)
				core->pid = pid;
			int16_t cursig;
			memcpy(&cursig, desc + PRSTATUS_CURSIG, sizeof(cursig));
			if (!core->signal && cursig > 0 && cursig < 128)
				core->signal = cursig;
		}
		break;
	case NT_PRPSINFO:
		if (size >= PRPSINFO_SIZE) {
			int32_t pid = (int32_t)load_u32(desc + PRPSINFO_PID);
			if (!core->pid && pid > 0)
				core->pid = pid;
			copy_text(core->command, sizeof(core->command), desc + PRPSINFO_FNAME, 16);
			copy_arguments(core->arguments, sizeof(core->arguments), desc + PRPSINFO_PSARGS, 80);
		}
		break;
	case NT_SIGINFO:
		if (size >= 4) {
			int32_t signo = (int32_t)load_u32(desc);
			if (signo > 0 && signo < 128)
				core->signal = signo;
		}
		break;
	case NT_AUXV:
		parse_auxv(core, desc, size);
		break;
	case NT_FILE:
		parse_file_note(core, desc, size);
		break;
	default:
		break;
	}
}

/* Notes are 4-byte aligned in cores (the kernel and gdb both write them
 * so, whatever the class). A note that runs past its segment ends the
 * walk: what follows cannot be found. */
static void parse_notes(struct ph_core *core, const unsigned char *notes, uint64_t size)
{
	uint64_t at = 0;
	while (at + 12 <= size) {
		uint32_t namesz = load_u32(notes + at), descsz = load_u32(notes + at + 4),
			 type = load_u32(notes + at + 8);
		uint64_t name_at = at + 12;
		uint64_t desc_at = name_at + (((uint64_t)namesz + 3) & ~(uint64_t)3);
		uint64_t next = desc_at + (((uint64_t)descsz + 3) & ~(uint64_t)3);
		if (desc_at > size || descsz > size - desc_at) {
			note_problem(core, "a note at byte %llu of the notes runs past their end",
				     (unsigned long long)at);
			return;
		}
		char owner[16] = "";
		copy_text(owner, sizeof(owner), notes + name_at, namesz < 15 ? namesz : 15);
		parse_note(core, owner, type, notes + desc_at, descsz);
		at = next;
	}
}

static unsigned perms_of(uint32_t flags)
{
	return ((flags & PF_R) ? PH_PERM_READ : 0) | ((flags & PF_W) ? PH_PERM_WRITE : 0) |
	       ((flags & PF_X) ? PH_PERM_EXEC : 0);
}

static struct ph_error *parse_segments(struct ph_core *core, const Elf64_Ehdr *eh, uint64_t phnum)
{
	const unsigned char *table = core->data + eh->e_phoff;
	core->segments = calloc(phnum ? phnum : 1, sizeof(*core->segments));
	if (!core->segments)
		return &ph_error_out_of_memory;
	for (uint64_t i = 0; i < phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, table + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_NOTE) {
			uint64_t present = ph.p_offset >= core->size ? 0
					   : ph.p_filesz < core->size - ph.p_offset ? ph.p_filesz
										   : core->size - ph.p_offset;
			if (present < ph.p_filesz)
				return ph_error_new(PH_EXIT_CORE_TRUNCATED,
						    "the core is truncated: it ends at byte %zu, inside its "
						    "notes (bytes %llu-%llu)",
						    core->size, (unsigned long long)ph.p_offset,
						    (unsigned long long)(ph.p_offset + ph.p_filesz));
			parse_notes(core, core->data + ph.p_offset, present);
			continue;
		}
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_vaddr + ph.p_memsz < ph.p_vaddr || ph.p_offset + ph.p_filesz < ph.p_offset) {
			note_problem(core, "segment %llu at 0x%llx wraps around", (unsigned long long)i,
				     (unsigned long long)ph.p_vaddr);
			continue;
		}
		struct ph_core_segment *s = &core->segments[core->segment_count];
		s->vaddr = ph.p_vaddr;
		s->memsz = ph.p_memsz;
		s->offset = ph.p_offset;
		s->filesz = ph.p_filesz;
		if (s->filesz > s->memsz) {
			note_problem(core, "segment at 0x%llx saves %llu bytes of a %llu-byte mapping",
				     (unsigned long long)s->vaddr, (unsigned long long)s->filesz,
				     (unsigned long long)s->memsz);
			s->filesz = s->memsz;
		}
		s->present = s->offset >= core->size ? 0
			     : s->filesz < core->size - s->offset ? s->filesz
								    : core->size - s->offset;
		s->perms = perms_of(ph.p_flags);
		core->segment_count++;
	}
	qsort(core->segments, core->segment_count, sizeof(*core->segments), compare_segments);
	size_t kept = 0;
	for (size_t i = 0; i < core->segment_count; i++) {
		struct ph_core_segment *s = &core->segments[i];
		if (kept && s->vaddr < core->segments[kept - 1].vaddr + core->segments[kept - 1].memsz) {
			note_problem(core, "segments at 0x%llx and 0x%llx overlap",
				     (unsigned long long)core->segments[kept - 1].vaddr,
				     (unsigned long long)s->vaddr);
			continue;
		}
		core->segments[kept++] = *s;
		core->saved_bytes += s->filesz;
		core->truncated_bytes += s->filesz - s->present;
	}
	core->segment_count = kept;
	return NULL;
}

struct ph_error *ph_core_parse(const void *data, size_t size, struct ph_core *out)
{
	memset(out, 0, sizeof(*out));
	out->data = data;
	out->size = size;
	snprintf(out->format, sizeof(out->format), "elf");
	const unsigned char *bytes = data;
	if (size < 4 || memcmp(bytes, ELFMAG, SELFMAG) != 0)
		return ph_error_new(PH_EXIT_BAD_INPUT, "not a core file: no ELF header");
	if (size < sizeof(Elf64_Ehdr))
		return ph_error_new(PH_EXIT_CORE_TRUNCATED,
				    "the core is truncated: %zu bytes, less than an ELF header", size);
	Elf64_Ehdr eh;
	memcpy(&eh, bytes, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return ph_error_new(PH_EXIT_BAD_INPUT,
				    "not a core pyheap reads: only 64-bit little-endian ELF cores");
	if (eh.e_type != ET_CORE)
		return ph_error_new(PH_EXIT_BAD_INPUT, "not a core file: an ELF %s",
				    eh.e_type == ET_EXEC  ? "executable"
				    : eh.e_type == ET_DYN ? "shared object or executable"
				    : eh.e_type == ET_REL ? "object file"
							  : "file of another type");
	if (eh.e_machine != EM_X86_64 && eh.e_machine != EM_AARCH64)
		return ph_error_new(PH_EXIT_UNSUPPORTED,
				    "a core of machine type %u: pyheap reads x86-64 and AArch64 cores",
				    (unsigned)eh.e_machine);
	if (eh.e_phentsize != sizeof(Elf64_Phdr))
		return ph_error_new(PH_EXIT_BAD_INPUT, "not a valid core: program headers of %u bytes",
				    (unsigned)eh.e_phentsize);
	uint64_t phnum = eh.e_phnum;
	if (phnum == PN_XNUM) {
		/* more than 65534 segments: the real count is in section 0 */
		Elf64_Shdr sh0;
		if (eh.e_shoff == 0 || eh.e_shoff > size || size - eh.e_shoff < sizeof(sh0))
			return ph_error_new(PH_EXIT_CORE_TRUNCATED,
					    "the core is truncated: its segment count (section 0) "
					    "is missing");
		memcpy(&sh0, bytes + eh.e_shoff, sizeof(sh0));
		phnum = sh0.sh_info;
	}
	if (eh.e_phoff > size || phnum > (size - eh.e_phoff) / sizeof(Elf64_Phdr))
		return ph_error_new(PH_EXIT_CORE_TRUNCATED,
				    "the core is truncated: %zu bytes, and its %llu program headers "
				    "start at byte %llu",
				    size, (unsigned long long)phnum, (unsigned long long)eh.e_phoff);
	struct ph_error *err = parse_segments(out, &eh, phnum);
	if (err) {
		ph_core_close(out);
		return err;
	}
	if (out->segment_count == 0 && out->threads == 0) {
		ph_core_close(out);
		return ph_error_new(PH_EXIT_BAD_INPUT,
				    "not a core of a process: no memory segments and no threads");
	}
	return NULL;
}

void ph_core_close(struct ph_core *core)
{
	free(core->segments);
	free(core->files);
	free(core->names);
	free(core->path);
	if (core->mapped)
		munmap(core->mapped, core->mapped_size);
	memset(core, 0, sizeof(*core));
}

struct ph_error *ph_core_open(const char *path, struct ph_core *out)
{
	memset(out, 0, sizeof(*out));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ph_error_new(errno == EACCES ? PH_EXIT_PERMISSION : PH_EXIT_BAD_INPUT,
				    "cannot open the core %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ph_error_new(PH_EXIT_BAD_INPUT, "%s is not a regular file", path);
	}
	unsigned char magic[6] = {0};
	ssize_t got = pread(fd, magic, sizeof(magic), 0);
	struct ph_error *err = NULL;
	void *mapped = NULL;
	size_t size = 0;
	char format[16] = "elf";
	enum ph_compression compression = ph_core_compression(magic, got > 0 ? (size_t)got : 0);
	if (compression == PH_COMPRESSION_ZSTD) {
		err = ph_core_decompress_zstd(fd, path, &mapped, &size);
		snprintf(format, sizeof(format), "zstd");
	} else if (compression != PH_COMPRESSION_NONE) {
		err = ph_error_new(PH_EXIT_BAD_INPUT,
				   "%s is a %s-compressed core: pyheap reads plain and "
				   "zstd-compressed cores; decompress it first (coredumpctl dump "
				   "PID -o FILE, or %s -d)",
				   path, ph_compression_name(compression),
				   compression == PH_COMPRESSION_LZ4 ? "lz4" : "xz");
	} else if (st.st_size == 0) {
		err = ph_error_new(PH_EXIT_BAD_INPUT, "not a core file: %s is empty", path);
	} else {
		size = (size_t)st.st_size;
		mapped = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (mapped == MAP_FAILED) {
			mapped = NULL;
			err = ph_error_new(PH_EXIT_INTERNAL, "cannot map the core %s: %s", path,
					   strerror(errno));
		}
	}
	close(fd);
	if (err)
		return ph_error_wrap(err, "%s", path);
	err = ph_core_parse(mapped, size, out);
	if (err) {
		munmap(mapped, size);
		return ph_error_wrap(err, "%s", path);
	}
	out->mapped = mapped;
	out->mapped_size = size;
	out->path = strdup(path);
	snprintf(out->format, sizeof(out->format), "%s", format);
	return NULL;
}

const struct ph_core_segment *ph_core_segment_at(const struct ph_core *core, uint64_t addr)
{
	size_t lo = 0, hi = core->segment_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ph_core_segment *s = &core->segments[mid];
		if (addr < s->vaddr)
			hi = mid;
		else if (addr - s->vaddr >= s->memsz)
			lo = mid + 1;
		else
			return s;
	}
	return NULL;
}

const struct ph_core_file_mapping *ph_core_file_at(const struct ph_core *core, uint64_t addr)
{
	size_t lo = 0, hi = core->file_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ph_core_file_mapping *f = &core->files[mid];
		if (addr < f->start)
			hi = mid;
		else if (addr >= f->end)
			lo = mid + 1;
		else
			return f;
	}
	return NULL;
}

bool ph_core_saved_offset(const struct ph_core *core, uint64_t addr, uint64_t *offset,
			  uint64_t *contiguous)
{
	const struct ph_core_segment *s = ph_core_segment_at(core, addr);
	if (!s || addr - s->vaddr >= s->present)
		return false;
	*offset = s->offset + (addr - s->vaddr);
	*contiguous = s->present - (addr - s->vaddr);
	return true;
}

const char *ph_core_executable(const struct ph_core *core)
{
	const struct ph_core_file_mapping *f = NULL;
	if (core->auxv_entry)
		f = ph_core_file_at(core, core->auxv_entry);
	if (!f && core->auxv_phdr)
		f = ph_core_file_at(core, core->auxv_phdr);
	return f ? f->path : NULL;
}
