/* The interpreter image of a target: which ELF file holds CPython (a
 * libpython shared object or a statically linked executable), where its
 * DWARF came from, and its symbols. */
#ifndef PYHEAP_IMAGE_H
#define PYHEAP_IMAGE_H

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pyheap/error.h"

struct ph_symbol {
	const char *name;
	uint64_t address; /* in the target's address space */
	uint64_t size;
};

struct ph_image {
	Dwfl *dwfl;
	Dwfl_Module *module;
	Dwarf *dwarf;      /* NULL until ph_image_load_dwarf succeeds */
	char *path;        /* the ELF file as mapped in the target */
	char *map_name;    /* its name in /proc/PID/maps */
	uint64_t load_address; /* where the module starts in the target */
	char build_id[81]; /* hex, empty when the file has none */
	char *debuginfo;   /* human-readable: where the DWARF came from */
	uint64_t runtime_address; /* _PyRuntime */
	char soname_version[16];  /* "3.12" from libpython3.12.so / python3.12, or "" */
	struct ph_symbol *symbols; /* sorted by name */
	size_t symbol_count;
	char *symbol_names; /* storage for symbols[].name */
};

/* A debug file to try before any other (pyheap snap --debuginfo FILE). */
void ph_image_set_debuginfo(const char *path);
/* Finds the CPython image mapped in pid. PH_EXIT_NOT_PYTHON when none. */
struct ph_error *ph_image_find(pid_t pid, struct ph_image **out);
/* The interpreter in an ELF file on disk (libpython or python), for
 * pyheap layout: symbols at their link-time addresses. */
struct ph_error *ph_image_open_file(const char *path, struct ph_image **out);
/* Loads DWARF; PH_EXIT_NO_DEBUGINFO with every place searched when absent. */
struct ph_error *ph_image_load_dwarf(struct ph_image *image);
void ph_image_free(struct ph_image *image);
/* Address of a symbol, or false. */
bool ph_image_symbol(const struct ph_image *image, const char *name, uint64_t *address);

#endif
