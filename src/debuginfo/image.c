#include "pyheap/image.h"

#include <elfutils/libdwelf.h>
#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Where libdwfl looks for separate debug files: next to the file, its
 * .debug/, our /usr/lib/debug, and the target's own /usr/lib/debug (a
 * container ships its debug packages inside). */
static char debuginfo_path_buffer[256];
static char *debuginfo_path = NULL;
/* The process whose files we open, and a user-given debug file. */
static pid_t current_pid;
static const char *forced_debuginfo;

/* Opens a file named in the target's memory map as the target sees it:
 * through /proc/PID/root, so a library inside a container (another mount
 * namespace) is found without writing anything into that namespace. */
static int find_elf_in_target(Dwfl_Module *mod, void **userdata, const char *name,
			      Dwarf_Addr base, char **file_name, Elf **elfp)
{
	if (name && name[0] == '/' && current_pid > 0) {
		char path[4200];
		snprintf(path, sizeof(path), "/proc/%d/root%s", (int)current_pid, name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
			if (elf) {
				*elfp = elf;
				*file_name = strdup(path);
				return fd;
			}
			close(fd);
		}
	}
	return dwfl_linux_proc_find_elf(mod, userdata, name, base, file_name, elfp);
}

/* --debuginfo FILE first, then libdwfl's standard search (the file itself,
 * build-id, .gnu_debuglink, debuginfod when DEBUGINFOD_URLS is set). */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
			  const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
			  char **debuginfo_file_name)
{
	if (forced_debuginfo) {
		int fd = open(forced_debuginfo, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			*debuginfo_file_name = strdup(forced_debuginfo);
			return fd;
		}
	}
	return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
					    debuglink_crc, debuginfo_file_name);
}

static const Dwfl_Callbacks proc_callbacks = {
    .find_elf = find_elf_in_target,
    .find_debuginfo = find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

void ph_image_set_debuginfo(const char *path)
{
	forced_debuginfo = path;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* "libpython3.12.so.1.0" -> "3.12"; "python3.11" -> "3.11"; else "". */
static void version_from_name(const char *name, char *out, size_t size)
{
	out[0] = '\0';
	const char *at = strstr(name, "python");
	if (!at)
		return;
	at += 6;
	size_t n = 0;
	while (at[n] && (at[n] == '.' || (at[n] >= '0' && at[n] <= '9')) && n + 1 < size)
		n++;
	while (n > 0 && at[n - 1] == '.')
		n--;
	memcpy(out, at, n);
	out[n] = '\0';
}

struct module_search {
	Dwfl_Module *libpython;
	Dwfl_Module *executable;
	const char *exe_path;
};

static int visit_module(Dwfl_Module *module, void **userdata, const char *name, Dwarf_Addr start,
			void *arg)
{
	(void)userdata;
	(void)start;
	struct module_search *search = arg;
	const char *base = base_name(name);
	if (strncmp(base, "libpython", 9) == 0 && !search->libpython)
		search->libpython = module;
	else if (search->exe_path && strcmp(name, search->exe_path) == 0 && !search->executable)
		search->executable = module;
	return DWARF_CB_OK;
}

static int compare_symbols(const void *a, const void *b)
{
	return strcmp(((const struct ph_symbol *)a)->name, ((const struct ph_symbol *)b)->name);
}

/* Copies the module's symbol table (full .symtab if present, else
 * .dynsym) into a sorted array so later lookups are binary searches. */
static struct ph_error *load_symbols(struct ph_image *image)
{
	int count = dwfl_module_getsymtab(image->module);
	if (count <= 0)
		return NULL;
	image->symbols = calloc((size_t)count, sizeof(*image->symbols));
	if (!image->symbols)
		return &ph_error_out_of_memory;
	size_t names_size = 0;
	for (int pass = 0; pass < 2; pass++) {
		size_t at = 0;
		image->symbol_count = 0;
		for (int i = 0; i < count; i++) {
			GElf_Sym sym;
			GElf_Addr address;
			const char *name =
			    dwfl_module_getsym_info(image->module, i, &sym, &address, NULL, NULL, NULL);
			if (!name || !*name || sym.st_shndx == SHN_UNDEF)
				continue;
			int type = GELF_ST_TYPE(sym.st_info);
			if (type != STT_OBJECT && type != STT_FUNC && type != STT_TLS)
				continue;
			size_t len = strlen(name) + 1;
			if (pass == 0) {
				names_size += len;
				continue;
			}
			memcpy(image->symbol_names + at, name, len);
			image->symbols[image->symbol_count++] =
			    (struct ph_symbol){image->symbol_names + at, address, sym.st_size};
			at += len;
		}
		if (pass == 0) {
			image->symbol_names = malloc(names_size ? names_size : 1);
			if (!image->symbol_names)
				return &ph_error_out_of_memory;
		}
	}
	qsort(image->symbols, image->symbol_count, sizeof(*image->symbols), compare_symbols);
	return NULL;
}

bool ph_image_symbol(const struct ph_image *image, const char *name, uint64_t *address)
{
	struct ph_symbol key = {name, 0, 0};
	const struct ph_symbol *found = bsearch(&key, image->symbols, image->symbol_count,
						sizeof(*image->symbols), compare_symbols);
	if (found) {
		*address = found->address;
		return true;
	}
	/* LTO and GCC clones rename static functions: "subtype_traverse.lto_priv.0",
	 * "x.isra.0", "x.constprop.0". Accept one such name if it is unique. */
	size_t len = strlen(name);
	size_t lo = 0, hi = image->symbol_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(image->symbols[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	const struct ph_symbol *match = NULL;
	for (size_t i = lo; i < image->symbol_count; i++) {
		const char *candidate = image->symbols[i].name;
		if (strncmp(candidate, name, len) != 0)
			break;
		if (candidate[len] != '.')
			continue;
		if (match && match->address != image->symbols[i].address)
			return false; /* ambiguous */
		match = &image->symbols[i];
	}
	if (!match)
		return false;
	*address = match->address;
	return true;
}

static void read_build_id(struct ph_image *image)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	int len = dwfl_module_build_id(image->module, &bits, &vaddr);
	image->build_id[0] = '\0';
	for (int i = 0; i < len && i < 40; i++)
		snprintf(image->build_id + 2 * i, 3, "%02x", bits[i]);
}

struct ph_error *ph_image_find(pid_t pid, struct ph_image **out)
{
	struct ph_image *image = calloc(1, sizeof(*image));
	if (!image)
		return &ph_error_out_of_memory;
	struct ph_error *err = NULL;
	current_pid = pid;
	snprintf(debuginfo_path_buffer, sizeof(debuginfo_path_buffer),
		 ":.debug:/usr/lib/debug:/proc/%d/root/usr/lib/debug", (int)pid);
	debuginfo_path = debuginfo_path_buffer;
	/* a debuginfod download can take a while: show it when someone watches */
	if (getenv("DEBUGINFOD_URLS") && !getenv("DEBUGINFOD_PROGRESS") && isatty(STDERR_FILENO))
		setenv("DEBUGINFOD_PROGRESS", "1", 0);
	image->dwfl = dwfl_begin(&proc_callbacks);
	if (!image->dwfl) {
		free(image);
		return ph_error_new(PH_EXIT_INTERNAL, "dwfl_begin: %s", dwfl_errmsg(-1));
	}
	int rc = dwfl_linux_proc_report(image->dwfl, pid);
	if (rc != 0 && rc != ENOENT && rc != EACCES && rc != EPERM) {
		/* a process caught mid-exec has a map that changes under us */
		struct timespec pause = {0, 50 * 1000 * 1000};
		nanosleep(&pause, NULL);
		dwfl_report_begin(image->dwfl);
		rc = dwfl_linux_proc_report(image->dwfl, pid);
	}
	if (rc != 0) {
		int saved = rc > 0 ? rc : errno;
		err = ph_error_new(saved == ENOENT ? PH_EXIT_NO_PROCESS
				   : (saved == EACCES || saved == EPERM) ? PH_EXIT_PERMISSION
									: PH_EXIT_INTERNAL,
				   "cannot read the memory map of process %d: %s", (int)pid,
				   rc > 0 ? strerror(rc) : dwfl_errmsg(-1));
		goto fail;
	}
	dwfl_report_end(image->dwfl, NULL, NULL);

	char exe_link[64], exe_path[4096];
	snprintf(exe_link, sizeof(exe_link), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(exe_link, exe_path, sizeof(exe_path) - 1);
	struct module_search search = {NULL, NULL, NULL};
	if (n > 0) {
		exe_path[n] = '\0';
		search.exe_path = exe_path;
	}
	dwfl_getmodules(image->dwfl, visit_module, &search, 0);

	/* A libpython beats the executable: python3.X linked against
	 * libpython has no interpreter of its own. */
	Dwfl_Module *candidates[2] = {search.libpython, search.executable};
	for (int i = 0; i < 2 && !image->module; i++) {
		if (!candidates[i])
			continue;
		image->module = candidates[i];
		err = load_symbols(image);
		if (err)
			goto fail;
		if (!ph_image_symbol(image, "_PyRuntime", &image->runtime_address)) {
			free(image->symbols);
			free(image->symbol_names);
			image->symbols = NULL;
			image->symbol_names = NULL;
			image->symbol_count = 0;
			image->module = NULL;
		}
	}
	if (!image->module) {
		const char *name = search.exe_path ? base_name(search.exe_path) : "?";
		char version[16] = "";
		if (search.libpython) {
			const char *lib = dwfl_module_info(search.libpython, NULL, NULL, NULL, NULL, NULL,
							   NULL, NULL);
			version_from_name(base_name(lib ? lib : ""), version, sizeof(version));
		}
		if (version[0])
			err = ph_error_new(PH_EXIT_UNSUPPORTED,
					   "process %d runs Python %s; pyheap reads CPython 3.8 and "
					   "later", (int)pid, version);
		else
			err = ph_error_new(PH_EXIT_NOT_PYTHON,
					   "process %d (%s) is not a CPython 3 process: no libpython "
					   "and no _PyRuntime symbol in its executable",
					   (int)pid, name);
		goto fail;
	}
	Dwarf_Addr low = 0;
	const char *map_name = dwfl_module_info(image->module, NULL, &low, NULL, NULL, NULL, NULL,
						NULL);
	image->path = strdup(map_name ? map_name : "?");
	image->map_name = strdup(map_name ? map_name : "?");
	image->load_address = low;
	version_from_name(base_name(image->path), image->soname_version,
			  sizeof(image->soname_version));
	read_build_id(image);
	unsigned major = 0, minor = 0;
	if (sscanf(image->soname_version, "%u.%u", &major, &minor) == 2 &&
	    (major != 3 || minor < 8)) {
		err = ph_error_new(PH_EXIT_UNSUPPORTED,
				   "process %d runs Python %s (%s); pyheap reads CPython 3.8 and later",
				   (int)pid, image->soname_version, image->path);
		goto fail;
	}
	*out = image;
	return NULL;
fail:
	ph_image_free(image);
	return err;
}

/* Where a target that is not a live process (a core) can be read from. */
static bool (*memory_source)(void *ctx, uint64_t addr, void *buf, size_t len);
static void *memory_source_ctx;

/* 3.13+ start _PyRuntime with _Py_DebugOffsets: "xdebugpy", the exact
 * PY_VERSION_HEX and whether the build is free-threaded. Enough to name
 * a stripped interpreter precisely (not to walk it). Read without
 * stopping the target: a few constant bytes. */
static void describe_from_debug_offsets(const struct ph_image *image, char *out, size_t size)
{
	struct {
		char cookie[8];
		uint64_t version;
		uint64_t free_threaded;
	} head;
	struct iovec local = {&head, sizeof(head)};
	struct iovec remote = {(void *)(uintptr_t)image->runtime_address, sizeof(head)};
	bool read = false;
	if (image->runtime_address && current_pid > 0)
		read = process_vm_readv(current_pid, &local, 1, &remote, 1, 0) == (ssize_t)sizeof(head);
	else if (image->runtime_address && memory_source)
		read = memory_source(memory_source_ctx, image->runtime_address, &head, sizeof(head));
	if (!read || memcmp(head.cookie, "xdebugpy", 8) != 0)
		return;
	unsigned v = (unsigned)head.version;
	unsigned level = (v >> 4) & 0xf;
	const char *suffix = level == 0xA ? "a" : level == 0xB ? "b" : level == 0xC ? "rc" : "";
	char serial[8] = "";
	if (*suffix)
		snprintf(serial, sizeof(serial), "%u", v & 0xf);
	snprintf(out, size, "CPython %u.%u.%u%s%s%s (from _Py_DebugOffsets)", v >> 24, (v >> 16) & 0xff,
		 (v >> 8) & 0xff, suffix, serial, (head.free_threaded & 0xff) ? ", free-threaded" : "");
}

static bool file_exists(const char *path)
{
	return access(path, R_OK) == 0;
}

struct ph_error *ph_image_load_dwarf(struct ph_image *image)
{
	Dwarf_Addr bias;
	image->dwarf = dwfl_module_getdwarf(image->module, &bias);
	if (image->dwarf) {
		const char *mainfile = NULL, *debugfile = NULL;
		dwfl_module_info(image->module, NULL, NULL, NULL, NULL, NULL, &mainfile, &debugfile);
		char text[4600];
		const char *cache = getenv("DEBUGINFOD_CACHE_PATH");
		GElf_Addr main_bias;
		/* separate when the DWARF's ELF is not the module's own (libdwfl
		 * does not always name a file debuginfod delivered) */
		bool separate = dwarf_getelf(image->dwarf) != dwfl_module_getelf(image->module, &main_bias);
		if (!separate)
			snprintf(text, sizeof(text), "embedded in %s", image->path);
		else if (!debugfile || (mainfile && strcmp(debugfile, mainfile) == 0))
			snprintf(text, sizeof(text), "%s",
				 getenv("DEBUGINFOD_URLS") ? "debuginfod: a separate debug file it served"
							   : "a separate debug file");
		else if (forced_debuginfo && strcmp(debugfile, forced_debuginfo) == 0)
			snprintf(text, sizeof(text), "--debuginfo %s", debugfile);
		else if (strstr(debugfile, "/.build-id/"))
			snprintf(text, sizeof(text), "build-id: %s", debugfile);
		else if ((cache && strncmp(debugfile, cache, strlen(cache)) == 0) ||
			 strstr(debugfile, "debuginfod_client"))
			snprintf(text, sizeof(text), "debuginfod: %s", debugfile);
		else
			snprintf(text, sizeof(text), ".gnu_debuglink: %s", debugfile);
		image->debuginfo = strdup(text);
		return image->debuginfo ? NULL : &ph_error_out_of_memory;
	}

	/* Say exactly where we looked and what would fix it. */
	char searched[8192] = "";
	size_t used = 0;
#define SEARCHED(...) used += (size_t)snprintf(searched + used, used < sizeof(searched) ? sizeof(searched) - used : 0, __VA_ARGS__)
	SEARCHED("  - the interpreter file itself: %s (no .debug_info)\n", image->path);
	if (image->build_id[0]) {
		char path[256];
		snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%.2s/%s.debug", image->build_id,
			 image->build_id + 2);
		SEARCHED("  - by build-id %s: %s (%s)\n", image->build_id, path,
			 file_exists(path) ? "present but unusable" : "absent");
	}
	GElf_Addr elf_bias;
	Elf *elf = dwfl_module_getelf(image->module, &elf_bias);
	GElf_Word crc;
	const char *link = elf ? dwelf_elf_gnu_debuglink(elf, &crc) : NULL;
	if (link) {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s", image->path);
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		SEARCHED("  - by .gnu_debuglink '%s': %s/%s, %s/.debug/%s, /usr/lib/debug%s/%s\n", link,
			 dir, link, dir, link, dir, link);
	} else {
		SEARCHED("  - .gnu_debuglink: the file has none\n");
	}
	const char *urls = getenv("DEBUGINFOD_URLS");
	if (urls && *urls)
		SEARCHED("  - debuginfod at %s: nothing found\n", urls);
	else
		SEARCHED("  - debuginfod: not asked (DEBUGINFOD_URLS is not set)\n");
#undef SEARCHED
	const char *version = image->soname_version[0] ? image->soname_version : "3.X";
	char identity[200] = "";
	describe_from_debug_offsets(image, identity, sizeof(identity));
	if (identity[0] && !image->soname_version[0]) {
		static char minor[16];
		unsigned a, b;
		if (sscanf(identity, "CPython %u.%u", &a, &b) == 2) {
			snprintf(minor, sizeof(minor), "%u.%u", a, b);
			version = minor;
		}
	}
	return ph_error_new(PH_EXIT_NO_DEBUGINFO,
			    "no DWARF debug info for the interpreter %s%s%s%s (build-id %s). Looked in:\n%s"
			    "Install the debug info and retry: on Debian/Ubuntu 'apt-get install "
			    "python%s-dbg' (or the matching -dbgsym package), on Fedora 'dnf "
			    "debuginfo-install python3', or set DEBUGINFOD_URLS to a debuginfod "
			    "server (e.g. the distribution's), or give one with --debuginfo FILE or a "
			    "layout file made where the debug info is (pyheap layout FILE; snap --layout).",
			    image->path, identity[0] ? ", " : "", identity, identity[0] ? "," : "",
			    image->build_id[0] ? image->build_id : "none", searched, version);
}

void ph_image_free(struct ph_image *image)
{
	if (!image)
		return;
	if (image->dwfl)
		dwfl_end(image->dwfl);
	free(image->path);
	free(image->map_name);
	free(image->debuginfo);
	free(image->symbols);
	free(image->symbol_names);
	free(image);
}

static const Dwfl_Callbacks offline_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

struct ph_error *ph_image_open_file(const char *path, struct ph_image **out)
{
	struct ph_image *image = calloc(1, sizeof(*image));
	if (!image)
		return &ph_error_out_of_memory;
	current_pid = 0;
	debuginfo_path = NULL;
	image->dwfl = dwfl_begin(&offline_callbacks);
	struct ph_error *err = NULL;
	if (!image->dwfl) {
		free(image);
		return ph_error_new(PH_EXIT_INTERNAL, "dwfl_begin: %s", dwfl_errmsg(-1));
	}
	image->module = dwfl_report_offline(image->dwfl, path, path, -1);
	dwfl_report_end(image->dwfl, NULL, NULL);
	if (!image->module) {
		err = ph_error_new(PH_EXIT_BAD_INPUT, "%s is not an ELF file pyheap can read: %s", path,
				   dwfl_errmsg(-1));
		goto fail;
	}
	err = load_symbols(image);
	if (err)
		goto fail;
	if (!ph_image_symbol(image, "_PyRuntime", &image->runtime_address)) {
		err = ph_error_new(PH_EXIT_NOT_PYTHON,
				   "%s holds no CPython interpreter (no _PyRuntime symbol)", path);
		goto fail;
	}
	Dwarf_Addr low = 0;
	dwfl_module_info(image->module, NULL, &low, NULL, NULL, NULL, NULL, NULL);
	image->load_address = low;
	image->path = strdup(path);
	image->map_name = strdup(path);
	version_from_name(base_name(path), image->soname_version, sizeof(image->soname_version));
	read_build_id(image);
	*out = image;
	return NULL;
fail:
	ph_image_free(image);
	return err;
}

/* Shared with core_image.c (image_internal.h): a core's interpreter is
 * found and described the same way as a live process's. */
static char core_search_path[4400];

void ph_image_prepare_search(const char *sysroot)
{
	current_pid = 0;
	if (sysroot && *sysroot)
		snprintf(core_search_path, sizeof(core_search_path),
			 ":.debug:/usr/lib/debug:%s/usr/lib/debug", sysroot);
	else
		snprintf(core_search_path, sizeof(core_search_path), ":.debug:/usr/lib/debug");
	debuginfo_path = core_search_path;
	if (getenv("DEBUGINFOD_URLS") && !getenv("DEBUGINFOD_PROGRESS") && isatty(STDERR_FILENO))
		setenv("DEBUGINFOD_PROGRESS", "1", 0);
}

void ph_image_set_memory_source(bool (*read)(void *ctx, uint64_t addr, void *buf, size_t len),
				void *ctx)
{
	memory_source = read;
	memory_source_ctx = ctx;
}

char **ph_image_debuginfo_path(void)
{
	return &debuginfo_path;
}

int ph_image_find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
			    Dwarf_Addr base, const char *file_name, const char *debuglink_file,
			    GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	return find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
			      debuglink_crc, debuginfo_file_name);
}

struct ph_error *ph_image_load_symbols(struct ph_image *image)
{
	return load_symbols(image);
}

void ph_image_read_build_id(struct ph_image *image)
{
	read_build_id(image);
}

void ph_image_version_from_name(const char *name, char *out, size_t size)
{
	version_from_name(name, out, size);
}
