/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Snapshots: one run (struct em_snapshot) saved to / loaded from a JSON
 * file. The format is described in docs/snapshots.md.
 *
 * All functions return 0 on success or a negative errno value:
 *   -EINVAL  the data is not a valid snapshot (message in err)
 *   -EEXIST  save without force and the target exists
 *   -ENOMEM  out of memory
 *   other    the system call that failed (message in err)
 * err receives one line without the file name (the caller prefixes it);
 * err may be NULL or errlen 0.
 */
#ifndef EXITMON_SNAPSHOT_H
#define EXITMON_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include "model.h"

typedef struct json_t json_t; /* jansson's, without exposing <jansson.h> */

#define EM_SNAPSHOT_FORMAT "exitmon-snapshot"
/* hist_layout.scheme of version 2 files: the family of struct em_hist_layout */
#define EM_SNAPSHOT_HIST_SCHEME "hdr-log2"
/* Files larger than this are refused on load (a real one is < 10 MiB). */
#define EM_SNAPSHOT_MAX_BYTES (256u << 20)

/*
 * Writes s to path atomically: a temporary file in the same directory,
 * fsync, rename over path, fsync of the directory. Without force an
 * existing path is never replaced (RENAME_NOREPLACE, or link() where the
 * file system lacks it), not even by a racing writer: -EEXIST. On any
 * failure an existing file is left as it was and the temporary removed.
 */
int em_snapshot_save(const char *path, const struct em_snapshot *s, bool force,
		     char *err, size_t errlen);

/*
 * Reads and validates a snapshot. *s is overwritten (free a previous
 * one first) and must be freed with em_snapshot_free() on success; on
 * failure it is left empty (initialised, nothing to free).
 */
int em_snapshot_load(const char *path, struct em_snapshot *s, char *err, size_t errlen);

/* Same from memory (buf need not be NUL-terminated). */
int em_snapshot_parse(const char *buf, size_t len, struct em_snapshot *s,
		      char *err, size_t errlen);

/*
 * The JSON document of s (new reference, json_decref() it), or NULL with
 * err set when s cannot be represented (a value above INT64_MAX, more
 * than EM_MAX_PARAMS / EM_MAX_FILTER_REASONS entries, a duplicate KVM
 * parameter name) or on ENOMEM.
 */
json_t *em_snapshot_to_json(const struct em_snapshot *s, char *err, size_t errlen);

/* Field-by-field equality of two snapshots (rows in the same order). */
bool em_snapshot_equal(const struct em_snapshot *a, const struct em_snapshot *b);

/*
 * Test hook: when set, called by em_snapshot_save() after the temporary
 * file is written and synced and before the rename; a non-zero return
 * makes the save fail there as if that step had failed (with that value
 * as -errno if negative, -EIO otherwise). NULL in production.
 */
extern int (*em_snapshot_save_hook)(const char *tmp_path, const char *path);

#endif
