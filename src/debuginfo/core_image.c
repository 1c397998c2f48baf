/* The interpreter of a core's process. As for a live process (image.c),
 * libpython beats the executable, and the one with _PyRuntime is CPython;
 * but the modules come from the core's NT_FILE note instead of
 * /proc/PID/maps, and each file is opened from disk (under --sysroot, or
 * --exe for the executable) only after its build-id matched the core's.
 * libdwfl is told where the process had the file, so symbols land at the
 * process's addresses, and finds the DWARF exactly as for a live target. */
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image_internal.h"
#include "pyheap/core.h"

/* libdwfl's find_elf has no context argument: the files of the core
 * being opened (one at a time; pyheap is single-threaded). */
static struct ph_mapped_files *opening;

static int find_checked_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
			    char **file_name, Elf **elfp)
{
	(void)mod;
	(void)userdata;
	(void)base;
	struct ph_mapped_file *file = opening ? ph_mapped_files_get(opening, name) : NULL;
	if (!file || file->state != PH_MAPPED_OK)
		return -1;
	int fd = open(file->disk_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		close(fd);
		return -1;
	}
	*elfp = elf;
	*file_name = strdup(file->disk_path);
	return fd;
}

/* The core's saved bytes, for image.c's _Py_DebugOffsets fallback. */
static bool read_saved(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const struct ph_core *core = ctx;
	uint64_t offset, contiguous;
	if (!ph_core_saved_offset(core, addr, &offset, &contiguous) || contiguous < len)
		return false;
	memcpy(buf, core->data + offset, len);
	return true;
}

static Dwfl_Callbacks core_callbacks = {
    .find_elf = find_checked_elf,
    .find_debuginfo = ph_image_find_debuginfo,
};

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* The lowest and highest addresses of path's mappings. */
static void extent(const struct ph_core *core, const char *path, uint64_t *low, uint64_t *high)
{
	*low = UINT64_MAX;
	*high = 0;
	for (size_t i = 0; i < core->file_count; i++) {
		if (strcmp(core->files[i].path, path) != 0)
			continue;
		if (core->files[i].start < *low)
			*low = core->files[i].start;
		if (core->files[i].end > *high)
			*high = core->files[i].end;
	}
}

/* Reports path as the image's module and keeps it if it has _PyRuntime. */
static struct ph_error *try_module(struct ph_image *image, const struct ph_core *core,
				   const char *path, bool *found)
{
	*found = false;
	uint64_t low, high;
	extent(core, path, &low, &high);
	if (low >= high)
		return NULL;
	dwfl_report_begin(image->dwfl);
	Dwfl_Module *module = dwfl_report_module(image->dwfl, path, low, high);
	dwfl_report_end(image->dwfl, NULL, NULL);
	if (!module)
		return ph_error_new(PH_EXIT_INTERNAL, "libdwfl refused the module %s: %s", path,
				    dwfl_errmsg(-1));
	Dwarf_Addr bias;
	if (!dwfl_module_getelf(module, &bias))
		return ph_error_new(PH_EXIT_BAD_INPUT, "%s cannot be read as ELF: %s", path,
				    dwfl_errmsg(-1));
	image->module = module;
	struct ph_error *err = ph_image_load_symbols(image);
	if (err)
		return err;
	if (ph_image_symbol(image, "_PyRuntime", &image->runtime_address)) {
		*found = true;
		return NULL;
	}
	free(image->symbols);
	free(image->symbol_names);
	image->symbols = NULL;
	image->symbol_names = NULL;
	image->symbol_count = 0;
	image->module = NULL;
	return NULL;
}

static struct ph_error *checked(struct ph_mapped_files *files, const char *path)
{
	struct ph_mapped_file *file = ph_mapped_files_get(files, path);
	if (!file)
		return ph_error_new(PH_EXIT_INTERNAL, "%s is not among the core's files", path);
	return ph_mapped_file_error(files, file);
}

struct ph_error *ph_image_find_in_core(const struct ph_core *core, struct ph_mapped_files *files,
				       const char *sysroot, struct ph_image **out)
{
	if (!core->has_file_note || core->file_count == 0)
		return ph_error_new(PH_EXIT_BAD_INPUT,
				    "the core has no NT_FILE note, so the files its process mapped "
				    "are unknown (Linux 3.7+ and gdb 7.6+ write one)");
	const char *libpython = NULL;
	for (size_t i = 0; i < core->file_count && !libpython; i++)
		if (strncmp(base_name(core->files[i].path), "libpython", 9) == 0)
			libpython = core->files[i].path;
	const char *exe = ph_core_executable(core);

	struct ph_image *image = calloc(1, sizeof(*image));
	if (!image)
		return &ph_error_out_of_memory;
	ph_image_prepare_search(sysroot);
	ph_image_set_memory_source(read_saved, (void *)core);
	core_callbacks.debuginfo_path = ph_image_debuginfo_path();
	opening = files;
	struct ph_error *err = NULL;
	image->dwfl = dwfl_begin(&core_callbacks);
	if (!image->dwfl) {
		err = ph_error_new(PH_EXIT_INTERNAL, "dwfl_begin: %s", dwfl_errmsg(-1));
		goto fail;
	}
	char version[16] = "";
	if (libpython)
		ph_image_version_from_name(base_name(libpython), version, sizeof(version));
	unsigned major = 0, minor = 0;
	if (sscanf(version, "%u.%u", &major, &minor) == 2 && (major != 3 || minor < 8)) {
		err = ph_error_new(PH_EXIT_UNSUPPORTED,
				   "the core's process (pid %d) ran Python %s (%s); pyheap reads "
				   "CPython 3.8 and later",
				   core->pid, version, libpython);
		goto fail;
	}
	/* A libpython beats the executable: python3.X linked against
	 * libpython has no interpreter of its own. */
	const char *candidates[2] = {libpython, exe};
	for (int i = 0; i < 2 && !image->module; i++) {
		if (!candidates[i] || (i == 1 && libpython && strcmp(exe, libpython) == 0))
			continue;
		err = checked(files, candidates[i]);
		if (err)
			goto fail;
		bool found;
		err = try_module(image, core, candidates[i], &found);
		if (err)
			goto fail;
	}
	if (!image->module) {
		err = ph_error_new(PH_EXIT_NOT_PYTHON,
				   "the core's process (pid %d, %s) is not a CPython 3 process: no "
				   "libpython and no _PyRuntime symbol in its executable %s",
				   core->pid, core->command[0] ? core->command : "?",
				   exe ? exe : "(unknown: no AT_ENTRY in the core)");
		goto fail;
	}
	Dwarf_Addr low = 0;
	const char *name = dwfl_module_info(image->module, NULL, &low, NULL, NULL, NULL, NULL, NULL);
	image->path = strdup(name ? name : "?");
	image->map_name = strdup(name ? name : "?");
	if (!image->path || !image->map_name) {
		err = &ph_error_out_of_memory;
		goto fail;
	}
	image->load_address = low;
	ph_image_version_from_name(base_name(image->path), image->soname_version,
				   sizeof(image->soname_version));
	ph_image_read_build_id(image);
	opening = NULL;
	*out = image;
	return NULL;
fail:
	opening = NULL;
	ph_image_free(image);
	return err;
}
