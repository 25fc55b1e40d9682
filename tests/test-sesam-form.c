/*
 * se.SAM request bodies (protocols/sesam_form.c): application/x-www-form-urlencoded,
 * multipart/form-data (RFC 7578, RFC 2046 section 5.1.1) and JSON, below the e2e tests:
 * every rule of the parser accepted where it should be and refused, naming the field or the
 * rule, where it should not.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sesam.h"
#include "tap.h"

#define URL "application/x-www-form-urlencoded"
#define BND "XyZ123boundary"
#define MP "multipart/form-data; boundary=" BND
#define CD(name) "Content-Disposition: form-data; name=\"" name "\"\r\n"
#define PART(headers, value) "--" BND "\r\n" headers "\r\n" value "\r\n"
#define CLOSE "--" BND "--\r\n"

static struct sesam_form form;
static struct be_err err;

/* Parses body (len bytes, or strlen when len is 0 and body is not NULL) into the static
 * form, cleared first. */
static int
parse(const char *ct, const char *body, size_t len)
{
	sesam_form_clear(&form);
	be_err_clear(&err);
	if (len == 0 && body != NULL)
		len = strlen(body);
	return sesam_form_parse(ct, (const unsigned char *)body, len, &form, &err);
}

/* True when field name holds exactly value, given count times. */
static bool
has(const char *name, const char *value, unsigned count)
{
	const struct sesam_field *f = sesam_form_get(&form, name);

	return f != NULL && f->len == strlen(value) && strcmp(f->value, value) == 0 &&
	       f->count == count;
}

static void
ok_parse(const char *test, const char *ct, const char *body, size_t len)
{
	int rc = parse(ct, body, len);

	tap_ok(rc == BE_OK, "%s: accepted (%s)", test, err.msg);
}

static void
refused(const char *test, const char *ct, const char *body, size_t len, int code,
	const char *needle)
{
	int rc = parse(ct, body, len);

	tap_ok(rc == code && strstr(err.msg, needle) != NULL, "%s: refused with %d, \"%s\" "
	       "(got %d: %s)", test, code, needle, rc, err.msg);
}

/* A body of n bytes: prefix, then 'a' up to n - strlen(suffix), then suffix. */
static char *
big(const char *prefix, size_t n, const char *suffix)
{
	char *s = malloc(n + 1);
	size_t p = strlen(prefix), q = strlen(suffix);

	if (s == NULL)
		abort();
	memcpy(s, prefix, p);
	memset(s + p, 'a', n - p - q);
	memcpy(s + n - q, suffix, q);
	s[n] = '\0';
	return s;
}

static void
test_urlencoded(void)
{
	char *b;
	size_t i, o;

	ok_parse("/sesam-form/url/fields", URL,
		 "command=gencert&template=client&CN=dev+1%21%2b&p12_pass=", 0);
	tap_ok(form.n == 4 && has("command", "gencert", 1) && has("template", "client", 1) &&
	       has("CN", "dev 1!+", 1) && has("p12_pass", "", 1),
	       "/sesam-form/url/fields: '+' is a space, %%XX decoded, empty value kept");
	ok_parse("/sesam-form/url/empty-pieces", URL, "&&command=listcerts&&flag&", 0);
	tap_ok(form.n == 2 && has("command", "listcerts", 1) && has("flag", "", 1),
	       "/sesam-form/url/empty-pieces: skipped; a name without '=' has an empty value");
	ok_parse("/sesam-form/url/equals-in-value", URL, "request_data=a=b=c", 0);
	tap_ok(has("request_data", "a=b=c", 1), "/sesam-form/url/equals-in-value: first '=' splits");
	ok_parse("/sesam-form/url/encoded-name", URL, "comm%61nd=x", 0);
	tap_ok(has("command", "x", 1), "/sesam-form/url/encoded-name: the name is decoded too");
	ok_parse("/sesam-form/url/duplicate", URL, "DNS=a.example.com&command=x&DNS=b.example.com",
		 0);
	tap_ok(form.n == 2 && has("DNS", "a.example.com,b.example.com", 2),
	       "/sesam-form/url/duplicate: values joined by ',' with count 2");
	ok_parse("/sesam-form/url/case-insensitive-type", "Application/X-WWW-Form-URLencoded ; "
		 "charset=\"UTF-8\"", "command=x", 0);
	ok_parse("/sesam-form/url/utf8", URL, "CN=%C3%A9t%C3%A9%F0%9F%94%91", 0);
	tap_ok(has("CN", "\xc3\xa9t\xc3\xa9\xf0\x9f\x94\x91", 1),
	       "/sesam-form/url/utf8: two- and four-byte sequences");

	refused("/sesam-form/url/escape-truncated", URL, "command=gen%2", 0, BE_E_MALFORMED,
		"command: '%' not followed by two hex digits");
	refused("/sesam-form/url/escape-at-end", URL, "command=gen%", 0, BE_E_MALFORMED,
		"RFC 3986 section 2.1");
	refused("/sesam-form/url/escape-not-hex", URL, "command=%zz", 0, BE_E_MALFORMED,
		"not followed by two hex digits");
	refused("/sesam-form/url/escape-in-name", URL, "com%g1nd=x", 0, BE_E_MALFORMED,
		"field 1: '%' in the name");
	refused("/sesam-form/url/nul", URL, "command=a%00b", 0, BE_E_MALFORMED,
		"command: contains a NUL byte");
	refused("/sesam-form/url/overlong-utf8", URL, "CN=%C0%AF", 0, BE_E_MALFORMED,
		"CN: not valid UTF-8");
	refused("/sesam-form/url/surrogate", URL, "CN=%ED%A0%80", 0, BE_E_MALFORMED,
		"not valid UTF-8");
	refused("/sesam-form/url/truncated-utf8", URL, "CN=%E2%82", 0, BE_E_MALFORMED,
		"not valid UTF-8");
	refused("/sesam-form/url/above-u10ffff", URL, "CN=%F4%90%80%80", 0, BE_E_MALFORMED,
		"not valid UTF-8");
	refused("/sesam-form/url/empty-name", URL, "=x", 0, BE_E_MALFORMED,
		"field 1: a field name is 1 to 64 characters");
	refused("/sesam-form/url/bad-name", URL, "command=x&bad+name=y", 0, BE_E_MALFORMED,
		"field 2: a field name");
	tap_ok(has("command", "x", 1), "/sesam-form/url/bad-name: fields before the error kept "
	       "(to echo command)");
	b = big("", 67, "=x");
	refused("/sesam-form/url/name-65", URL, b, 0, BE_E_MALFORMED, "1 to 64 characters");
	free(b);
	b = big("", 66, "=x");
	ok_parse("/sesam-form/url/name-64", URL, b, 0);
	free(b);
	b = big("", 300, "=x");
	refused("/sesam-form/url/name-raw-too-long", URL, b, 0, BE_E_MALFORMED,
		"name longer than 64 bytes");
	free(b);
	b = big("csr_dump=", 9 + SESAM_MAX_VALUE, "");
	ok_parse("/sesam-form/url/value-at-limit", URL, b, 0);
	free(b);
	b = big("csr_dump=", 9 + SESAM_MAX_VALUE + 1, "");
	refused("/sesam-form/url/value-over-limit", URL, b, 0, BE_E_TOOBIG,
		"csr_dump: value longer than 196608 bytes");
	free(b);
	b = big("x=", 2 + SESAM_MAX_VALUE / 2 + 1, "&");
	{
		size_t half = strlen(b);
		char *c = malloc(2 * half + 1);

		memcpy(c, b, half);
		memcpy(c + half, b, half);
		c[2 * half] = '\0';
		refused("/sesam-form/url/joined-over-limit", URL, c, 0, BE_E_TOOBIG,
			"x: values longer than 196608 bytes together");
		free(c);
	}
	free(b);
	b = malloc(40 * 8);
	for (i = 0, o = 0; i <= SESAM_MAX_FIELDS; i++)
		o += (size_t)snprintf(b + o, 40 * 8 - o, "f%zu=1&", i);
	refused("/sesam-form/url/too-many-fields", URL, b, 0, BE_E_TOOBIG, "more than 32 fields");
	free(b);
	refused("/sesam-form/url/charset-latin1", URL "; charset=iso-8859-1", "command=x", 0,
		BE_E_MALFORMED, "charset iso-8859-1 is not supported");
	refused("/sesam-form/url/bad-parameters", URL "; charset", "command=x", 0, BE_E_MALFORMED,
		"Content-Type parameters do not parse");
}

static void
test_multipart(void)
{
	char *b;

	ok_parse("/sesam-form/multipart/fields", MP,
		 PART(CD("command"), "gencert")
		 PART(CD("template") "Content-Type: text/plain; charset=utf-8\r\n", "client")
		 PART(CD("CN") "Content-Transfer-Encoding: 8bit\r\n", "d\xc3\xa9v 1")
		 PART(CD("p12_pass"), "")
		 CLOSE, 0);
	tap_ok(form.n == 4 && has("command", "gencert", 1) && has("template", "client", 1) &&
	       has("CN", "d\xc3\xa9v 1", 1) && has("p12_pass", "", 1),
	       "/sesam-form/multipart/fields: values as sent, empty value kept");
	ok_parse("/sesam-form/multipart/preamble-epilogue", MP,
		 "This is the preamble.\r\n" PART(CD("command"), "listcerts") CLOSE
		 "epilogue, ignored --" BND "\r\n", 0);
	tap_ok(form.n == 1 && has("command", "listcerts", 1),
	       "/sesam-form/multipart/preamble-epilogue: both ignored");
	ok_parse("/sesam-form/multipart/value-crlf-and-dashes", MP,
		 PART(CD("csr_dump") "Content-Type: application/octet-stream\r\n",
		      "line 1\r\nline 2 --" BND " and --" BND "--\r\n")
		 CLOSE, 0);
	tap_ok(has("csr_dump", "line 1\r\nline 2 --" BND " and --" BND "--\r\n", 1),
	       "/sesam-form/multipart/value-crlf-and-dashes: CRLF and a boundary not after CRLF "
	       "are content");
	refused("/sesam-form/multipart/delimiter-in-value", MP,
		PART(CD("x"), "a\r\n--" BND "b") CLOSE, 0, BE_E_MALFORMED,
		"boundary delimiter not followed by CRLF");
	ok_parse("/sesam-form/multipart/transport-padding", MP,
		 "--" BND " \t\r\n" CD("command") "\r\nx\r\n" CLOSE, 0);
	tap_ok(has("command", "x", 1), "/sesam-form/multipart/transport-padding: blanks after "
	       "the delimiter (RFC 2046 5.1.1)");
	ok_parse("/sesam-form/multipart/quoted-boundary",
		 "multipart/form-data; charset=utf-8; boundary=\"a b'()+_,-./:=?\"",
		 "--a b'()+_,-./:=?\r\n" CD("command") "\r\nx\r\n--a b'()+_,-./:=?--", 0);
	tap_ok(has("command", "x", 1), "/sesam-form/multipart/quoted-boundary: every bchar, "
	       "space inside");
	ok_parse("/sesam-form/multipart/token-name-filename", MP,
		 PART("content-disposition: form-data; filename=\"req.pem\"; name=csr_dump\r\n"
		      "X-Other: ignored\r\n", "PEM")
		 CLOSE, 0);
	tap_ok(has("csr_dump", "PEM", 1), "/sesam-form/multipart/token-name-filename: header "
	       "names case-insensitive, token name, filename and other headers ignored");
	ok_parse("/sesam-form/multipart/escaped-quote", MP,
		 PART("Content-Disposition: form-data; name=\"com\\mand\"\r\n", "x") CLOSE, 0);
	tap_ok(has("command", "x", 1), "/sesam-form/multipart/escaped-quote: quoted-pair "
	       "(RFC 9110 5.6.4)");
	ok_parse("/sesam-form/multipart/duplicate", MP,
		 PART(CD("DNS"), "a.example.com") PART(CD("DNS"), "b.example.com") CLOSE, 0);
	tap_ok(form.n == 1 && has("DNS", "a.example.com,b.example.com", 2),
	       "/sesam-form/multipart/duplicate: joined with count 2");
	ok_parse("/sesam-form/multipart/close-without-crlf", MP,
		 PART(CD("command"), "x") "--" BND "--", 0);

	refused("/sesam-form/multipart/no-boundary", "multipart/form-data", "--x\r\n", 0,
		BE_E_MALFORMED, "no usable boundary parameter");
	b = big("multipart/form-data; boundary=", 30 + 71, "");
	refused("/sesam-form/multipart/boundary-71", b, "x", 0, BE_E_MALFORMED,
		"no usable boundary parameter");
	free(b);
	refused("/sesam-form/multipart/boundary-bad-char",
		"multipart/form-data; boundary=\"a@b\"", "--a@b\r\n", 0, BE_E_MALFORMED,
		"invalid boundary parameter (RFC 2046 section 5.1.1)");
	refused("/sesam-form/multipart/boundary-trailing-space",
		"multipart/form-data; boundary=\"ab \"", "--ab \r\n", 0, BE_E_MALFORMED,
		"invalid boundary");
	refused("/sesam-form/multipart/no-delimiter", MP, "command=x", 0, BE_E_MALFORMED,
		"no boundary delimiter in the body");
	refused("/sesam-form/multipart/empty-body", MP, "", 0, BE_E_MALFORMED,
		"no boundary delimiter");
	refused("/sesam-form/multipart/no-parts", MP, CLOSE, 0, BE_E_MALFORMED, "no parts");
	refused("/sesam-form/multipart/truncated-part", MP,
		PART(CD("command"), "gencert") PART(CD("template"), "cli"), 0, BE_E_MALFORMED,
		"part 2 is not closed by a boundary delimiter");
	tap_ok(has("command", "gencert", 1), "/sesam-form/multipart/truncated-part: the first "
	       "part was read");
	refused("/sesam-form/multipart/truncated-headers", MP,
		"--" BND "\r\nContent-Disposition: form-da", 0, BE_E_MALFORMED,
		"part 1: header line too long or not ended by CRLF");
	refused("/sesam-form/multipart/delimiter-garbage", MP,
		"--" BND "xyz\r\n" CD("command") "\r\nx\r\n" CLOSE, 0, BE_E_MALFORMED,
		"boundary delimiter not followed by CRLF");
	refused("/sesam-form/multipart/bare-lf", MP,
		"--" BND "\n" CD("command") "\nx\n" CLOSE, 0, BE_E_MALFORMED,
		"not followed by CRLF");
	refused("/sesam-form/multipart/no-disposition", MP,
		PART("Content-Type: text/plain\r\n", "x") CLOSE, 0, BE_E_MALFORMED,
		"part 1: no Content-Disposition (RFC 7578 section 4.2)");
	refused("/sesam-form/multipart/attachment", MP,
		PART("Content-Disposition: attachment; name=\"x\"\r\n", "x") CLOSE, 0,
		BE_E_MALFORMED, "Content-Disposition is not form-data");
	refused("/sesam-form/multipart/no-name", MP,
		PART("Content-Disposition: form-data; filename=\"a\"\r\n", "x") CLOSE, 0,
		BE_E_MALFORMED, "without a usable name parameter");
	refused("/sesam-form/multipart/name-star", MP,
		PART("Content-Disposition: form-data; name*=utf-8''x\r\n", "x") CLOSE, 0,
		BE_E_MALFORMED, "name* is not used in form-data");
	refused("/sesam-form/multipart/unterminated-quote", MP,
		PART("Content-Disposition: form-data; name=\"x\r\n", "x") CLOSE, 0,
		BE_E_MALFORMED, "multipart part 1: ");
	refused("/sesam-form/multipart/two-dispositions", MP,
		PART(CD("a") CD("b"), "x") CLOSE, 0, BE_E_MALFORMED,
		"two Content-Disposition headers");
	refused("/sesam-form/multipart/base64", MP,
		PART(CD("x") "Content-Transfer-Encoding: base64\r\n", "eA==") CLOSE, 0,
		BE_E_MALFORMED, "Content-Transfer-Encoding other than 7bit, 8bit or binary");
	refused("/sesam-form/multipart/part-charset", MP,
		PART(CD("x") "Content-Type: text/plain; charset=iso-8859-1\r\n", "x") CLOSE, 0,
		BE_E_MALFORMED, "charset iso-8859-1 is not supported");
	refused("/sesam-form/multipart/folded-header", MP,
		PART(CD("x") "X-A: 1\r\n continued\r\n", "x") CLOSE, 0,
		BE_E_MALFORMED, "malformed header line");
	refused("/sesam-form/multipart/many-headers", MP,
		PART(CD("x") "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\n", "x")
		CLOSE, 0, BE_E_MALFORMED, "more than 8 header lines");
	b = big("--" BND "\r\nX-Long: ", 1300, "\r\n" CD("x") "\r\nx\r\n" CLOSE);
	refused("/sesam-form/multipart/long-header", MP, b, 0, BE_E_MALFORMED,
		"header line too long");
	free(b);
	refused("/sesam-form/multipart/bad-name", MP, PART(CD("a\\\"b"), "x") CLOSE, 0,
		BE_E_MALFORMED, "a field name is 1 to 64 characters");
	refused("/sesam-form/multipart/nul", MP, PART(CD("x"), "a\0b") CLOSE,
		sizeof(PART(CD("x"), "a\0b") CLOSE) - 1, BE_E_MALFORMED, "x: contains a NUL byte");
	refused("/sesam-form/multipart/bad-utf8", MP, PART(CD("x"), "\xff") CLOSE, 0,
		BE_E_MALFORMED, "x: not valid UTF-8");
	b = big("--" BND "\r\n" CD("csr_dump") "\r\n", 60 + SESAM_MAX_VALUE + 40,
		"\r\n" CLOSE);
	refused("/sesam-form/multipart/oversize", MP, b, 0, BE_E_TOOBIG,
		"csr_dump: value longer than 196608 bytes");
	free(b);
}

static void
test_json_and_types(void)
{
	ok_parse("/sesam-form/json/types", "application/json; charset=utf-8",
		 "{\"command\":\"issuepseudocsr\",\"n\":-5,\"t\":true,\"f\":false,\"z\":null,"
		 "\"request_data\":{\"CN\":\"x\",\"DNS\":[\"a\"]},\"DNS\":[\"a.example.com\","
		 "\"b.example.com\"]}", 0);
	tap_ok(has("command", "issuepseudocsr", 1) && has("n", "-5", 1) && has("t", "true", 1) &&
	       has("f", "false", 1) && sesam_form_get(&form, "z") == NULL &&
	       has("request_data", "{\"CN\":\"x\",\"DNS\":[\"a\"]}", 1) &&
	       has("DNS", "a.example.com,b.example.com", 2),
	       "/sesam-form/json/types: strings, integers, booleans, null absent, objects as "
	       "compact JSON, arrays as a repeated field");
	refused("/sesam-form/json/not-object", "application/json", "[\"command\"]", 0,
		BE_E_MALFORMED, "request body: must be a JSON object");
	refused("/sesam-form/json/float", "application/json", "{\"n\":1.5}", 0, BE_E_MALFORMED,
		"n: must be a string");
	refused("/sesam-form/json/array-member", "application/json", "{\"DNS\":[\"a\",1]}", 0,
		BE_E_MALFORMED, "DNS[1]: must be a string");
	refused("/sesam-form/json/duplicate-key", "application/json",
		"{\"command\":\"a\",\"command\":\"b\"}", 0, BE_E_MALFORMED, "request body");
	refused("/sesam-form/json/bad-key", "application/json", "{\"a b\":\"x\"}", 0,
		BE_E_MALFORMED, "key 1: a field name");
	refused("/sesam-form/json/truncated", "application/json", "{\"command\":\"a", 0,
		BE_E_MALFORMED, "request body");
	refused("/sesam-form/json/charset", "application/json; charset=utf-16", "{}", 0,
		BE_E_MALFORMED, "charset utf-16 is not supported");
	refused("/sesam-form/json/nul-in-string", "application/json",
		"{\"command\":\"a\\u0000b\"}", 0, BE_E_MALFORMED, "request body");

	refused("/sesam-form/type/none-empty", NULL, NULL, 0, BE_E_MALFORMED,
		"empty request: the fields command and template are expected");
	refused("/sesam-form/type/none", NULL, "command=x", 0, BE_E_POLICY, "no Content-Type");
	refused("/sesam-form/type/text-plain", "text/plain", "command=x", 0, BE_E_POLICY,
		"Content-Type text/plain is not supported");
	refused("/sesam-form/type/prefix-only", URL "x", "command=x", 0, BE_E_POLICY,
		"is not supported");
}

int
main(void)
{
	test_urlencoded();
	test_multipart();
	test_json_and_types();
	sesam_form_clear(&form);
	return tap_done();
}
