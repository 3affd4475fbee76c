// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Save targets and bounded reads (user/safefile.c) in a temporary
 * directory, without root: what --force may replace, the checks at open,
 * nothing left behind, repeated saves, the size limit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "safefile.h"

static char dir[64];
static char err[512];

static const char *at(const char *name)
{
	static char buf[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static void spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *slurp(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Names in dir other than the listed ones. */
static int strays(const char *a, const char *b, const char *c)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && (!a || strcmp(e->d_name, a)) &&
		    (!b || strcmp(e->d_name, b)) && (!c || strcmp(e->d_name, c))) {
			print_message("stray: %s\n", e->d_name);
			n++;
		}
	closedir(d);
	return n;
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/exitmon-test-safefile-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void test_new_file_and_resave(void **state)
{
	struct em_safefile f;
	struct stat st;

	(void)state;
	assert_int_equal(em_safefile_open(&f, at("new"), false, err, sizeof(err)), 0);
	/* the temporary exists up front, but has no name */
	assert_int_equal(strays(NULL, NULL, NULL), 0);
	assert_int_equal(em_safefile_write(&f, "one\n", 4, err, sizeof(err)), 0);
	assert_string_equal(slurp(at("new")), "one\n");
	assert_int_equal(stat(at("new"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* the run's own later save replaces its first one, without --force */
	assert_int_equal(em_safefile_write(&f, "two\n", 4, err, sizeof(err)), 0);
	assert_string_equal(slurp(at("new")), "two\n");
	em_safefile_close(&f);
	assert_int_equal(strays("new", NULL, NULL), 0);
	unlink(at("new"));
}

static void test_no_force(void **state)
{
	struct em_safefile f;

	(void)state;
	spit(at("old"), "old\n");
	assert_int_equal(em_safefile_open(&f, at("old"), false, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "already exists"));
	/* a dangling symlink exists too */
	assert_int_equal(symlink(at("nowhere"), at("dangling")), 0);
	assert_int_equal(em_safefile_open(&f, at("dangling"), false, err, sizeof(err)), -EEXIST);
	/* created by someone else between the check and the write: not clobbered */
	assert_int_equal(em_safefile_open(&f, at("race"), false, err, sizeof(err)), 0);
	spit(at("race"), "theirs\n");
	assert_int_equal(em_safefile_write(&f, "ours\n", 5, err, sizeof(err)), -EEXIST);
	em_safefile_close(&f);
	assert_string_equal(slurp(at("race")), "theirs\n");
	assert_int_equal(strays("old", "dangling", "race"), 0);
	unlink(at("old"));
	unlink(at("dangling"));
	unlink(at("race"));
}

static void test_force_replaces_only_files_and_links(void **state)
{
	struct em_safefile f;
	char target[256];
	struct stat st;

	(void)state;
	spit(at("reg"), "old\n");
	assert_int_equal(em_safefile_open(&f, at("reg"), true, err, sizeof(err)), 0);
	assert_int_equal(em_safefile_write(&f, "new\n", 4, err, sizeof(err)), 0);
	em_safefile_close(&f);
	assert_string_equal(slurp(at("reg")), "new\n");

	/* a symlink is replaced itself; its target keeps its content */
	spit(at("target"), "keep\n");
	snprintf(target, sizeof(target), "%s", at("target"));
	assert_int_equal(symlink(target, at("link")), 0);
	assert_int_equal(em_safefile_open(&f, at("link"), true, err, sizeof(err)), 0);
	assert_int_equal(em_safefile_write(&f, "snap\n", 5, err, sizeof(err)), 0);
	em_safefile_close(&f);
	assert_int_equal(lstat(at("link"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_string_equal(slurp(at("target")), "keep\n");

	/* a FIFO and a directory are refused even with force */
	assert_int_equal(mkfifo(at("fifo"), 0644), 0);
	assert_int_equal(em_safefile_open(&f, at("fifo"), true, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "a FIFO"));
	assert_int_equal(mkdir(at("d"), 0755), 0);
	assert_int_equal(em_safefile_open(&f, at("d"), true, err, sizeof(err)), -EISDIR);
	/* and if one appears during the run, the write refuses it too */
	assert_int_equal(em_safefile_open(&f, at("late"), true, err, sizeof(err)), 0);
	assert_int_equal(mkfifo(at("late"), 0644), 0);
	assert_int_equal(em_safefile_write(&f, "x", 1, err, sizeof(err)), -EPERM);
	em_safefile_close(&f);
	assert_int_equal(lstat(at("late"), &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	unlink(at("late"));
	unlink(at("fifo"));
	rmdir(at("d"));
	assert_int_equal(strays("reg", "target", "link"), 0);
	unlink(at("reg"));
	unlink(at("target"));
	unlink(at("link"));
}

static void test_bad_names(void **state)
{
	static char longname[300];
	struct em_safefile f;

	(void)state;
	assert_int_equal(em_safefile_open(&f, "", true, err, sizeof(err)), -EINVAL);
	assert_int_equal(em_safefile_open(&f, at("x/"), true, err, sizeof(err)), -EINVAL);
	assert_int_equal(em_safefile_open(&f, at(".."), true, err, sizeof(err)), -EINVAL);
	assert_int_equal(em_safefile_open(&f, at("no/such/x"), true, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot create a temporary file"));
	memset(longname, 'n', 256);
	assert_int_equal(em_safefile_open(&f, at(longname), true, err, sizeof(err)), -ENAMETOOLONG);
	/* a name of 255 bytes is fine: the temporary needs no longer name */
	longname[255] = '\0';
	assert_int_equal(em_safefile_open(&f, at(longname), false, err, sizeof(err)), 0);
	assert_int_equal(em_safefile_write(&f, "x", 1, err, sizeof(err)), 0);
	em_safefile_close(&f);
	unlink(at(longname));
	/* a newline in the name is not a second line of the message */
	assert_int_equal(em_safefile_open(&f, at("a\nb/x"), true, err, sizeof(err)), -ENOENT);
	assert_null(strchr(err, '\n'));
	assert_int_equal(strays(NULL, NULL, NULL), 0);
}

static void test_bounded_read(void **state)
{
	char *buf;
	size_t len;
	int fd;

	(void)state;
	spit(at("small"), "{\"a\":1}");
	assert_int_equal(em_safefile_read(at("small"), 100, &buf, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 7);
	assert_string_equal(buf, "{\"a\":1}");
	free(buf);
	/* exactly at the limit is fine, one byte more is not */
	assert_int_equal(em_safefile_read(at("small"), 7, &buf, &len, err, sizeof(err)), 0);
	free(buf);
	assert_int_equal(em_safefile_read(at("small"), 6, &buf, &len, err, sizeof(err)), -EFBIG);
	assert_null(buf);
	/* a sparse 1 GiB file is refused from fstat, without reading */
	fd = open(at("huge"), O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 30), 0);
	close(fd);
	assert_int_equal(em_safefile_read(at("huge"), 1 << 20, &buf, &len, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "1073741824 bytes"));
	/* not regular: refused without blocking */
	assert_int_equal(mkfifo(at("fifo"), 0644), 0);
	assert_int_equal(em_safefile_read(at("fifo"), 100, &buf, &len, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "FIFO"));
	assert_int_equal(em_safefile_read("/dev/zero", 100, &buf, &len, err, sizeof(err)), -EINVAL);
	assert_int_equal(em_safefile_read(dir, 100, &buf, &len, err, sizeof(err)), -EISDIR);
	assert_int_equal(em_safefile_read(at("missing"), 100, &buf, &len, err, sizeof(err)), -ENOENT);
	unlink(at("small"));
	unlink(at("huge"));
	unlink(at("fifo"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_file_and_resave),
		cmocka_unit_test(test_no_force),
		cmocka_unit_test(test_force_replaces_only_files_and_links),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_bounded_read),
	};
	return cmocka_run_group_tests_name("safefile", tests, setup, teardown);
}
