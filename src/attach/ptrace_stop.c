#include "pyheap/attach.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../util.h"
#include "permission.h"

enum task_state {
	TASK_SEIZED,  /* interrupt requested, stop not yet seen */
	TASK_STOPPED, /* in a ptrace stop: safe to read, must be detached */
	TASK_GONE,    /* exited; nothing to release */
};

struct task {
	pid_t tid;
	enum task_state state;
	int pending_signal; /* caught in signal-delivery-stop; re-delivered on detach */
};

struct ph_stopped_process {
	pid_t pid;
	struct task *tasks;
	size_t count, capacity;
	bool changed; /* exec or main-thread exit seen */
};

/* The signal handlers need the tasks of the one process we hold. Updates
 * happen with the guarded signals blocked, so a handler never sees a
 * half-written array. */
static struct ph_stopped_process *volatile held_process;
static const int guarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM, SIGPIPE};

static void block_guarded(sigset_t *old)
{
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < PH_ARRAY_SIZE(guarded_signals); i++)
		sigaddset(&set, guarded_signals[i]);
	sigprocmask(SIG_BLOCK, &set, old);
}

static void restore_mask(const sigset_t *old)
{
	sigprocmask(SIG_SETMASK, old, NULL);
}

/* Async-signal-safe: only system calls. A thread not yet in a ptrace stop
 * refuses PTRACE_DETACH; the kernel releases it when we exit, which we are
 * about to do. */
static void detach_all_unsafe(struct ph_stopped_process *sp)
{
	for (size_t i = 0; i < sp->count; i++) {
		if (sp->tasks[i].state == TASK_GONE)
			continue;
		ptrace(PTRACE_DETACH, sp->tasks[i].tid, NULL,
		       (void *)(long)sp->tasks[i].pending_signal);
	}
}

static void write_stderr(const char *msg)
{
	ssize_t ignored = write(STDERR_FILENO, msg, strlen(msg));
	(void)ignored;
}

static void guard_handler(int sig)
{
	struct ph_stopped_process *sp = held_process;
	if (sp)
		detach_all_unsafe(sp);
	if (sig == SIGALRM) {
		write_stderr("pyheap: --timeout expired; the target was released unchanged\n");
		_exit(PH_EXIT_TIMEOUT);
	}
	if (sp)
		write_stderr("pyheap: interrupted; the target was released unchanged\n");
	signal(sig, SIG_DFL);
	raise(sig);
	_exit(128 + sig);
}

static void install_guards(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = guard_handler;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < PH_ARRAY_SIZE(guarded_signals); i++)
		sigaction(guarded_signals[i], &sa, NULL);
}

static void arm_timeout(unsigned timeout_ms)
{
	struct itimerval it;
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = timeout_ms / 1000;
	it.it_value.tv_usec = (timeout_ms % 1000) * 1000;
	setitimer(ITIMER_REAL, &it, NULL);
}

static void disarm_timeout(void)
{
	struct itimerval it;
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
}

static struct task *find_task(struct ph_stopped_process *sp, pid_t tid)
{
	for (size_t i = 0; i < sp->count; i++)
		if (sp->tasks[i].tid == tid)
			return &sp->tasks[i];
	return NULL;
}

static struct ph_error *add_task(struct ph_stopped_process *sp, pid_t tid)
{
	if (sp->count == sp->capacity) {
		size_t capacity = sp->capacity ? sp->capacity * 2 : 16;
		struct task *grown = malloc(capacity * sizeof(*grown));
		if (!grown)
			return &ph_error_out_of_memory;
		if (sp->count)
			memcpy(grown, sp->tasks, sp->count * sizeof(*grown));
		sigset_t old;
		block_guarded(&old);
		struct task *previous = sp->tasks;
		sp->tasks = grown;
		sp->capacity = capacity;
		restore_mask(&old);
		free(previous);
	}
	sigset_t old;
	block_guarded(&old);
	sp->tasks[sp->count] = (struct task){tid, TASK_SEIZED, 0};
	sp->count++;
	restore_mask(&old);
	return NULL;
}

struct ph_error *ph_attach_check(pid_t pid)
{
	if (pid <= 0)
		return ph_error_new(PH_EXIT_USAGE, "'%d' is not a process ID", (int)pid);
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return ph_error_new(PH_EXIT_NO_PROCESS, "no process with PID %d", (int)pid);
	if (pid == getpid())
		return ph_error_new(PH_EXIT_USAGE, "pyheap cannot snapshot itself");
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (access(path, R_OK) < 0)
		return ph_error_new(errno == ENOENT ? PH_EXIT_NO_PROCESS : PH_EXIT_PERMISSION,
				    "cannot read %s: %s", path, strerror(errno));
	/* /proc/PID/maps is guarded by the same ptrace access check as
	 * ptrace itself: a refusal here gets the same diagnosis. */
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ph_permission_error(pid, errno == ENOENT ? ESRCH : errno);
	char byte;
	ssize_t n = read(fd, &byte, 1);
	int saved = errno;
	close(fd);
	if (n < 0)
		return ph_permission_error(pid, saved);
	return NULL;
}

/* Seizes and interrupts every task not yet held; *added counts new ones. */
static struct ph_error *seize_new_tasks(struct ph_stopped_process *sp, size_t *added)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)sp->pid);
	DIR *dir = opendir(path);
	if (!dir)
		return ph_error_new(errno == ENOENT ? PH_EXIT_TARGET_GONE : PH_EXIT_PERMISSION,
				    "cannot list threads in %s: %s", path, strerror(errno));
	*added = 0;
	struct ph_error *err = NULL;
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL) {
		char *end;
		long tid = strtol(entry->d_name, &end, 10);
		if (*end || tid <= 0 || find_task(sp, (pid_t)tid))
			continue;
		/* TRACEEXEC so an exec while we hold threads shows as an event
		 * instead of silently swapping the image under us. */
		if (ptrace(PTRACE_SEIZE, (pid_t)tid, NULL, (void *)(long)PTRACE_O_TRACEEXEC) < 0) {
			if (errno == ESRCH)
				continue; /* exited between readdir and seize */
			err = ph_permission_error(sp->pid, errno);
			break;
		}
		err = add_task(sp, (pid_t)tid);
		if (err) {
			ptrace(PTRACE_DETACH, (pid_t)tid, NULL, NULL);
			break;
		}
		if (ptrace(PTRACE_INTERRUPT, (pid_t)tid, NULL, NULL) < 0 && errno == ESRCH)
			sp->tasks[sp->count - 1].state = TASK_GONE;
		(*added)++;
	}
	closedir(dir);
	return err;
}

/* Interprets one waitpid status for a task we are waiting on. */
static void note_wait_status(struct ph_stopped_process *sp, struct task *task, int status)
{
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		task->state = TASK_GONE;
		if (task->tid == sp->pid)
			sp->changed = true;
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	int event = (unsigned)status >> 16;
	int sig = WSTOPSIG(status);
	task->state = TASK_STOPPED;
	if (event == PTRACE_EVENT_EXEC) {
		sp->changed = true;
	} else if (event == 0 && sig != SIGTRAP) {
		/* A signal arrived before our interrupt: hold it and give it
		 * back on detach so the target sees exactly what it would have. */
		task->pending_signal = sig;
	}
	/* PTRACE_EVENT_STOP: our interrupt, or a group-stop (job control),
	 * which detaching leaves as it was. */
}

static struct ph_error *wait_for_stops(struct ph_stopped_process *sp)
{
	unsigned sleep_us = 20;
	for (;;) {
		size_t waiting = 0;
		for (size_t i = 0; i < sp->count; i++) {
			struct task *task = &sp->tasks[i];
			if (task->state != TASK_SEIZED)
				continue;
			int status;
			pid_t r = waitpid(task->tid, &status, __WALL | WNOHANG);
			if (r == task->tid)
				note_wait_status(sp, task, status);
			else if (r < 0 && errno == ECHILD)
				task->state = TASK_GONE;
			if (task->state == TASK_SEIZED)
				waiting++;
		}
		if (waiting == 0)
			return NULL;
		struct timespec ts = {0, (long)sleep_us * 1000};
		nanosleep(&ts, NULL);
		if (sleep_us < 2000)
			sleep_us *= 2;
	}
}

struct ph_error *ph_attach_stop(pid_t pid, unsigned timeout_ms, struct ph_stopped_process **out)
{
	struct ph_stopped_process *sp = calloc(1, sizeof(*sp));
	if (!sp)
		return &ph_error_out_of_memory;
	sp->pid = pid;
	install_guards();
	held_process = sp;
	arm_timeout(timeout_ms);

	struct ph_error *err = NULL;
	/* New threads can be cloned by threads we have not stopped yet; keep
	 * scanning until a full pass finds none after everyone is stopped. */
	for (int round = 0;; round++) {
		size_t added = 0;
		err = seize_new_tasks(sp, &added);
		if (err)
			break;
		err = wait_for_stops(sp);
		if (err)
			break;
		if (added == 0)
			break;
		if (round > 10000) {
			err = ph_error_new(PH_EXIT_INCONSISTENT,
					   "process %d keeps creating threads; could not stop them all",
					   (int)pid);
			break;
		}
	}
	if (!err && sp->count == 0)
		err = ph_error_new(PH_EXIT_NO_PROCESS, "process %d has no threads left", (int)pid);
	if (!err && (sp->changed || !find_task(sp, pid) || find_task(sp, pid)->state == TASK_GONE))
		err = ph_error_new(PH_EXIT_TARGET_GONE, "process %d exited or exec'd while being stopped",
				   (int)pid);
	if (err) {
		struct ph_error *resume_err = ph_attach_resume(sp);
		ph_error_free(resume_err);
		return err;
	}
	*out = sp;
	return NULL;
}

/* False once the process is gone or a zombie (killed while held). */
static bool process_alive(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	const char *paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

struct ph_error *ph_attach_resume(struct ph_stopped_process *sp)
{
	for (size_t i = 0; i < sp->count; i++) {
		struct task *task = &sp->tasks[i];
		if (task->state == TASK_GONE)
			continue;
		if (ptrace(PTRACE_DETACH, task->tid, NULL, (void *)(long)task->pending_signal) == 0) {
			task->state = TASK_GONE;
			continue;
		}
		if (errno != ESRCH)
			continue;
		/* Dead (its exit is ours to collect as its tracer), or not in a
		 * ptrace stop yet: then make it stop and release it, so nothing
		 * stays traced after we return. */
		int status;
		if (waitpid(task->tid, &status, __WALL | WNOHANG) == task->tid) {
			note_wait_status(sp, task, status);
			if (task->state == TASK_GONE)
				continue;
			if (ptrace(PTRACE_DETACH, task->tid, NULL,
				   (void *)(long)task->pending_signal) == 0) {
				task->state = TASK_GONE;
				continue;
			}
		}
		if (ptrace(PTRACE_INTERRUPT, task->tid, NULL, NULL) < 0) {
			task->state = TASK_GONE;
			continue;
		}
		for (int tries = 0; tries < 2000; tries++) {
			int status;
			pid_t r = waitpid(task->tid, &status, __WALL | WNOHANG);
			if (r == task->tid) {
				note_wait_status(sp, task, status);
				break;
			}
			if (r < 0)
				break;
			struct timespec ts = {0, 500000};
			nanosleep(&ts, NULL);
		}
		if (task->state == TASK_STOPPED)
			ptrace(PTRACE_DETACH, task->tid, NULL, (void *)(long)task->pending_signal);
		task->state = TASK_GONE;
	}
	disarm_timeout();
	held_process = NULL;
	if (!process_alive(sp->pid))
		sp->changed = true;
	bool changed = sp->changed;
	pid_t pid = sp->pid;
	free(sp->tasks);
	free(sp);
	if (changed)
		return ph_error_new(PH_EXIT_TARGET_GONE, "process %d exited or exec'd during the snapshot",
				    (int)pid);
	return NULL;
}

size_t ph_attach_thread_count(const struct ph_stopped_process *sp)
{
	size_t n = 0;
	for (size_t i = 0; i < sp->count; i++)
		n += sp->tasks[i].state == TASK_STOPPED;
	return n;
}

bool ph_attach_target_changed(const struct ph_stopped_process *sp)
{
	return sp->changed;
}
