#include "pyheap/output_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ph_error *ph_output_open(struct ph_output_file *f, const char *path)
{
	memset(f, 0, sizeof(*f));
	f->path = path;
	if (!path) {
		f->stream = stdout;
		return NULL;
	}
	struct stat st;
	int fd;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		fd = open(path, O_WRONLY | O_CLOEXEC);
	} else {
		if (snprintf(f->temp_path, sizeof(f->temp_path), "%s.XXXXXX", path) >=
		    (int)sizeof(f->temp_path))
			return ph_error_new(PH_EXIT_OUTPUT, "cannot write %s: the path is too long", path);
		fd = mkostemp(f->temp_path, O_CLOEXEC);
		if (fd < 0)
			f->temp_path[0] = '\0';
	}
	if (fd < 0 || !(f->stream = fdopen(fd, "w"))) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		if (f->temp_path[0])
			unlink(f->temp_path);
		f->temp_path[0] = '\0';
		return ph_error_new(PH_EXIT_OUTPUT, "cannot write %s: %s", path, strerror(saved));
	}
	/* big writes: the heapsnapshot and report writers produce hundreds of MB */
	setvbuf(f->stream, NULL, _IOFBF, 1 << 20);
	return NULL;
}

struct ph_error *ph_output_commit(struct ph_output_file *f)
{
	const char *name = f->path ? f->path : "standard output";
	bool failed = ferror(f->stream) != 0;
	if (f->stream == stdout) {
		if (fflush(stdout) != 0)
			failed = true;
	} else if (fclose(f->stream) != 0) {
		failed = true;
	}
	f->stream = NULL;
	int saved = errno;
	if (!failed && f->temp_path[0] && rename(f->temp_path, f->path) != 0) {
		saved = errno;
		failed = true;
	}
	if (failed) {
		if (f->temp_path[0])
			unlink(f->temp_path);
		f->temp_path[0] = '\0';
		return ph_error_new(PH_EXIT_OUTPUT, "writing %s failed: %s", name,
				    saved ? strerror(saved) : "I/O error");
	}
	f->temp_path[0] = '\0';
	return NULL;
}

void ph_output_abort(struct ph_output_file *f)
{
	if (f->stream && f->stream != stdout)
		fclose(f->stream);
	else if (f->stream)
		fflush(stdout);
	f->stream = NULL;
	if (f->temp_path[0])
		unlink(f->temp_path);
	f->temp_path[0] = '\0';
}
