/* Shared by the core reader's files: how a core file is compressed. */
#ifndef PYHEAP_CORE_INTERNAL_H
#define PYHEAP_CORE_INTERNAL_H

#include <stddef.h>

#include "pyheap/error.h"

enum ph_compression {
	PH_COMPRESSION_NONE,
	PH_COMPRESSION_ZSTD, /* systemd-coredump's default */
	PH_COMPRESSION_LZ4,  /* older systemd-coredump */
	PH_COMPRESSION_XZ,   /* older systemd-coredump */
};

/* By the first bytes of the file (at least 6 for xz). */
enum ph_compression ph_core_compression(const unsigned char *magic, size_t len);
const char *ph_compression_name(enum ph_compression compression);
/* Decompresses a zstd core into an unlinked temporary file (in $TMPDIR,
 * else /var/tmp: a core can be larger than memory) that keeps its holes,
 * and maps it. PH_EXIT_BAD_INPUT for a corrupt or truncated stream. */
struct ph_error *ph_core_decompress_zstd(int fd, const char *path, void **mapped, size_t *size);

#endif
