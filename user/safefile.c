// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Safe save targets and bounded reads (see safefile.h, docs/files.md). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_TMPFILE, renameat2, AT_EMPTY_PATH */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "err.h"
#include "safefile.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

static const char *kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

/* Whether an existing name may be replaced: regular files and symlinks only. */
static int check_target(struct em_safefile *f, bool may_replace, char *err, size_t errlen)
{
	struct stat st;

	if (fstatat(f->dirfd, f->name, &st, AT_SYMLINK_NOFOLLOW)) {
		if (errno == ENOENT)
			return 0;
		return em_errf(err, errlen, -errno, "cannot check the target: %s", strerror(errno));
	}
	if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
		/* "--force" only where the caller did not already replace (--save) */
		return em_errf(err, errlen, S_ISDIR(st.st_mode) ? -EISDIR : -EPERM,
			       "is %s: exitmon only replaces a regular file or a symlink%s",
			       kind(st.st_mode), may_replace ? "" : ", even with --force");
	if (!may_replace)
		return em_errf(err, errlen, -EEXIST, "already exists (use --force to overwrite)");
	return 0;
}

static void random_name(char *buf, size_t len)
{
	static unsigned long seq;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(buf, len, ".exitmon-%lx%lx.tmp", (unsigned long)getpid() ^ (unsigned long)ts.tv_nsec,
		 ++seq);
}

static int open_temp(struct em_safefile *f, char *err, size_t errlen)
{
	int i;

	f->tmpname[0] = '\0';
	f->fd = openat(f->dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
	/* no O_TMPFILE on this file system: a named temporary, removed on close */
	for (i = 0; f->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL ||
				  errno == EEXIST) && i < 100; i++) {
		random_name(f->tmpname, sizeof(f->tmpname));
		f->fd = openat(f->dirfd, f->tmpname, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0644);
	}
	if (f->fd < 0) {
		f->tmpname[0] = '\0';
		return em_errf(err, errlen, -errno, "cannot create a temporary file in %s: %s", f->dir,
			       strerror(errno));
	}
	if (fchmod(f->fd, 0644)) /* umask does not decide who may read it */
		return em_errf(err, errlen, -errno, "cannot chmod the temporary file: %s", strerror(errno));
	return 0;
}

static void drop_temp(struct em_safefile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->tmpname[0])
		unlinkat(f->dirfd, f->tmpname, 0);
	f->tmpname[0] = '\0';
}

int em_safefile_open(struct em_safefile *f, const char *path, bool force, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	int rc;

	memset(f, 0, sizeof(*f));
	f->dirfd = f->fd = -1;
	f->force = force;
	if (!*path)
		return em_errf(err, errlen, -EINVAL, "empty file name: not a file name");
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return em_errf(err, errlen, -EINVAL, "not a file name");
	if (strlen(base) > NAME_MAX)
		return em_errf(err, errlen, -ENAMETOOLONG, "file name too long (more than %d bytes)", NAME_MAX);
	if (slash)
		f->dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
	else
		f->dir = strdup(".");
	f->name = strdup(base);
	f->path = strdup(path);
	if (!f->dir || !f->name || !f->path) {
		em_safefile_close(f);
		return em_errf(err, errlen, -ENOMEM, "out of memory");
	}
	f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->dirfd < 0) {
		rc = em_errf(err, errlen, -errno, "cannot create a temporary file in %s: %s", f->dir,
			     strerror(errno));
		em_safefile_close(f);
		return rc;
	}
	if ((rc = check_target(f, force, err, errlen)) || (rc = open_temp(f, err, errlen)))
		em_safefile_close(f);
	return rc;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Gives the O_TMPFILE a name in the directory. */
static int link_temp(struct em_safefile *f, const char *name)
{
	char proc[64];

	if (f->tmpname[0])
		return linkat(f->dirfd, f->tmpname, f->dirfd, name, 0) ? -errno : 0;
	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc works without it */
	if (!linkat(f->fd, "", f->dirfd, name, AT_EMPTY_PATH))
		return 0;
	if (errno == EEXIST)
		return -errno;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->fd);
	return linkat(AT_FDCWD, proc, f->dirfd, name, AT_SYMLINK_FOLLOW) ? -errno : 0;
}

static int publish(struct em_safefile *f, char *err, size_t errlen)
{
	bool may_replace = f->force || f->published;
	char tmp[32];
	int rc, i;

	if ((rc = check_target(f, may_replace, err, errlen)))
		return rc;
	if (!may_replace) {
		/* linkat and RENAME_NOREPLACE never replace, even against a racing writer */
		if (f->tmpname[0]) {
			if (renameat2(f->dirfd, f->tmpname, f->dirfd, f->name, RENAME_NOREPLACE) == 0) {
				f->tmpname[0] = '\0';
				return 0;
			}
			rc = -errno;
			if (rc == -EINVAL || rc == -ENOSYS || rc == -EOPNOTSUPP)
				rc = link_temp(f, f->name);
		} else {
			rc = link_temp(f, f->name);
		}
		if (rc == -EEXIST)
			return em_errf(err, errlen, rc, "already exists (use --force to overwrite)");
		if (rc)
			return em_errf(err, errlen, rc, "cannot link the temporary file into place: %s",
				       strerror(-rc));
		return 0;
	}
	/* Replacing: the new content needs a name to be renamed over the old one. */
	if (f->tmpname[0]) {
		snprintf(tmp, sizeof(tmp), "%s", f->tmpname);
	} else {
		for (i = 0, rc = -EEXIST; rc == -EEXIST && i < 100; i++) {
			random_name(tmp, sizeof(tmp));
			rc = link_temp(f, tmp);
		}
		if (rc)
			return em_errf(err, errlen, rc, "cannot name the temporary file: %s", strerror(-rc));
	}
	if (renameat(f->dirfd, tmp, f->dirfd, f->name)) {
		rc = -errno;
		if (!f->tmpname[0])
			unlinkat(f->dirfd, tmp, 0);
		return em_errf(err, errlen, rc, "cannot rename the temporary file into place: %s",
			       strerror(-rc));
	}
	f->tmpname[0] = '\0';
	return 0;
}

int em_safefile_write(struct em_safefile *f, const void *data, size_t len, char *err, size_t errlen)
{
	char where[64];
	int rc;

	if (f->dirfd < 0)
		return em_errf(err, errlen, -EBADF, "not open");
	if (f->fd < 0 && (rc = open_temp(f, err, errlen)))
		return rc;
	if (ftruncate(f->fd, 0) || lseek(f->fd, 0, SEEK_SET))
		return em_errf(err, errlen, -errno, "cannot write the temporary file: %s", strerror(errno));
	if ((rc = write_all(f->fd, data, len)))
		return em_errf(err, errlen, rc, "cannot write the temporary file: %s", strerror(-rc));
	if (fsync(f->fd))
		return em_errf(err, errlen, -errno, "cannot sync the temporary file: %s", strerror(errno));
	if (f->before_publish) {
		snprintf(where, sizeof(where), "/proc/self/fd/%d", f->fd);
		if ((rc = f->before_publish(f->tmpname[0] ? f->tmpname : where, f->path))) {
			rc = rc < 0 ? rc : -EIO;
			return em_errf(err, errlen, rc,
				       "cannot rename the temporary file into place: %s (simulated)",
				       strerror(-rc));
		}
	}
	if ((rc = publish(f, err, errlen)))
		return rc;
	f->published = true;
	/* The temporary is now the file: the next save starts a new one. */
	drop_temp(f);
	/* Some file systems do not sync directories (EINVAL); nothing to do then. */
	if (fsync(f->dirfd) && errno != EINVAL)
		return em_errf(err, errlen, -errno, "saved, but syncing directory %s failed: %s", f->dir,
			       strerror(errno));
	return 0;
}

void em_safefile_close(struct em_safefile *f)
{
	drop_temp(f);
	if (f->dirfd >= 0)
		close(f->dirfd);
	f->dirfd = -1;
	free(f->dir);
	free(f->name);
	free(f->path);
	f->dir = f->name = f->path = NULL;
}

int em_safefile_read(const char *path, size_t max, char **out, size_t *outlen, char *err, size_t errlen)
{
	size_t len = 0, cap;
	char *buf, *nb;
	struct stat st;
	int fd, rc = 0;

	*out = NULL;
	*outlen = 0;
	/* O_NONBLOCK: opening a FIFO with no writer must not hang */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return em_errf(err, errlen, -errno, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st)) {
		rc = em_errf(err, errlen, -errno, "cannot stat: %s", strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = em_errf(err, errlen, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL,
			     "is %s, not a snapshot file", kind(st.st_mode));
		goto out_close;
	}
	if ((uint64_t)st.st_size > max) {
		rc = em_errf(err, errlen, -EFBIG, "too large for a snapshot (%lld bytes, the limit is %zu)",
			     (long long)st.st_size, max);
		goto out_close;
	}
	/* st_size + 1 detects a file that grew; never more than max + 1 */
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap + 1);
	if (!buf) {
		rc = em_errf(err, errlen, -ENOMEM, "out of memory");
		goto out_close;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			if (cap > max)
				break;
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				rc = em_errf(err, errlen, -ENOMEM, "out of memory");
				goto out_free;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = em_errf(err, errlen, -errno, "read error: %s", strerror(errno));
			goto out_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		rc = em_errf(err, errlen, -EFBIG, "too large for a snapshot (more than %zu bytes)", max);
		goto out_free;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	close(fd);
	return 0;
out_free:
	free(buf);
out_close:
	close(fd);
	return rc;
}
