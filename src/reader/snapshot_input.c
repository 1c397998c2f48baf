#include "pyheap/snapshot_input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Left free on the spool's file system, for everything else. */
#define SPOOL_MARGIN (256ull << 20)

static int spool_fd = -1;

bool ph_input_is_stdin(const char *path)
{
	return path && strcmp(path, PH_STDIN_PATH) == 0;
}

const char *ph_input_name(const char *path)
{
	return ph_input_is_stdin(path) ? "standard input" : path;
}

static struct ph_error *spool_stdin(void)
{
	struct stat st;
	if (fstat(STDIN_FILENO, &st) < 0)
		return ph_error_new(PH_EXIT_BAD_INPUT, "cannot read standard input: %s", strerror(errno));
	if (S_ISREG(st.st_mode)) {
		/* `< a.json`: the file itself, from its start */
		spool_fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
		return spool_fd < 0 ? ph_error_new(PH_EXIT_BAD_INPUT, "cannot read standard input: %s",
						   strerror(errno))
				    : NULL;
	}
	const char *dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/pyheap-stdin.XXXXXX", dir) >= (int)sizeof(path))
		return ph_error_new(PH_EXIT_BAD_INPUT, "TMPDIR is too long to spool standard input in");
	int fd = mkstemp(path); /* mode 0600: snapshots hold the target's strings */
	if (fd < 0)
		return ph_error_new(PH_EXIT_BAD_INPUT, "cannot spool standard input in %s: %s", dir,
				    strerror(errno));
	unlink(path);
	struct statvfs vfs;
	unsigned long long room = UINT64_MAX;
	if (fstatvfs(fd, &vfs) == 0) {
		unsigned long long free_bytes = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
		room = free_bytes > SPOOL_MARGIN ? free_bytes - SPOOL_MARGIN : 0;
	}
	static char buffer[1 << 16];
	unsigned long long total = 0;
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buffer, sizeof(buffer));
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int saved = errno;
			close(fd);
			return ph_error_new(PH_EXIT_BAD_INPUT, "reading standard input failed: %s",
					    strerror(saved));
		}
		total += (unsigned long long)n;
		if (total > room) {
			close(fd);
			return ph_error_new(PH_EXIT_BAD_INPUT,
					    "standard input is larger than the room left in %s (%llu MiB "
					    "spooled); save the snapshot to a file (-o) and give its path",
					    dir, total >> 20);
		}
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(fd, buffer + done, (size_t)(n - done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				int saved = errno;
				close(fd);
				return ph_error_new(PH_EXIT_BAD_INPUT, "spooling standard input in %s failed: %s",
						    dir, strerror(saved));
			}
			done += w;
		}
	}
	spool_fd = fd;
	return NULL;
}

struct ph_error *ph_input_open(const char *path, int *fd)
{
	if (!ph_input_is_stdin(path)) {
		*fd = open(path, O_RDONLY | O_CLOEXEC);
		if (*fd < 0)
			return ph_error_new(PH_EXIT_BAD_INPUT, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (spool_fd < 0) {
		struct ph_error *err = spool_stdin();
		if (err)
			return err;
	}
	*fd = fcntl(spool_fd, F_DUPFD_CLOEXEC, 3);
	if (*fd < 0)
		return ph_error_new(PH_EXIT_BAD_INPUT, "cannot read standard input again: %s",
				    strerror(errno));
	return NULL;
}
