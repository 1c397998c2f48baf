/* Compressed cores. systemd-coredump stores cores as one zstd frame
 * (core.NAME.UID.BOOT.PID.TIME.zst under /var/lib/systemd/coredump);
 * pyheap decompresses it with libzstd into an unlinked temporary file, on
 * disk and sparse (a core is mostly holes and can be larger than memory),
 * and reads that as it reads a plain core. lz4 and xz (older systemd) are
 * recognised and named, to be decompressed with coredumpctl first. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#ifdef PYHEAP_HAVE_ZSTD
#include <zstd.h>
#endif

#include "core_internal.h"

enum ph_compression ph_core_compression(const unsigned char *magic, size_t len)
{
	static const unsigned char zstd[4] = {0x28, 0xb5, 0x2f, 0xfd};
	static const unsigned char lz4[4] = {0x04, 0x22, 0x4d, 0x18};
	static const unsigned char xz[6] = {0xfd, '7', 'z', 'X', 'Z', 0x00};
	if (len >= 4 && memcmp(magic, zstd, 4) == 0)
		return PH_COMPRESSION_ZSTD;
	if (len >= 4 && memcmp(magic, lz4, 4) == 0)
		return PH_COMPRESSION_LZ4;
	if (len >= 6 && memcmp(magic, xz, 6) == 0)
		return PH_COMPRESSION_XZ;
	return PH_COMPRESSION_NONE;
}

const char *ph_compression_name(enum ph_compression compression)
{
	switch (compression) {
	case PH_COMPRESSION_ZSTD:
		return "zstd";
	case PH_COMPRESSION_LZ4:
		return "lz4";
	case PH_COMPRESSION_XZ:
		return "xz";
	default:
		return "uncompressed";
	}
}

#ifdef PYHEAP_HAVE_ZSTD
static int temporary_file(char *dir_used, size_t size)
{
	const char *dirs[] = {getenv("TMPDIR"), "/var/tmp", "/tmp"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (!dirs[i] || !*dirs[i])
			continue;
		int fd = open(dirs[i], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd >= 0) {
			snprintf(dir_used, size, "%s", dirs[i]);
			return fd;
		}
	}
	return -1;
}

static bool all_zero(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* What the decompressed core may take: most of the free space where it
 * is written (a hostile stream can expand without bound), and no more
 * than an address space can hold. */
struct sparse_output {
	int fd;
	uint64_t size;      /* logical: holes included */
	uint64_t disk;      /* bytes actually written */
	uint64_t disk_limit;
};

enum { MAX_CORE_BITS = 48 };

/* Writes out, leaving a hole for every all-zero 4 KiB page. */
static bool write_sparse(struct sparse_output *out, const unsigned char *p, size_t len)
{
	int fd = out->fd;
	uint64_t *at = &out->size;
	if (len > (1ull << MAX_CORE_BITS) - *at) {
		errno = EFBIG;
		return false;
	}
	while (len > 0) {
		size_t chunk = 4096 - (size_t)(*at % 4096);
		if (chunk > len)
			chunk = len;
		if (!all_zero(p, chunk)) {
			if (out->disk + chunk > out->disk_limit) {
				errno = ENOSPC;
				return false;
			}
			out->disk += chunk;
			size_t done = 0;
			while (done < chunk) {
				ssize_t n = pwrite(fd, p + done, chunk - done, (off_t)(*at + done));
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0)
					return false;
				done += (size_t)n;
			}
		}
		*at += chunk;
		p += chunk;
		len -= chunk;
	}
	return true;
}

struct ph_error *ph_core_decompress_zstd(int fd, const char *path, void **mapped, size_t *size)
{
	char dir[256];
	int out = temporary_file(dir, sizeof(dir));
	if (out < 0)
		return ph_error_new(PH_EXIT_OUTPUT,
				    "no temporary file to decompress %s into ($TMPDIR, /var/tmp, /tmp): "
				    "%s; or decompress it first with coredumpctl dump PID -o FILE",
				    path, strerror(errno));
	ZSTD_DStream *stream = ZSTD_createDStream();
	size_t in_capacity = ZSTD_DStreamInSize(), out_capacity = ZSTD_DStreamOutSize();
	unsigned char *in_buf = malloc(in_capacity), *out_buf = malloc(out_capacity);
	struct ph_error *err = NULL;
	if (!stream || !in_buf || !out_buf) {
		err = &ph_error_out_of_memory;
		goto done;
	}
	ZSTD_initDStream(stream);
	struct statvfs fs;
	struct sparse_output sink = {out, 0, 0, UINT64_MAX};
	if (fstatvfs(out, &fs) == 0)
		sink.disk_limit = (uint64_t)fs.f_bavail * fs.f_frsize / 10 * 9;
	off_t read_at = 0;
	size_t last_hint = 1;
	for (;;) {
		ssize_t got = pread(fd, in_buf, in_capacity, read_at);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = ph_error_new(PH_EXIT_BAD_INPUT, "reading %s: %s", path, strerror(errno));
			goto done;
		}
		if (got == 0)
			break;
		read_at += got;
		ZSTD_inBuffer input = {in_buf, (size_t)got, 0};
		while (input.pos < input.size) {
			ZSTD_outBuffer output = {out_buf, out_capacity, 0};
			size_t hint = ZSTD_decompressStream(stream, &output, &input);
			if (ZSTD_isError(hint)) {
				err = ph_error_new(PH_EXIT_BAD_INPUT,
						   "%s is not a valid zstd-compressed core: %s", path,
						   ZSTD_getErrorName(hint));
				goto done;
			}
			last_hint = hint;
			if (!write_sparse(&sink, out_buf, output.pos)) {
				err = ph_error_new(PH_EXIT_OUTPUT, "decompressing %s into %s: %s", path,
						   dir, strerror(errno));
				goto done;
			}
		}
	}
	/* flush what the decoder still holds */
	for (;;) {
		ZSTD_inBuffer input = {in_buf, 0, 0};
		ZSTD_outBuffer output = {out_buf, out_capacity, 0};
		size_t hint = ZSTD_decompressStream(stream, &output, &input);
		if (ZSTD_isError(hint) || output.pos == 0)
			break;
		last_hint = hint;
		if (!write_sparse(&sink, out_buf, output.pos)) {
			err = ph_error_new(PH_EXIT_OUTPUT, "decompressing %s into %s: %s", path, dir,
					   strerror(errno));
			goto done;
		}
	}
	uint64_t written = sink.size;
	if (written == 0) {
		err = ph_error_new(PH_EXIT_BAD_INPUT, "%s: the zstd stream holds no data", path);
		goto done;
	}
	/* A stream cut short leaves a truncated core: the core's own checks
	 * then say which memory is missing. */
	if (last_hint != 0)
		fprintf(stderr, "pyheap: warning: the zstd stream of %s ends early (a truncated file)\n",
			path);
	if (ftruncate(out, (off_t)written) != 0) {
		err = ph_error_new(PH_EXIT_OUTPUT, "decompressing %s into %s: %s", path, dir,
				   strerror(errno));
		goto done;
	}
	void *map = mmap(NULL, written, PROT_READ, MAP_PRIVATE, out, 0);
	if (map == MAP_FAILED) {
		err = ph_error_new(PH_EXIT_INTERNAL, "cannot map the decompressed core: %s",
				   strerror(errno));
		goto done;
	}
	*mapped = map;
	*size = written;
done:
	ZSTD_freeDStream(stream);
	free(in_buf);
	free(out_buf);
	close(out);
	return err;
}
#else
struct ph_error *ph_core_decompress_zstd(int fd, const char *path, void **mapped, size_t *size)
{
	(void)fd;
	(void)mapped;
	(void)size;
	return ph_error_new(PH_EXIT_BAD_INPUT,
			    "%s is zstd-compressed and this pyheap was built without libzstd: "
			    "decompress it first with coredumpctl dump PID -o FILE (or zstd -d)",
			    path);
}
#endif
