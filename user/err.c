// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* One error-message helper with sanitising (see err.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "err.h"

void em_sanitise(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

void em_verrf(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (!err || !errlen)
		return;
	vsnprintf(err, errlen, fmt, ap);
	em_sanitise(err);
}

int em_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	em_verrf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static void vprint(const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];

	em_verrf(line, sizeof(line), fmt, ap);
	/* one write: the line is not interleaved with other output */
	fprintf(stderr, "exitmon: %s%s\n", prefix, line);
	fflush(stderr);
}

void em_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint("", fmt, ap);
	va_end(ap);
}

void em_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint("warning: ", fmt, ap);
	va_end(ap);
}

int em_close_stream(FILE *f)
{
	bool had_error = ferror(f);
	int rc = 0;

	errno = 0;
	if (fflush(f))
		rc = -(errno ? errno : EIO);
	else if (had_error)
		rc = -EIO; /* errno of the earlier failed write is gone */
	if (fclose(f) && !rc)
		rc = -(errno ? errno : EIO);
	return rc;
}
