/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The one way exitmon words an error: formatted into a buffer or printed
 * as "exitmon: ...", always one printable line. Messages quote paths,
 * arguments and file contents, which may hold newlines or escape
 * sequences; every byte outside printable ASCII becomes '?'.
 */
#ifndef EXITMON_ERR_H
#define EXITMON_ERR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Replaces control and non-ASCII bytes of s with '?', in place. */
void em_sanitise(char *s);
/* vsnprintf into err (if err && errlen), then em_sanitise. */
void em_verrf(char *err, size_t errlen, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* Same; returns rc so callers can write "return em_errf(err, len, rc, ...)". */
int em_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Prints "exitmon: <message>\n" to stderr, sanitised. */
void em_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "exitmon: warning: <message>\n" to stderr, sanitised. */
void em_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Flushes and closes f (stdout at exit): 0, or -errno of the first write
 * error, including one that happened in an earlier buffered write.
 */
int em_close_stream(FILE *f);

#endif
