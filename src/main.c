/* pyheap: find memory leaks in running CPython processes from outside. */
#include <stdio.h>
#include <string.h>

#include "builtin/builtin.h"
#include "pyheap/error.h"

static const char main_usage[] =
    "usage: pyheap <command> [options]\n"
    "\n"
    "Commands:\n"
    "  snap PID       snapshot a running CPython process's heap as JSON\n"
    "  snap --core CORE   the same from a core file (gcore, the kernel, systemd-coredump)\n"
    "  chain          who keeps objects of a type alive: the shortest chain from a root\n"
    "  diff A B       what grew between two snapshots\n"
    "  top            what keeps the most memory alive (retained sizes)\n"
    "  suspects       leak suspects: who holds an outsized share, or what grew\n"
    "  layout FILE    struct layouts of an interpreter build, for hosts without debug info\n"
    "  export FILE    a snapshot's graph for Chrome DevTools and memlab (.heapsnapshot)\n"
    "  report A [B]   one self-contained HTML page: summary, suspects, treemap, types\n"
    "\n"
    "Run 'pyheap <command> --help' for a command's options.\n"
    "\n"
    "The target is never written to: its threads are stopped with PTRACE_SEIZE\n"
    "and PTRACE_INTERRUPT, its memory is copied with process_vm_readv, and every\n"
    "thread is released on every path (success, error, signal, --timeout).\n"
    "\n"
    "Exit codes:\n"
    "   0  success\n"
    "   1  internal error (a bug, or out of memory)\n"
    "   2  bad command line\n"
    "   3  no such process\n"
    "   4  permission denied (ptrace_scope, CAP_SYS_PTRACE, another user)\n"
    "   5  not a CPython 3 process\n"
    "   6  no debug info for the interpreter (install python3.X-dbg, or set\n"
    "      DEBUGINFOD_URLS)\n"
    "   7  unsupported Python version or build\n"
    "   8  the target exited or exec'd during the snapshot\n"
    "   9  --timeout expired (the target was released)\n"
    "  10  the heap never reached a consistent state (collection always running,\n"
    "      or corrupt lists)\n"
    "  11  writing the output failed\n"
    "  12  an input file is not a valid pyheap file\n"
    "  13  nothing matched (chain, top: no object of that type or address)\n"
    "  14  suspects: leak suspects were found\n"
    "  15  the snapshot would not fit pyheap's memory budget (half of MemAvailable,\n"
    "      or PYHEAP_MEMORY_BUDGET_MB); the target was released\n"
    "  16  snap --core: the core file is truncated (a partial snapshot is written\n"
    "      when the interpreter's state could be read)\n"
    "  17  snap --core: a file the core's process mapped is not on disk (--sysroot)\n"
    "  18  snap --core: a file on disk has another build-id than the one mapped\n";

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(main_usage, stderr);
		return PH_EXIT_USAGE;
	}
	const char *command = argv[1];
	if (strcmp(command, "-h") == 0 || strcmp(command, "--help") == 0 ||
	    strcmp(command, "help") == 0) {
		fputs(main_usage, stdout);
		return PH_EXIT_OK;
	}
	if (strcmp(command, "--version") == 0) {
		puts("pyheap " PYHEAP_VERSION);
		return PH_EXIT_OK;
	}
	if (strcmp(command, "snap") == 0)
		return cmd_snap(argc - 1, argv + 1);
	if (strcmp(command, "chain") == 0)
		return cmd_chain(argc - 1, argv + 1);
	if (strcmp(command, "diff") == 0)
		return cmd_diff(argc - 1, argv + 1);
	if (strcmp(command, "suspects") == 0)
		return cmd_suspects(argc - 1, argv + 1);
	if (strcmp(command, "top") == 0)
		return cmd_top(argc - 1, argv + 1);
	if (strcmp(command, "layout") == 0)
		return cmd_layout(argc - 1, argv + 1);
	if (strcmp(command, "export") == 0)
		return cmd_export(argc - 1, argv + 1);
	if (strcmp(command, "report") == 0)
		return cmd_report(argc - 1, argv + 1);
	fprintf(stderr, "pyheap: '%s' is not a command\n\n%s", command, main_usage);
	return PH_EXIT_USAGE;
}
