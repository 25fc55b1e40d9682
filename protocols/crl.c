/*
 * Revocation publication for relying parties (PROTOCOLS.md section 6): the CRLs the backend's
 * publisher keeps encoded (be_crlpub.h) and the CA certificates the caIssuers URLs name.
 *
 *   GET /crl/<ca>.crl       the CA's complete CRL, application/pkix-crl (RFC 5280 4.2.1.13:
 *                           DER over HTTP)
 *   GET /crl/<ca>-<k>.crl   partition k when the CA's CRL is partitioned
 *   GET /crl/tsb-<label>.crl the CRL of stored key <label> of the TSB key store when it acts
 *                           as a CA (its imported CA certificate; be_crlpub.h)
 *   GET /ca/<ca>.crt        the CA certificate, DER, application/pkix-cert (RFC 5280
 *                           4.2.2.1 caIssuers, RFC 2585 4.1)
 *
 * No authentication; plain HTTP as well as HTTPS.  Entity tags and Last-Modified make
 * conditional GETs (RFC 9110 13.1.2 If-None-Match, 13.1.3 If-Modified-Since) answer 304.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "be_crlpub.h"
#include "be_issue.h"
#include "proto.h"

#define NAME_MAX_LEN 64

/* RFC 9110 5.6.7 IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". */
static void
http_date(time_t t, char *buf, size_t len)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
					      "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "Thu, 01 Jan 1970 00:00:00 GMT");
		return;
	}
	snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int
digits(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Parses an IMF-fixdate; -1 for anything else (the header is then ignored, which only
 * costs a full answer). */
static time_t
parse_http_date(const char *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int d, y, h, mi, sec, m = -1, i;
	long long days;

	if (s == NULL || strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' ||
	    s[11] != ' ' || s[16] != ' ' || s[19] != ':' || s[22] != ':' ||
	    strcmp(s + 25, " GMT") != 0)
		return -1;
	for (i = 0; i < 12; i++)
		if (strncmp(s + 8, months + 3 * i, 3) == 0)
			m = i + 1;
	d = digits(s + 5, 2);
	y = digits(s + 12, 4);
	h = digits(s + 17, 2);
	mi = digits(s + 20, 2);
	sec = digits(s + 23, 2);
	if (m < 0 || d < 1 || d > 31 || y < 1970 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    sec < 0 || sec > 60)
		return -1;
	/* Days from civil (proleptic Gregorian), H. Hinnant's algorithm. */
	{
		int yy = m <= 2 ? y - 1 : y;
		int era = yy / 400;
		int yoe = yy - era * 400;
		int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
		int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

		days = (long long)era * 146097 + doe - 719468;
	}
	return (time_t)(days * 86400 + h * 3600 + mi * 60 + sec);
}

/* RFC 9110 13.1.2: If-None-Match matches "*" or any listed tag by weak comparison. */
static bool
none_match(const char *header, const char *etag)
{
	const char *p = header;
	size_t n = strlen(etag);

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' ' ||
						 p[n] == '\t'))
			return true;
		while (*p != '\0' && *p != ',')
			p++;
	}
	return false;
}

bool
proto_not_modified(const struct gw_request *req, const char *etag, time_t modified)
{
	const char *inm = gw_request_header(req, "If-None-Match");
	time_t ims;

	if (inm != NULL)
		return none_match(inm, etag);
	ims = parse_http_date(gw_request_header(req, "If-Modified-Since"));
	return ims >= 0 && modified <= ims;
}

/* The name between prefix and suffix of path when it is a plain name ([A-Za-z0-9._-],
 * 1..NAME_MAX_LEN, no leading dot), into buf; false otherwise. */
static bool
path_name(const char *path, const char *prefix, const char *suffix, char *buf)
{
	size_t pl = strlen(prefix), sl = strlen(suffix), n = strlen(path), i;

	if (n <= pl + sl || strncmp(path, prefix, pl) != 0 ||
	    strcmp(path + n - sl, suffix) != 0 || n - pl - sl > NAME_MAX_LEN)
		return false;
	n -= pl + sl;
	for (i = 0; i < n; i++) {
		char c = path[pl + i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || (c == '.' && i > 0)))
			return false;
	}
	memcpy(buf, path + pl, n);
	buf[n] = '\0';
	return true;
}

static int
answer(struct gw_request *req, struct gw_response *resp, const char *type, const void *body,
       size_t len, const char *etag, time_t modified, const char *cache)
{
	char date[40];
	int rc;

	http_date(modified, date, sizeof(date));
	if (proto_not_modified(req, etag, modified))
		rc = gw_response_set(resp, 304, NULL, NULL, 0);
	else
		rc = gw_response_set(resp, 200, type, body, len);
	if (rc == 0)
		rc = gw_response_header(resp, "ETag", etag);
	if (rc == 0)
		rc = gw_response_header(resp, "Last-Modified", date);
	if (rc == 0)
		rc = gw_response_header(resp, "Cache-Control", cache);
	return rc;
}

static bool
method_ok(struct gw_request *req, struct gw_response *resp, int *rc)
{
	if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
		return true;
	*rc = gw_response_header(resp, "Allow", "GET, HEAD");
	if (*rc == 0)
		*rc = gw_response_text(resp, 405, "use GET");
	return false;
}

static int
crl_handle(struct gw_request *req, struct gw_response *resp)
{
	struct be_crlpub *pub = req->cfg->be->crlpub;
	struct be_crl_blob *blob = NULL;
	struct be_err e = { 0, "" };
	char name[NAME_MAX_LEN + 1], *dash, *end;
	unsigned long k;
	int shard = -1, rc = 0;

	resp->adapter = "crl";
	resp->operation = "crl";
	if (!method_ok(req, resp, &rc))
		goto out;
	if (pub == NULL || !path_name(req->path, "/crl/", ".crl", name)) {
		rc = gw_response_text(resp, 404, "no such CRL: use /crl/<ca>.crl");
		goto out;
	}
	/* "<ca>-<k>": partition k, unless a CA has that whole name. */
	if (!be_crlpub_has(pub, name) && (dash = strrchr(name, '-')) != NULL &&
	    dash[1] >= '0' && dash[1] <= '9' && (dash[1] != '0' || dash[2] == '\0')) {
		k = strtoul(dash + 1, &end, 10);
		if (*end == '\0' && k < 100000) {
			*dash = '\0';
			shard = (int)k;
		}
	}
	if (!be_crlpub_has(pub, name)) {
		rc = gw_response_text(resp, 404, "no CA named \"%s\"", name);
		goto out;
	}
	if (be_crlpub_get(pub, name, shard, &blob, &e) != BE_OK) {
		if (e.code == BE_E_UNAVAILABLE) {
			gw_response_header(resp, "Retry-After", "2");
			rc = gw_response_text(resp, 503, "%s", e.msg);
		} else {
			rc = gw_response_text(resp, 404, "%s", e.msg);
		}
		goto out;
	}
	/* Caches revalidate each time (a conditional GET costs no signature), so a
	 * revocation is visible as soon as the CRL is rebuilt. */
	rc = answer(req, resp, "application/pkix-crl", blob->der.data, blob->der.size,
		    blob->etag, blob->this_update, "public, no-cache");
out:
	be_crl_blob_unref(blob);
	return rc;
}

static int
cacert_handle(struct gw_request *req, struct gw_response *resp)
{
	const struct be_ca *ca;
	char name[NAME_MAX_LEN + 1], etag[40];
	int rc = 0;

	resp->adapter = "crl";
	resp->operation = "cacert";
	if (!method_ok(req, resp, &rc))
		return rc;
	if (!path_name(req->path, "/ca/", ".crt", name) ||
	    (ca = be_ctx_ca(req->cfg->be, name)) == NULL || strcmp(ca->name, name) != 0)
		return gw_response_text(resp, 404, "no such CA certificate: use /ca/<ca>.crt");
	snprintf(etag, sizeof(etag), "\"%.32s\"", ca->id);
	return answer(req, resp, "application/pkix-cert", ca->chain[0].data, ca->chain[0].size,
		      etag, gnutls_x509_crt_get_activation_time(ca->crt), "public, max-age=3600");
}

/* `certgate init`: every demo profile writes where its CA's CRL, the OCSP responder and the
 * CA certificate are, on the plain-HTTP listener (relying parties fetch them over HTTP). */
static int
crl_demo(json_t *conf, json_t *creds, struct be_err *e)
{
	json_t *listen = json_object_get(conf, "listen"), *l, *profiles, *p;
	const char *pname, *ca;
	char base[64], url[256];
	size_t i;
	int port = 0;

	(void)creds;
	json_array_foreach(listen, i, l) {
		if (!json_is_true(json_object_get(l, "tls")) &&
		    json_is_integer(json_object_get(l, "port"))) {
			port = (int)json_integer_value(json_object_get(l, "port"));
			break;
		}
	}
	if (port == 0)
		return BE_OK;		/* no plain-HTTP listener: no URLs */
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	profiles = json_object_get(conf, "profiles");
	json_object_foreach(profiles, pname, p) {
		ca = json_string_value(json_object_get(p, "ca"));
		if (ca == NULL)
			continue;
		snprintf(url, sizeof(url), "%s/crl/%s.crl", base, ca);
		if (json_object_set_new(p, "crl_url", json_string(url)) != 0)
			return be_err_set(e, BE_E_NOMEM, "out of memory");
		snprintf(url, sizeof(url), "%s/ocsp", base);
		if (json_object_set_new(p, "ocsp_url", json_string(url)) != 0)
			return be_err_set(e, BE_E_NOMEM, "out of memory");
		snprintf(url, sizeof(url), "%s/ca/%s.crt", base, ca);
		if (json_object_set_new(p, "ca_issuers_url", json_string(url)) != 0)
			return be_err_set(e, BE_E_NOMEM, "out of memory");
	}
	return BE_OK;
}

static const struct gw_route crl_routes[] = {
	{ "/crl/", crl_handle, NULL },
	{ "/ca/", cacert_handle, NULL },
};

const struct gw_adapter proto_crl_adapter = {
	/* Not "crl": that section configures the backend's publisher (be_crlpub.h). */
	.name = "crl-http",
	.demo = crl_demo,
	.routes = crl_routes,
	.n_routes = sizeof(crl_routes) / sizeof(crl_routes[0]),
};
