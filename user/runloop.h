/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * run's loop: timers, keys, signals' flags, saves and deltas, with the
 * clock, the input, the collector and the output injected (main.c wires
 * the real ones; tests/unit/test_runloop.c fakes them).
 */
#ifndef EXITMON_RUNLOOP_H
#define EXITMON_RUNLOOP_H

#include <signal.h>
#include <stdbool.h>
#include "model.h"
#include "render.h"

struct em_runloop_io {
	void *ctx;
	double (*now)(void *ctx); /* monotonic seconds */
	/*
	 * Waits at most timeout_s for a key: returns it, 0 on timeout or
	 * interruption (a signal: the loop then checks its flags), -1 when
	 * the input is gone (keys are then no longer read).
	 */
	int (*key)(void *ctx, double timeout_s, bool keys);
	/* Fills cur with the cumulative values; 0 or -errno. */
	int (*read)(void *ctx, struct em_snapshot *cur);
	/* Prints one view; 0 or -errno of a failed write (e.g. -EPIPE). */
	int (*emit)(void *ctx, const struct em_snapshot *view, const struct em_view_ctx *vctx);
	/* Saves s; 0, or non-zero after printing why. */
	int (*save)(void *ctx, const struct em_snapshot *s);
};

struct em_runloop_cfg {
	double interval_s;
	double duration_s;      /* 0: until stopped */
	bool live;              /* a view every interval (else only the final one) */
	bool cumulative;        /* views since the start instead of per interval */
	bool keys;              /* read keys: c toggles cumulative, s saves, q quits */
	bool save;              /* a save target exists */
	struct em_view_ctx view; /* attach and isa for every view */
	volatile sig_atomic_t *stop;     /* set by SIGINT/SIGTERM/SIGHUP */
	volatile sig_atomic_t *save_now; /* set by SIGUSR1; cleared when done */
};

enum em_stop_why { EM_STOP_DEADLINE, EM_STOP_SIGNAL, EM_STOP_KEY, EM_STOP_OUTPUT, EM_STOP_READ };

struct em_runloop_result {
	enum em_stop_why why;
	int err;          /* -errno of the read or write that stopped the run */
	unsigned views;   /* views emitted, the final one included */
	unsigned saves;   /* successful saves */
	bool cumulative;  /* the view mode at the end (after c toggles) */
};

/*
 * Runs until the duration ends, *stop is set, q is pressed or a write or
 * read fails; then reads once more, emits the final view (unless the
 * output failed) and saves (when cfg->save). cur receives the whole run
 * (its meta.duration_ns set). Returns 0, or 1 when a read, the output or
 * the final save failed.
 */
int em_runloop(const struct em_runloop_cfg *cfg, const struct em_runloop_io *io,
	       struct em_snapshot *cur, struct em_runloop_result *res);

#endif
