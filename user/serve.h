/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * `exitmon serve`: the collector behind a libmicrohttpd endpoint that
 * collects on scrape; and the textfile writer of `exitmon run --textfile`.
 */
#ifndef EXITMON_SERVE_H
#define EXITMON_SERVE_H

#include <netinet/in.h>
#include <sys/socket.h>
#include "cli.h"
#include "collector.h"
#include "model.h"

/*
 * Default port: outside 9090-9999, the Prometheus "default port
 * allocations" range (fully allocated since 2023; 9435 is ebpf_exporter's,
 * 9177 the libvirt exporter's), and outside Linux's ephemeral ports.
 */
#define EM_SERVE_DEFAULT_PORT 10283
#define EM_SERVE_DEFAULT_LISTEN "127.0.0.1:10283"

/* Limits of the HTTP server (docs/metrics.md). */
#define EM_SERVE_MAX_CONNECTIONS 32
#define EM_SERVE_MAX_PER_IP 8
#define EM_SERVE_TIMEOUT_S 10
#define EM_SERVE_CONN_MEMORY (32 * 1024) /* request line + headers per connection */

/*
 * Parses "127.0.0.1:10283" or "[::1]:10283" (numeric addresses only,
 * port 1-65535). Returns 0, or -1 with one line in err.
 */
int em_serve_parse_listen(const char *s, struct sockaddr_storage *ss, char *err, size_t errlen);

/* Runs `exitmon serve` until SIGINT/SIGTERM; returns an exit status. */
int cmd_serve(const struct em_opts *o);

/*
 * `run --textfile DIR`: writes DIR/exitmon.prom from s. Returns 0, or -1
 * after printing one line.
 */
int em_textfile_update(const struct em_opts *o, const struct em_collector *col,
		       const struct em_snapshot *s);

#endif
