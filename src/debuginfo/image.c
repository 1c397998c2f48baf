#include "pyheap/image.h"

#include <elfutils/libdwelf.h>
#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *debuginfo_path = NULL;

static const Dwfl_Callbacks proc_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

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
	image->dwfl = dwfl_begin(&proc_callbacks);
	if (!image->dwfl) {
		free(image);
		return ph_error_new(PH_EXIT_INTERNAL, "dwfl_begin: %s", dwfl_errmsg(-1));
	}
	int rc = dwfl_linux_proc_report(image->dwfl, pid);
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
	const char *mainfile = dwfl_module_info(image->module, NULL, NULL, NULL, NULL, NULL, NULL,
						NULL);
	image->path = strdup(mainfile ? mainfile : "?");
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
		if (debugfile && mainfile && strcmp(debugfile, mainfile) != 0)
			snprintf(text, sizeof(text), "separate debug file %s", debugfile);
		else
			snprintf(text, sizeof(text), "embedded in %s", image->path);
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
	return ph_error_new(PH_EXIT_NO_DEBUGINFO,
			    "no DWARF debug info for the interpreter %s (build-id %s). Looked in:\n%s"
			    "Install the debug info and retry: on Debian/Ubuntu 'apt-get install "
			    "python%s-dbg' (or the matching -dbgsym package), on Fedora 'dnf "
			    "debuginfo-install python3', or set DEBUGINFOD_URLS to a debuginfod "
			    "server (e.g. the distribution's).",
			    image->path, image->build_id[0] ? image->build_id : "none", searched,
			    version);
}

void ph_image_free(struct ph_image *image)
{
	if (!image)
		return;
	if (image->dwfl)
		dwfl_end(image->dwfl);
	free(image->path);
	free(image->debuginfo);
	free(image->symbols);
	free(image->symbol_names);
	free(image);
}
