#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum ph_exit exit_code_for_errno(int err)
{
	switch (err) {
	case ENOENT:
	case ESRCH:
		return PH_EXIT_NO_PROCESS;
	case EACCES:
	case EPERM:
		return PH_EXIT_PERMISSION;
	default:
		return PH_EXIT_INTERNAL;
	}
}

struct ph_error *ph_read_whole_file(const char *path, char **out, size_t *len_out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ph_error_new(exit_code_for_errno(errno), "cannot open %s: %s", path,
				    strerror(errno));
	size_t capacity = 16384, len = 0;
	char *buf = malloc(capacity);
	if (!buf) {
		close(fd);
		return &ph_error_out_of_memory;
	}
	for (;;) {
		if (capacity - len < 4096) {
			capacity *= 2;
			char *grown = realloc(buf, capacity);
			if (!grown) {
				free(buf);
				close(fd);
				return &ph_error_out_of_memory;
			}
			buf = grown;
		}
		ssize_t n = read(fd, buf + len, capacity - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int saved = errno;
			free(buf);
			close(fd);
			return ph_error_new(exit_code_for_errno(saved), "cannot read %s: %s", path,
					    strerror(saved));
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	if (len_out)
		*len_out = len;
	return NULL;
}

uint64_t ph_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
