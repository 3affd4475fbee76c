// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* exitmon: command dispatch, signals, the terminal, and run's real I/O. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "collector.h"
#include "err.h"
#include "names.h"
#include "reasons.h"
#include "render.h"
#include "runloop.h"
#include "safefile.h"
#include "serve.h"
#include "snapshot.h"
#include "sysinfo.h"

/* ------------------------------------------------------------------ */
/* Signals: flags plus a self-pipe that wakes the loop's poll at once.  */

static volatile sig_atomic_t stop_flag, save_flag;
static bool stdout_reported; /* "cannot write to stdout" was printed */
static int wake_pipe[2] = { -1, -1 };
static struct termios saved_tio;
static volatile sig_atomic_t tio_saved;

static void wake(void)
{
	int e = errno;

	if (wake_pipe[1] >= 0 && write(wake_pipe[1], "", 1) < 0) {
		/* full pipe: the loop is awake anyway */
	}
	errno = e;
}

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
	wake();
}

static void on_save(int sig)
{
	(void)sig;
	save_flag = 1;
	wake();
}

/* SIGQUIT keeps its meaning (quit at once, no save) but leaves a sane terminal. */
static void on_quit(int sig)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Installed before the collector opens: a signal during the setup is not lost. */
static int install_signals(void)
{
	struct sigaction sa = { 0 };

	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK))
		return -errno;
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop; /* no SA_RESTART: poll returns at once */
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) || sigaction(SIGHUP, &sa, NULL))
		return -errno;
	sa.sa_handler = on_save;
	if (sigaction(SIGUSR1, &sa, NULL))
		return -errno;
	sa.sa_handler = on_quit;
	if (sigaction(SIGQUIT, &sa, NULL))
		return -errno;
	return 0;
}

static void default_signals(void)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
}

static void keys_off(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	tio_saved = 0;
}

static bool keys_on(void)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio))
		return false;
	t = saved_tio;
	t.c_lflag &= ~(ICANON | ECHO);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	tio_saved = 1;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t)) {
		tio_saved = 0;
		return false;
	}
	atexit(keys_off);
	return true;
}

/* ------------------------------------------------------------------ */
/* run's real clock, keys, collector and output for em_runloop().       */

struct run_io {
	const struct em_opts *o;
	struct em_collector *col;
	struct em_safefile save;
	bool tty, live, keys;
	bool textfile_failed; /* said so already: no "cannot read the maps" */
};

static double io_now(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int io_key(void *ctx, double timeout_s, bool keys)
{
	struct pollfd pfd[2] = { { .fd = wake_pipe[0], .events = POLLIN },
				 { .fd = STDIN_FILENO, .events = POLLIN } };
	char k, drain[16];
	ssize_t n;

	(void)ctx;
	/* the interval is at most a day: the timeout fits in an int */
	if (poll(pfd, keys ? 2 : 1, (int)(timeout_s * 1000) + 1) <= 0)
		return 0;
	if (pfd[0].revents) {
		while (read(wake_pipe[0], drain, sizeof(drain)) > 0)
			;
		return 0;
	}
	n = read(STDIN_FILENO, &k, 1);
	if (n == 1)
		return (unsigned char)k;
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	return -1;
}

static int io_read(void *ctx, struct em_snapshot *cur)
{
	struct run_io *r = ctx;

	int rc = em_collector_read(r->col, cur);

	/* --textfile follows every reading; it prints its own error line */
	if (!rc && r->o->textfile_dir && em_textfile_update(r->o, r->col, cur)) {
		r->textfile_failed = true;
		return -EIO;
	}
	return rc;
}

static int io_emit(void *ctx, const struct em_snapshot *view, const struct em_view_ctx *vctx)
{
	struct run_io *r = ctx;
	bool final = !strcmp(vctx->type, "final");

	if (final) {
		keys_off();
		if (r->tty && r->live)
			fputc('\n', stdout);
	} else if (r->tty) {
		fputs("\033[H\033[2J", stdout);
	}
	errno = 0; /* a failed write in the middle keeps its errno (EPIPE) */
	if (r->o->output == EM_OUT_JSON)
		em_render_json(stdout, view, vctx);
	else
		em_render_table(stdout, view, vctx);
	if (!final && tio_saved)
		printf("\nkeys: c %s, s save%s, q quit\n",
		       strcmp(vctx->type, "cumulative") ? "cumulative view" : "per-interval view",
		       r->o->save_path ? "" : " (needs --save)");
	if (!final && !r->tty && r->o->output == EM_OUT_TABLE)
		fputc('\n', stdout);
	if (fflush(stdout) || ferror(stdout))
		return -(errno ? errno : EIO);
	return 0;
}

static int io_save(void *ctx, const struct em_snapshot *s)
{
	struct run_io *r = ctx;
	char err[512];

	if (em_snapshot_save_file(&r->save, s, err, sizeof(err))) {
		em_err("cannot save %s: %s", r->o->save_path, err);
		return EM_EXIT_FAIL;
	}
	em_err("saved %s", r->o->save_path);
	return EM_EXIT_OK;
}

/* -p of a pid that does not exist or has no KVM VM open: one warning line. */
static void check_pid(uint32_t pid)
{
	struct em_names *n = em_names_new("/");
	int vm = n ? em_names_vm_open(n, pid) : -ENOMEM;

	em_names_free(n);
	if (vm == -ENOENT)
		em_warn("pid %u does not exist: nothing will match -p until it does", pid);
	else if (!vm)
		em_warn("pid %u has no KVM VM open: -p %u matches no exits unless it creates one", pid, pid);
}

static int cmd_run(const struct em_opts *o)
{
	struct run_io r = { .o = o, .save = { .dirfd = -1, .fd = -1 } };
	struct em_safefile ready = { .dirfd = -1, .fd = -1 };
	struct em_runloop_cfg cfg = { 0 };
	struct em_runloop_result res;
	struct em_snapshot cur;
	char err[512];
	int rc = EM_EXIT_FAIL;

	if (o->filters.pid)
		check_pid(o->filters.pid);
	/* targets are checked before the run, not after it */
	if (o->textfile_dir) {
		int dfd = open(o->textfile_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd < 0 || faccessat(dfd, ".", W_OK, AT_EACCESS)) {
			em_err("textfile directory %s: %s", o->textfile_dir, strerror(errno));
			if (dfd >= 0)
				close(dfd);
			return EM_EXIT_FAIL;
		}
		close(dfd);
	}
	if (o->save_path && em_safefile_open(&r.save, o->save_path, o->force, err, sizeof(err))) {
		em_err("cannot save %s: %s", o->save_path, err);
		return EM_EXIT_FAIL;
	}
	if (o->ready_file && (rc = em_safefile_open(&ready, o->ready_file, false, err, sizeof(err)))) {
		em_err("cannot create ready file %s: %s", o->ready_file,
		       rc == -EEXIST ? "it already exists" : err);
		rc = EM_EXIT_FAIL;
		goto out_files;
	}
	rc = EM_EXIT_FAIL;
	{
		struct em_collector_cfg cc = em_cli_collector_cfg(o);

		r.col = em_collector_open(&cc, err, sizeof(err));
	}
	if (!r.col) {
		em_err("%s", err);
		goto out_files;
	}
	if (o->ready_file && (rc = em_safefile_write(&ready, "", 0, err, sizeof(err)))) {
		em_err("cannot create ready file %s: %s", o->ready_file,
		       rc == -EEXIST ? "it already exists" : err);
		rc = EM_EXIT_FAIL;
		goto out_col;
	}
	em_snapshot_init(&cur);
	cur.meta.isa = o->isa;
	em_sysinfo_fill(&cur.meta);
	cur.meta.filters = o->filters;
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		cur.meta.start_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	}
	snprintf(cur.meta.attach, sizeof(cur.meta.attach), "%s", em_collector_attach_name(r.col));
	em_err("tracing KVM exits (%s, %s)%s", em_isa_name(o->isa) ?: "unknown isa",
	       em_collector_attach_name(r.col), o->duration_s ? "" : "; Ctrl-C to stop");

	r.live = !o->duration_s || o->interval_set;
	r.tty = isatty(STDOUT_FILENO) && o->output == EM_OUT_TABLE;
	r.keys = r.tty && r.live && keys_on();
	cfg.interval_s = o->interval_s;
	cfg.duration_s = o->duration_s;
	cfg.live = r.live;
	cfg.cumulative = o->cumulative;
	cfg.keys = r.keys;
	cfg.save = o->save_path != NULL;
	cfg.view.attach = em_collector_attach_name(r.col);
	cfg.view.isa = o->isa;
	cfg.stop = &stop_flag;
	cfg.save_now = &save_flag;
	struct em_runloop_io io = { .ctx = &r, .now = io_now, .key = io_key, .read = io_read,
				    .emit = io_emit, .save = io_save };

	rc = em_runloop(&cfg, &io, &cur, &res);
	keys_off();
	if (res.why == EM_STOP_OUTPUT) {
		em_err("cannot write to stdout: %s", strerror(-res.err));
		stdout_reported = true;
	}
	else if (res.why == EM_STOP_READ && !r.textfile_failed)
		em_err("cannot read the maps: %s", strerror(-res.err));
	rc = rc ? EM_EXIT_FAIL : EM_EXIT_OK;
	em_snapshot_free(&cur);
out_col:
	em_collector_close(r.col);
out_files:
	em_safefile_close(&ready);
	em_safefile_close(&r.save);
	return rc;
}

static int load(const char *path, struct em_snapshot *s)
{
	char err[512];

	if (em_snapshot_load(path, s, err, sizeof(err))) {
		em_err("%s: %s", path, err);
		return EM_EXIT_FAIL;
	}
	return EM_EXIT_OK;
}

static int cmd_show(struct em_opts *o)
{
	struct em_snapshot s;
	char err[512];
	int rc;

	if ((rc = load(o->files[0], &s)))
		return rc;
	if ((rc = em_cli_show(o, &s, stdout, err, sizeof(err))) && !ferror(stdout))
		em_err("%s", err);
	em_snapshot_free(&s);
	return rc;
}

static int cmd_diff(struct em_opts *o)
{
	struct em_snapshot a, b;
	char err[512];
	int rc;

	if ((rc = load(o->files[0], &a)))
		return rc;
	if ((rc = load(o->files[1], &b))) {
		em_snapshot_free(&a);
		return rc;
	}
	/* a write error is reported once, at the end of main */
	if ((rc = em_cli_diff(o, &a, &b, stdout, err, sizeof(err))) && !ferror(stdout))
		em_err("%s", err);
	em_snapshot_free(&a);
	em_snapshot_free(&b);
	return rc;
}

static int cmd_reasons(const struct em_opts *o)
{
	const struct em_reason *r;
	size_t n, i;
	char num[32];

	r = em_reasons(o->isa, &n);
	printf("%-10s %-26s %s\n", em_isa_name(o->isa), "NAME", "DESCRIPTION");
	for (i = 0; i < n; i++)
		printf("%-10s %-26s %s%s\n", em_reason_number(o->isa, r[i].code, num, sizeof(num)),
		       r[i].name, r[i].descr ? r[i].descr : "",
		       r[i].flags & EM_REASON_IDLE ? " (latency is mostly idle time)" : "");
	return EM_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct em_opts o;
	char err[512];
	int rc;

	/* a closed pipe is a write error (EPIPE) to handle, not a silent death */
	signal(SIGPIPE, SIG_IGN);
	/* first thing: a signal during the setup of a run is not lost */
	if ((rc = install_signals())) {
		em_err("cannot install signal handlers: %s", strerror(-rc));
		return EM_EXIT_FAIL;
	}
	if (em_cli_parse(argc, argv, em_host_isa(), &o, err, sizeof(err))) {
		em_err("%s (see exitmon -h)", err);
		return EM_EXIT_USAGE;
	}
	if (o.cmd != EM_CMD_RUN) /* the others stop on a signal as usual */
		default_signals();
	switch (o.cmd) {
	case EM_CMD_HELP:
		em_cli_usage(stdout);
		rc = EM_EXIT_OK;
		break;
	case EM_CMD_VERSION:
		printf("exitmon %s\n", EXITMON_VERSION);
		rc = EM_EXIT_OK;
		break;
	case EM_CMD_REASONS:
		rc = cmd_reasons(&o);
		break;
	case EM_CMD_SHOW:
		rc = cmd_show(&o);
		break;
	case EM_CMD_DIFF:
		rc = cmd_diff(&o);
		break;
	case EM_CMD_SERVE:
		rc = cmd_serve(&o);
		break;
	case EM_CMD_RUN:
	default:
		rc = cmd_run(&o);
		break;
	}
	/* run reported its own write error (and saved); the rest say it here */
	if ((errno = -em_close_stream(stdout)) && !stdout_reported) {
		em_err("cannot write to stdout: %s", strerror(errno));
		rc = EM_EXIT_FAIL;
	}
	return rc;
}
