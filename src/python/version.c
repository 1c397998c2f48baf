/* Which CPython this is: sys.version from the interpreter's sys dict is
 * exact on every version; Py_Version (3.11+) and _Py_DebugOffsets (3.13+)
 * are the fallbacks. */
#include <stdio.h>
#include <string.h>

#include "pyheap/gc_walk.h"
#include "python_version.h"

static void format_hex_version(uint32_t hex, char *out, size_t size)
{
	unsigned major = hex >> 24, minor = (hex >> 16) & 0xff, micro = (hex >> 8) & 0xff;
	unsigned level = (hex >> 4) & 0xf, serial = hex & 0xf;
	const char *suffix = level == 0xA ? "a" : level == 0xB ? "b" : level == 0xC ? "rc" : "";
	if (*suffix)
		snprintf(out, size, "%u.%u.%u%s%u", major, minor, micro, suffix, serial);
	else
		snprintf(out, size, "%u.%u.%u", major, minor, micro);
}

bool ph_python_version(const struct ph_target *t, char *out, size_t size, int *minor)
{
	out[0] = '\0';
	uint64_t interp = ph_main_interpreter(t), sysdict, version_obj;
	char text[256];
	bool cut;
	if (interp && ph_read_u64(t, interp + t->layout->interp_sysdict, &sysdict) && sysdict &&
	    ph_dict_get_str(t, sysdict, "version", &version_obj) &&
	    ph_str_read(t, version_obj, text, sizeof(text), &cut)) {
		text[strcspn(text, " \n")] = '\0';
		snprintf(out, size, "%s", text);
	}
	uint64_t address;
	uint32_t hex = 0;
	if (!out[0] && ph_image_symbol(t->image, "Py_Version", &address) &&
	    ph_read_u32(t, address, &hex) && (hex >> 24) == 3)
		format_hex_version(hex, out, size);
	if (!out[0] && t->layout->runtime_debug_offsets_version != PH_ABSENT &&
	    ph_read_u32(t, t->runtime + t->layout->runtime_debug_offsets_version, &hex) &&
	    (hex >> 24) == 3)
		format_hex_version(hex, out, size);
	if (!out[0])
		return false;
	unsigned major = 0, min = 0;
	if (sscanf(out, "%u.%u", &major, &min) != 2 || major != 3)
		return false;
	*minor = (int)min;
	return true;
}
