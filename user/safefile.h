/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Files written and read with root's rights, treating every path as
 * hostile (rules in docs/files.md).
 *
 * Writing: em_safefile_open() checks the target at once and creates the
 * temporary file up front (an unnamed O_TMPFILE in the target's
 * directory, so a SIGKILL leaves nothing behind); em_safefile_write()
 * fills it, syncs it and links it into place atomically. Without force
 * an existing name is never replaced (linkat fails with EEXIST, also
 * against a racing writer). With force only a regular file or a symlink
 * (the link itself, never its target) is replaced; a directory, device,
 * FIFO or socket is refused.
 *
 * Functions return 0 or a negative errno with one line (without the
 * path; the caller prefixes it) in err.
 */
#ifndef EXITMON_SAFEFILE_H
#define EXITMON_SAFEFILE_H

#include <stdbool.h>
#include <stddef.h>

struct em_safefile {
	int dirfd;          /* the target's directory */
	int fd;             /* the temporary file, -1 when none is open */
	char *dir;          /* the directory as named, for messages */
	char *name;         /* last component of the target */
	char *path;         /* the target as given */
	char tmpname[32];   /* named temporary (file systems without O_TMPFILE), or "" */
	bool force;         /* may replace a regular file or a symlink */
	bool published;     /* saved once: later saves replace our own file */
	/* test hook: called with the temporary's path before it is linked
	 * into place; non-zero fails the write there (negative: that -errno) */
	int (*before_publish)(const char *tmp, const char *path);
};

int em_safefile_open(struct em_safefile *f, const char *path, bool force, char *err, size_t errlen);
/* Writes len bytes as the whole new content; may be called again (save now, then at the end). */
int em_safefile_write(struct em_safefile *f, const void *data, size_t len, char *err, size_t errlen);
/* Drops the temporary (nothing is left behind) and frees f's members. */
void em_safefile_close(struct em_safefile *f);

/*
 * Reads a whole regular file of at most max bytes into *buf (malloc'ed,
 * NUL-terminated, *len without the NUL). Refuses a non-regular file
 * without blocking on it (a FIFO with no writer), a size above max from
 * fstat, and stops reading at max + 1 bytes if the file grows.
 */
int em_safefile_read(const char *path, size_t max, char **buf, size_t *len, char *err, size_t errlen);

#endif
