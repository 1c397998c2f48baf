/* Core files as a target: an ELF core written by gdb's gcore, by the
 * kernel, or by systemd-coredump, read as the process it was. A core gives
 * what a live process gives: a memory map (its PT_LOAD segments and the
 * files of its NT_FILE note), a memory reader (saved bytes from the core,
 * the rest from the mapped ELF files on disk once their build-ids match),
 * the interpreter image, and who the process was (NT_PRPSINFO,
 * NT_PRSTATUS). Everything above the reader (walk, graph, analyses) is the
 * same as for a live process.
 *
 * A core is hostile input: every offset, size and count is checked against
 * the file before use, and what cannot be used is recorded, never guessed. */
#ifndef PYHEAP_CORE_H
#define PYHEAP_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pyheap/error.h"
#include "pyheap/image.h"
#include "pyheap/memory.h"

/* One PT_LOAD: memory of the process and the part of it the core saved. */
struct ph_core_segment {
	uint64_t vaddr, memsz;   /* where it was in the process */
	uint64_t offset, filesz; /* its saved bytes in the core */
	uint64_t present;        /* saved bytes the file really holds (< filesz: truncated) */
	unsigned perms;          /* PH_PERM_* */
};

/* One entry of NT_FILE: a file mapping of the process. */
struct ph_core_file_mapping {
	uint64_t start, end;  /* in the process */
	uint64_t file_offset; /* in the file, bytes */
	const char *path;     /* as the process named it; into ph_core.names */
};

struct ph_core {
	const unsigned char *data; /* the whole core */
	size_t size;
	void *mapped; /* owned: the mapping behind data, or NULL */
	size_t mapped_size;
	char *path;   /* where it was read from, or NULL */
	char format[16]; /* "elf" or "zstd" (decompressed on the fly) */

	struct ph_core_segment *segments; /* sorted by vaddr, non-overlapping */
	size_t segment_count;
	struct ph_core_file_mapping *files; /* sorted by start */
	size_t file_count;
	char *names;

	/* who the process was */
	int pid;              /* NT_PRSTATUS of the first thread (else NT_PRPSINFO) */
	char command[17];     /* NT_PRPSINFO pr_fname */
	char arguments[81];   /* NT_PRPSINFO pr_psargs: the command line, cut at 80 bytes */
	unsigned threads;     /* NT_PRSTATUS notes */
	int signal;           /* the signal that made the core (NT_SIGINFO, else pr_cursig); 0 */
	uint64_t auxv_entry;  /* AT_ENTRY: inside the executable */
	uint64_t auxv_phdr;   /* AT_PHDR */
	bool has_file_note;
	bool written_by_gdb;  /* gdb adds notes of its own ("GDB" owner) */

	/* what is wrong with it */
	uint64_t saved_bytes;     /* sum of the segments' filesz */
	uint64_t truncated_bytes; /* of those, bytes past the end of the file */
	unsigned dropped;         /* segments or mappings ignored as impossible or overlapping */
	char problem[256];        /* the first inconsistency seen, or "" */
};

/* Parses a core held in memory (data must outlive the core; the fuzz
 * harness mutates it between calls). PH_EXIT_BAD_INPUT when it is not an
 * ELF core of a 64-bit little-endian Linux process, PH_EXIT_CORE_TRUNCATED
 * when it ends before its own headers or notes. Inconsistent segments are
 * dropped and recorded in problem, not refused. */
struct ph_error *ph_core_parse(const void *data, size_t size, struct ph_core *out);
/* Opens a core file: maps an ELF core, or decompresses a zstd one
 * (systemd-coredump's format) into an unlinked temporary file first. */
struct ph_error *ph_core_open(const char *path, struct ph_core *out);
void ph_core_close(struct ph_core *core);

/* The segment holding addr, or NULL. */
const struct ph_core_segment *ph_core_segment_at(const struct ph_core *core, uint64_t addr);
/* The NT_FILE mapping holding addr, or NULL. */
const struct ph_core_file_mapping *ph_core_file_at(const struct ph_core *core, uint64_t addr);
/* Where addr's saved byte is in the core file, or false when the core did
 * not save it (or the file is truncated there). *contiguous: how many
 * bytes from there on are saved and present. */
bool ph_core_saved_offset(const struct ph_core *core, uint64_t addr, uint64_t *offset,
			  uint64_t *contiguous);
/* The executable: the NT_FILE path holding AT_ENTRY (or AT_PHDR), or NULL. */
const char *ph_core_executable(const struct ph_core *core);

/* The ELF files a core's process had mapped, found on disk (under a
 * sysroot) and checked: a file's bytes are used only after the build-id
 * in its ELF notes equals the one the core saved from its mapping. */
struct ph_mapped_files;
/* sysroot: prefix for every path (NULL or "" for none). exe: a file to use
 * for the executable instead of its path (NULL for none). */
struct ph_error *ph_mapped_files_new(const struct ph_core *core, const char *sysroot,
				     const char *exe, struct ph_mapped_files **out);
void ph_mapped_files_free(struct ph_mapped_files *files);

enum ph_mapped_state {
	PH_MAPPED_UNCHECKED,
	PH_MAPPED_OK,            /* on disk, build-id matches the core */
	PH_MAPPED_MISSING,       /* not on disk */
	PH_MAPPED_MISMATCH,      /* another build-id than the core's */
	PH_MAPPED_UNVERIFIABLE,  /* the core saved no build-id for it (or it is not ELF) */
};

/* A mapped file, checked (once) on first use. */
struct ph_mapped_file {
	const char *path;     /* as the process named it */
	char *disk_path;      /* where pyheap looked for it */
	enum ph_mapped_state state;
	char core_build_id[81]; /* from the core's copy of its ELF notes, or "" */
	char disk_build_id[81]; /* from the file on disk, or "" */
	int open_errno;
	const unsigned char *bytes; /* the file, mapped read-only (state OK) */
	size_t size;
	bool elf;    /* the core's copy or the file on disk is an ELF file */
	bool header_truncated; /* the core saved its ELF headers, past the end of a truncated core */
	bool needed; /* a read of the process's memory wanted bytes only this file has */
};

/* The checked file for a path named in NT_FILE. NULL if not named. */
struct ph_mapped_file *ph_mapped_files_get(struct ph_mapped_files *files, const char *path);
/* Every distinct file, for reports. */
size_t ph_mapped_files_count(const struct ph_mapped_files *files);
struct ph_mapped_file *ph_mapped_files_at(struct ph_mapped_files *files, size_t index);
/* An error naming the file and --sysroot (missing), or both build-ids
 * (mismatch), or why it could not be checked; NULL when state is OK. */
struct ph_error *ph_mapped_file_error(const struct ph_mapped_files *files,
				      const struct ph_mapped_file *file);
/* Reads len bytes of the file at offset, which must lie inside one of its
 * PT_LOAD segments. False otherwise, or when the file is not OK. */
bool ph_mapped_file_read(struct ph_mapped_file *file, uint64_t offset, void *buf, size_t len);
/* A pointer to those bytes instead of a copy, or NULL. */
const void *ph_mapped_file_bytes(struct ph_mapped_file *file, uint64_t offset, size_t len);

/* The process's memory as a map: every segment, and the file mappings the
 * core did not save (read from the files). Paths from NT_FILE. */
struct ph_error *ph_core_memory_map(const struct ph_core *core, struct ph_memory_map *out);

/* What reading a core's memory ran into: bytes it could not give. */
struct ph_core_read_report {
	uint64_t truncated_reads; /* saved bytes past the end of a truncated core */
	uint64_t file_reads;      /* bytes served from mapped files */
	uint64_t unavailable_reads; /* in the map but saved nowhere pyheap may read */
	uint64_t unsaved_anonymous_reads; /* of those, in writable memory no file backs */
};

/* A memory reader over the core: saved bytes from the core, unsaved bytes
 * of file mappings from the checked files, nothing else. Never returns
 * zeros for bytes it does not have (as drgn does). */
struct ph_error *ph_core_reader_new(const struct ph_core *core, struct ph_mapped_files *files,
				    struct ph_memory_reader **out);
const struct ph_core_read_report *ph_core_reader_report(const struct ph_memory_reader *reader);
/* Calls observe with the core file range of every saved byte served. */
void ph_core_reader_observe(struct ph_memory_reader *reader,
			    void (*observe)(void *ctx, uint64_t offset, uint64_t len), void *ctx);

/* The interpreter of a core: libpython (or the executable) as NT_FILE
 * names it, opened from disk through files (build-id checked), symbols at
 * the address the process had it, DWARF from the same sources as for a
 * live process (the file, build-id and .gnu_debuglink under /usr/lib/debug
 * and the sysroot's, debuginfod, --debuginfo). PH_EXIT_NOT_PYTHON when the
 * process had no CPython, PH_EXIT_MISSING_FILE / PH_EXIT_BUILD_ID_MISMATCH
 * when its file is not the one on disk. */
struct ph_error *ph_image_find_in_core(const struct ph_core *core, struct ph_mapped_files *files,
				       const char *sysroot, struct ph_image **out);

#endif
