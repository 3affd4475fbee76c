// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* run's loop (see runloop.h); pure, no libbpf, unit-tested with fakes. */
#include <errno.h>
#include <string.h>
#include "runloop.h"

static void set_duration(struct em_snapshot *s, double seconds)
{
	s->meta.duration_ns = seconds > 0 ? (uint64_t)(seconds * 1e9) : 0;
}

/* Saves prev, a full copy of the last good reading, after a failed read. */
static void save_last(const struct em_runloop_cfg *cfg, const struct em_runloop_io *io,
		      struct em_snapshot *prev, double seconds, struct em_runloop_result *res)
{
	if (!cfg->save)
		return;
	set_duration(prev, seconds);
	if (!io->save(io->ctx, prev))
		res->saves++;
}

int em_runloop(const struct em_runloop_cfg *cfg, const struct em_runloop_io *io,
	       struct em_snapshot *cur, struct em_runloop_result *res)
{
	struct em_snapshot prev, view;
	struct em_view_ctx ctx = cfg->view;
	double t0, now, next, deadline, last_tick, last_change;
	uint64_t last_total;
	bool keys = cfg->keys, output_ok = true;
	int rc;

	memset(res, 0, sizeof(*res));
	res->cumulative = cfg->cumulative;
	/* kept between refreshes: delta and copy reuse their buffers */
	em_snapshot_init(&prev);
	em_snapshot_init(&view);
	prev.meta = cur->meta;
	last_total = em_snapshot_total(cur);
	t0 = last_tick = last_change = io->now(io->ctx);
	next = t0 + cfg->interval_s;
	deadline = cfg->duration_s ? t0 + cfg->duration_s : 0;
	res->why = EM_STOP_SIGNAL;

	while (!*cfg->stop) {
		double until = next;
		int key = 0;

		now = io->now(io->ctx);
		if (deadline && deadline < until)
			until = deadline;
		if (until > now && !*cfg->save_now)
			key = io->key(io->ctx, until - now, keys);
		if (key < 0)
			keys = false; /* input gone: no busy loop on EOF */
		else if (keys && key == 'q') {
			res->why = EM_STOP_KEY;
			break;
		}
		else if (keys && key == 'c')
			res->cumulative = !res->cumulative;
		else if (keys && key == 's')
			*cfg->save_now = 1;
		now = io->now(io->ctx);
		if (*cfg->save_now) {
			*cfg->save_now = 0;
			if (cfg->save) {
				if ((rc = io->read(io->ctx, cur)))
					goto read_failed;
				set_duration(cur, now - t0);
				if (!io->save(io->ctx, cur))
					res->saves++;
			}
		}
		if (*cfg->stop)
			break;
		if (deadline && now >= deadline) {
			res->why = EM_STOP_DEADLINE;
			break;
		}
		if (now < next)
			continue;
		next += cfg->interval_s;
		if (next < now)
			next = now + cfg->interval_s;
		if ((rc = io->read(io->ctx, cur)))
			goto read_failed;
		if (em_snapshot_total(cur) != last_total) {
			last_total = em_snapshot_total(cur);
			last_change = now;
		}
		if (cfg->live) {
			ctx.elapsed_s = now - t0;
			ctx.quiet_s = now - last_change;
			set_duration(cur, now - t0);
			if (res->cumulative) {
				ctx.type = "cumulative";
				ctx.period_s = now - t0;
				rc = em_snapshot_delta(&view, cur, NULL);
			} else {
				ctx.type = "interval";
				ctx.period_s = now - last_tick;
				rc = em_snapshot_delta(&view, cur, &prev);
			}
			if (!rc)
				rc = io->emit(io->ctx, &view, &ctx);
			if (rc) {
				/* e.g. EPIPE: stop and save what was measured */
				res->why = EM_STOP_OUTPUT;
				res->err = rc;
				output_ok = false;
				break;
			}
			res->views++;
		}
		last_tick = now;
		if (em_snapshot_copy(&prev, cur)) {
			res->why = EM_STOP_READ;
			res->err = -ENOMEM;
			em_snapshot_free(&prev);
			em_snapshot_free(&view);
			return 1;
		}
	}
	/* the final view: the whole run */
	if ((rc = io->read(io->ctx, cur)))
		goto read_failed;
	em_snapshot_free(&prev);
	em_snapshot_free(&view);
	now = io->now(io->ctx);
	ctx.elapsed_s = ctx.period_s = now - t0;
	set_duration(cur, now - t0);
	if (em_snapshot_total(cur) != last_total)
		last_change = now;
	ctx.quiet_s = now - last_change;
	ctx.type = "final";
	if (output_ok) {
		if ((rc = io->emit(io->ctx, cur, &ctx))) {
			res->why = EM_STOP_OUTPUT;
			res->err = rc;
			output_ok = false;
		} else {
			res->views++;
		}
	}
	rc = 0;
	if (cfg->save) {
		if (io->save(io->ctx, cur))
			rc = 1;
		else
			res->saves++;
	}
	return output_ok ? rc : 1;

read_failed:
	/* what was measured up to the last good reading is still saved */
	res->why = EM_STOP_READ;
	res->err = rc;
	save_last(cfg, io, &prev, last_tick - t0, res);
	em_snapshot_free(&prev);
	em_snapshot_free(&view);
	return 1;
}
