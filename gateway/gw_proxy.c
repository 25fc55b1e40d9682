/*
 * Requests forwarded by a trusted reverse proxy (PROTOCOLS.md section 5): nginx terminates
 * TLS and passes the client certificate ($ssl_client_escaped_cert), its own verify result
 * ($ssl_client_verify), the client address (X-Forwarded-For) and the scheme
 * (X-Forwarded-Proto) in headers.  Those headers are believed only from a peer in
 * proxy.trusted; from anyone else they are refused, never silently ignored, so a
 * misconfigured deployment shows at once.  certgate verifies the forwarded certificate
 * itself (gw_auth_client_cert), exactly as one presented over its own TLS listener.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "be_csr.h"
#include "be_issue.h"
#include "be_json.h"
#include "be_pct.h"
#include "gw.h"
#include "gw_proxy.h"

#define C BE_E_CONFIG
#define DEFAULT_CERT_HEADER "X-SSL-Client-Cert"
#define DEFAULT_VERIFY_HEADER "X-SSL-Client-Verify"
#define XFF "X-Forwarded-For"
#define XFP "X-Forwarded-Proto"
#define MAX_NETS 256
#define CERT_HEADER_MAX (32u * 1024u)
#define XFF_MAX 4096
#define XFF_HOPS_MAX 64
#define VERIFY_MAX 512

/* ---------------------------------------------------------------- addresses and networks */

/* Parses an IPv4 or IPv6 literal; IPv4-mapped IPv6 becomes IPv4.  0 or -1. */
static int
addr_parse(const char *s, int *family, unsigned char addr[16])
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	unsigned char a6[16];

	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a6) != 1)
		return -1;
	if (memcmp(a6, mapped, sizeof(mapped)) == 0) {
		memcpy(addr, a6 + 12, 4);
		*family = AF_INET;
	} else {
		memcpy(addr, a6, 16);
		*family = AF_INET6;
	}
	return 0;
}

static bool
prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

/* True when n's address has bits set beyond its prefix length. */
static bool
host_bits(const struct gw_net *n)
{
	unsigned i, lo;
	unsigned char mask;

	for (i = 0; i < 16; i++) {
		lo = i * 8;
		if (lo >= n->prefix)
			mask = 0;
		else if (lo + 8 > n->prefix)
			mask = (unsigned char)(0xff << (8 - (n->prefix - lo)));
		else
			mask = 0xff;
		if ((n->addr[i] & (unsigned char)~mask) != 0)
			return true;
	}
	return false;
}

static int
net_parse(const char *s, struct gw_net *n, const char *path, struct be_err *e)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash;
	unsigned long bits;
	unsigned max;
	char *end = NULL;
	size_t len;

	memset(n, 0, sizeof(*n));
	if (strcmp(s, "unix") == 0) {
		n->family = AF_UNIX;
		return BE_OK;
	}
	slash = strchr(s, '/');
	len = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (len == 0 || len >= sizeof(buf))
		goto bad;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, n->addr) == 1)
		n->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, n->addr) == 1)
		n->family = AF_INET6;
	else
		goto bad;
	max = n->family == AF_INET ? 32 : 128;
	n->prefix = max;
	if (slash != NULL) {
		if (slash[1] < '0' || slash[1] > '9')
			goto bad;
		bits = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || bits > max)
			goto bad;
		n->prefix = (unsigned)bits;
		/* "10.1.2.3/8" is a typo for 10.0.0.0/8 or for the host: make it say which. */
		if (host_bits(n))
			return be_err_set(e, C, "%s: \"%.64s\" has bits set past the prefix length",
					  path, s);
	}
	return BE_OK;
bad:
	return be_err_set(e, C, "%s: \"%.64s\" is not an IP address, a network "
			  "(address/prefix length) or \"unix\"", path, s);
}

int
gw_nets_parse(const json_t *arr, const char *path, struct gw_net **out, size_t *n,
	      struct be_err *e)
{
	struct gw_net *nets = NULL;
	char p[128];
	json_t *v;
	size_t i;
	int rc;

	*out = NULL;
	*n = 0;
	if (!json_is_array(arr) || json_array_size(arr) > MAX_NETS) {
		rc = be_err_set(e, C, "%s: must be an array of at most %d networks", path,
				MAX_NETS);
		goto out;
	}
	if ((nets = calloc(json_array_size(arr) + 1, sizeof(*nets))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(arr, i, v) {
		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		if (!json_is_string(v)) {
			rc = be_err_set(e, C, "%s: must be a string", p);
			goto out;
		}
		if ((rc = net_parse(json_string_value(v), &nets[i], p, e)) != BE_OK)
			goto out;
	}
	*n = json_array_size(arr);
	*out = nets;
	nets = NULL;
	rc = BE_OK;
out:
	free(nets);
	return rc;
}

bool
gw_nets_match(const struct gw_net *nets, size_t n, const char *peer)
{
	unsigned char a[16];
	int family;
	size_t i;

	if (peer == NULL)
		return false;
	if (strcmp(peer, "unix") == 0) {
		for (i = 0; i < n; i++)
			if (nets[i].family == AF_UNIX)
				return true;
		return false;
	}
	if (addr_parse(peer, &family, a) != 0)
		return false;
	for (i = 0; i < n; i++)
		if (nets[i].family == family && prefix_equal(nets[i].addr, a, nets[i].prefix))
			return true;
	return false;
}

/* ---------------------------------------------------------------- configuration */

/* RFC 9110 section 5.1: a header name is a token. */
static bool
header_name_ok(const char *s)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr(extra, s[i]) != NULL))
			return false;
	return i > 0 && i <= 64;
}

int
gw_proxy_parse(struct gw_config *cfg, const json_t *root, struct be_err *e)
{
	static const char *const keys[] = { "trusted", "client_cert_header", "verify_header",
					    "https", NULL };
	const json_t *px = NULL, *trusted;
	const char *ch = NULL, *vh = NULL;
	int rc;

	if ((rc = be_json_obj(root, "", "proxy", false, &px, C, e)) != BE_OK)
		goto out;
	if (px == NULL) {
		rc = BE_OK;
		goto out;
	}
	cfg->proxy = true;
	if ((rc = be_json_keys(px, "proxy", keys, C, e)) != BE_OK ||
	    (rc = be_json_str(px, "proxy", "client_cert_header", false, &ch, C, e)) != BE_OK ||
	    (rc = be_json_str(px, "proxy", "verify_header", false, &vh, C, e)) != BE_OK ||
	    (rc = be_json_bool(px, "proxy", "https", false, &cfg->proxy_https, C, e)) != BE_OK)
		goto out;
	trusted = json_object_get(px, "trusted");
	if (trusted == NULL) {
		rc = be_err_set(e, C, "proxy.trusted: required (the proxies' addresses, "
				"networks or \"unix\")");
		goto out;
	}
	if ((rc = gw_nets_parse(trusted, "proxy.trusted", &cfg->proxy_trusted,
				&cfg->n_proxy_trusted, e)) != BE_OK)
		goto out;
	if (cfg->n_proxy_trusted == 0) {
		rc = be_err_set(e, C, "proxy.trusted: name at least one proxy");
		goto out;
	}
	if (ch != NULL && !header_name_ok(ch)) {
		rc = be_err_set(e, C, "proxy.client_cert_header: not an HTTP header name");
		goto out;
	}
	if (vh != NULL && !header_name_ok(vh)) {
		rc = be_err_set(e, C, "proxy.verify_header: not an HTTP header name");
		goto out;
	}
	if (ch != NULL && vh != NULL && strcasecmp(ch, vh) == 0) {
		rc = be_err_set(e, C, "proxy.verify_header: must differ from client_cert_header");
		goto out;
	}
	if ((cfg->proxy_cert_header = strdup(ch != NULL ? ch : DEFAULT_CERT_HEADER)) == NULL ||
	    (cfg->proxy_verify_header = strdup(vh != NULL ? vh : DEFAULT_VERIFY_HEADER)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	rc = BE_OK;
out:
	return rc;
}

void
gw_proxy_conf_free(struct gw_config *cfg)
{
	free(cfg->proxy_trusted);
	free(cfg->proxy_cert_header);
	free(cfg->proxy_verify_header);
	cfg->proxy_trusted = NULL;
	cfg->proxy_cert_header = NULL;
	cfg->proxy_verify_header = NULL;
	cfg->n_proxy_trusted = 0;
}

void
gw_proxy_warnings(const struct gw_config *cfg)
{
	char names[512];
	size_t i, used = 0, n = 0;
	const struct be_profile *p;

	if (!cfg->proxy)
		return;
	names[0] = '\0';
	for (i = 0; cfg->be != NULL && i < cfg->be->n_profiles; i++) {
		p = &cfg->be->profiles[i];
		if (!p->pop_linking)
			continue;
		n++;
		if (used < sizeof(names))
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
						 used > 0 ? ", " : "", p->name);
	}
	if (n > 0)
		gw_log(GW_LOG_WARNING, "proxy: %zu profile%s demand%s PoP linking (RFC 7030 "
		       "section 3.5: the CSR bound to the client's TLS channel), which cannot "
		       "work behind a TLS-terminating proxy; requests for them through the "
		       "proxy will be refused: %s", n, n == 1 ? "" : "s", n == 1 ? "s" : "",
		       names);
	if (cfg->tls_client_ca_file == NULL)
		gw_log(GW_LOG_WARNING, "proxy: tls.client_ca is not set, so client certificates "
		       "the proxy forwards cannot be verified and will not authenticate anyone");
	for (i = 0; i < cfg->n_proxy_trusted; i++)
		if (cfg->proxy_trusted[i].family != AF_UNIX && cfg->proxy_trusted[i].prefix == 0)
			gw_log(GW_LOG_WARNING, "proxy.trusted[%zu]: trusts every address: any "
			       "client can claim any certificate", i);
}

/* ---------------------------------------------------------------- forwarded headers */

int
gw_proxy_cert_from_header(const char *v, gnutls_datum_t *out, struct be_err *e)
{
	static const char *const labels[] = { "CERTIFICATE", NULL };
	size_t len = strlen(v), i, o = 0;
	unsigned char *pem = NULL, *der = NULL;
	size_t der_len = 0;
	int rc;

	if (len > CERT_HEADER_MAX) {
		rc = be_err_set(e, BE_E_MALFORMED, "longer than %u bytes", CERT_HEADER_MAX);
		goto out;
	}
	if ((pem = malloc(len + 1)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (be_pct_decode(v, len, BE_PCT_NO_NUL, (char *)pem, &o) != 0) {
		rc = be_err_set(e, BE_E_MALFORMED, "malformed percent-encoding (RFC 3986 "
				"section 2.1)");
		goto out;
	}
	for (i = 0; i < o && (pem[i] == ' ' || pem[i] == '\t' || pem[i] == '\r' ||
			      pem[i] == '\n'); i++)
		;
	if (o - i < 11 || memcmp(pem + i, "-----BEGIN ", 11) != 0) {
		rc = be_err_set(e, BE_E_MALFORMED, "not a URL-escaped PEM certificate "
				"(nginx $ssl_client_escaped_cert)");
		goto out;
	}
	if ((rc = be_der_from_text(pem, o, labels, &der, &der_len, e)) != BE_OK)
		goto out;
	out->data = gnutls_malloc(der_len);
	if (out->data == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(out->data, der, der_len);
	out->size = (unsigned)der_len;
	rc = BE_OK;
out:
	free(pem);
	free(der);
	return rc;
}

int
gw_proxy_client_from_xff(const struct gw_config *cfg, const char *v, char *out, size_t cap,
		struct be_err *e)
{
	char hops[XFF_HOPS_MAX][INET6_ADDRSTRLEN];
	size_t n = 0, i, len = strlen(v), start, end;
	unsigned char a[16];
	int family, rc;

	if (len > XFF_MAX) {
		rc = be_err_set(e, BE_E_MALFORMED, XFF ": longer than %d bytes", XFF_MAX);
		goto out;
	}
	for (start = 0; start <= len; start = end + 1) {
		for (end = start; end < len && v[end] != ','; end++)
			;
		i = start;
		while (i < end && (v[i] == ' ' || v[i] == '\t'))
			i++;
		while (end > i && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (n == XFF_HOPS_MAX || end - i == 0 || end - i >= INET6_ADDRSTRLEN) {
			rc = be_err_set(e, BE_E_MALFORMED, XFF ": element %zu is empty or too long, "
					"or there are more than %d", n + 1, XFF_HOPS_MAX);
			goto out;
		}
		memcpy(hops[n], v + i, end - i);
		hops[n][end - i] = '\0';
		if (addr_parse(hops[n], &family, a) != 0) {
			rc = be_err_set(e, BE_E_MALFORMED, XFF ": element %zu is not an IP address",
					n + 1);
			goto out;
		}
		if (inet_ntop(family, a, hops[n], sizeof(hops[n])) == NULL) {
			rc = be_err_set(e, BE_E_MALFORMED, XFF ": element %zu is not an IP address",
					n + 1);
			goto out;
		}
		n++;
		/* end was moved back over trailing blanks: skip to the comma */
		while (end < len && v[end] != ',')
			end++;
	}
	for (i = n; i > 1; i--)
		if (!gw_nets_match(cfg->proxy_trusted, cfg->n_proxy_trusted, hops[i - 1]))
			break;
	snprintf(out, cap, "%s", hops[i - 1]);
	rc = BE_OK;
out:
	return rc;
}

/* The refusal: audited, and the status to answer. */
static unsigned
refuse(struct gw_request *req, unsigned status, struct be_err *e)
{
	struct be_op_ctx op;

	memset(&op, 0, sizeof(op));
	op.adapter = "gateway";
	op.operation = "forwarded-headers";
	op.request_id = req->id;
	op.peer = req->peer;
	if (req->cfg != NULL)
		be_audit_refusal(req->cfg->be, &op, NULL, e->msg);
	return status;
}

unsigned
gw_proxy_apply(struct gw_request *req, char *peer_buf, size_t peer_cap, char *proxy_buf,
	       size_t proxy_cap, struct be_err *e)
{
	const struct gw_config *cfg = req->cfg;
	const char *cert_h = cfg->proxy_cert_header != NULL ? cfg->proxy_cert_header :
			     DEFAULT_CERT_HEADER;
	const char *verify_h = cfg->proxy_verify_header != NULL ? cfg->proxy_verify_header :
			       DEFAULT_VERIFY_HEADER;
	const char *const names[] = { cert_h, verify_h, XFF, XFP };
	const char *cert, *verify, *xff, *xfp;
	gnutls_datum_t der = { NULL, 0 };
	char client[INET6_ADDRSTRLEN];
	bool trusted;
	size_t i;
	unsigned status = 0;

	trusted = cfg->proxy && gw_nets_match(cfg->proxy_trusted, cfg->n_proxy_trusted,
					      req->peer);
	if (!trusted) {
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (gw_request_header_count(req, names[i]) == 0)
				continue;
			be_err_set(e, BE_E_FORBIDDEN, "%s: forwarded-client headers are accepted "
				   "only from a trusted proxy (proxy.trusted), and %s is not one",
				   names[i], req->peer);
			status = refuse(req, 403, e);
			goto out;
		}
		goto out;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (gw_request_header_count(req, names[i]) > 1) {
			be_err_set(e, BE_E_MALFORMED, "%s: sent more than once", names[i]);
			status = refuse(req, 400, e);
			goto out;
		}
	}
	cert = gw_request_header(req, cert_h);
	verify = gw_request_header(req, verify_h);
	xff = gw_request_header(req, XFF);
	xfp = gw_request_header(req, XFP);
	if (cert != NULL && cert[0] == '\0')
		cert = NULL;
	if (verify != NULL && (strlen(verify) > VERIFY_MAX ||
			       (strcmp(verify, "SUCCESS") != 0 && strcmp(verify, "NONE") != 0 &&
				strncmp(verify, "FAILED:", 7) != 0))) {
		be_err_set(e, BE_E_MALFORMED, "%s: must be SUCCESS, NONE or FAILED:<reason> "
			   "(nginx $ssl_client_verify)", verify_h);
		status = refuse(req, 400, e);
		goto out;
	}
	if (verify != NULL && (cert != NULL) != (strcmp(verify, "NONE") != 0)) {
		be_err_set(e, BE_E_MALFORMED, "%s says %s but %s %s", verify_h,
			   strcmp(verify, "NONE") == 0 ? "NONE" : "a certificate was presented",
			   cert_h, cert != NULL ? "holds one" : "is absent");
		status = refuse(req, 400, e);
		goto out;
	}
	if (xfp != NULL && strcmp(xfp, "https") != 0 && strcmp(xfp, "http") != 0) {
		be_err_set(e, BE_E_MALFORMED, XFP ": must be https or http");
		status = refuse(req, 400, e);
		goto out;
	}
	if (xff != NULL && gw_proxy_client_from_xff(cfg, xff, client, sizeof(client), e) != BE_OK) {
		status = refuse(req, 400, e);
		goto out;
	}
	if (cert != NULL) {
		struct be_err ce = { 0, "" };

		if (gw_proxy_cert_from_header(cert, &der, &ce) != BE_OK) {
			be_err_set(e, BE_E_MALFORMED, "%s: %s", cert_h, ce.msg);
			status = refuse(req, 400, e);
			goto out;
		}
	}
	/* The connection's own TLS details (if the proxy came over our TLS listener) are the
	 * proxy's, not the client's. */
	for (i = 0; i < req->n_peer_certs; i++)
		be_datum_free(&req->peer_certs[i]);
	req->n_peer_certs = 0;
	be_memzero(req->binding, sizeof(req->binding));
	req->binding_len = 0;
	if (der.data != NULL) {
		req->peer_certs[0] = der;
		req->n_peer_certs = 1;
		der.data = NULL;
	}
	snprintf(proxy_buf, proxy_cap, "%s", req->peer);
	req->proxy = proxy_buf;
	if (xff != NULL) {
		snprintf(peer_buf, peer_cap, "%s", client);
		req->peer = peer_buf;
	}
	req->proxied = true;
	/* Our own TLS listener is secure whatever a proxy header says. */
	req->secure = req->tls || cfg->proxy_https ||
		      (xfp != NULL && strcmp(xfp, "https") == 0);
out:
	be_datum_free(&der);
	return status;
}
