/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Loads and attaches the BPF programs, reads the maps into a snapshot. */
#ifndef EXITMON_COLLECTOR_H
#define EXITMON_COLLECTOR_H

#include "cli.h"
#include "model.h"

struct em_collector;

/*
 * Checks privileges, BTF and the kvm tracepoints, picks the attach mode,
 * sets the filters in read-only data, loads and attaches. On failure
 * returns NULL with one line in err.
 */
struct em_collector *em_collector_open(const struct em_opts *o, char *err, size_t errlen);
/* Replaces s's rows and counters with the cumulative values in the maps. */
int em_collector_read(struct em_collector *c, struct em_snapshot *s);
const char *em_collector_attach_name(const struct em_collector *c);
/* fd of one of the maps ("stats", "other_stats", "counters", ...), for tests. */
int em_collector_map_fd(const struct em_collector *c, const char *name);
void em_collector_close(struct em_collector *c);

#endif
