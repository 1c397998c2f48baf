#include "pyheap/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ph_error ph_error_out_of_memory = {PH_EXIT_INTERNAL, "out of memory"};

struct ph_error *ph_error_vnew(enum ph_exit exit_code, const char *fmt, va_list ap)
{
	if (!fmt)
		fmt = "(no message)";
	va_list copy;
	va_copy(copy, ap);
	char probe[1];
	int len = vsnprintf(probe, sizeof(probe), fmt, copy);
	va_end(copy);
	if (len < 0)
		len = 0;
	struct ph_error *err = malloc(sizeof(*err) + (size_t)len + 1);
	if (!err)
		return &ph_error_out_of_memory;
	char *text = (char *)(err + 1);
	vsnprintf(text, (size_t)len + 1, fmt, ap);
	err->exit_code = exit_code;
	err->message = text;
	return err;
}

struct ph_error *ph_error_new(enum ph_exit exit_code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct ph_error *err = ph_error_vnew(exit_code, fmt, ap);
	va_end(ap);
	return err;
}

struct ph_error *ph_error_wrap(struct ph_error *err, const char *fmt, ...)
{
	if (!err || err == &ph_error_out_of_memory)
		return err;
	char prefix[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	struct ph_error *wrapped = ph_error_new(err->exit_code, "%s: %s", prefix, err->message);
	ph_error_free(err);
	return wrapped;
}

void ph_error_free(struct ph_error *err)
{
	if (err && err != &ph_error_out_of_memory)
		free(err);
}

int ph_error_report(struct ph_error *err)
{
	int code = err->exit_code;
	fprintf(stderr, "pyheap: %s\n", err->message);
	ph_error_free(err);
	return code;
}
