/*
 * bench-load: a small HTTP/1.1 load generator for certgate's benchmark (tests/bench/run.sh).
 *
 * N connections, one thread each, send pre-made requests to a daemon on the loopback
 * interface (127.0.0.1 or ::1 only), over plain HTTP or HTTPS (GnuTLS, the server verified
 * against --cacert), with keep-alive (or a new connection per request, as Python's
 * requests.request does).  The run stops after --count requests or --time seconds.  Every
 * response is read whole; a status other than --expect, or a body holding --reject text
 * (se.SAM answers refusals with 200 and "ST_FF"), counts as a failure.  Latency is measured
 * per request from the first byte sent to the last byte received.
 *
 * By default every connection sends its next request as soon as the last answer arrived (a
 * closed loop: the daemon runs flat out, and by Little's law latency is connections /
 * throughput).  With --rate R the connections together send R requests per second on a
 * fixed schedule (an open loop) and latency counts from the scheduled moment, so a request
 * that had to wait for an earlier one is charged for the wait (no coordinated omission).
 *
 * Output: one line of name=value pairs on stdout:
 *   name=... ok=N fail=N secs=S rate=R p50_ms=... p90_ms=... p99_ms=... max_ms=...
 *   conns=N cpu_s=C
 * (cpu_s is this process's own CPU time, which the daemon did not get on a shared machine).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#define MAX_HEADERS	16
#define MAX_CONNS	1024
#define RESP_MAX	(8u << 20)	/* largest response accepted */
#define HEAD_MAX	(64u * 1024u)

struct body {
	unsigned char *data;
	size_t len;
};

struct opts {
	const char *name;
	bool tls;
	char host[72];		/* for Host: and the certificate check */
	char addr[64];		/* numeric address to connect to */
	char port[8];
	char path[1024];
	const char *method;
	const char *headers[MAX_HEADERS];
	size_t n_headers;
	struct body *bodies;
	size_t n_bodies;
	unsigned conns;
	unsigned long count;
	double seconds;
	unsigned long warmup;
	bool new_conn;
	const char *cacert;
	unsigned expect;
	const char *reject;
	double rate;		/* requests per second over all connections; 0: closed loop */
};

static struct opts o;
static gnutls_certificate_credentials_t xcred;
static atomic_ulong next_req;
static atomic_bool stop_now;
static double t_deadline;
static unsigned long phase_count;	/* requests in this phase */
static bool phase_measured;
static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;
static bool err_shown;

struct worker {
	pthread_t th;
	unsigned idx;
	uint32_t *lat_us;	/* measured latencies */
	size_t n_lat, cap_lat;
	unsigned long ok, fail;
	/* connection */
	int fd;
	gnutls_session_t ses;
	/* response buffer */
	unsigned char *buf;
	size_t cap, len;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench-load: %s\n", what);
	exit(2);
}

/* Shows the first failure only, so that a broken scenario says why once. */
static void
show_failure(unsigned status, const unsigned char *body, size_t len, const char *why)
{
	pthread_mutex_lock(&err_mu);
	if (!err_shown) {
		err_shown = true;
		fprintf(stderr, "bench-load %s: first failure: %s (status %u): %.*s\n",
			o.name != NULL ? o.name : "", why, status, (int)(len > 300 ? 300 : len),
			body != NULL ? (const char *)body : "");
	}
	pthread_mutex_unlock(&err_mu);
}

/* ---------------------------------------------------------------- options */

static int
read_file(const char *path, struct body *b)
{
	FILE *f = fopen(path, "rb");
	struct stat sb;
	int rc = -1;

	b->data = NULL;
	b->len = 0;
	if (f == NULL || fstat(fileno(f), &sb) != 0 || sb.st_size < 0 || sb.st_size > (16 << 20))
		goto out;
	b->len = (size_t)sb.st_size;
	if ((b->data = malloc(b->len + 1)) == NULL)
		goto out;
	if (b->len > 0 && fread(b->data, 1, b->len, f) != b->len)
		goto out;
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	return rc;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file in dir, in name order, is one request body. */
static void
read_body_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL, path[2048];
	size_t n = 0, cap = 0, i;

	if (d == NULL)
		die("--body-dir: cannot open the directory");
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((names = realloc(names, cap * sizeof(*names))) == NULL)
				die("out of memory");
		}
		if ((names[n++] = strdup(de->d_name)) == NULL)
			die("out of memory");
	}
	closedir(d);
	if (n == 0)
		die("--body-dir: no files");
	qsort(names, n, sizeof(*names), name_cmp);
	if ((o.bodies = calloc(n, sizeof(*o.bodies))) == NULL)
		die("out of memory");
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (read_file(path, &o.bodies[i]) != 0)
			die("--body-dir: cannot read a file");
		free(names[i]);
	}
	free(names);
	o.n_bodies = n;
}

/* http[s]://HOST[:PORT]/path with HOST 127.0.0.1, localhost or [::1]. */
static void
parse_url(const char *url)
{
	const char *p, *slash, *colon;
	size_t hl;

	if (strncmp(url, "https://", 8) == 0) {
		o.tls = true;
		p = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		p = url + 7;
	} else {
		die("--url must start with http:// or https://");
	}
	slash = strchr(p, '/');
	if (slash == NULL)
		slash = p + strlen(p);
	if (*p == '[') {
		colon = strchr(p, ']');
		if (colon == NULL || colon > slash)
			die("--url: bad IPv6 literal");
		hl = (size_t)(colon - p - 1);
		colon = colon[1] == ':' ? colon + 1 : NULL;
		if (hl >= sizeof(o.addr))
			die("--url: host too long");
		memcpy(o.addr, p + 1, hl);
		o.addr[hl] = '\0';
		snprintf(o.host, sizeof(o.host), "[%s]", o.addr);
	} else {
		colon = memchr(p, ':', (size_t)(slash - p));
		hl = (size_t)((colon != NULL ? colon : slash) - p);
		if (hl >= sizeof(o.addr))
			die("--url: host too long");
		memcpy(o.host, p, hl);
		o.host[hl] = '\0';
		memcpy(o.addr, strcmp(o.host, "localhost") == 0 ? "127.0.0.1" : o.host,
		       strcmp(o.host, "localhost") == 0 ? 10 : hl + 1);
	}
	if (strcmp(o.addr, "127.0.0.1") != 0 && strcmp(o.addr, "::1") != 0)
		die("--url: the benchmark drives the loopback interface only (127.0.0.1, ::1)");
	if (colon != NULL) {
		hl = (size_t)(slash - colon - 1);
		if (hl == 0 || hl >= sizeof(o.port))
			die("--url: bad port");
		memcpy(o.port, colon + 1, hl);
		o.port[hl] = '\0';
	} else {
		snprintf(o.port, sizeof(o.port), "%s", o.tls ? "443" : "80");
	}
	snprintf(o.path, sizeof(o.path), "%s", *slash ? slash : "/");
}

static unsigned long
num(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		die(what);
	return v;
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: bench-load --url URL [--name NAME] [--method M] [-H 'Name: value']...\n"
		"                  [--body FILE | --body-dir DIR] [--conns N] [--count N]\n"
		"                  [--time SECONDS] [--warmup N] [--new-conn] [--cacert FILE]\n"
		"                  [--expect STATUS] [--reject TEXT] [--rate PER_SECOND]\n");
	exit(2);
}

static void
parse_args(int argc, char **argv)
{
	static struct body one;
	int i;

	o.conns = 1;
	o.count = 100;
	o.seconds = 60;
	o.expect = 200;
	o.name = "run";
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--new-conn") == 0) {
			o.new_conn = true;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "--url") == 0) {
			parse_url(v);
		} else if (strcmp(a, "--name") == 0) {
			o.name = v;
		} else if (strcmp(a, "--method") == 0) {
			o.method = v;
		} else if (strcmp(a, "-H") == 0) {
			if (o.n_headers == MAX_HEADERS)
				die("too many -H");
			o.headers[o.n_headers++] = v;
		} else if (strcmp(a, "--body") == 0) {
			if (read_file(v, &one) != 0)
				die("--body: cannot read the file");
			o.bodies = &one;
			o.n_bodies = 1;
		} else if (strcmp(a, "--body-dir") == 0) {
			read_body_dir(v);
		} else if (strcmp(a, "--conns") == 0) {
			o.conns = (unsigned)num(v, "--conns: a number");
		} else if (strcmp(a, "--count") == 0) {
			o.count = num(v, "--count: a number");
		} else if (strcmp(a, "--time") == 0) {
			o.seconds = (double)num(v, "--time: whole seconds");
		} else if (strcmp(a, "--warmup") == 0) {
			o.warmup = num(v, "--warmup: a number");
		} else if (strcmp(a, "--cacert") == 0) {
			o.cacert = v;
		} else if (strcmp(a, "--expect") == 0) {
			o.expect = (unsigned)num(v, "--expect: a status code");
		} else if (strcmp(a, "--reject") == 0) {
			o.reject = v;
		} else if (strcmp(a, "--rate") == 0) {
			o.rate = (double)num(v, "--rate: requests per second");
		} else {
			usage();
		}
	}
	if (o.port[0] == '\0')
		usage();
	if (o.conns == 0 || o.conns > MAX_CONNS)
		die("--conns: 1 to 1024");
	if (o.method == NULL)
		o.method = o.n_bodies > 0 ? "POST" : "GET";
}

/* ---------------------------------------------------------------- connections */

static void
conn_close(struct worker *w)
{
	if (w->ses != NULL) {
		gnutls_bye(w->ses, GNUTLS_SHUT_WR);
		gnutls_deinit(w->ses);
		w->ses = NULL;
	}
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
	w->len = 0;
}

static int
conn_open(struct worker *w)
{
	struct addrinfo hints, *res = NULL;
	int one = 1, r, rc = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(o.addr, o.port, &hints, &res) != 0)
		goto out;
	w->fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (w->fd < 0)
		goto out;
	setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(w->fd, res->ai_addr, res->ai_addrlen) != 0)
		goto out;
	if (o.tls) {
		if (gnutls_init(&w->ses, GNUTLS_CLIENT) < 0 ||
		    gnutls_set_default_priority(w->ses) < 0 ||
		    gnutls_credentials_set(w->ses, GNUTLS_CRD_CERTIFICATE, xcred) < 0)
			goto out;
		/* The demo's server certificate names localhost, 127.0.0.1 and ::1. */
		if (strcmp(o.host, "localhost") == 0)
			gnutls_server_name_set(w->ses, GNUTLS_NAME_DNS, "localhost", 9);
		gnutls_session_set_verify_cert(w->ses, strcmp(o.host, "localhost") == 0 ?
					       "localhost" : o.addr, 0);
		gnutls_transport_set_int(w->ses, w->fd);
		gnutls_handshake_set_timeout(w->ses, GNUTLS_DEFAULT_HANDSHAKE_TIMEOUT);
		do {
			r = gnutls_handshake(w->ses);
		} while (r < 0 && gnutls_error_is_fatal(r) == 0);
		if (r < 0) {
			show_failure(0, (const unsigned char *)gnutls_strerror(r),
				     strlen(gnutls_strerror(r)), "TLS handshake");
			goto out;
		}
	}
	rc = 0;
out:
	if (res != NULL)
		freeaddrinfo(res);
	if (rc != 0)
		conn_close(w);
	return rc;
}

static int
send_all(struct worker *w, const unsigned char *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		if (w->ses != NULL)
			k = gnutls_record_send(w->ses, p, n);
		else
			k = send(w->fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED ||
			      (w->ses == NULL && errno == EINTR)))
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Reads more bytes into the response buffer; 0 on EOF, -1 on error. */
static ssize_t
fill(struct worker *w)
{
	ssize_t k;

	if (w->len == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16384;
		unsigned char *nb;

		if (cap > RESP_MAX || (nb = realloc(w->buf, cap + 1)) == NULL)
			return -1;
		w->buf = nb;
		w->cap = cap;
	}
	do {
		if (w->ses != NULL)
			k = gnutls_record_recv(w->ses, w->buf + w->len, w->cap - w->len);
		else
			k = recv(w->fd, w->buf + w->len, w->cap - w->len, 0);
	} while ((w->ses != NULL && (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED)) ||
		 (w->ses == NULL && k < 0 && errno == EINTR));
	if (k < 0)
		return w->ses != NULL && k == GNUTLS_E_PREMATURE_TERMINATION ? 0 : -1;
	w->len += (size_t)k;
	return k;
}

static const char *
find_header(const char *head, size_t hlen, const char *name, size_t *vlen)
{
	const char *p = head, *end = head + hlen, *eol, *v;
	size_t nl = strlen(name);

	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			v = p + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*vlen = (size_t)(eol - v);
			while (*vlen > 0 && (v[*vlen - 1] == '\r' || v[*vlen - 1] == ' '))
				(*vlen)--;
			return v;
		}
		p = eol + 1;
	}
	return NULL;
}

/*
 * Reads one response.  *status, and the body at w->buf + *body_off of *body_len octets
 * (chunked bodies are decoded in place).  *close when the server ends the connection.
 * Returns 0 or -1.
 */
static int
read_response(struct worker *w, unsigned *status, size_t *body_off, size_t *body_len,
	      bool *close_after)
{
	char *hend = NULL;
	size_t hlen, vlen, need;
	const char *v;
	ssize_t k;

	w->len = 0;
	for (;;) {
		if (w->len > 0) {
			w->buf[w->len] = '\0';
			hend = strstr((char *)w->buf, "\r\n\r\n");
			if (hend != NULL)
				break;
		}
		if (w->len > HEAD_MAX || (k = fill(w)) <= 0)
			return -1;
	}
	hlen = (size_t)(hend - (char *)w->buf) + 4;
	if (w->len < 12 || strncmp((char *)w->buf, "HTTP/1.", 7) != 0)
		return -1;
	*status = (unsigned)strtoul((char *)w->buf + 9, NULL, 10);
	*close_after = false;
	if ((v = find_header((char *)w->buf, hlen, "Connection", &vlen)) != NULL &&
	    vlen == 5 && strncasecmp(v, "close", 5) == 0)
		*close_after = true;
	*body_off = hlen;
	if ((v = find_header((char *)w->buf, hlen, "Content-Length", &vlen)) != NULL) {
		need = (size_t)strtoull(v, NULL, 10);
		if (need > RESP_MAX)
			return -1;
		while (w->len - hlen < need)
			if (fill(w) <= 0)
				return -1;
		*body_len = need;
		return 0;
	}
	if ((v = find_header((char *)w->buf, hlen, "Transfer-Encoding", &vlen)) != NULL &&
	    vlen >= 7 && strncasecmp(v + vlen - 7, "chunked", 7) == 0) {
		size_t in = hlen, out = hlen, csz;
		char *eol;

		for (;;) {
			for (;;) {
				w->buf[w->len] = '\0';
				eol = strstr((char *)w->buf + in, "\r\n");
				if (eol != NULL)
					break;
				if (fill(w) <= 0)
					return -1;
			}
			csz = (size_t)strtoul((char *)w->buf + in, NULL, 16);
			in = (size_t)(eol - (char *)w->buf) + 2;
			if (csz > RESP_MAX)
				return -1;
			while (w->len < in + csz + 2)
				if (fill(w) <= 0)
					return -1;
			if (csz == 0)
				break;
			memmove(w->buf + out, w->buf + in, csz);
			out += csz;
			in += csz + 2;
		}
		*body_len = out - hlen;
		return 0;
	}
	/* No length: the body runs to the end of the connection. */
	while ((k = fill(w)) > 0)
		;
	if (k < 0)
		return -1;
	*body_len = w->len - hlen;
	*close_after = true;
	return 0;
}

/* ---------------------------------------------------------------- the run */

static unsigned char *
build_request(const struct body *b, size_t *len)
{
	size_t cap = 2048 + (b != NULL ? b->len : 0), n = 0, i;
	unsigned char *req = malloc(cap);
	int w;

	if (req == NULL)
		die("out of memory");
	w = snprintf((char *)req, cap, "%s %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: "
		     "certgate-bench-load\r\n%s", o.method, o.path, o.host, o.port,
		     o.new_conn ? "Connection: close\r\n" : "");
	n = (size_t)w;
	for (i = 0; i < o.n_headers; i++) {
		w = snprintf((char *)req + n, cap - n, "%s\r\n", o.headers[i]);
		if (w < 0 || (size_t)w >= cap - n)
			die("headers too long");
		n += (size_t)w;
	}
	if (b != NULL) {
		w = snprintf((char *)req + n, cap - n, "Content-Length: %zu\r\n", b->len);
		n += (size_t)w;
	}
	memcpy(req + n, "\r\n", 2);
	n += 2;
	if (b != NULL) {
		memcpy(req + n, b->data, b->len);
		n += b->len;
	}
	*len = n;
	return req;
}

static unsigned char **reqs;
static size_t *req_lens;

static double phase_t0;	/* start of the phase (the schedule's origin) */

/* Sleeps until the absolute monotonic time t (seconds). */
static void
sleep_until(double t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void
record(struct worker *w, double t0, bool measured)
{
	double us = (now_s() - t0) * 1e6;

	if (!measured)
		return;
	if (w->n_lat == w->cap_lat) {
		size_t cap = w->cap_lat ? w->cap_lat * 2 : 1024;
		uint32_t *nl = realloc(w->lat_us, cap * sizeof(*nl));

		if (nl == NULL)
			return;
		w->lat_us = nl;
		w->cap_lat = cap;
	}
	w->lat_us[w->n_lat++] = us > 4e9 ? UINT32_MAX : (uint32_t)us;
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	unsigned long i;
	unsigned status;
	size_t off, blen, r;
	bool close_after, measured, good;
	double t0;

	unsigned long k = 0;

	/* Connections stay open from the warm-up into the measured run: their handshakes are
	 * not measured (except with --new-conn). */
	for (;; k++) {
		if (atomic_load(&stop_now))
			break;
		i = atomic_fetch_add(&next_req, 1);
		if (i >= phase_count)
			break;
		measured = phase_measured;
		if (now_s() > t_deadline) {
			atomic_store(&stop_now, true);
			break;
		}
		r = o.n_bodies > 0 ? i % o.n_bodies : 0;
		if (o.rate > 0 && phase_measured) {
			/* This connection's k-th slot of the fixed schedule. */
			t0 = phase_t0 + ((double)w->idx + (double)k * o.conns) / o.rate;
			if (t0 > t_deadline)
				break;
			if (now_s() < t0)
				sleep_until(t0);
		} else {
			t0 = now_s();
		}
		if (w->fd < 0 && conn_open(w) != 0) {
			w->fail += measured;
			show_failure(0, NULL, 0, "cannot connect");
			usleep(10000);
			continue;
		}
		if (send_all(w, reqs[r], req_lens[r]) != 0 ||
		    read_response(w, &status, &off, &blen, &close_after) != 0) {
			/* A keep-alive connection the server closed: once more, fresh. */
			conn_close(w);
			if (conn_open(w) != 0 || send_all(w, reqs[r], req_lens[r]) != 0 ||
			    read_response(w, &status, &off, &blen, &close_after) != 0) {
				conn_close(w);
				w->fail += measured;
				show_failure(0, NULL, 0, "connection failed");
				continue;
			}
		}
		good = status == o.expect;
		if (good && o.reject != NULL) {
			w->buf[off + blen] = '\0';
			good = strstr((char *)w->buf + off, o.reject) == NULL;
		}
		record(w, t0, measured);
		if (good) {
			w->ok += measured;
		} else {
			w->fail += measured;
			show_failure(status, w->buf + off, blen, "unexpected response");
		}
		if (close_after || o.new_conn)
			conn_close(w);
	}
	return NULL;
}

/* Runs count requests (or until --time) over o.conns connections; returns the seconds. */
static double
run_phase(struct worker *ws, unsigned long count, bool measured)
{
	double t0 = now_s();
	unsigned i;

	atomic_store(&next_req, 0);
	atomic_store(&stop_now, false);
	phase_count = count;
	phase_measured = measured;
	phase_t0 = t0 + 0.05;	/* every thread up before the first slot */
	t_deadline = t0 + o.seconds;
	for (i = 0; i < o.conns; i++) {
		ws[i].idx = i;
		if (pthread_create(&ws[i].th, NULL, worker_run, &ws[i]) != 0)
			die("cannot start a thread");
	}
	for (i = 0; i < o.conns; i++)
		pthread_join(ws[i].th, NULL);
	return now_s() - t0;
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const uint32_t *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}

int
main(int argc, char **argv)
{
	struct worker *ws;
	struct rusage ru;
	uint32_t *all = NULL;
	unsigned long ok = 0, fail = 0;
	size_t n = 0, k, nreq;
	unsigned i;
	double secs, cpu;

	parse_args(argc, argv);
	if (gnutls_global_init() < 0)
		die("GnuTLS initialisation failed");
	if (o.tls) {
		if (gnutls_certificate_allocate_credentials(&xcred) < 0)
			die("out of memory");
		if (o.cacert == NULL || gnutls_certificate_set_x509_trust_file(
					       xcred, o.cacert, GNUTLS_X509_FMT_PEM) <= 0)
			die("--cacert: a PEM CA file is needed for https");
	}
	nreq = o.n_bodies > 0 ? o.n_bodies : 1;
	if ((reqs = calloc(nreq, sizeof(*reqs))) == NULL ||
	    (req_lens = calloc(nreq, sizeof(*req_lens))) == NULL ||
	    (ws = calloc(o.conns, sizeof(*ws))) == NULL)
		die("out of memory");
	for (k = 0; k < nreq; k++)
		reqs[k] = build_request(o.n_bodies > 0 ? &o.bodies[k] : NULL, &req_lens[k]);
	for (i = 0; i < o.conns; i++)
		ws[i].fd = -1;

	if (o.warmup > 0)
		run_phase(ws, o.warmup, false);
	secs = run_phase(ws, o.count, true);
	for (i = 0; i < o.conns; i++) {
		ok += ws[i].ok;
		fail += ws[i].fail;
		n += ws[i].n_lat;
	}
	if ((all = malloc((n ? n : 1) * sizeof(*all))) == NULL)
		die("out of memory");
	for (n = 0, i = 0; i < o.conns; i++) {
		conn_close(&ws[i]);
		if (ws[i].n_lat > 0)
			memcpy(all + n, ws[i].lat_us, ws[i].n_lat * sizeof(*all));
		n += ws[i].n_lat;
		free(ws[i].lat_us);
		free(ws[i].buf);
	}
	qsort(all, n, sizeof(*all), u32_cmp);
	getrusage(RUSAGE_SELF, &ru);
	cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	printf("name=%s ok=%lu fail=%lu secs=%.3f rate=%.1f p50_ms=%.2f p90_ms=%.2f "
	       "p99_ms=%.2f max_ms=%.2f conns=%u cpu_s=%.2f\n", o.name, ok, fail, secs,
	       secs > 0 ? (double)ok / secs : 0.0, pct(all, n, 0.50), pct(all, n, 0.90),
	       pct(all, n, 0.99), n ? (double)all[n - 1] / 1000.0 : 0.0, o.conns, cpu);
	for (k = 0; k < nreq; k++)
		free(reqs[k]);
	free(reqs);
	free(req_lens);
	free(all);
	free(ws);
	if (xcred != NULL)
		gnutls_certificate_free_credentials(xcred);
	gnutls_global_deinit();
	return fail == 0 && ok > 0 ? 0 : 1;
}
