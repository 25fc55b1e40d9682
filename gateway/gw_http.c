/*
 * The HTTP(S) server: one libmicrohttpd daemon per configured listener, the access-handler
 * lifecycle of libmicrohttpd's examples (per-request state made in the URI callback and
 * completed at the first call, which also refuses what can be refused before the body is
 * read; middle calls take the upload; the last call answers; the completion callback
 * frees), routing by longest path prefix on the raw path, forwarded headers of a trusted
 * proxy (gw_proxy.c), and one access-log line per request (gw_log.c).
 *
 * Configuration reload: every request takes a reference on the configuration current when
 * it starts (a "generation": the configuration and the client-certificate trust built from
 * it) and drops it when it completes, so a reload never changes the configuration under a
 * request in flight, and the old one is freed by whoever drops the last reference.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "be_hex.h"
#include "be_issue.h"
#include "be_keypool.h"
#include "be_pct.h"
#include "gw.h"

/* RFC 8996: TLS 1.0 and 1.1 are never offered, whatever the configuration says. */
#define DEFAULT_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define RFC8996_SUFFIX ":-VERS-TLS1.1:-VERS-TLS1.0"

#define DEFAULT_CONN_MEMORY (64u * 1024u)
#define DEFAULT_CONN_TIMEOUT 30u
#define CONNECTION_LIMIT 1024u		/* per listener */
#define LISTEN_BACKLOG 128
#define MAX_ARGS 64
#define PEM_FILE_MAX (1024u * 1024u)
#define STOP_GRACE_MS 10000
#define DISCARD_MAX (64u * 1024u * 1024u)	/* upload bytes read and dropped past the cap */

struct gw_listener {
	struct gw_server *srv;
	struct MHD_Daemon *daemon;
	bool tls;
	int unix_fd;			/* our socket until MHD owns it, else -1 */
	char *unix_path;		/* unlinked at stop */
	char name[160];			/* "127.0.0.1:8443", "unix:/run/x.sock" */
};

/* A configuration with what the server built from it; reference counted under
 * gw_server.lock (the server holds one reference on the current generation). */
struct gw_gen {
	struct gw_config *cfg;
	struct gw_client_trust *trust;
	bool owned;			/* cfg is freed with the generation */
	unsigned long refs;
};

struct gw_server {
	const struct gw_config *cfg;	/* the one started with: listeners and limits */
	size_t max_body;		/* limits fixed at start */
	char *fixed;			/* start-only settings, serialised, to warn on reload */
	struct gw_gen *gen;		/* current, under lock */
	struct gw_route *routes;	/* prefixes copied */
	size_t n_routes;
	struct gw_listener *ls;
	size_t n_ls;
	char *cert_pem, *key_pem, *ca_pem;
	size_t key_pem_len;
	char *priorities;
	pthread_mutex_t lock;
	unsigned long active;		/* requests between first call and completion */
};

struct gw_arg {
	char *name, *value;		/* percent-decoded */
};

/* Per-request state: *con_cls of libmicrohttpd. */
struct gw_conn {
	struct gw_listener *l;
	struct MHD_Connection *mhd;
	struct gw_gen *gen;		/* referenced from the first call to completion */
	bool started;			/* the access handler has seen this request */
	uintptr_t raw_target;		/* where on_uri() saw the request target ... */
	size_t raw_target_len;		/* ... and its length up to the first NUL */
	struct gw_request req;
	struct gw_response resp;
	char *method, *path;
	char peer[INET6_ADDRSTRLEN + 8];
	char proxy[INET6_ADDRSTRLEN + 8];	/* the proxy's address when proxied */
	unsigned char *body;
	size_t body_len, body_cap;
	size_t discarded;		/* upload bytes dropped after the cap was exceeded */
	bool too_big;
	bool close;			/* answer with Connection: close */
	bool queued;
	unsigned status;		/* status queued, 0 = none */
	struct gw_arg *args;
	size_t n_args;
	const struct gw_route *route;
	struct timespec start;
};

static const unsigned char empty_body[1];

/* ---------------------------------------------------------------- small helpers */

/* Reads a whole (PEM) file into a NUL-terminated buffer. */
static int
read_pem(const char *what, const char *path, char **out, size_t *outlen, struct be_err *e)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0, size = 0;
	ssize_t n;
	int fd = -1, rc;

	*out = NULL;
	if (path == NULL) {
		rc = be_err_set(e, BE_E_CONFIG, "%s: no file configured", what);
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = be_err_set(e, BE_E_IO, "%s: %s: %s", what, path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (size_t)st.st_size > PEM_FILE_MAX) {
		rc = be_err_set(e, BE_E_CONFIG, "%s: %s: not a regular file of 1..%u bytes",
				what, path, PEM_FILE_MAX);
		goto out;
	}
	size = (size_t)st.st_size;
	buf = malloc(size + 1);
	if (buf == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	while (got < size) {
		n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = be_err_set(e, BE_E_IO, "%s: %s: short read", what, path);
			goto out;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	if (strlen(buf) != got) {
		rc = be_err_set(e, BE_E_CONFIG, "%s: %s: NUL byte in PEM file", what, path);
		goto out;
	}
	*out = buf;
	if (outlen != NULL)
		*outlen = got;
	buf = NULL;
	rc = 0;
out:
	if (buf != NULL) {
		be_memzero(buf, size + 1);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Strict percent-decoding of a query-string key or value (MHD already turned '+' into
 * ' ').  Refuses malformed escapes and %00.  *out malloc()ed.  0 or -1. */
static int
pct_decode(const char *in, char **out)
{
	size_t len = strlen(in);
	char *s = NULL;
	int rc = -1;

	*out = NULL;
	s = malloc(len + 1);
	if (s == NULL)
		goto out;
	if (be_pct_decode(in, len, BE_PCT_NO_NUL, s, NULL) != 0)
		goto out;
	*out = s;
	s = NULL;
	rc = 0;
out:
	free(s);
	return rc;
}

/* The raw path must be origin-form (RFC 9112 section 3.2.1): printable ASCII, every '%'
 * followed by two hex digits (RFC 3986 section 2.1), and no %00.  NULL or the reason. */
static const char *
path_refusal(const char *p)
{
	size_t i;

	if (p == NULL || p[0] != '/')
		return "RFC 9112 section 3.2.1: request target is not an absolute path";
	for (i = 0; p[i] != '\0'; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c <= 0x20 || c >= 0x7f)
			return "RFC 3986 section 2: invalid character in path";
		if (c != '%')
			continue;
		if (be_hex_digit((unsigned char)p[i + 1]) < 0 ||
		    be_hex_digit((unsigned char)p[i + 2]) < 0)
			return "RFC 3986 section 2.1: malformed percent-encoding in path";
		if (p[i + 1] == '0' && p[i + 2] == '0')
			return "encoded NUL (%00) in path";
		i += 2;
	}
	return NULL;
}

static const struct gw_route *
route_find(const struct gw_server *srv, const char *path)
{
	const struct gw_route *best = NULL;
	size_t i, len, best_len = 0;

	for (i = 0; i < srv->n_routes; i++) {
		len = strlen(srv->routes[i].prefix);
		if (strncmp(path, srv->routes[i].prefix, len) == 0 &&
		    (best == NULL || len > best_len)) {
			best = &srv->routes[i];
			best_len = len;
		}
	}
	return best;
}

static const char *
term_name(enum MHD_RequestTerminationCode toe)
{
	switch (toe) {
	case MHD_REQUEST_TERMINATED_COMPLETED_OK:		return "ok";
	case MHD_REQUEST_TERMINATED_WITH_ERROR:			return "error";
	case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:		return "timeout";
	case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:		return "shutdown";
	case MHD_REQUEST_TERMINATED_READ_ERROR:			return "read-error";
	case MHD_REQUEST_TERMINATED_CLIENT_ABORT:		return "client-abort";
	default:						return "other";
	}
}

static void
log_access(const struct gw_conn *c, enum MHD_RequestTerminationCode toe)
{
	struct gw_access a;
	struct timespec now;
	long long us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (long long)(now.tv_sec - c->start.tv_sec) * 1000000 +
	     (now.tv_nsec - c->start.tv_nsec) / 1000;
	memset(&a, 0, sizeof(a));
	a.id = c->req.id;
	a.peer = c->req.peer != NULL ? c->req.peer : c->peer;
	a.proxy = c->req.proxy;
	a.method = c->method;
	a.path = c->path;
	a.status = c->status;
	a.adapter = c->resp.adapter;
	a.operation = c->resp.operation;
	a.principal = c->resp.principal;
	a.profile = c->resp.profile;
	a.bytes = c->queued ? c->resp.body_len : 0;
	a.latency_us = us > 0 ? (uint64_t)us : 0;
	a.secure = c->req.secure;
	a.end = term_name(toe);
	gw_log_access(&a);
}

/* ---------------------------------------------------------------- generations */

static void
gen_free(struct gw_gen *g)
{
	if (g == NULL)
		return;
	gw_client_trust_free(g->trust);
	if (g->owned)
		gw_config_free(g->cfg);
	free(g);
}

static int
gen_new(struct gw_config *cfg, bool owned, struct gw_gen **out, struct be_err *e)
{
	struct gw_gen *g = NULL;
	int rc;

	*out = NULL;
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	g->refs = 1;
	if (cfg->tls_client_ca_file != NULL &&
	    (rc = gw_client_trust_new(cfg, cfg->tls_client_ca_file, &g->trust, e)) != 0)
		goto out;
	g->cfg = cfg;
	g->owned = owned;
	*out = g;
	g = NULL;
	rc = 0;
out:
	gen_free(g);
	return rc;
}

static struct gw_gen *
gen_acquire(struct gw_server *srv)
{
	struct gw_gen *g;

	pthread_mutex_lock(&srv->lock);
	g = srv->gen;
	g->refs++;
	pthread_mutex_unlock(&srv->lock);
	return g;
}

static void
gen_release(struct gw_server *srv, struct gw_gen *g)
{
	bool last;

	if (g == NULL)
		return;
	pthread_mutex_lock(&srv->lock);
	last = --g->refs == 0;
	pthread_mutex_unlock(&srv->lock);
	if (last)
		gen_free(g);
}

/* ---------------------------------------------------------------- per-request state */

static void
conn_free(struct gw_conn *c)
{
	size_t i;

	if (c == NULL)
		return;
	gen_release(c->l->srv, c->gen);
	gw_response_clear(&c->resp);
	for (i = 0; i < c->req.n_peer_certs; i++)
		be_datum_free(&c->req.peer_certs[i]);
	be_memzero(c->req.binding, sizeof(c->req.binding));
	if (c->body != NULL)
		be_memzero(c->body, c->body_cap);
	free(c->body);
	for (i = 0; i < c->n_args; i++) {
		free(c->args[i].name);
		free(c->args[i].value);
	}
	free(c->args);
	free(c->method);
	free(c->path);
	free(c);
}

static void
peer_text(struct MHD_Connection *mhd, char *buf, size_t cap)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	snprintf(buf, cap, "?");
	ci = MHD_get_connection_info(mhd, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	sa = ci->client_addr;
	if (sa->sa_family == AF_INET) {
		if (inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
			      buf, (socklen_t)cap) == NULL)
			snprintf(buf, cap, "?");
	} else if (sa->sa_family == AF_INET6) {
		if (inet_ntop(AF_INET6,
			      &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			      buf, (socklen_t)cap) == NULL)
			snprintf(buf, cap, "?");
	} else if (sa->sa_family == AF_UNIX) {
		snprintf(buf, cap, "unix");
	}
}

/* Completes the state on_uri() allocated, at the access handler's first call. */
static int
conn_start(struct gw_conn *c, const char *url, const char *method)
{
	static atomic_uint_fast64_t fallback;
	unsigned char rnd[8];
	uint64_t n;
	size_t i;

	pthread_mutex_lock(&c->l->srv->lock);
	c->l->srv->active++;
	pthread_mutex_unlock(&c->l->srv->lock);
	c->gen = gen_acquire(c->l->srv);
	c->started = true;
	c->req.cfg = c->gen->cfg;
	c->req.client_trust = c->gen->trust;
	if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)) < 0) {
		/* The crypto library failed (be_crypto_check): the request is still answered
		 * (503 from whatever needs the library, /healthz says why), with a counted id. */
		n = atomic_fetch_add(&fallback, 1) + 1;
		for (i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)(n >> (8 * (sizeof(rnd) - 1 - i)));
		rnd[0] = 0xff;
	}
	be_hex_encode(rnd, sizeof(rnd), c->req.id);
	c->method = strdup(method != NULL ? method : "");
	c->path = strdup(url != NULL ? url : "");
	if (c->method == NULL || c->path == NULL)
		return BE_E_NOMEM;
	peer_text(c->mhd, c->peer, sizeof(c->peer));
	c->req.method = c->method;
	c->req.path = c->path;
	c->req.peer = c->peer;
	c->req.tls = c->l->tls;
	c->req.secure = c->l->tls;
	c->req.impl = c;
	c->req.body = empty_body;
	return 0;
}

/* libmicrohttpd 0.9.75 hands the access handler a request target cut at a raw NUL byte.
 * The target as on_uri() saw it runs up to the space before the HTTP version, which the
 * version string follows in the same buffer: when that span is longer than the string,
 * the target held a NUL. */
static bool
target_has_nul(const struct gw_conn *c, const char *url, const char *version)
{
	uintptr_t u = (uintptr_t)url, v = (uintptr_t)version;

	if (u != c->raw_target || version == NULL || version[0] == '\0' || v <= u ||
	    v - u > 65536)
		return false;
	return v - u - 1 != c->raw_target_len;
}

struct arg_walk {
	struct gw_conn *c;
	bool bad;
};

static enum MHD_Result
arg_collect(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct arg_walk *w = cls;
	struct gw_conn *c = w->c;
	struct gw_arg *a;

	if (c->n_args >= MAX_ARGS) {
		w->bad = true;
		return MHD_NO;
	}
	if (c->args == NULL) {
		c->args = calloc(MAX_ARGS, sizeof(*c->args));
		if (c->args == NULL) {
			w->bad = true;
			return MHD_NO;
		}
	}
	a = &c->args[c->n_args];
	if (pct_decode(key != NULL ? key : "", &a->name) != 0 ||
	    pct_decode(value != NULL ? value : "", &a->value) != 0) {
		free(a->name);
		a->name = NULL;
		w->bad = true;
		return MHD_NO;
	}
	c->n_args++;
	return MHD_YES;
}

/* RFC 7030 3.5 channel binding and the presented certificate chain. */
static int
conn_tls_info(struct gw_conn *c)
{
	const union MHD_ConnectionInfo *ci;
	const gnutls_datum_t *peers;
	gnutls_datum_t cb = { NULL, 0 };
	gnutls_session_t s;
	unsigned n = 0, i;
	int rc = 0;

	ci = MHD_get_connection_info(c->mhd, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		goto out;
	s = (gnutls_session_t)ci->tls_session;
	peers = gnutls_certificate_get_peers(s, &n);
	if (peers == NULL)
		n = 0;
	if (n > GW_MAX_PEER_CERTS)
		n = GW_MAX_PEER_CERTS;
	for (i = 0; i < n; i++) {
		c->req.peer_certs[i].data = gnutls_malloc(peers[i].size > 0 ? peers[i].size : 1);
		if (c->req.peer_certs[i].data == NULL) {
			rc = BE_E_NOMEM;
			goto out;
		}
		memcpy(c->req.peer_certs[i].data, peers[i].data, peers[i].size);
		c->req.peer_certs[i].size = peers[i].size;
		c->req.n_peer_certs++;
	}
	/* tls-unique (RFC 5929) on TLS 1.2; tls-exporter (RFC 9266) on TLS 1.3 */
	if (gnutls_session_channel_binding(s, gnutls_protocol_get_version(s) == GNUTLS_TLS1_3 ?
					   GNUTLS_CB_TLS_EXPORTER : GNUTLS_CB_TLS_UNIQUE,
					   &cb) == 0 &&
	    cb.size > 0 && cb.size <= sizeof(c->req.binding)) {
		memcpy(c->req.binding, cb.data, cb.size);
		c->req.binding_len = cb.size;
	}
out:
	be_datum_wipe(&cb);
	return rc;
}

/* ---------------------------------------------------------------- answering */

/* Fills c->resp with an answer of the server itself (400, 403, 404, 413, 500): in the
 * matched route's error format when it has a hook (gw_error_fn) that answers with status,
 * else as plain text.  0 or a negative code. */
static int
conn_refusal(struct gw_conn *c, unsigned status, const char *reason)
{
	int rc;

	gw_response_clear(&c->resp);
	if (c->route != NULL && c->route->error != NULL) {
		rc = c->route->error(&c->req, &c->resp, status, reason);
		if (rc == 0 && c->resp.status == status)
			return 0;
		gw_log(GW_LOG_ERROR, "id=%s: error reply of %s failed (%s, status %u); "
		       "answering %u in plain text", c->req.id, c->route->prefix,
		       rc != 0 ? be_err_name(rc) : "ok", c->resp.status, status);
		gw_response_clear(&c->resp);
	}
	return gw_response_text(&c->resp, status, "%s", reason);
}

static enum MHD_Result
conn_queue(struct gw_conn *c)
{
	struct MHD_Response *r = NULL;
	enum MHD_Result ret = MHD_NO;
	size_t i;

	if (c->resp.status < 200 || c->resp.status > 599) {
		gw_log(GW_LOG_ERROR, "id=%s: adapter set HTTP status %u; answering 500",
		       c->req.id, c->resp.status);
		if (conn_refusal(c, 500, "internal error") != 0)
			goto out;
	}
	r = MHD_create_response_from_buffer(c->resp.body_len,
					    c->resp.body != NULL ? (void *)c->resp.body :
					    (void *)(uintptr_t)empty_body,
					    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		goto out;
	if (c->resp.content_type != NULL &&
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, c->resp.content_type) != MHD_YES)
		goto out;
	if (c->resp.secret &&
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES)
		goto out;
	if (c->close &&
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)
		goto out;
	for (i = 0; i < c->resp.n_headers; i++)
		if (MHD_add_response_header(r, c->resp.headers[i].name,
					    c->resp.headers[i].value) != MHD_YES)
			gw_log(GW_LOG_ERROR, "id=%s: header %s refused by libmicrohttpd",
			       c->req.id, c->resp.headers[i].name);
	ret = MHD_queue_response(c->mhd, c->resp.status, r);
	if (ret == MHD_YES) {
		c->queued = true;
		c->status = c->resp.status;
	}
out:
	if (r != NULL)
		MHD_destroy_response(r);
	return ret;
}

/* Answers the server's own refusal (conn_refusal: the route's format, else plain text). */
static enum MHD_Result
conn_error(struct gw_conn *c, unsigned status, const char *reason)
{
	if (conn_refusal(c, status, reason) != 0)
		return MHD_NO;
	return conn_queue(c);
}

/* RFC 9110 section 15.5.14: 413, naming the limit. */
static enum MHD_Result
conn_too_big(struct gw_conn *c)
{
	char why[128];

	snprintf(why, sizeof(why), "request body larger than the limit of %zu bytes "
		 "(limits.max_body)", c->l->srv->max_body);
	return conn_error(c, 413, why);
}

static enum MHD_Result
framing_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	gw_framing_header(cls, key, value);
	return MHD_YES;
}

/* The first call: what can be refused before the body is read.  Refusals before the route
 * is known (malformed target or query, TLS session state, forwarded headers, no route) are
 * plain text; the body limit is checked after routing, so its 413 comes in the route's error
 * format. */
static enum MHD_Result
conn_first(struct gw_conn *c, const char *url, const char *version)
{
	struct arg_walk w = { c, false };
	struct be_err e = { 0, "" };
	struct gw_framing f;
	const char *why;
	unsigned status;

	if (target_has_nul(c, url, version))
		return conn_error(c, 400, "NUL byte in request target");
	why = path_refusal(c->path);
	if (why != NULL)
		return conn_error(c, 400, why);
	MHD_get_connection_values(c->mhd, MHD_GET_ARGUMENT_KIND, arg_collect, &w);
	if (w.bad)
		return conn_error(c, 400, "RFC 3986 section 3.4: malformed query string");
	if (conn_tls_info(c) != 0)
		return conn_error(c, 500, "internal error");
	status = gw_proxy_apply(&c->req, c->peer, sizeof(c->peer), c->proxy, sizeof(c->proxy),
				&e);
	if (status != 0) {
		gw_log(GW_LOG_INFO, "id=%s peer=%s: %s", c->req.id, c->req.peer, e.msg);
		return conn_error(c, status, e.msg);
	}
	c->route = route_find(c->l->srv, c->path);
	if (c->route == NULL)
		return conn_error(c, 404, "no such resource");
	/* RFC 9112 section 6.3: an ambiguous length is refused and the connection closed,
	 * since what follows on it cannot be told from this request's body. */
	gw_framing_init(&f);
	MHD_get_connection_values(c->mhd, MHD_HEADER_KIND, framing_cb, &f);
	why = gw_framing_verdict(&f, strcmp(version, MHD_HTTP_VERSION_1_0) == 0);
	if (why != NULL) {
		gw_log(GW_LOG_INFO, "id=%s peer=%s: %s", c->req.id, c->req.peer, why);
		c->close = true;
		return conn_error(c, 400, why);
	}
	if (f.n_length == 1 && f.length > c->l->srv->max_body) {
		c->too_big = true;
		return conn_too_big(c);
	}
	return MHD_YES;
}

static enum MHD_Result
conn_upload(struct gw_conn *c, const char *data, size_t len)
{
	size_t max = c->l->srv->max_body, cap;
	unsigned char *nb;

	if (c->too_big || len > max - c->body_len) {
		/* Past the cap.  libmicrohttpd 0.9.75 cannot answer in the middle of an upload
		 * (MHD_queue_response() fails), so the rest is read and dropped and the 413
		 * goes out at the last call; a client that sends more than DISCARD_MAX beyond
		 * the cap loses the connection instead. */
		if (!c->too_big && c->body != NULL)
			be_memzero(c->body, c->body_cap);
		c->too_big = true;
		c->body_len = 0;
		c->discarded += len;
		return c->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
	}
	if (c->body_len + len > c->body_cap) {
		cap = c->body_cap > 0 ? c->body_cap : 4096;
		while (cap < c->body_len + len)
			cap = cap > max / 2 ? max : cap * 2;
		nb = malloc(cap);
		if (nb == NULL)
			return MHD_NO;
		if (c->body != NULL) {
			memcpy(nb, c->body, c->body_len);
			be_memzero(c->body, c->body_cap);
			free(c->body);
		}
		c->body = nb;
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, data, len);
	c->body_len += len;
	return MHD_YES;
}

/* True when the response already carries header name. */
static bool
resp_has_header(const struct gw_response *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return true;
	return false;
}

/* A crypto library that fails (be_crypto_check) fails everything a front end does with it
 * (hashing an API key, verifying a CSR, signing) in ways that would read as the client's
 * fault or as a 500: every route but /metrics answers 503 naming the failure, in the
 * route's error format (plain text for EST and /healthz), and the key pool stops. */
static enum MHD_Result
conn_crypto_refusal(struct gw_conn *c, const struct be_err *e)
{
	gw_log(GW_LOG_ERROR, "id=%s: %s", c->req.id, e->msg);
	if (be_crypto_failed() && c->req.cfg->be != NULL)
		be_keypool_halt(c->req.cfg->be->keypool);
	if (conn_refusal(c, 503, e->msg) != 0)
		return MHD_NO;
	if (!resp_has_header(&c->resp, "Retry-After") &&
	    gw_response_header(&c->resp, "Retry-After", "30") != 0)
		return MHD_NO;
	return conn_queue(c);
}

static enum MHD_Result
conn_last(struct gw_conn *c)
{
	struct be_err e = { 0, "" };
	int rc;

	if (c->too_big)
		return conn_too_big(c);
	if (c->route->handle != gw_metrics_handle && be_crypto_check(&e) != BE_OK)
		return conn_crypto_refusal(c, &e);
	if (c->body != NULL)
		c->req.body = c->body;
	c->req.body_len = c->body_len;
	/* One deadline for all the request's waits on the store (limits.store_wait). */
	be_store_deadline_begin(c->req.cfg->be != NULL ? c->req.cfg->be->store : NULL);
	rc = c->route->handle(&c->req, &c->resp);
	be_store_deadline_end();
	if (rc < 0) {
		gw_log(GW_LOG_ERROR, "id=%s: handler for %s failed: %s", c->req.id,
		       c->route->prefix, be_err_name(rc));
		return conn_error(c, 500, "internal error");
	}
	return conn_queue(c);
}

static enum MHD_Result
on_access(void *cls, struct MHD_Connection *mhd, const char *url, const char *method,
	  const char *version, const char *upload_data, size_t *upload_data_size,
	  void **con_cls)
{
	struct gw_conn *c = *con_cls;

	if (c == NULL)
		return MHD_NO;		/* on_uri() ran out of memory */
	if (!c->started) {
		if (conn_start(c, url, method) != 0)
			return MHD_NO;
		return conn_first(c, url, version);
	}
	if (c->queued) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		return conn_upload(c, upload_data, n);
	}
	return conn_last(c);
}

static void
on_completed(void *cls, struct MHD_Connection *mhd, void **con_cls,
	     enum MHD_RequestTerminationCode toe)
{
	struct gw_server *srv = cls;
	struct gw_conn *c = *con_cls;

	if (c == NULL)
		return;
	*con_cls = NULL;
	if (!c->started) {		/* libmicrohttpd refused the request itself */
		conn_free(c);
		return;
	}
	log_access(c, toe);
	conn_free(c);		/* drops its generation: may free an old configuration */
	pthread_mutex_lock(&srv->lock);
	srv->active--;
	pthread_mutex_unlock(&srv->lock);
}

/* Called once per request before libmicrohttpd splits off the query or unescapes anything
 * (its documented place to create per-request state, freed in on_completed). */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *mhd)
{
	struct gw_conn *c;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &c->start);
	c->l = cls;
	c->mhd = mhd;
	c->raw_target = (uintptr_t)uri;
	c->raw_target_len = strlen(uri);
	return c;
}

/* Leaves the path exactly as sent: adapters see "%2e%2e", not "..". */
static size_t
unescape_none(void *cls, struct MHD_Connection *mhd, char *s)
{
	return strlen(s);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
		msg[--len] = '\0';
	gw_log(GW_LOG_WARNING, "libmicrohttpd: %s", msg);
}

/* ---------------------------------------------------------------- requests (gw.h) */

const char *
gw_request_header(const struct gw_request *r, const char *name)
{
	const struct gw_conn *c = r->impl;

	if (c == NULL || name == NULL)
		return NULL;
	return MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND, name);
}

bool
gw_request_media_is(const struct gw_request *r, const char *type)
{
	const char *ct = gw_request_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n = strlen(type);

	if (ct == NULL)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return strncasecmp(ct, type, n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

struct header_count {
	const char *name;
	size_t n;
};

static enum MHD_Result
header_count_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct header_count *hc = cls;

	if (key != NULL && strcasecmp(key, hc->name) == 0)
		hc->n++;
	return MHD_YES;
}

size_t
gw_request_header_count(const struct gw_request *r, const char *name)
{
	const struct gw_conn *c = r->impl;
	struct header_count hc = { name, 0 };

	if (c == NULL || name == NULL)
		return 0;
	MHD_get_connection_values(c->mhd, MHD_HEADER_KIND, header_count_cb, &hc);
	return hc.n;
}

const char *
gw_request_arg(const struct gw_request *r, const char *name)
{
	const struct gw_conn *c = r->impl;
	size_t i;

	if (c == NULL || name == NULL)
		return NULL;
	for (i = 0; i < c->n_args; i++)
		if (strcmp(c->args[i].name, name) == 0)
			return c->args[i].value;
	return NULL;
}

/* ---------------------------------------------------------------- listeners */

static int
unix_listen(struct gw_listener *l, const char *path, struct be_err *e)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd = -1, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		rc = be_err_set(e, BE_E_CONFIG, "listen %s: path too long", path);
		goto out;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			rc = be_err_set(e, BE_E_CONFIG, "listen %s: exists and is not a socket",
					path);
			goto out;
		}
		if (unlink(path) != 0) {
			rc = be_err_set(e, BE_E_IO, "listen %s: cannot remove the stale socket: %s",
					path, strerror(errno));
			goto out;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (const struct sockaddr *)&sun, sizeof(sun)) != 0) {
		rc = be_err_set(e, BE_E_IO, "listen %s: %s", path, strerror(errno));
		goto out;
	}
	l->unix_path = strdup(path);
	if (l->unix_path == NULL) {
		unlink(path);
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (chmod(path, 0660) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
		rc = be_err_set(e, BE_E_IO, "listen %s: %s", path, strerror(errno));
		goto out;
	}
	l->unix_fd = fd;
	fd = -1;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

#define OPT(o, v, p) do { ops[n].option = (o); ops[n].value = (intptr_t)(v); \
			  ops[n].ptr_value = (p); n++; } while (0)

static int
listener_start(struct gw_server *srv, struct gw_listener *l, const struct gw_listen *cl,
	       struct be_err *e)
{
	const struct gw_config *cfg = srv->cfg;
	struct MHD_OptionItem ops[24];
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	size_t n = 0;
	int rc;

	l->srv = srv;
	l->unix_fd = -1;
	l->tls = cl->tls;
	OPT(MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL);	/* libmicrohttpd wants it first */
	if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
		flags |= MHD_USE_EPOLL;
	if (cl->unix_path != NULL) {
		snprintf(l->name, sizeof(l->name), "unix:%s", cl->unix_path);
		rc = unix_listen(l, cl->unix_path, e);
		if (rc != 0)
			goto out;
		OPT(MHD_OPTION_LISTEN_SOCKET, l->unix_fd, NULL);
	} else {
		if (cl->address == NULL || cl->port == 0 || cl->port > 65535) {
			rc = be_err_set(e, BE_E_CONFIG, "listen: an address and a port 1..65535 "
					"are needed");
			goto out;
		}
		memset(&sin, 0, sizeof(sin));
		memset(&sin6, 0, sizeof(sin6));
		if (inet_pton(AF_INET, cl->address, &sin.sin_addr) == 1) {
			snprintf(l->name, sizeof(l->name), "%s:%u", cl->address, cl->port);
			sin.sin_family = AF_INET;
			sin.sin_port = htons((uint16_t)cl->port);
			OPT(MHD_OPTION_SOCK_ADDR, 0, &sin);
		} else if (inet_pton(AF_INET6, cl->address, &sin6.sin6_addr) == 1) {
			snprintf(l->name, sizeof(l->name), "[%s]:%u", cl->address, cl->port);
			sin6.sin6_family = AF_INET6;
			sin6.sin6_port = htons((uint16_t)cl->port);
			flags |= MHD_USE_IPv6;
			OPT(MHD_OPTION_SOCK_ADDR, 0, &sin6);
		} else {
			rc = be_err_set(e, BE_E_CONFIG, "listen %s: not an IPv4 or IPv6 address",
					cl->address);
			goto out;
		}
		if (cfg->per_ip_connections > 0)
			OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->per_ip_connections, NULL);
	}
	if (cl->tls) {
		flags |= MHD_USE_TLS;
		OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, srv->cert_pem);
		OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, srv->key_pem);
		OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, srv->priorities);
		if (srv->ca_pem != NULL)
			OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, srv->ca_pem);
	}
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    cfg->conn_memory > 0 ? cfg->conn_memory : DEFAULT_CONN_MEMORY, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT,
	    cfg->conn_timeout > 0 ? cfg->conn_timeout : DEFAULT_CONN_TIMEOUT, NULL);
	OPT(MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT, NULL);
	OPT(MHD_OPTION_LISTEN_BACKLOG_SIZE, LISTEN_BACKLOG, NULL);
	if (cfg->threads == 0)		/* "per-connection": poll(), as epoll is per daemon */
		flags = (flags & ~(unsigned)MHD_USE_EPOLL) | MHD_USE_THREAD_PER_CONNECTION |
			MHD_USE_POLL;
	else if (cfg->threads > 1)
		OPT(MHD_OPTION_THREAD_POOL_SIZE, cfg->threads, NULL);
	OPT(MHD_OPTION_URI_LOG_CALLBACK, on_uri, l);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv);
	OPT(MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL);
	OPT(MHD_OPTION_END, 0, NULL);

	l->daemon = MHD_start_daemon(flags, (uint16_t)cl->port, NULL, NULL, on_access, l,
				     MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
	/* libmicrohttpd owns a MHD_OPTION_LISTEN_SOCKET from here on: 0.9.75 closes it
	 * itself when the start fails. */
	l->unix_fd = -1;
	if (l->daemon == NULL) {
		rc = be_err_set(e, BE_E_IO, "listen %s%s: libmicrohttpd could not start the "
				"listener (address in use, or bad TLS certificate, key or "
				"priorities)", l->name, cl->tls ? " (TLS)" : "");
		goto out;
	}
	rc = 0;
out:
	return rc;
}

#undef OPT

static void
listener_stop(struct gw_listener *l, MHD_socket quiesced)
{
	if (l->daemon != NULL)
		MHD_stop_daemon(l->daemon);
	l->daemon = NULL;
	if (quiesced != MHD_INVALID_SOCKET)
		close(quiesced);
	if (l->unix_fd >= 0)
		close(l->unix_fd);
	l->unix_fd = -1;
	if (l->unix_path != NULL)
		unlink(l->unix_path);
	free(l->unix_path);
	l->unix_path = NULL;
}

/* ---------------------------------------------------------------- server */

static void
server_free(struct gw_server *srv)
{
	size_t i;

	if (srv == NULL)
		return;
	for (i = 0; i < srv->n_ls; i++)
		listener_stop(&srv->ls[i], MHD_INVALID_SOCKET);
	free(srv->ls);
	for (i = 0; i < srv->n_routes; i++)
		free((char *)(uintptr_t)srv->routes[i].prefix);
	free(srv->routes);
	free(srv->cert_pem);
	if (srv->key_pem != NULL)
		be_memzero(srv->key_pem, srv->key_pem_len);
	free(srv->key_pem);
	free(srv->ca_pem);
	free(srv->priorities);
	free(srv->fixed);
	/* Every request has completed (the listeners are stopped): the server's reference is
	 * the last one on the current generation. */
	gen_release(srv, srv->gen);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}

/* The settings only a restart applies (listeners, TLS, limits), serialised for comparison;
 * NULL when cfg was not read from a file. */
static char *
fixed_settings(const struct gw_config *cfg)
{
	json_t *j;
	char *s;

	if (cfg->root == NULL)
		return NULL;
	j = json_pack("{s:O?, s:O?, s:O?}", "listen", json_object_get(cfg->root, "listen"),
		      "tls", json_object_get(cfg->root, "tls"),
		      "limits", json_object_get(cfg->root, "limits"));
	if (j == NULL)
		return NULL;
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

static int
server_tls_setup(struct gw_server *srv, struct be_err *e)
{
	const struct gw_config *cfg = srv->cfg;
	const char *base;
	size_t len;
	int rc;

	rc = read_pem("TLS certificate", cfg->tls_cert_file, &srv->cert_pem, NULL, e);
	if (rc != 0)
		goto out;
	rc = read_pem("TLS key", cfg->tls_key_file, &srv->key_pem, &srv->key_pem_len, e);
	if (rc != 0)
		goto out;
	base = cfg->tls_priorities != NULL ? cfg->tls_priorities : DEFAULT_PRIORITIES;
	len = strlen(base) + strlen(RFC8996_SUFFIX) + 1;
	srv->priorities = malloc(len);
	if (srv->priorities == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	snprintf(srv->priorities, len, "%s%s", base, RFC8996_SUFFIX);
	rc = 0;
out:
	return rc;
}

int
gw_server_start(const struct gw_config *cfg, const struct gw_route *routes, size_t n_routes,
		struct gw_server **out, struct be_err *e)
{
	struct gw_server *srv = NULL;
	bool any_tls = false;
	size_t i;
	int rc;

	*out = NULL;
	if (cfg == NULL || cfg->n_listen == 0) {
		rc = be_err_set(e, BE_E_CONFIG, "listen: no listener configured");
		goto out;
	}
	if (cfg->max_body == 0) {
		rc = be_err_set(e, BE_E_CONFIG, "the request body limit must be positive");
		goto out;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	pthread_mutex_init(&srv->lock, NULL);
	srv->cfg = cfg;
	srv->max_body = cfg->max_body;
	srv->fixed = fixed_settings(cfg);
	/* Borrowed until gw_server_adopt_config() hands it over. */
	rc = gen_new((struct gw_config *)(uintptr_t)cfg, false, &srv->gen, e);
	if (rc != 0)
		goto out;
	if (n_routes > 0) {
		srv->routes = calloc(n_routes, sizeof(*srv->routes));
		if (srv->routes == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
	}
	for (i = 0; i < n_routes; i++) {
		if (routes[i].prefix == NULL || routes[i].prefix[0] != '/' ||
		    routes[i].handle == NULL) {
			rc = be_err_set(e, BE_E_INTERNAL, "route %zu: bad prefix or handler", i);
			goto out;
		}
		srv->routes[i].prefix = strdup(routes[i].prefix);
		if (srv->routes[i].prefix == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		srv->routes[i].handle = routes[i].handle;
		srv->routes[i].error = routes[i].error;
		srv->n_routes++;
	}
	for (i = 0; i < cfg->n_listen; i++)
		if (cfg->listen[i].tls)
			any_tls = true;
	if (any_tls) {
		rc = server_tls_setup(srv, e);
		if (rc != 0)
			goto out;
	}
	if (cfg->tls_client_ca_file != NULL && any_tls) {
		rc = read_pem("TLS client CA", cfg->tls_client_ca_file, &srv->ca_pem, NULL, e);
		if (rc != 0)
			goto out;
	}
	srv->ls = calloc(cfg->n_listen, sizeof(*srv->ls));
	if (srv->ls == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < cfg->n_listen; i++) {
		srv->n_ls++;
		rc = listener_start(srv, &srv->ls[i], &cfg->listen[i], e);
		if (rc != 0)
			goto out;
	}
	*out = srv;
	srv = NULL;
	rc = 0;
out:
	server_free(srv);
	return rc;
}

void
gw_server_adopt_config(struct gw_server *srv)
{
	pthread_mutex_lock(&srv->lock);
	srv->gen->owned = true;
	pthread_mutex_unlock(&srv->lock);
	srv->cfg = NULL;	/* may be freed by a reload from now on */
}

struct gw_config *
gw_server_config(struct gw_server *srv)
{
	struct gw_config *cfg;

	pthread_mutex_lock(&srv->lock);
	cfg = srv->gen->cfg;
	pthread_mutex_unlock(&srv->lock);
	return cfg;
}

int
gw_server_reload(struct gw_server *srv, struct gw_config *cfg, struct be_err *e)
{
	struct gw_gen *g = NULL, *old;
	char *fixed = NULL;
	int rc;

	rc = gen_new(cfg, true, &g, e);
	if (rc != 0) {
		gw_config_free(cfg);
		goto out;
	}
	fixed = fixed_settings(cfg);
	if ((fixed == NULL) != (srv->fixed == NULL) ||
	    (fixed != NULL && strcmp(fixed, srv->fixed) != 0))
		gw_log(GW_LOG_WARNING, "reload: listen, tls or limits changed; those take effect "
		       "only at a restart (client certificates are verified with the new "
		       "tls.client_ca at once)");
	pthread_mutex_lock(&srv->lock);
	old = srv->gen;
	/* The store outlives every configuration that uses it: the newest owns it, and the
	 * older ones, still serving requests in flight, borrow it until they are freed. */
	if (cfg->store_borrowed && cfg->be != NULL && old->cfg->be != NULL &&
	    cfg->be->store == old->cfg->be->store && old->owned && !old->cfg->store_borrowed) {
		old->cfg->store_borrowed = true;
		cfg->store_borrowed = false;
	}
	srv->gen = g;
	pthread_mutex_unlock(&srv->lock);
	gen_release(srv, old);
	rc = 0;
out:
	free(fixed);
	return rc;
}

void
gw_server_stop(struct gw_server *srv)
{
	MHD_socket *fds = NULL;
	struct timespec nap = { 0, 10 * 1000 * 1000 };
	unsigned long active;
	size_t i;
	int waited;

	if (srv == NULL)
		return;
	fds = calloc(srv->n_ls > 0 ? srv->n_ls : 1, sizeof(*fds));
	for (i = 0; i < srv->n_ls; i++) {
		MHD_socket s = MHD_INVALID_SOCKET;

		if (srv->ls[i].daemon != NULL)
			s = MHD_quiesce_daemon(srv->ls[i].daemon);
		if (fds != NULL)
			fds[i] = s;
	}
	/* Requests in flight finish; idle keep-alive connections are closed by the stop. */
	for (waited = 0; waited < STOP_GRACE_MS; waited += 10) {
		pthread_mutex_lock(&srv->lock);
		active = srv->active;
		pthread_mutex_unlock(&srv->lock);
		if (active == 0)
			break;
		nanosleep(&nap, NULL);
	}
	for (i = 0; i < srv->n_ls; i++)
		listener_stop(&srv->ls[i], fds != NULL ? fds[i] : MHD_INVALID_SOCKET);
	free(fds);
	server_free(srv);
}
