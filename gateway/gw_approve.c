/*
 * `certgate approve`: the approver app of the TSB-style API, for a terminal.  It proves
 * possession of a local approver key by signing the current time, lists the tasks waiting
 * for that key, and signs an approval or rejection token with it (protocols/tsb.h describes
 * the endpoints).  A minimal HTTP/1.1 client (RFC 9112) over TCP or GnuTLS: one request per
 * connection, Connection: close, Content-Length or chunked replies.
 *
 *   certgate approve --url URL [--api-key KEY] --key FILE [--cacert FILE] list
 *   certgate approve ... approve ID | reject ID
 *
 * The API key may come from CERTGATE_API_KEY instead of the command line.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "be_csr.h"
#include "be_policy.h"
#include "gw.h"
#include "gw_cli.h"

#define HTTP_REPLY_MAX	(4 * 1024 * 1024)
#define HTTP_TIMEOUT_S	30

struct url {
	bool tls;
	char host[256];
	char port[8];
	char base[512];		/* path prefix without the trailing '/' */
};

struct conn {
	int fd;
	gnutls_session_t tls;
	gnutls_certificate_credentials_t cred;
};

struct reply {
	unsigned status;
	char *body;		/* NUL-terminated */
	size_t len;
};

/* ---------------------------------------------------------------- URL */

static int
url_parse(const char *s, struct url *u)
{
	const char *p, *h, *he, *slash;
	size_t n;

	memset(u, 0, sizeof(*u));
	if (strncmp(s, "https://", 8) == 0) {
		u->tls = true;
		p = s + 8;
	} else if (strncmp(s, "http://", 7) == 0) {
		p = s + 7;
	} else {
		return -1;
	}
	slash = strchr(p, '/');
	if (slash == NULL)
		slash = p + strlen(p);
	if (*p == '[') {			/* RFC 3986 3.2.2 IP-literal */
		h = p + 1;
		if ((he = memchr(h, ']', (size_t)(slash - h))) == NULL)
			return -1;
		p = he + 1;
	} else {
		h = p;
		for (he = p; he < slash && *he != ':'; he++)
			;
		p = he;
	}
	n = (size_t)(he - h);
	if (n == 0 || n >= sizeof(u->host))
		return -1;
	memcpy(u->host, h, n);
	u->host[n] = '\0';
	if (p < slash && *p == ':') {
		n = (size_t)(slash - p - 1);
		if (n == 0 || n >= sizeof(u->port) || strspn(p + 1, "0123456789") < n)
			return -1;
		memcpy(u->port, p + 1, n);
		u->port[n] = '\0';
	} else if (p != slash) {
		return -1;
	} else {
		snprintf(u->port, sizeof(u->port), "%s", u->tls ? "443" : "80");
	}
	n = strlen(slash);
	while (n > 0 && slash[n - 1] == '/')
		n--;
	if (n >= sizeof(u->base) || strpbrk(slash, " \r\n?#") != NULL)
		return -1;
	memcpy(u->base, slash, n);
	u->base[n] = '\0';
	return 0;
}

/* ---------------------------------------------------------------- connection */

static void
conn_close(struct conn *c)
{
	if (c->tls != NULL) {
		gnutls_bye(c->tls, GNUTLS_SHUT_WR);
		gnutls_deinit(c->tls);
	}
	if (c->cred != NULL)
		gnutls_certificate_free_credentials(c->cred);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->tls = NULL;
	c->cred = NULL;
}

static bool
is_ip_literal(const char *host)
{
	return strspn(host, "0123456789.") == strlen(host) || strchr(host, ':') != NULL;
}

static int
conn_open(const struct url *u, const char *cacert, struct conn *c)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct timeval tv = { HTTP_TIMEOUT_S, 0 };
	int r, rc = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	c->fd = -1;
	c->tls = NULL;
	c->cred = NULL;
	if ((r = getaddrinfo(u->host, u->port, &hints, &res)) != 0) {
		fprintf(stderr, "certgate approve: %s: %s\n", u->host, gai_strerror(r));
		goto out;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (c->fd < 0)
			continue;
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(c->fd);
		c->fd = -1;
	}
	if (c->fd < 0) {
		fprintf(stderr, "certgate approve: cannot connect to %s port %s: %s\n", u->host,
			u->port, strerror(errno));
		goto out;
	}
	if (!u->tls) {
		rc = 0;
		goto out;
	}
	if (gnutls_certificate_allocate_credentials(&c->cred) < 0) {
		c->cred = NULL;
		goto out;
	}
	r = cacert != NULL ?
	    gnutls_certificate_set_x509_trust_file(c->cred, cacert, GNUTLS_X509_FMT_PEM) :
	    gnutls_certificate_set_x509_system_trust(c->cred);
	if (r <= 0) {
		fprintf(stderr, "certgate approve: %s: no trusted CA certificate\n",
			cacert != NULL ? cacert : "system trust");
		goto out;
	}
	if (gnutls_init(&c->tls, GNUTLS_CLIENT) < 0) {
		c->tls = NULL;
		goto out;
	}
	if (gnutls_set_default_priority(c->tls) < 0 ||
	    gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, c->cred) < 0 ||
	    (!is_ip_literal(u->host) &&
	     gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, u->host, strlen(u->host)) < 0))
		goto out;
	/* RFC 9110 4.3.4: the server's certificate must name the host (or IP) we asked. */
	gnutls_session_set_verify_cert(c->tls, u->host, 0);
	gnutls_transport_set_int(c->tls, c->fd);
	gnutls_handshake_set_timeout(c->tls, HTTP_TIMEOUT_S * 1000);
	do {
		r = gnutls_handshake(c->tls);
	} while (r < 0 && gnutls_error_is_fatal(r) == 0);
	if (r < 0) {
		fprintf(stderr, "certgate approve: TLS with %s: %s\n", u->host, gnutls_strerror(r));
		goto out;
	}
	rc = 0;
out:
	if (res != NULL)
		freeaddrinfo(res);
	if (rc != 0)
		conn_close(c);
	return rc;
}

static int
conn_write(struct conn *c, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = c->tls != NULL ? gnutls_record_send(c->tls, p, n) : write(c->fd, p, n);
		if (w < 0 && (c->tls != NULL ? (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED) :
			      errno == EINTR))
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads until the peer closes; *buf malloc()ed, NUL-terminated. */
static int
conn_read_all(struct conn *c, char **buf, size_t *len)
{
	char *b = NULL, *nb;
	size_t n = 0, cap = 0;
	ssize_t r;

	for (;;) {
		if (cap - n < 4096) {
			if (cap >= HTTP_REPLY_MAX || (nb = realloc(b, cap + 65536 + 1)) == NULL) {
				free(b);
				return -1;
			}
			b = nb;
			cap += 65536;
		}
		r = c->tls != NULL ? gnutls_record_recv(c->tls, b + n, cap - n) :
		    read(c->fd, b + n, cap - n);
		if (r < 0 && (c->tls != NULL ? (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) :
			      errno == EINTR))
			continue;
		if (r == 0 || (c->tls != NULL && r == GNUTLS_E_PREMATURE_TERMINATION))
			break;	/* completeness is checked against the framing below */
		if (r < 0) {
			free(b);
			return -1;
		}
		n += (size_t)r;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

/* ---------------------------------------------------------------- HTTP/1.1 */

static const char *
header_value(const char *head, size_t len, const char *name)
{
	const char *p = head, *end = head + len, *eol;
	size_t n = strlen(name);

	while (p < end && (eol = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		p = eol + 1;
		if ((size_t)(end - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
	}
	return NULL;
}

/* RFC 9112 7.1 chunked transfer coding, decoded in place; -1 when malformed or short. */
static int
dechunk(char *b, size_t len, size_t *out)
{
	size_t i = 0, o = 0, size;
	char *end;

	for (;;) {
		errno = 0;
		size = strtoul(b + i, &end, 16);
		if (end == b + i || errno != 0)
			return -1;
		i = (size_t)(end - b);
		while (i < len && b[i] != '\n')
			i++;			/* chunk extensions */
		if (i >= len)
			return -1;
		i++;
		if (size == 0)
			break;
		if (size > len - i)
			return -1;
		memmove(b + o, b + i, size);
		o += size;
		i += size;
		if (i < len && b[i] == '\r')
			i++;
		if (i >= len || b[i] != '\n')
			return -1;
		i++;
	}
	b[o] = '\0';
	*out = o;
	return 0;
}

static int
http_parse(char *raw, size_t len, struct reply *rep)
{
	char *hend, *body;
	const char *v;
	size_t hlen, blen;
	unsigned long cl;

	if (len < 12 || strncmp(raw, "HTTP/1.", 7) != 0 || raw[8] != ' ' ||
	    raw[9] < '1' || raw[9] > '5' || raw[10] < '0' || raw[10] > '9' || raw[11] < '0' ||
	    raw[11] > '9')
		return -1;
	rep->status = (unsigned)((raw[9] - '0') * 100 + (raw[10] - '0') * 10 + (raw[11] - '0'));
	if ((hend = strstr(raw, "\r\n\r\n")) == NULL)
		return -1;
	hlen = (size_t)(hend - raw) + 2;
	body = hend + 4;
	blen = len - (size_t)(body - raw);
	if ((v = header_value(raw, hlen, "Transfer-Encoding")) != NULL &&
	    strncasecmp(v, "chunked", 7) == 0) {
		if (dechunk(body, blen, &blen) != 0)
			return -1;
	} else if ((v = header_value(raw, hlen, "Content-Length")) != NULL) {
		errno = 0;
		cl = strtoul(v, NULL, 10);
		if (errno != 0 || cl > blen)
			return -1;	/* cut short */
		blen = cl;
	}
	memmove(raw, body, blen);
	raw[blen] = '\0';
	rep->body = raw;
	rep->len = blen;
	return 0;
}

/* POSTs json to base + path; *rep's body is malloc()ed. */
static int
http_post(const struct url *u, const char *cacert, const char *api_key, const char *path,
	  const char *json, struct reply *rep)
{
	struct conn c;
	char *head = NULL, *raw = NULL, hostport[300];
	size_t cap, len = 0;
	int w, rc = -1;

	memset(rep, 0, sizeof(*rep));
	if (strchr(u->host, ':') != NULL)
		snprintf(hostport, sizeof(hostport), "[%s]:%s", u->host, u->port);
	else
		snprintf(hostport, sizeof(hostport), "%s:%s", u->host, u->port);
	cap = strlen(u->base) + strlen(path) + strlen(hostport) + strlen(api_key) + 256;
	if ((head = malloc(cap)) == NULL)
		return -1;
	w = snprintf(head, cap, "POST %s%s HTTP/1.1\r\nHost: %s\r\nX-API-KEY: %s\r\n"
		     "Content-Type: application/json\r\nAccept: application/json\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n"
		     "User-Agent: certgate-approve/" PACKAGE_VERSION "\r\n\r\n",
		     u->base, path, hostport, api_key, strlen(json));
	if (w < 0 || (size_t)w >= cap)
		goto out;
	if (conn_open(u, cacert, &c) != 0)
		goto out;
	if (conn_write(&c, head, (size_t)w) != 0 || conn_write(&c, json, strlen(json)) != 0 ||
	    conn_read_all(&c, &raw, &len) != 0) {
		fprintf(stderr, "certgate approve: the connection to %s failed\n", u->host);
		conn_close(&c);
		goto out;
	}
	conn_close(&c);
	if (http_parse(raw, len, rep) != 0) {
		fprintf(stderr, "certgate approve: %s sent no complete HTTP reply\n", u->host);
		goto out;
	}
	raw = NULL;
	rc = 0;
out:
	if (head != NULL) {
		be_memzero(head, cap);
		free(head);
	}
	free(raw);
	return rc;
}

/* ---------------------------------------------------------------- the approver */

struct approver {
	struct url url;
	const char *cacert;
	const char *api_key;
	gnutls_privkey_t key;
	char *spki;
	gnutls_digest_algorithm_t dig;
	const char *dig_name;
};

static char *
b64_sign(const struct approver *a, const void *data, size_t len)
{
	gnutls_datum_t sig = { NULL, 0 };
	struct be_err e = { 0, "" };
	char *out = NULL;

	if (be_approver_sign(a->key, a->dig, data, len, &sig, &e) != BE_OK) {
		fprintf(stderr, "certgate approve: %s\n", e.msg);
		return NULL;
	}
	if (be_base64_encode(sig.data, sig.size, 0, &out) != BE_OK)
		out = NULL;
	be_datum_free(&sig);
	return out;
}

/* Reports a non-200 reply; returns -1. */
static int
report(const struct reply *rep)
{
	json_t *j = json_loadb(rep->body, rep->len, 0, NULL);
	const char *msg = json_string_value(json_object_get(j, "message"));

	fprintf(stderr, "certgate approve: HTTP %u: %s\n", rep->status,
		msg != NULL ? msg : rep->len > 0 ? rep->body : "(no body)");
	json_decref(j);
	return -1;
}

/* The tasks waiting for this approver (only task id when not NULL); *out new reference. */
static int
fetch_tasks(const struct approver *a, const char *id, json_t **out)
{
	struct reply rep;
	json_t *req = NULL, *j = NULL;
	char ts[32], *sig = NULL, *text = NULL;
	int rc = -1;

	*out = NULL;
	be_time_format((int64_t)time(NULL), ts, sizeof(ts));
	if ((sig = b64_sign(a, ts, strlen(ts))) == NULL)
		goto out;
	req = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:{s:i, s:i, s:s}}", "timestamp", ts,
			"timestampSignature", sig, "approverPublicKey", a->spki,
			"timestampDigestAlgorithm", a->dig_name, "id", id, "detailLevel", "level1",
			"paging", "pageNumber", 0, "pageSize", 100, "sortOrder",
			"CREATION_DATE_ASC");
	if (req == NULL || (text = json_dumps(req, JSON_COMPACT)) == NULL)
		goto out;
	if (http_post(&a->url, a->cacert, a->api_key, "/v1/filteredSignApprovalTask", text,
		      &rep) != 0)
		goto out;
	if (rep.status != 200) {
		report(&rep);
		free(rep.body);
		goto out;
	}
	j = json_loadb(rep.body, rep.len, 0, NULL);
	free(rep.body);
	if (!json_is_array(json_object_get(j, "tasks"))) {
		fprintf(stderr, "certgate approve: the reply holds no task list\n");
		goto out;
	}
	*out = j;
	j = NULL;
	rc = 0;
out:
	json_decref(j);
	json_decref(req);
	free(text);
	free(sig);
	return rc;
}

static int
cmd_list(const struct approver *a)
{
	json_t *j = NULL, *t;
	const char *d;
	size_t i;

	if (fetch_tasks(a, NULL, &j) != 0)
		return 1;
	json_array_foreach(json_object_get(j, "tasks"), i, t) {
		printf("%s  key %s  requested by %s  %s\n",
		       json_string_value(json_object_get(t, "id")),
		       json_string_value(json_object_get(t, "keyName")),
		       json_string_value(json_object_get(t, "requestedBy")) ?
		       json_string_value(json_object_get(t, "requestedBy")) : "-",
		       json_string_value(json_object_get(t, "creationDate")));
		d = json_string_value(json_object_get(t, "description"));
		while (d != NULL && *d != '\0') {
			size_t n = strcspn(d, "\n");

			printf("    %.*s\n", (int)n, d);
			d += n;
			if (*d == '\n')
				d++;
		}
	}
	fprintf(stderr, "%zu task%s waiting for this key\n",
		json_array_size(json_object_get(j, "tasks")),
		json_array_size(json_object_get(j, "tasks")) == 1 ? "" : "s");
	json_decref(j);
	return 0;
}

static int
cmd_decide(const struct approver *a, const char *id, bool approve)
{
	const char *field = approve ? "approvalToBeSigned" : "rejectionToBeSigned";
	json_t *j = NULL, *t, *req = NULL, *res = NULL;
	const char *tok64;
	unsigned char *tok = NULL;
	size_t toklen = 0;
	struct reply rep = { 0, NULL, 0 };
	char *sig = NULL, *text = NULL;
	int rc = 1;

	if (fetch_tasks(a, id, &j) != 0)
		goto out;
	t = json_array_get(json_object_get(j, "tasks"), 0);
	if (t == NULL) {
		fprintf(stderr, "certgate approve: no task %s waits for this key\n", id);
		goto out;
	}
	tok64 = json_string_value(json_object_get(t, field));
	if (tok64 == NULL || be_base64_decode(tok64, strlen(tok64), &tok, &toklen, NULL) != BE_OK) {
		fprintf(stderr, "certgate approve: task %s has no %s\n", id, field);
		goto out;
	}
	if ((sig = b64_sign(a, tok, toklen)) == NULL)
		goto out;
	req = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, field, tok64, "signature", sig,
			"approvalDigestAlgorithm", a->dig_name, "approverPublicKey", a->spki);
	if (req == NULL || (text = json_dumps(req, JSON_COMPACT)) == NULL)
		goto out;
	if (http_post(&a->url, a->cacert, a->api_key, approve ? "/v1/approval" : "/v1/rejection",
		      text, &rep) != 0)
		goto out;
	if (rep.status != 200) {
		report(&rep);
		goto out;
	}
	res = json_loadb(rep.body, rep.len, 0, NULL);
	printf("%s %s: request is %s\n", id, approve ? "approved" : "rejected",
	       json_string_value(json_object_get(res, "status")) ?
	       json_string_value(json_object_get(res, "status")) : "?");
	rc = 0;
out:
	json_decref(res);
	json_decref(req);
	json_decref(j);
	free(rep.body);
	free(text);
	free(sig);
	free(tok);
	return rc;
}

static void
usage(void)
{
	fprintf(stderr, "usage: certgate approve --url URL [--api-key KEY] --key FILE "
		"[--cacert FILE] (list | approve ID | reject ID)\n"
		"       (the API key may also come from CERTGATE_API_KEY)\n");
}

int
gw_cmd_approve(int argc, char **argv)
{
	struct approver a;
	struct be_err e = { 0, "" };
	const char *url = NULL, *keyfile = NULL, *cmd = NULL, *id = NULL;
	int i, rc = 2;

	memset(&a, 0, sizeof(a));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) {
			url = argv[++i];
		} else if (strcmp(argv[i], "--api-key") == 0 && i + 1 < argc) {
			a.api_key = argv[++i];
		} else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
			keyfile = argv[++i];
		} else if (strcmp(argv[i], "--cacert") == 0 && i + 1 < argc) {
			a.cacert = argv[++i];
		} else if (argv[i][0] == '-' || cmd != NULL) {
			if (cmd != NULL && id == NULL && argv[i][0] != '-') {
				id = argv[i];
				continue;
			}
			usage();
			goto out;
		} else {
			cmd = argv[i];
		}
	}
	if (a.api_key == NULL)
		a.api_key = getenv("CERTGATE_API_KEY");
	if (url == NULL || keyfile == NULL || cmd == NULL || a.api_key == NULL ||
	    strpbrk(a.api_key, "\r\n") != NULL ||
	    (strcmp(cmd, "list") == 0 ? id != NULL :
	     (strcmp(cmd, "approve") != 0 && strcmp(cmd, "reject") != 0) || id == NULL)) {
		usage();
		goto out;
	}
	if (url_parse(url, &a.url) != 0) {
		fprintf(stderr, "certgate approve: --url: not an http:// or https:// URL\n");
		goto out;
	}
	rc = 1;
	if (be_approver_load(keyfile, &a.key, &a.spki, &e) != BE_OK) {
		fprintf(stderr, "certgate approve: %s\n", e.msg);
		goto out;
	}
	if (gnutls_privkey_get_pk_algorithm(a.key, NULL) == GNUTLS_PK_EDDSA_ED25519) {
		a.dig = GNUTLS_DIG_UNKNOWN;
		a.dig_name = "EdDSA";
	} else {
		a.dig = GNUTLS_DIG_SHA256;
		a.dig_name = "SHA-256";
	}
	if (strcmp(cmd, "list") == 0)
		rc = cmd_list(&a);
	else
		rc = cmd_decide(&a, id, strcmp(cmd, "approve") == 0);
out:
	if (a.key != NULL)
		gnutls_privkey_deinit(a.key);
	free(a.spki);
	return rc;
}
