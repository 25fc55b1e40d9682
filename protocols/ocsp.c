/*
 * OCSP over HTTP (RFC 6960 Appendix A.1, RFC 5019 section 5 and 6): POST /ocsp with an
 * application/ocsp-request body, GET /ocsp/<url-encoded base64 of the DER request>; the answer
 * is application/ocsp-response (PROTOCOLS.md section 6).  No authentication: relying parties
 * are anonymous, plain HTTP is fine.  The backend (be_ocsp.c) parses, decides and signs; this
 * adapter only moves bytes and writes the RFC 5019 6.2 caching headers.  A cacheable GET
 * answer honours conditional requests (RFC 5019 6.2 ETag / Last-Modified, RFC 9110 13.1.2
 * If-None-Match, 13.1.3 If-Modified-Since): a cache holding the current answer gets 304.
 *
 * OCSP errors travel as OCSPResponse statuses inside HTTP 200 (RFC 6960 A.1.2), so that
 * relying parties read them; only the gateway's own refusals (405, 413) use other codes.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "be_csr.h"
#include "be_hex.h"
#include "be_json.h"
#include "be_ocsp.h"
#include "proto.h"

#define C BE_E_CONFIG
#define CT_REQ "application/ocsp-request"
#define CT_RESP "application/ocsp-response"

/* ---------------------------------------------------------------- configuration */

static int
ocsp_init(const struct gw_config *cfg, const json_t *section, void **state, struct be_err *e)
{
	static const char *const keys[] = {
		"signer", "responder_key", "responder_validity_seconds",
		"response_validity_seconds", "cache_seconds", "max_request_bytes", "max_certids",
		NULL
	};
	struct be_ocsp_conf conf;
	struct be_ocsp *o = NULL;
	const char *signer = NULL, *key = NULL;
	unsigned long long v;
	int rc = BE_OK;

	*state = NULL;
	be_ocsp_conf_default(&conf);
	if (section != NULL) {
		if ((rc = be_json_keys(section, "ocsp", keys, C, e)) != BE_OK ||
		    (rc = be_json_str(section, "ocsp", "signer", false, &signer, C, e)) != BE_OK ||
		    (rc = be_json_str(section, "ocsp", "responder_key", false, &key, C, e)) != BE_OK)
			goto out;
		if (signer != NULL && strcmp(signer, "ca") != 0 && strcmp(signer, "delegated") != 0) {
			rc = be_err_set(e, C, "ocsp.signer: must be \"delegated\" or \"ca\"");
			goto out;
		}
		conf.sign_with_ca = signer != NULL && strcmp(signer, "ca") == 0;
		if (key != NULL && (be_keyspec_parse(key, &conf.responder_key) != BE_OK ||
				    conf.responder_key.alg == BE_KEY_NONE)) {
			rc = be_err_set(e, C, "ocsp.responder_key: unknown key type \"%.32s\"", key);
			goto out;
		}
		v = conf.responder_validity;
		if ((rc = be_json_uint(section, "ocsp", "responder_validity_seconds", false, 30,
				       366ull * 86400, &v, C, e)) != BE_OK)
			goto out;
		conf.responder_validity = (unsigned)v;
		v = conf.response_validity;
		if ((rc = be_json_uint(section, "ocsp", "response_validity_seconds", false, 10,
				       7ull * 86400, &v, C, e)) != BE_OK)
			goto out;
		conf.response_validity = (unsigned)v;
		v = conf.cache_seconds;
		if ((rc = be_json_uint(section, "ocsp", "cache_seconds", false, 0, 86400, &v, C,
				       e)) != BE_OK)
			goto out;
		conf.cache_seconds = (unsigned)v;
		v = conf.max_request;
		if ((rc = be_json_uint(section, "ocsp", "max_request_bytes", false, 256, 65536, &v,
				       C, e)) != BE_OK)
			goto out;
		conf.max_request = (size_t)v;
		v = conf.max_certids;
		if ((rc = be_json_uint(section, "ocsp", "max_certids", false, 1,
				       BE_OCSP_MAX_CERTIDS, &v, C, e)) != BE_OK)
			goto out;
		conf.max_certids = (unsigned)v;
	}
	if (conf.cache_seconds > conf.response_validity) {
		rc = be_err_set(e, C, "ocsp.cache_seconds: must not exceed "
				"response_validity_seconds (%u)", conf.response_validity);
		goto out;
	}
	if (!conf.sign_with_ca && conf.response_validity * 3ull > conf.responder_validity * 2ull) {
		rc = be_err_set(e, C, "ocsp.response_validity_seconds: must be at most two thirds "
				"of responder_validity_seconds (%u), so that a rotated responder "
				"certificate outlives the responses it signed",
				conf.responder_validity);
		goto out;
	}
	if ((rc = be_ocsp_new(cfg->be, &conf, &o, e)) != BE_OK)
		goto out;
	*state = o;
	o = NULL;
out:
	be_ocsp_free(o);
	return rc;
}

static void
ocsp_fini(void *state)
{
	be_ocsp_free(state);
}

/* ---------------------------------------------------------------- HTTP */

/* RFC 9110 5.6.7 IMF-fixdate. */
static void
http_date(time_t t, char buf[32])
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
					      "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		buf[0] = '\0';
		return;
	}
	snprintf(buf, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
		 tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
}

/* RFC 6960 A.1: GET {url}/{url-encoding of base-64 encoding of the DER OCSPRequest}.  The
 * percent-decoded text is base64-decoded into *der (malloc()ed). */
static int
get_request(const char *enc, size_t max, unsigned char **der, size_t *len, struct be_err *e)
{
	char *b64 = NULL;
	size_t i, n = 0, elen = strlen(enc);
	int hi, lo, rc;

	*der = NULL;
	*len = 0;
	/* base64 of max bytes, each character at most percent-encoded */
	if (elen > (max + 2) / 3 * 4 * 3)
		return be_err_set(e, BE_E_TOOBIG, "OCSP GET request over %zu bytes", max);
	if ((b64 = malloc(elen + 1)) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	for (i = 0; i < elen; i++) {
		if (enc[i] != '%') {
			b64[n++] = enc[i];
			continue;
		}
		if (i + 2 >= elen || (hi = be_hex_digit((unsigned char)enc[i + 1])) < 0 ||
		    (lo = be_hex_digit((unsigned char)enc[i + 2])) < 0) {
			rc = be_err_set(e, BE_E_MALFORMED, "RFC 6960 A.1: bad percent-encoding in "
					"the GET path");
			goto out;
		}
		b64[n++] = (char)(hi * 16 + lo);
		i += 2;
	}
	b64[n] = '\0';
	rc = be_base64_decode(b64, n, der, len, e);
	if (rc != BE_OK) {
		be_err_clear(e);
		rc = be_err_set(e, BE_E_MALFORMED, "RFC 6960 A.1: the GET path is not base64");
	}
out:
	free(b64);
	return rc;
}

/* The reply for an OCSPResponse the backend built; req's conditional headers for a
 * cacheable GET answer. */
static int
send_reply(const struct gw_request *req, struct gw_response *resp, struct be_ocsp_reply *r,
	   bool get)
{
	char buf[96];
	time_t now = time(NULL);
	long long age;
	bool fresh = false;
	int rc;

	if (get && r->cacheable) {
		/* RFC 5019 6.2: max-age no later than nextUpdate; certgate signs anew after
		 * cache_seconds, so caches hold it no longer than that. */
		age = (long long)(r->fresh_until - now);
		if (age < 0)
			age = 0;
		snprintf(buf, sizeof(buf), "max-age=%lld, public, no-transform, must-revalidate",
			 age);
		if ((rc = gw_response_header(resp, "Cache-Control", buf)) != 0)
			return rc;
		http_date(r->this_update, buf);
		if ((rc = gw_response_header(resp, "Last-Modified", buf)) != 0)
			return rc;
		http_date(r->fresh_until, buf);
		if ((rc = gw_response_header(resp, "Expires", buf)) != 0)
			return rc;
		snprintf(buf, sizeof(buf), "\"%s\"", r->etag);
		if ((rc = gw_response_header(resp, "ETag", buf)) != 0)
			return rc;
		/* RFC 9110 15.4.5: the 304 carries the same Cache-Control, Expires and ETag. */
		fresh = proto_not_modified(req, buf, r->this_update);
	} else if ((rc = gw_response_header(resp, "Cache-Control", "no-store")) != 0) {
		return rc;
	}
	if (fresh)
		return gw_response_set(resp, 304, NULL, NULL, 0);
	rc = gw_response_take(resp, 200, CT_RESP, r->der.data, r->der.size);
	if (rc == 0) {
		r->der.data = NULL;
		r->der.size = 0;
	}
	return rc;
}

static int
ocsp_handle(struct gw_request *req, struct gw_response *resp)
{
	struct be_ocsp *o = gw_config_adapter(req->cfg, "ocsp");
	struct be_ocsp_reply r;
	struct be_err e = { 0, "" };
	unsigned char *der = NULL;
	const unsigned char *in;
	const char *ct;
	size_t len = 0;
	bool get;
	int rc;

	memset(&r, 0, sizeof(r));
	resp->adapter = "ocsp";
	get = strcmp(req->method, "GET") == 0;
	resp->operation = get ? "get" : "post";
	if (o == NULL) {
		rc = gw_response_text(resp, 503, "the OCSP responder is not configured");
		goto out;
	}
	if (strcmp(req->path, "/ocsp") == 0 || strcmp(req->path, "/ocsp/") == 0) {
		if (strcmp(req->method, "POST") != 0) {
			rc = gw_response_header(resp, "Allow", "POST");
			if (rc == 0)
				rc = gw_response_text(resp, 405, "use POST %s with an OCSPRequest, "
						      "or GET %s/<base64>", req->path,
						      "/ocsp");
			goto out;
		}
		ct = gw_request_header(req, "Content-Type");
		if (ct == NULL || strncasecmp(ct, CT_REQ, strlen(CT_REQ)) != 0 ||
		    (ct[strlen(CT_REQ)] != '\0' && ct[strlen(CT_REQ)] != ';')) {
			/* RFC 6960 A.1.1: the request's Content-Type. */
			be_err_set(&e, BE_E_MALFORMED, "RFC 6960 A.1: Content-Type must be %s",
				   CT_REQ);
			in = (const unsigned char *)"";
			len = 0;
		} else {
			in = req->body;
			len = req->body_len;
		}
	} else if (strncmp(req->path, "/ocsp/", 6) == 0) {
		if (!get && strcmp(req->method, "HEAD") != 0) {
			rc = gw_response_header(resp, "Allow", "GET");
			if (rc == 0)
				rc = gw_response_text(resp, 405, "use GET /ocsp/<base64>");
			goto out;
		}
		get = true;
		if (get_request(req->path + 6, 65536, &der, &len, &e) != BE_OK) {
			in = (const unsigned char *)"";
			len = 0;
		} else {
			in = der;
		}
	} else {
		rc = gw_response_text(resp, 404, "no such path");
		goto out;
	}
	if (e.code != 0) {
		/* The request never reached the parser: answer as the parser would. */
		struct be_err ignore = { 0, "" };

		rc = be_ocsp_respond(o, (const unsigned char *)"", 0, &r, &ignore);
	} else {
		rc = be_ocsp_respond(o, in, len, &r, &e);
	}
	if (rc != BE_OK) {
		gw_log(GW_LOG_ERROR, "id=%s: ocsp: %s", req->id, e.msg);
		rc = gw_response_text(resp, 500, "OCSP: %s", e.msg);
		goto out;
	}
	if (r.status != BE_OCSP_SUCCESSFUL)
		gw_log(GW_LOG_INFO, "id=%s: ocsp: peer %s: OCSP status %d: %s", req->id,
		       req->peer ? req->peer : "-", (int)r.status, e.msg);
	rc = send_reply(req, resp, &r, get);
out:
	be_ocsp_reply_clear(&r);
	free(der);
	return rc;
}

/* The gateway's own refusals (413 for a body over limits.max_body) as an OCSPResponse
 * malformedRequest, so OCSP clients read them. */
static int
ocsp_error(struct gw_request *req, struct gw_response *resp, unsigned status,
	   const char *reason)
{
	struct be_ocsp *o = gw_config_adapter(req->cfg, "ocsp");
	struct be_ocsp_reply r;
	struct be_err e = { 0, "" };
	int rc = BE_E_INTERNAL;

	memset(&r, 0, sizeof(r));
	resp->adapter = "ocsp";
	if (o == NULL || status != 413)
		goto out;
	gw_log(GW_LOG_INFO, "id=%s: ocsp: %s", req->id, reason);
	if ((rc = be_ocsp_respond(o, (const unsigned char *)"", 0, &r, &e)) != BE_OK)
		goto out;
	rc = gw_response_take(resp, status, CT_RESP, r.der.data, r.der.size);
	if (rc == 0)
		r.der.data = NULL;
out:
	be_ocsp_reply_clear(&r);
	return rc;
}

static const struct gw_route ocsp_routes[] = {
	{ "/ocsp", ocsp_handle, ocsp_error },
};

const struct gw_adapter proto_ocsp_adapter = {
	.name = "ocsp",
	.init = ocsp_init,
	.fini = ocsp_fini,
	.routes = ocsp_routes,
	.n_routes = sizeof(ocsp_routes) / sizeof(ocsp_routes[0]),
};
