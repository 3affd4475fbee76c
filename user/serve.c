// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * `exitmon serve` on libmicrohttpd. One internal polling thread serves
 * every connection and reads the maps on each scrape: no timers, no
 * background refresh, and no locking (the collector has one user).
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>
#include "metrics.h"
#include "err.h"
#include "reasons.h"
#include "safefile.h"
#include "serve.h"
#include "sysinfo.h"

/*
 * libmicrohttpd is loaded by `serve`, not linked: linked, it and the GnuTLS
 * it pulls in (whose constructor runs at exec) cost every exitmon command,
 * `run` included, 3 MiB of resident memory (docs/performance.md). The
 * functions serve calls, with libmicrohttpd's own prototypes.
 */
#define EM_MHD_SONAME "libmicrohttpd.so.12" /* Debian 12: package libmicrohttpd12 */
static struct {
	__typeof__(&MHD_start_daemon) start_daemon;
	__typeof__(&MHD_stop_daemon) stop_daemon;
	__typeof__(&MHD_create_response_from_buffer) create_response_from_buffer;
	__typeof__(&MHD_add_response_header) add_response_header;
	__typeof__(&MHD_queue_response) queue_response;
	__typeof__(&MHD_destroy_response) destroy_response;
	__typeof__(&MHD_lookup_connection_value) lookup_connection_value;
} mhd;

static int mhd_load(char *err, size_t errlen)
{
	void *h = dlopen(EM_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(err, errlen, "cannot load %s (Debian package libmicrohttpd12): %s",
			 EM_MHD_SONAME, dlerror());
		return -1;
	}
#define EM_MHD_SYM(f)                                                                   \
	if (!(*(void **)&mhd.f = dlsym(h, "MHD_" #f))) {                                \
		snprintf(err, errlen, "%s has no MHD_" #f ": %s", EM_MHD_SONAME, dlerror()); \
		return -1;                                                              \
	}
	EM_MHD_SYM(start_daemon)
	EM_MHD_SYM(stop_daemon)
	EM_MHD_SYM(create_response_from_buffer)
	EM_MHD_SYM(add_response_header)
	EM_MHD_SYM(queue_response)
	EM_MHD_SYM(destroy_response)
	EM_MHD_SYM(lookup_connection_value)
#undef EM_MHD_SYM
	return 0; /* the library stays loaded for the process */
}

struct server {
	const struct em_opts *o;
	struct em_collector *col;
	struct em_snapshot cur;
	struct em_metrics_state mst;
};

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int em_serve_parse_listen(const char *s, struct sockaddr_storage *ss, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *h = s;
	size_t hl;
	char *end;
	unsigned long port;

	memset(ss, 0, sizeof(*ss));
	colon = strrchr(s, ':');
	if (!colon)
		goto bad;
	hl = colon - s;
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') { /* [v6]:port */
		h = s + 1;
		hl -= 2;
	}
	if (!hl || hl >= sizeof(host))
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 1 || port > 65535 || colon[1] == '-' || colon[1] == '+')
		goto bad;
	if (h == s && inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (h != s && inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		return 0;
	}
bad:
	snprintf(err, errlen, "invalid --listen '%s' (ADDR:PORT with a numeric address, e.g. %s or [::1]:%d)",
		 s, EM_SERVE_DEFAULT_LISTEN, EM_SERVE_DEFAULT_PORT);
	return -1;
}

/* --- HTTP ------------------------------------------------------------- */

static const char landing[] =
	"<!DOCTYPE html>\n<html><head><title>exitmon</title></head><body>\n"
	"<h1>exitmon</h1>\n<p>KVM exits per reason and their handling time.</p>\n"
	"<p><a href=\"/metrics\">Metrics</a></p>\n</body></html>\n";

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
			     char *body, size_t len, bool owned)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = mhd.create_response_from_buffer(len, body,
					    owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	/* every response has a Content-Type: Prometheus 3 fails scrapes without one */
	mhd.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		mhd.add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = mhd.queue_response(c, status, r);
	mhd.destroy_response(r);
	return ret;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *msg)
{
	return reply(c, status, "text/plain; charset=utf-8", (char *)msg, strlen(msg), false);
}

static enum MHD_Result scrape(struct server *sv, struct MHD_Connection *c)
{
	const char *accept = mhd.lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	enum em_metrics_format fmt = em_metrics_negotiate(accept);
	struct em_metrics_ctx ctx = {
		.version = EXITMON_VERSION,
		.attach = em_collector_attach_name(sv->col),
	};
	char *buf = NULL;
	size_t len = 0;
	double t0 = mono_s();
	FILE *f;
	int rc;

	rc = em_collector_read(sv->col, &sv->cur);
	ctx.collect_seconds = mono_s() - t0;
	if (rc) {
		em_err("cannot read the maps: %s", strerror(-rc));
		return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read the BPF maps\n");
	}
	f = open_memstream(&buf, &len);
	if (!f)
		return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	rc = em_metrics_render(f, &sv->cur, &sv->mst, &ctx, fmt);
	if (fclose(f) || rc) {
		free(buf);
		return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render the metrics\n");
	}
	return reply(c, MHD_HTTP_OK, em_metrics_content_type(fmt), buf, len, true);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct server *sv = cls;

	(void)version;
	(void)upload_data;
	(void)req_cls;
	/*
	 * Answered on the first call, before any body: a request with a body
	 * (POST) gets its 405 and the connection is closed, body unread.
	 */
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (*upload_data_size) {
		*upload_data_size = 0; /* a GET with a body: ignored */
		return MHD_YES;
	}
	if (!strcmp(url, "/metrics"))
		return scrape(sv, c);
	if (!strcmp(url, "/"))
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", (char *)landing,
			     sizeof(landing) - 1, false);
	return text(c, MHD_HTTP_NOT_FOUND, "not found: see /metrics\n");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	em_err("http: %s", line);
}

int cmd_serve(const struct em_opts *o)
{
	const char *listen = o->listen ? o->listen : EM_SERVE_DEFAULT_LISTEN;
	struct sockaddr_storage ss;
	struct server sv = { .o = o };
	struct em_safefile ready = { .dirfd = -1, .fd = -1 };
	struct MHD_Daemon *d = NULL;
	char err[512], addr[INET6_ADDRSTRLEN];
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD;
	sigset_t set;
	int sig = 0, rc = EM_EXIT_FAIL;

	if (em_serve_parse_listen(listen, &ss, err, sizeof(err))) {
		em_err("%s", err);
		return EM_EXIT_USAGE;
	}
	if (mhd_load(err, sizeof(err))) {
		em_err("%s", err);
		return EM_EXIT_FAIL;
	}
	/* as run: checked before attaching, and an existing path is never touched */
	if (o->ready_file && (rc = em_safefile_open(&ready, o->ready_file, false, err, sizeof(err)))) {
		em_err("cannot create ready file %s: %s", o->ready_file,
		       rc == -EEXIST ? "it already exists" : err);
		return EM_EXIT_FAIL;
	}
	rc = EM_EXIT_FAIL;
	em_snapshot_init(&sv.cur);
	{
		struct em_collector_cfg cfg = em_cli_collector_cfg(o);

		sv.col = em_collector_open(&cfg, err, sizeof(err));
	}
	if (!sv.col) {
		em_err("%s", err);
		goto out;
	}
	sv.cur.meta.isa = o->isa;
	sv.cur.meta.filters = o->filters;
	sv.mst.max_series = o->max_series;

	/* the HTTP thread inherits the mask: only this thread takes the signals */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (o->verbose)
		flags |= MHD_USE_ERROR_LOG;
	errno = 0;
	d = mhd.start_daemon(flags, 0, NULL, NULL, handle, &sv,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned)EM_SERVE_MAX_CONNECTIONS,
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)EM_SERVE_MAX_PER_IP,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)EM_SERVE_TIMEOUT_S,
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)EM_SERVE_CONN_MEMORY,
			     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			     MHD_OPTION_END);
	if (!d) {
		em_err("cannot listen on %s: %s", listen,
		       errno ? strerror(errno) : "libmicrohttpd failed to start");
		goto out;
	}
	if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr));
	em_err("serving metrics on http://%s%s%s:%s/metrics (%s, %s)",
	       ss.ss_family == AF_INET6 ? "[" : "", addr, ss.ss_family == AF_INET6 ? "]" : "",
	       strrchr(listen, ':') + 1, em_isa_name(o->isa) ?: "unknown isa",
	       em_collector_attach_name(sv.col));
	if (o->ready_file && (rc = em_safefile_write(&ready, "", 0, err, sizeof(err)))) {
		em_err("cannot create ready file %s: %s", o->ready_file,
		       rc == -EEXIST ? "it already exists" : err);
		rc = EM_EXIT_FAIL;
		goto out;
	}
	while (sigwait(&set, &sig) || (sig != SIGINT && sig != SIGTERM && sig != SIGHUP))
		;
	em_err("stopped (%s)", strsignal(sig));
	rc = EM_EXIT_OK;
out:
	if (d)
		mhd.stop_daemon(d);
	em_collector_close(sv.col);
	em_snapshot_free(&sv.cur);
	em_metrics_state_free(&sv.mst);
	em_safefile_close(&ready);
	return rc;
}

/* --- textfile ---------------------------------------------------------- */

int em_textfile_update(const struct em_opts *o, const struct em_collector *col,
		       const struct em_snapshot *s)
{
	/* one writer per process: `run` is single-threaded */
	static struct em_metrics_state st;
	struct em_metrics_ctx ctx = {
		.version = EXITMON_VERSION,
		.attach = em_collector_attach_name(col),
		.collect_seconds = -1, /* no scrape: the gauge is left out */
	};
	char err[512];

	st.max_series = o->max_series;
	if (em_metrics_write_textfile(o->textfile_dir, s, &st, &ctx, err, sizeof(err))) {
		em_err("%s", err);
		return -1;
	}
	return 0;
}
