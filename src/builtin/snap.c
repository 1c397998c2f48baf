/* pyheap snap PID [-o FILE] [--timeout SECONDS]; pyheap snap --core CORE */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builtin.h"
#include "pyheap/core_snapshot.h"
#include "pyheap/error.h"
#include "pyheap/image.h"
#include "pyheap/safe_text.h"
#include "pyheap/snapshot.h"
#include "pyheap/units.h"
#include "../util.h"

static const char snap_usage[] =
    "usage: pyheap snap [options] PID\n"
    "       pyheap snap [options] --core CORE [--exe FILE] [--sysroot DIR]\n"
    "\n"
    "Stops every thread of the CPython process PID, reads its GC object lists\n"
    "through the interpreter's DWARF debug info, resumes it, and writes a JSON\n"
    "snapshot (per-type counts and sizes) to standard output. With --core, reads\n"
    "the same from a core file (gcore, the kernel, systemd-coredump) instead.\n"
    "\n"
    "  -o, --output FILE   write the snapshot to FILE (created mode 0600)\n"
    "  -t, --timeout SECS  never keep the target stopped longer than this\n"
    "                      (default 30; the target is released and pyheap exits 9)\n"
    "      --attempts N    stops to try while a garbage collection is running\n"
    "                      (default 50)\n"
    "      --no-graph      per-type counts only: no reference graph, no exceptions\n"
    "                      (a shorter pause and a much smaller file)\n"
    "      --debuginfo FILE  the interpreter's DWARF, tried before any other source\n"
    "      --layout FILE   struct layouts from a layout file (pyheap layout), for a\n"
    "                      stripped interpreter with the same build-id\n"
    "      --policy P      how the heap is read: auto (default), copy, sparse or\n"
    "                      stopped (README, Safety); also PYHEAP_POLICY\n"
    "      --core CORE     snapshot a core file instead of a process (plain, or\n"
    "                      zstd-compressed as systemd-coredump stores it)\n"
    "      --exe FILE      with --core: the executable, when it is not where the\n"
    "                      core says (checked by build-id)\n"
    "      --sysroot DIR   with --core: find the core's files (libraries, the\n"
    "                      executable, /usr/lib/debug) under DIR, for a core from\n"
    "                      another machine or container\n"
    "      --timings       where the time went, on stderr\n"
    "      --redact        no string contents in the snapshot: dict keys and\n"
    "                      exception messages become their length and a hash\n"
    "  -q, --quiet         no progress or summary on stderr\n"
    "  -h, --help          this text\n";

static int parse_unsigned(const char *text, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long value = strtoul(text, &end, 10);
	if (errno || !*text || *end || value > max)
		return -1;
	*out = value;
	return 0;
}

/* pyheap: 11882 objects of 90 types, 3.8 GiB of Python objects (4115
 * untracked), target RSS 3.9 GiB; Python 3.12.1 (pid 20369), paused 4.8 ms */
static void print_summary(const struct ph_snapshot *snap, const char *version)
{
	char heap[32], rss[32] = "unknown", tracked[32];
	uint64_t tracked_bytes = 0;
	for (size_t i = 0; i < snap->type_count; i++)
		tracked_bytes += snap->types[i].size;
	if (snap->rss_bytes)
		ph_format_bytes(rss, sizeof(rss), (int64_t)snap->rss_bytes, false);
	ph_format_bytes(tracked, sizeof(tracked), (int64_t)tracked_bytes, false);
	fprintf(stderr, "pyheap: %llu objects of %zu types, ", (unsigned long long)snap->objects,
		snap->type_count);
	if (snap->has_graph) {
		ph_format_bytes(heap, sizeof(heap), (int64_t)snap->heap.bytes, false);
		fprintf(stderr, "%s of Python objects (%llu more untracked: str, int...)", heap,
			(unsigned long long)snap->heap.untracked_objects);
	} else {
		fprintf(stderr, "%s in GC-tracked objects (untracked str, int... not counted: --no-graph)",
			tracked);
	}
	if (snap->core)
		fprintf(stderr, "; Python %s (pid %d), from its core\n", version, (int)snap->pid);
	else
		fprintf(stderr, ", target RSS %s; Python %s (pid %d), paused %.1f ms\n", rss, version,
			(int)snap->pid, snap->pause_ms);
}

int cmd_snap(int argc, char **argv)
{
	static const struct option long_options[] = {
	    {"output", required_argument, NULL, 'o'}, {"timeout", required_argument, NULL, 't'},
	    {"attempts", required_argument, NULL, 'a'}, {"quiet", no_argument, NULL, 'q'},
	    {"no-graph", no_argument, NULL, 'G'},      {"redact", no_argument, NULL, 'R'},
	    {"debuginfo", required_argument, NULL, 'D'}, {"layout", required_argument, NULL, 'L'},
	    {"timings", no_argument, NULL, 'T'},       {"policy", required_argument, NULL, 'P'},
	    {"core", required_argument, NULL, 'C'},
	    {"exe", required_argument, NULL, 'E'},      {"sysroot", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
	};
	const char *output = NULL;
	unsigned long timeout_s = 30, attempts = 50;
	bool quiet = false, graph = true, redact = false, timings = false;
	const char *layout_file = NULL;
	enum ph_capture_policy policy = PH_POLICY_AUTO;
	const char *policy_env = getenv("PYHEAP_POLICY");
	if (policy_env && *policy_env && !ph_capture_policy_parse(policy_env, &policy)) {
		fprintf(stderr, "pyheap snap: PYHEAP_POLICY wants auto, copy, sparse or stopped, not '%s'\n",
			policy_env);
		return PH_EXIT_USAGE;
	}
	struct ph_core_source_options core = {NULL, NULL, NULL};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:t:qh", long_options, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 't':
			if (parse_unsigned(optarg, 86400, &timeout_s) || timeout_s == 0) {
				fprintf(stderr, "pyheap snap: --timeout wants seconds (1-86400), not '%s'\n",
					optarg);
				return PH_EXIT_USAGE;
			}
			break;
		case 'a':
			if (parse_unsigned(optarg, 10000, &attempts) || attempts == 0) {
				fprintf(stderr, "pyheap snap: --attempts wants 1-10000, not '%s'\n", optarg);
				return PH_EXIT_USAGE;
			}
			break;
		case 'q':
			quiet = true;
			break;
		case 'G':
			graph = false;
			break;
		case 'R':
			redact = true;
			break;
		case 'D':
			ph_image_set_debuginfo(optarg);
			break;
		case 'L':
			layout_file = optarg;
			break;
		case 'T':
			timings = true;
			break;
		case 'P':
			if (!ph_capture_policy_parse(optarg, &policy)) {
				fprintf(stderr, "pyheap snap: --policy wants auto, copy, sparse or stopped, not "
						"'%s'\n", optarg);
				return PH_EXIT_USAGE;
			}
			break;
		case 'C':
			core.core = optarg;
			break;
		case 'E':
			core.exe = optarg;
			break;
		case 'S':
			core.sysroot = optarg;
			break;
		case 'h':
			fputs(snap_usage, stdout);
			return PH_EXIT_OK;
		default:
			fputs(snap_usage, stderr);
			return PH_EXIT_USAGE;
		}
	}
	if ((core.exe || core.sysroot) && !core.core) {
		fprintf(stderr, "pyheap snap: --exe and --sysroot go with --core\n");
		return PH_EXIT_USAGE;
	}
	if (optind != argc - (core.core ? 0 : 1)) {
		if (core.core)
			fprintf(stderr, "pyheap snap: --core takes the place of a PID\n");
		fputs(snap_usage, stderr);
		return PH_EXIT_USAGE;
	}
	unsigned long pid = 0;
	if (!core.core && (parse_unsigned(argv[optind], 4194304, &pid) || pid == 0)) {
		fprintf(stderr, "pyheap snap: '%s' is not a process ID\n", argv[optind]);
		return PH_EXIT_USAGE;
	}

	/* Open the output first: a bad path should fail before the target is
	 * ever stopped. A regular file is written under a temporary name and
	 * renamed into place on success, so a failed snapshot never leaves a
	 * half-written file or clobbers an old one; anything else (a FIFO,
	 * /dev/stdout) is written directly and never unlinked. */
	FILE *out = stdout;
	char temp_path[4096] = "";
	if (output) {
		struct stat st;
		int fd;
		if (stat(output, &st) == 0 && !S_ISREG(st.st_mode)) {
			fd = open(output, O_WRONLY | O_CLOEXEC);
		} else {
			if (snprintf(temp_path, sizeof(temp_path), "%s.XXXXXX", output) >=
			    (int)sizeof(temp_path)) {
				fprintf(stderr, "pyheap snap: output path too long\n");
				return PH_EXIT_USAGE;
			}
			fd = mkstemp(temp_path); /* mode 0600: snapshots hold the target's strings */
			if (fd < 0)
				temp_path[0] = '\0';
		}
		if (fd < 0 || !(out = fdopen(fd, "w"))) {
			fprintf(stderr, "pyheap snap: cannot write %s: %s\n", output, strerror(errno));
			if (fd >= 0)
				close(fd);
			if (temp_path[0])
				unlink(temp_path);
			return PH_EXIT_OUTPUT;
		}
	}

	struct ph_progress meter;
	ph_progress_begin(&meter, quiet, "objects walked", 0);
	struct ph_snapshot_options options = {
	    .timeout_ms = (unsigned)(timeout_s * 1000),
	    .max_attempts = (unsigned)attempts,
	    .progress = !quiet && isatty(STDERR_FILENO),
	    .graph = graph,
	    .redact = redact,
	    .layout_file = layout_file,
	    .policy = policy,
	    .meter = &meter,
	};
	struct ph_snapshot *snap;
	struct ph_error *err = core.core ? ph_snapshot_capture_core(&core, &options, &snap)
				       : ph_snapshot_capture((pid_t)pid, &options, &snap);
	if (!err)
		ph_progress_status(&meter, "writing the snapshot");
	else
		ph_progress_end(&meter);
	if (err) {
		if (output) {
			fclose(out);
			if (temp_path[0])
				unlink(temp_path);
		}
		return ph_error_report(err);
	}
	uint64_t write_ns = ph_now_ns();
	bool written = ph_snapshot_write_json(snap, out);
	if (out != stdout ? fclose(out) != 0 : fflush(out) != 0)
		written = false;
	ph_progress_end(&meter);
	if (timings && snap->core)
		fprintf(stderr,
			"pyheap: timings: setup %.1f ms (the core, its files, DWARF), walk %.1f ms, "
			"write %.1f ms\n",
			snap->setup_ms, snap->walk_ms, (double)(ph_now_ns() - write_ns) / 1e6);
	else if (timings)
		fprintf(stderr,
			"pyheap: timings: setup %.1f ms, choose %.1f ms, prepare copy %.1f ms, stopped "
			"%.1f ms (%s), walk %.1f ms, write %.1f ms; policy %s (%s), %llu bytes copied, "
			"%llu skipped, %llu never touched by the target (zeros, not read), memory peak "
			"%.1f MiB of a %.1f MiB budget\n",
			snap->setup_ms, snap->choose_ms, snap->prepare_ms, snap->stopped_ms,
			snap->walked_copy ? "copying" : "walking", snap->walk_ms,
			(double)(ph_now_ns() - write_ns) / 1e6, ph_capture_policy_name(snap->policy),
			snap->policy_reason, (unsigned long long)snap->bytes_copied,
			(unsigned long long)snap->bytes_skipped,
			(unsigned long long)snap->bytes_untouched, (double)snap->memory_peak / (1 << 20),
			(double)snap->memory_budget / (1 << 20));
	if (written && temp_path[0] && rename(temp_path, output) != 0)
		written = false;
	if (!written) {
		fprintf(stderr, "pyheap snap: writing the snapshot failed: %s\n", strerror(errno));
		if (temp_path[0])
			unlink(temp_path);
		ph_snapshot_free(snap);
		return PH_EXIT_OUTPUT;
	}
	char version[64];
	ph_safe_text(version, sizeof(version), snap->python_version);
	if (!quiet)
		print_summary(snap, version);
	int code = PH_EXIT_OK;
	if (!snap->complete && snap->core) {
		fprintf(stderr, "pyheap: warning: the snapshot is partial: %s\n", snap->problem);
		code = snap->partial_exit_code ? snap->partial_exit_code : PH_EXIT_INCONSISTENT;
	} else if (!snap->complete) {
		/* written all the same: what could be read, and what could not */
		fprintf(stderr,
			"pyheap: warning: the heap never looked consistent in %u stops; the "
			"snapshot is partial (%u GC list(s) cut short: %s)\n",
			snap->attempts, snap->broken_lists, snap->problem);
		code = PH_EXIT_INCONSISTENT;
	}
	ph_snapshot_free(snap);
	return code;
}
