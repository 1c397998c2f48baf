/* pyheap layout [--debuginfo FILE] [-o OUT] INTERPRETER */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "builtin.h"
#include "pyheap/image.h"
#include "pyheap/layout.h"
#include "pyheap/layout_file.h"

static const char layout_usage[] =
    "usage: pyheap layout [options] INTERPRETER\n"
    "\n"
    "Writes every struct size, member offset and symbol pyheap needs from an\n"
    "interpreter build (libpython3.X.so or a statically linked python3.X), read\n"
    "from its DWARF (in the file, or separate debug info found by build-id,\n"
    ".gnu_debuglink or debuginfod), as a JSON layout file keyed by the build-id.\n"
    "Make it where the debug info can be installed; then on a host without it:\n"
    "    pyheap snap --layout layout.json PID\n"
    "or put it in $PYHEAP_LAYOUT_DIR named <build-id>.json.\n"
    "\n"
    "  -d, --debuginfo FILE  the interpreter's debug file, if not found otherwise\n"
    "  -o, --output FILE     write to FILE instead of standard output\n"
    "  -h, --help            this text\n";

int cmd_layout(int argc, char **argv)
{
	static const struct option long_options[] = {
	    {"debuginfo", required_argument, NULL, 'd'}, {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0},
	};
	const char *output = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:o:h", long_options, NULL)) != -1) {
		switch (c) {
		case 'd':
			ph_image_set_debuginfo(optarg);
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			fputs(layout_usage, stdout);
			return PH_EXIT_OK;
		default:
			fputs(layout_usage, stderr);
			return PH_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fputs(layout_usage, stderr);
		return PH_EXIT_USAGE;
	}
	struct ph_image *image;
	struct ph_error *err = ph_image_open_file(argv[optind], &image);
	if (err)
		return ph_error_report(err);
	struct ph_layout *layout = NULL;
	err = ph_image_load_dwarf(image);
	if (!err)
		err = ph_layout_resolve(image, &layout);
	if (err) {
		ph_image_free(image);
		return ph_error_report(err);
	}
	FILE *out = output ? fopen(output, "w") : stdout;
	if (!out) {
		fprintf(stderr, "pyheap layout: cannot write %s: %s\n", output, strerror(errno));
		ph_layout_free(layout);
		ph_image_free(image);
		return PH_EXIT_OUTPUT;
	}
	err = ph_layout_file_write(image, layout, out);
	if (output && fclose(out) != 0 && !err)
		err = ph_error_new(PH_EXIT_OUTPUT, "writing %s failed", output);
	ph_layout_free(layout);
	ph_image_free(image);
	return err ? ph_error_report(err) : PH_EXIT_OK;
}
