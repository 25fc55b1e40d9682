/*
 * The forwarded-client headers of a trusted reverse proxy (gateway/gw_proxy.c): the client
 * certificate as nginx's $ssl_client_escaped_cert sends it, and X-Forwarded-For.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gw_proxy.h"
#include "tap.h"
#include "testlib.h"

static char *pem;		/* a certificate, PEM */
static char *der;		/* the same, DER */
static size_t der_len;

/* RFC 3986 2.1: every byte but the unreserved ones as %XX (what nginx's
 * $ssl_client_escaped_cert does to the PEM); upper: upper-case hex digits.  malloc()ed. */
static char *
escape(const char *s, bool upper)
{
	const char *hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	if (out == NULL)
		abort();
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c) != NULL) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

static void
cert_ok(const char *name, const char *value)
{
	gnutls_datum_t d = { NULL, 0 };
	struct be_err e = { 0, "" };
	int rc = gw_proxy_cert_from_header(value, &d, &e);

	tap_ok(rc == BE_OK && d.size == der_len && memcmp(d.data, der, der_len) == 0,
	       "/gw-proxy/cert/%s: the certificate's DER (%s)", name, e.msg);
	be_datum_free(&d);
}

static void
cert_bad(const char *name, const char *value, const char *needle)
{
	gnutls_datum_t d = { NULL, 0 };
	struct be_err e = { 0, "" };
	int rc = gw_proxy_cert_from_header(value, &d, &e);

	tap_ok(rc == BE_E_MALFORMED && d.data == NULL && strstr(e.msg, needle) != NULL,
	       "/gw-proxy/cert/%s: refused, \"%s\" (got %d: %s)", name, needle, rc, e.msg);
	be_datum_free(&d);
}

static void
test_cert(void)
{
	char *v, *w, *p;
	size_t n;

	v = escape(pem, true);
	cert_ok("nginx-escaped", v);
	free(v);
	v = escape(pem, false);
	cert_ok("lower-case-hex", v);
	free(v);
	cert_ok("unescaped", pem);
	w = escape(pem, true);
	n = strlen(w) + 16;
	v = malloc(n);
	snprintf(v, n, "%%20%%09%%0A%s", w);
	cert_ok("leading-blanks", v);

	p = strstr(v, "%0A");
	memcpy(p, "%00", 3);
	cert_bad("escaped-nul", v, "malformed percent-encoding (RFC 3986 section 2.1)");
	free(v);
	v = malloc(strlen(w) + 8);
	snprintf(v, strlen(w) + 8, "%s%%", w);
	cert_bad("trailing-percent", v, "malformed percent-encoding");
	snprintf(v, strlen(w) + 8, "%s%%4", w);
	cert_bad("one-hex-digit", v, "malformed percent-encoding");
	snprintf(v, strlen(w) + 8, "%s%%G0", w);
	cert_bad("not-hex", v, "malformed percent-encoding");
	free(v);
	v = malloc(2 * strlen(w) + 1);
	snprintf(v, 2 * strlen(w) + 1, "%s%s", w, w);
	cert_bad("two-certificates", v, "");
	free(v);
	free(w);

	v = strdup(pem);
	p = strstr(v, "-----END");
	p[-2] = '*';		/* the last base64 character before the END line */
	w = escape(v, true);
	cert_bad("bad-base64", w, "");
	free(w);
	free(v);

	cert_bad("base64-only", "MIIBszCCAVmgAwIBAgIU", "not a URL-escaped PEM certificate");
	cert_bad("empty-after-blanks", "%20%20", "not a URL-escaped PEM certificate");
	cert_bad("csr-label", "-----BEGIN%20CERTIFICATE%20REQUEST-----%0AAAAA%0A-----END%20"
		 "CERTIFICATE%20REQUEST-----%0A", "");
	v = malloc(32 * 1024 + 2);
	memset(v, 'A', 32 * 1024 + 1);
	v[32 * 1024 + 1] = '\0';
	cert_bad("over-32k", v, "longer than 32768 bytes");
	free(v);
}

static struct gw_config cfg;
static struct gw_net nets[2];

static void
xff_ok(const char *name, const char *value, const char *want)
{
	struct be_err e = { 0, "" };
	char client[INET6_ADDRSTRLEN] = "";
	int rc = gw_proxy_client_from_xff(&cfg, value, client, sizeof(client), &e);

	tap_ok(rc == BE_OK && strcmp(client, want) == 0, "/gw-proxy/xff/%s: client %s (got %s %s)",
	       name, want, client, e.msg);
}

static void
xff_bad(const char *name, const char *value, const char *needle)
{
	struct be_err e = { 0, "" };
	char client[INET6_ADDRSTRLEN] = "";
	int rc = gw_proxy_client_from_xff(&cfg, value, client, sizeof(client), &e);

	tap_ok(rc == BE_E_MALFORMED && strstr(e.msg, needle) != NULL,
	       "/gw-proxy/xff/%s: refused, \"%s\" (got %d: %s)", name, needle, rc, e.msg);
}

static void
test_xff(void)
{
	char *v;
	size_t i, o;

	/* proxy.trusted: 10.0.0.0/8 and ::1 */
	nets[0].family = AF_INET;
	nets[0].prefix = 8;
	nets[0].addr[0] = 10;
	nets[1].family = AF_INET6;
	nets[1].prefix = 128;
	nets[1].addr[15] = 1;
	cfg.proxy = true;
	cfg.proxy_trusted = nets;
	cfg.n_proxy_trusted = 2;

	xff_ok("one", "203.0.113.7", "203.0.113.7");
	xff_ok("through-trusted", "203.0.113.7, 10.1.2.3, 10.0.0.1", "203.0.113.7");
	xff_ok("spoofed-left", "198.51.100.1, 203.0.113.7, 10.0.0.1", "203.0.113.7");
	xff_ok("all-trusted", "10.0.0.5,10.0.0.6", "10.0.0.5");
	xff_ok("v6-canonical", "2001:DB8:0:0::1, ::1", "2001:db8::1");
	xff_ok("v4-mapped", "::ffff:192.0.2.1 ,\t10.0.0.1", "192.0.2.1");
	xff_ok("blanks", " \t203.0.113.7\t ", "203.0.113.7");
	v = malloc(64 * 16);
	for (i = 0, o = 0; i < 64; i++)
		o += (size_t)snprintf(v + o, 64 * 16 - o, "%s10.0.0.%zu", i ? "," : "", i + 1);
	xff_ok("64-hops", v, "10.0.0.1");
	snprintf(v + o, 64 * 16 - o, ",10.0.0.99");
	xff_bad("65-hops", v, "or there are more than 64");
	free(v);

	xff_bad("empty", "", "element 1 is empty");
	xff_bad("empty-element", "203.0.113.7,,10.0.0.1", "element 2 is empty");
	xff_bad("trailing-comma", "203.0.113.7, ", "element 2 is empty");
	xff_bad("host-name", "client.example.com", "element 1 is not an IP address");
	xff_bad("port", "10.0.0.1, 203.0.113.7:4711", "element 2 is not an IP address");
	xff_bad("bracketed-v6", "[2001:db8::1]", "element 1 is not an IP address");
	xff_bad("rfc7239-syntax", "for=192.0.2.60", "element 1 is not an IP address");
	xff_bad("long-element", "11111111111111111111111111111111111111111111111111",
		"element 1 is empty or too long");
	v = malloc(5000);
	memset(v, ' ', 4999);
	v[0] = '1';
	v[4999] = '\0';
	xff_bad("over-4096", v, "longer than 4096 bytes");
	free(v);
}

int
main(void)
{
	char cmd[PATH_MAX * 2 + 256];
	size_t len;

	(void)write_file;
	if (gnutls_global_init() < 0 || !tmp_setup("gw-proxy")) {
		printf("Bail out! cannot set up\n");
		return 99;
	}
	snprintf(cmd, sizeof(cmd), "cd '%s' && openssl req -x509 -newkey ec -pkeyopt "
		 "ec_paramgen_curve:P-256 -nodes -keyout key.pem -subj /CN=client.example.com "
		 "-days 30 -out cert.pem 2>/dev/null && openssl x509 -in cert.pem -outform DER "
		 "-out cert.der", tmpdir);
	if (system(cmd) != 0 || !read_file("cert.pem", &pem, &len) ||
	    !read_file("cert.der", &der, &der_len)) {
		printf("Bail out! openssl could not make a certificate\n");
		tmp_cleanup();
		return 99;
	}
	test_cert();
	test_xff();
	free(pem);
	free(der);
	tmp_cleanup();
	return tap_done();
}
