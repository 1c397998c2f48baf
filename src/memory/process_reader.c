/* Reads a live process's memory. process_vm_readv moves up to a whole block
 * per system call; /proc/PID/mem is the fallback for kernels without it.
 * Neither path can write: the fd is opened read-only and the system call is
 * the read half of the pair. */
#include "pyheap/memory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

struct process_reader {
	struct ph_memory_reader base;
	pid_t pid;
	int mem_fd; /* -1 until the fallback is needed */
	int use_proc_mem;
};

static struct ph_error *read_error(struct process_reader *pr, uint64_t addr, int err)
{
	if (err == ESRCH)
		return ph_error_new(PH_EXIT_TARGET_GONE, "process %d is gone (reading 0x%llx)",
				    (int)pr->pid, (unsigned long long)addr);
	if (err == EPERM || err == EACCES)
		return ph_error_new(PH_EXIT_PERMISSION, "not allowed to read memory of process %d",
				    (int)pr->pid);
	return ph_error_new(PH_EXIT_INTERNAL, "reading 0x%llx in process %d: %s",
			    (unsigned long long)addr, (int)pr->pid, strerror(err));
}

static struct ph_error *read_proc_mem(struct process_reader *pr, uint64_t addr, void *buf,
				      size_t len, size_t *done)
{
	if (pr->mem_fd < 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/mem", (int)pr->pid);
		pr->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (pr->mem_fd < 0)
			return read_error(pr, addr, errno);
	}
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(pr->mem_fd, (char *)buf + got, len - got, (off_t)(addr + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*done = got;
			if (n == 0 || errno == EIO || errno == EFAULT)
				return ph_error_new(PH_EXIT_INCONSISTENT, "address 0x%llx is not readable",
						    (unsigned long long)(addr + got));
			return read_error(pr, addr + got, errno);
		}
		got += (size_t)n;
	}
	*done = got;
	return NULL;
}

static struct ph_error *process_read(struct ph_memory_reader *reader, uint64_t addr, void *buf,
				     size_t len, size_t *done)
{
	struct process_reader *pr = (struct process_reader *)reader;
	size_t scratch;
	if (!done)
		done = &scratch;
	*done = 0;
	if (pr->use_proc_mem) {
		struct ph_error *err = read_proc_mem(pr, addr, buf, len, done);
		reader->bytes_read += *done;
		return err;
	}
	size_t got = 0;
	while (got < len) {
		struct iovec local = {(char *)buf + got, len - got};
		struct iovec remote = {(void *)(uintptr_t)(addr + got), len - got};
		ssize_t n = process_vm_readv(pr->pid, &local, 1, &remote, 1, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOSYS) {
				pr->use_proc_mem = 1;
				size_t more = 0;
				struct ph_error *err =
				    read_proc_mem(pr, addr + got, (char *)buf + got, len - got, &more);
				*done = got + more;
				reader->bytes_read += *done;
				return err;
			}
			*done = got;
			reader->bytes_read += got;
			if (errno == EFAULT)
				return ph_error_new(PH_EXIT_INCONSISTENT, "address 0x%llx is not readable",
						    (unsigned long long)(addr + got));
			return read_error(pr, addr + got, errno);
		}
		if (n == 0) {
			*done = got;
			reader->bytes_read += got;
			return ph_error_new(PH_EXIT_INCONSISTENT, "address 0x%llx is not readable",
					    (unsigned long long)(addr + got));
		}
		got += (size_t)n;
	}
	*done = got;
	reader->bytes_read += got;
	return NULL;
}

static void process_destroy(struct ph_memory_reader *reader)
{
	struct process_reader *pr = (struct process_reader *)reader;
	if (pr->mem_fd >= 0)
		close(pr->mem_fd);
	free(pr);
}

struct ph_error *ph_process_reader_new(pid_t pid, struct ph_memory_reader **out)
{
	struct process_reader *pr = calloc(1, sizeof(*pr));
	if (!pr)
		return &ph_error_out_of_memory;
	pr->base.read = process_read;
	pr->base.destroy = process_destroy;
	pr->pid = pid;
	pr->mem_fd = -1;
	pr->use_proc_mem = getenv("PYHEAP_FORCE_PROC_MEM") != NULL;
	*out = &pr->base;
	return NULL;
}
