/* Pieces of debuginfo/image.c that the core file's image finder
 * (core_image.c) shares, so a core's interpreter is described exactly as
 * a live one's. */
#ifndef PYHEAP_IMAGE_INTERNAL_H
#define PYHEAP_IMAGE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pyheap/image.h"

/* Debug files are searched in /usr/lib/debug and, with a sysroot, in
 * SYSROOT/usr/lib/debug; no /proc/PID/root. */
void ph_image_prepare_search(const char *sysroot);
/* Bytes of a target that is not a live process, for naming a stripped
 * interpreter from its _Py_DebugOffsets when DWARF is missing. */
void ph_image_set_memory_source(bool (*read)(void *ctx, uint64_t addr, void *buf, size_t len),
				void *ctx);
/* For Dwfl_Callbacks.debuginfo_path. */
char **ph_image_debuginfo_path(void);
/* --debuginfo FILE first, then libdwfl's standard search. */
int ph_image_find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
			    Dwarf_Addr base, const char *file_name, const char *debuglink_file,
			    GElf_Word debuglink_crc, char **debuginfo_file_name);
struct ph_error *ph_image_load_symbols(struct ph_image *image);
void ph_image_read_build_id(struct ph_image *image);
void ph_image_version_from_name(const char *name, char *out, size_t size);

#endif
