#include "permission.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util.h"

/* Value of "Key:\t..." in a /proc status file, first number only. */
static long status_field(const char *status, const char *key)
{
	const char *line = strstr(status, key);
	if (!line)
		return -1;
	return strtol(line + strlen(key), NULL, 10);
}

static int have_cap_sys_ptrace(void)
{
	char *status;
	if (ph_read_whole_file("/proc/self/status", &status, NULL))
		return 0;
	const char *line = strstr(status, "CapEff:");
	unsigned long long caps = line ? strtoull(line + 7, NULL, 16) : 0;
	free(status);
	return (caps >> 19) & 1; /* CAP_SYS_PTRACE */
}

struct ph_error *ph_permission_error(pid_t pid, int err)
{
	if (err == ESRCH)
		return ph_error_new(PH_EXIT_NO_PROCESS, "no process with PID %d", (int)pid);
	if (err != EPERM && err != EACCES)
		return ph_error_new(PH_EXIT_INTERNAL, "cannot trace process %d: %s", (int)pid,
				    strerror(err));

	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	char *status = NULL;
	struct ph_error *read_err = ph_read_whole_file(path, &status, NULL);
	if (read_err) {
		ph_error_free(read_err);
		status = NULL;
	}
	long tracer = status ? status_field(status, "TracerPid:") : -1;
	long uid = status ? status_field(status, "Uid:") : -1;
	free(status);
	int cap = have_cap_sys_ptrace();

	if (tracer > 0 && tracer != getpid())
		return ph_error_new(PH_EXIT_PERMISSION,
				    "process %d is already being traced by PID %ld (a debugger or "
				    "another pyheap); detach that first",
				    (int)pid, tracer);
	if (uid >= 0 && (uid_t)uid != geteuid() && !cap)
		return ph_error_new(PH_EXIT_PERMISSION,
				    "process %d belongs to uid %ld and pyheap runs as uid %d without "
				    "CAP_SYS_PTRACE; run pyheap as that user, or with sudo",
				    (int)pid, uid, (int)geteuid());

	char *scope_text = NULL;
	long scope = -1;
	struct ph_error *scope_err =
	    ph_read_whole_file("/proc/sys/kernel/yama/ptrace_scope", &scope_text, NULL);
	if (!scope_err) {
		scope = strtol(scope_text, NULL, 10);
		free(scope_text);
	}
	ph_error_free(scope_err);
	if (scope == 1 && !cap)
		return ph_error_new(PH_EXIT_PERMISSION,
				    "kernel.yama.ptrace_scope is 1, so only a parent may trace process "
				    "%d; run pyheap with sudo, grant it CAP_SYS_PTRACE (sudo setcap "
				    "cap_sys_ptrace+ep $(command -v pyheap)), or allow it with "
				    "'echo 0 | sudo tee /proc/sys/kernel/yama/ptrace_scope'",
				    (int)pid);
	if (scope == 2 && !cap)
		return ph_error_new(PH_EXIT_PERMISSION,
				    "kernel.yama.ptrace_scope is 2: only processes with CAP_SYS_PTRACE "
				    "may trace; run pyheap with sudo or grant it CAP_SYS_PTRACE");
	if (scope == 3)
		return ph_error_new(PH_EXIT_PERMISSION,
				    "kernel.yama.ptrace_scope is 3: tracing is disabled until reboot");
	if (!cap)
		return ph_error_new(PH_EXIT_PERMISSION,
				    "not allowed to trace process %d (%s); in a container, start it "
				    "with --cap-add=SYS_PTRACE, or run pyheap with sudo",
				    (int)pid, strerror(err));
	return ph_error_new(PH_EXIT_PERMISSION,
			    "not allowed to trace process %d (%s) even with CAP_SYS_PTRACE; a "
			    "seccomp or LSM policy (AppArmor, SELinux) may forbid ptrace",
			    (int)pid, strerror(err));
}
