/*
 * Unit tests for backend/be_name.c: the attribute table, subject value validation, RFC 4514
 * output, subjectAltName validation (RFC 1035 syntax, IDNA2008 A-labels, wildcard shape), and
 * the profile name policy of backend/be_namepolicy.c over the final subjectAltName list.
 */
#include "config.h"

#include <string.h>

#include "be.h"
#include "be_namepolicy.h"
#include "be_profile.h"
#include "tap.h"

/* TAP_IS_INT evaluates its first argument twice: call once, then compare. */
#define IS_RC(call, want, name) \
	do { \
		int rc_once_ = (call); \
		TAP_IS_INT(rc_once_, want, name); \
	} while (0)

/* Adds value (strlen) for a to a scratch name; returns the code and leaves the message in e. */
static int
add1(enum be_dn_attr a, const char *value, struct be_err *e)
{
	struct be_name n = { NULL, 0 };
	int rc;

	be_err_clear(e);
	rc = be_name_add(&n, a, value, strlen(value), e);
	be_name_clear(&n);
	return rc;
}

static int
san1(enum be_san_type t, const char *value, struct be_err *e)
{
	struct be_sans s = { NULL, 0 };
	int rc;

	be_err_clear(e);
	rc = be_sans_add(&s, t, value, strlen(value), e);
	be_sans_clear(&s);
	return rc;
}

static void
test_table(void)
{
	enum be_dn_attr a = BE_DN__COUNT;
	int i;
	bool all = true;

	for (i = 0; i < BE_DN__COUNT; i++) {
		const struct be_dn_info *info = be_dn_info((enum be_dn_attr)i);

		if (info == NULL || (int)info->attr != i || info->max_len == 0)
			all = false;
	}
	tap_ok(all, "/name/table/complete-and-in-enum-order");
	tap_ok(be_dn_info(BE_DN__COUNT) == NULL, "/name/table/out-of-range-is-null");
	tap_ok(be_dn_info(BE_DN_CN)->max_len == 64 && be_dn_info(BE_DN_C)->max_len == 2 &&
	       be_dn_info(BE_DN_E)->max_len == 255 && be_dn_info(BE_DN_L)->max_len == 128,
	       "/name/table/rfc5280-upper-bounds");
	tap_ok(be_dn_lookup("cn", &a) == BE_OK && a == BE_DN_CN,
	       "/name/lookup/key-case-insensitive");
	tap_ok(be_dn_lookup("organizationUnitName", &a) == BE_OK && a == BE_DN_OU &&
	       be_dn_lookup("organizationalUnitName", &a) == BE_OK && a == BE_DN_OU,
	       "/name/lookup/ou-tsb-and-rfc4519-spellings");
	tap_ok(be_dn_lookup("countryName", &a) == BE_OK && a == BE_DN_C &&
	       be_dn_lookup("country", &a) == BE_OK && a == BE_DN_C,
	       "/name/lookup/country-both-spellings");
	tap_ok(be_dn_lookup("emailAddress", &a) == BE_OK && a == BE_DN_E &&
	       be_dn_lookup("email", &a) == BE_OK && a == BE_DN_E,
	       "/name/lookup/email-both-spellings");
	tap_ok(be_dn_lookup("0.9.2342.19200300.100.1.25", &a) == BE_OK && a == BE_DN_DC,
	       "/name/lookup/dotted-oid");
	tap_ok(be_dn_lookup("postalCode", &a) == BE_E_NOTFOUND &&
	       be_dn_lookup("2.5.4.17", &a) == BE_E_NOTFOUND && be_dn_lookup(NULL, &a) ==
	       BE_E_NOTFOUND, "/name/lookup/unknown-is-notfound");
}

static void
test_values(void)
{
	struct be_err e;
	char longcn[70];

	IS_RC(add1(BE_DN_CN, "Jürgen Müller", &e), BE_OK, "/name/value/utf8-accepted");
	IS_RC(add1(BE_DN_CN, "", &e), BE_E_POLICY, "/name/value/empty");
	IS_RC(add1(BE_DN_CN, " x", &e), BE_E_POLICY, "/name/value/leading-space");
	IS_RC(add1(BE_DN_CN, "x ", &e), BE_E_POLICY, "/name/value/trailing-space");
	IS_RC(add1(BE_DN_CN, "a\tb", &e), BE_E_POLICY, "/name/value/c0-control");
	IS_RC(add1(BE_DN_CN, "a\x7f", &e), BE_E_POLICY, "/name/value/del");
	IS_RC(add1(BE_DN_CN, "a\xc2\x85", &e), BE_E_POLICY, "/name/value/c1-control");
	IS_RC(add1(BE_DN_CN, "\xc0\xaf", &e), BE_E_POLICY, "/name/value/overlong-utf8");
	IS_RC(add1(BE_DN_CN, "\xed\xa0\x80", &e), BE_E_POLICY, "/name/value/surrogate");
	IS_RC(add1(BE_DN_CN, "\xf4\x90\x80\x80", &e), BE_E_POLICY,
		   "/name/value/above-u10ffff");
	IS_RC(add1(BE_DN_CN, "ab\xe2\x82", &e), BE_E_POLICY, "/name/value/truncated-utf8");
	tap_ok(strstr(e.msg, "UTF-8") != NULL && strstr(e.msg, "\\xe2\\x82") != NULL,
	       "/name/value/bad-bytes-escaped-in-message (%s)", e.msg);

	{
		struct be_name n = { NULL, 0 };

		be_err_clear(&e);
		int r = be_name_add(&n, BE_DN_O, "ab\0cd", 5, &e);

		TAP_IS_INT(r, BE_E_POLICY, "/name/value/nul-byte");
		tap_ok(strcmp(e.msg, "subject O: contains a NUL byte") == 0,
		       "/name/value/nul-byte-message (%s)", e.msg);
		be_name_clear(&n);
	}

	memset(longcn, 'a', 64);
	longcn[64] = '\0';
	IS_RC(add1(BE_DN_CN, longcn, &e), BE_OK, "/name/cn/64-characters-accepted");
	longcn[64] = 'a';
	longcn[65] = '\0';
	IS_RC(add1(BE_DN_CN, longcn, &e), BE_E_POLICY, "/name/cn/65-characters-refused");
	tap_ok(strcmp(e.msg, "subject CN: longer than 64 characters") == 0,
	       "/name/cn/too-long-message (%s)", e.msg);
	/* 64 two-byte characters are 128 bytes but 64 characters */
	{
		char u[200];
		int i;

		for (i = 0; i < 64; i++)
			memcpy(u + 2 * i, "\xc3\xa9", 2);
		u[128] = '\0';
		IS_RC(add1(BE_DN_CN, u, &e), BE_OK, "/name/cn/length-counts-characters");
	}

	IS_RC(add1(BE_DN_C, "DE", &e), BE_OK, "/name/country/iso3166");
	IS_RC(add1(BE_DN_C, "My City", &e), BE_E_POLICY, "/name/country/not-iso3166");
	tap_ok(strcmp(e.msg, "subject C: \"My City\" is not an ISO 3166-1 alpha-2 country code") ==
	       0, "/name/country/message (%s)", e.msg);
	IS_RC(add1(BE_DN_C, "XX", &e), BE_E_POLICY, "/name/country/unassigned-xx");
	IS_RC(add1(BE_DN_C, "de", &e), BE_E_POLICY, "/name/country/lower-case");
	IS_RC(add1(BE_DN_C, "UK", &e), BE_E_POLICY, "/name/country/reserved-uk");
	IS_RC(add1(BE_DN_C, "ZW", &e), BE_OK, "/name/country/last-in-list");

	IS_RC(add1(BE_DN_SERIALNUMBER, "ABC-123 (x)/:=?", &e), BE_OK,
		   "/name/serialnumber/printable");
	IS_RC(add1(BE_DN_SERIALNUMBER, "a@b", &e), BE_E_POLICY,
		   "/name/serialnumber/outside-printablestring");
	IS_RC(add1(BE_DN_E, "user.name+tag@example.com", &e), BE_OK, "/name/email/addr-spec");
	IS_RC(add1(BE_DN_E, "no-at-sign", &e), BE_E_POLICY, "/name/email/no-at");
	IS_RC(add1(BE_DN_E, "a..b@example.com", &e), BE_E_POLICY, "/name/email/double-dot");
	IS_RC(add1(BE_DN_E, "a@-example.com", &e), BE_E_POLICY, "/name/email/bad-domain");
	IS_RC(add1(BE_DN_E, "j\xc3\xbcrgen@example.com", &e), BE_E_POLICY,
		   "/name/email/not-ia5");
	IS_RC(add1(BE_DN_DC, "example", &e), BE_OK, "/name/dc/ascii");
	IS_RC(add1(BE_DN_DC, "b\xc3\xa4r", &e), BE_E_POLICY, "/name/dc/not-ia5");
	{
		char q[200];

		memset(q, 'Z', 100);
		q[0] = '\x01';
		q[100] = '\0';
		add1(BE_DN_O, q, &e);
		tap_ok(strstr(e.msg, "\\x01") != NULL && strstr(e.msg, "...") != NULL &&
		       strlen(e.msg) < 120, "/name/value/message-quotes-and-truncates (%s)", e.msg);
	}
}

static void
test_name_ops(void)
{
	struct be_name a = { NULL, 0 }, b = { NULL, 0 };
	struct be_err e;
	char *s = NULL;
	int i, rc = BE_OK;

	be_err_clear(&e);
	rc |= be_name_add(&a, BE_DN_C, "DE", 2, &e);
	rc |= be_name_add(&a, BE_DN_O, "ACME, Inc.", 10, &e);
	rc |= be_name_add(&a, BE_DN_OU, "R+D", 3, &e);
	rc |= be_name_add(&a, BE_DN_CN, "#1 \"host\"", 9, &e);
	TAP_IS_INT(rc, BE_OK, "/name/build");
	tap_ok(strcmp(be_name_get(&a, BE_DN_O), "ACME, Inc.") == 0 &&
	       be_name_get(&a, BE_DN_L) == NULL, "/name/get");
	s = be_name_to_string(&a);
	tap_ok(s != NULL && strcmp(s, "CN=\\#1 \\\"host\\\",OU=R\\+D,O=ACME\\, Inc.,C=DE") == 0,
	       "/name/to-string/rfc4514-reversed-and-escaped (%s)", s ? s : "NULL");
	free(s);
	rc = be_name_copy(&b, &a);
	TAP_IS_INT(rc, BE_OK, "/name/copy");
	tap_ok(be_name_equal(&a, &b), "/name/equal/copy-is-equal");
	free(b.v[3].value);
	b.v[3].value = strdup("other");
	tap_ok(!be_name_equal(&a, &b), "/name/equal/different-value");
	be_name_clear(&b);
	be_name_clear(&b);
	tap_ok(b.n == 0 && b.v == NULL, "/name/clear/twice-is-safe");
	for (i = 0; i < 40 && rc == BE_OK; i++)
		rc = be_name_add(&b, BE_DN_OU, "x", 1, &e);
	tap_ok(rc == BE_E_POLICY && b.n == 32, "/name/cap/32-attributes");
	be_name_clear(&a);
	be_name_clear(&b);
}

static void
test_sans(void)
{
	struct be_sans a = { NULL, 0 }, b = { NULL, 0 };
	struct be_err e;
	static const unsigned char v4[4] = { 192, 0, 2, 1 };
	char big[300];
	int i, rc = BE_OK;

	IS_RC(san1(BE_SAN_DNS, "www.Example.COM", &e), BE_OK, "/san/dns/valid");
	IS_RC(san1(BE_SAN_DNS, "*.example.com", &e), BE_OK, "/san/dns/wildcard");
	IS_RC(san1(BE_SAN_DNS, "a.*.example.com", &e), BE_E_POLICY,
		   "/san/dns/inner-wildcard");
	IS_RC(san1(BE_SAN_DNS, "example.com.", &e), BE_E_POLICY, "/san/dns/trailing-dot");
	IS_RC(san1(BE_SAN_DNS, "-a.example.com", &e), BE_E_POLICY, "/san/dns/leading-hyphen");
	IS_RC(san1(BE_SAN_DNS, "a_b.example.com", &e), BE_E_POLICY, "/san/dns/underscore");
	IS_RC(san1(BE_SAN_DNS, "1.2.3.4", &e), BE_E_POLICY, "/san/dns/numeric-tld");
	IS_RC(san1(BE_SAN_DNS, "b\xc3\xa4r.example", &e), BE_E_POLICY, "/san/dns/u-label");
	memset(big, 'a', 64);
	memcpy(big + 64, ".com", 5);
	IS_RC(san1(BE_SAN_DNS, big, &e), BE_E_POLICY, "/san/dns/label-over-63");
	for (i = 0; i < 64; i++)
		memcpy(big + 4 * i, "abc.", 4);
	memcpy(big + 256, "com", 4);
	IS_RC(san1(BE_SAN_DNS, big, &e), BE_E_POLICY, "/san/dns/over-253");
	IS_RC(san1(BE_SAN_EMAIL, "a@example.com", &e), BE_OK, "/san/email/valid");
	IS_RC(san1(BE_SAN_EMAIL, "\"a b\"@example.com", &e), BE_E_POLICY,
		   "/san/email/quoted-local-part");
	IS_RC(san1(BE_SAN_IP, "192.0.2.1", &e), BE_OK, "/san/ip/v4");
	IS_RC(san1(BE_SAN_IP, "2001:db8::1", &e), BE_OK, "/san/ip/v6");
	IS_RC(san1(BE_SAN_IP, "192.0.2.256", &e), BE_E_POLICY, "/san/ip/bad-v4");
	IS_RC(san1(BE_SAN_IP, "192.0.2.1/24", &e), BE_E_POLICY, "/san/ip/cidr-refused");
	IS_RC(san1(BE_SAN_URI, "https://example.com/x?y=1", &e), BE_OK, "/san/uri/valid");
	IS_RC(san1(BE_SAN_URI, "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", &e), BE_OK,
		   "/san/uri/urn");
	IS_RC(san1(BE_SAN_URI, "/relative/path", &e), BE_E_POLICY, "/san/uri/relative");
	IS_RC(san1(BE_SAN_URI, "http://a b", &e), BE_E_POLICY, "/san/uri/space");
	IS_RC(san1(BE_SAN_URI, ":x:y", &e), BE_E_POLICY, "/san/uri/empty-scheme");
	{
		struct be_sans s = { NULL, 0 };

		be_err_clear(&e);
		int r = be_sans_add(&s, BE_SAN_DNS, "a\0.com", 6, &e);

		TAP_IS_INT(r, BE_E_POLICY, "/san/dns/nul-byte");
		be_sans_clear(&s);
	}

	be_err_clear(&e);
	rc |= be_sans_add(&a, BE_SAN_DNS, "WWW.example.com", 15, &e);
	rc |= be_sans_add(&a, BE_SAN_IP, "2001:db8:0::0001", 16, &e);
	rc |= be_sans_add_ip_raw(&a, v4, 4, &e);
	rc |= be_sans_add(&a, BE_SAN_EMAIL, "Ops@Example.com", 15, &e);
	TAP_IS_INT(rc, BE_OK, "/san/build");
	tap_ok(strcmp(a.v[0].value, "www.example.com") == 0, "/san/dns/lower-cased");
	tap_ok(strcmp(a.v[1].value, "2001:db8::1") == 0 && a.v[1].iplen == 16,
	       "/san/ip/canonical-text");
	tap_ok(strcmp(a.v[2].value, "192.0.2.1") == 0 && a.v[2].iplen == 4 &&
	       memcmp(a.v[2].ip, v4, 4) == 0, "/san/ip/raw");
	rc = be_sans_add_ip_raw(&b, v4, 5, &e);
	TAP_IS_INT(rc, BE_E_POLICY, "/san/ip/raw-bad-length");
	rc = BE_OK;
	be_sans_clear(&b);
	rc |= be_sans_add(&b, BE_SAN_EMAIL, "Ops@example.COM", 15, &e);
	rc |= be_sans_add_ip_raw(&b, v4, 4, &e);
	rc |= be_sans_add(&b, BE_SAN_IP, "2001:db8::1", 11, &e);
	rc |= be_sans_add(&b, BE_SAN_DNS, "www.EXAMPLE.com", 15, &e);
	tap_ok(rc == BE_OK && be_sans_equal(&a, &b), "/san/equal/order-and-case-insensitive");
	be_sans_clear(&b);
	rc = be_sans_copy(&b, &a);
	TAP_IS_INT(rc, BE_OK, "/san/copy");
	free(b.v[3].value);
	b.v[3].value = strdup("ops@example.com");
	tap_ok(!be_sans_equal(&a, &b), "/san/equal/email-local-part-case-sensitive");
	be_sans_clear(&b);
	for (i = 0, rc = BE_OK; i < 70 && rc == BE_OK; i++)
		rc = be_sans_add(&b, BE_SAN_DNS, "a.example", 9, &e);
	tap_ok(rc == BE_E_POLICY && b.n == 64, "/san/cap/64-names");
	tap_ok(strcmp(be_san_type_name(BE_SAN_DNS), "dns") == 0 &&
	       strcmp(be_san_type_name(BE_SAN_URI), "uri") == 0 &&
	       strcmp(be_san_type_name(BE_SAN__COUNT), "unknown") == 0, "/san/type-names");
	be_sans_clear(&a);
	be_sans_clear(&b);
}

/* rc is want and e's sentence holds needle. */
static void
says(int rc, int want, const struct be_err *e, const char *needle, const char *name)
{
	if (!tap_ok(rc == want && strstr(e->msg, needle) != NULL, "%s", name))
		tap_diag("got %d \"%s\", want %d and \"%s\"", rc, e->msg, want, needle);
}

/* A name of n octets: labels "aaa...a." of 63 and a last short label. */
static void
long_name(char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = (i % 64 == 63) ? '.' : 'a';
	buf[n] = '\0';
	if (buf[n - 1] == '.')
		buf[n - 1] = 'b';
}

static void
test_dns_names(void)
{
	struct be_err e;
	struct be_sans s = { NULL, 0 };
	char big[300], why[256];
	int rc;

	/* IDNA2008 A-labels (RFC 5891 5.4), checked with libidn2 */
	IS_RC(san1(BE_SAN_DNS, "xn--bcher-kva.example", &e), BE_OK, "/dns/idna/valid-a-label");
	IS_RC(san1(BE_SAN_DNS, "www.xn--mnchen-3ya.de", &e), BE_OK, "/dns/idna/valid-inner-a-label");
	says(san1(BE_SAN_DNS, "xn--99999999999.example.com", &e), BE_E_POLICY, &e,
	     "label \"xn--99999999999\" is not a valid IDNA2008 A-label", "/dns/idna/overflow-refused");
	says(san1(BE_SAN_DNS, "xn--a.example.com", &e), BE_E_POLICY, &e,
	     "label \"xn--a\" is not a valid IDNA2008 A-label", "/dns/idna/xn--a-refused");
	says(san1(BE_SAN_DNS, "www.xn--ls8h.la", &e), BE_E_POLICY, &e,
	     "not a valid IDNA2008 A-label", "/dns/idna/emoji-disallowed-refused");
	says(san1(BE_SAN_DNS, "xn--abc.example.com", &e), BE_E_POLICY, &e,
	     "not a valid IDNA2008 A-label", "/dns/idna/undecodable-refused");
	says(san1(BE_SAN_DNS, "ab--cd.example.com", &e), BE_E_POLICY, &e,
	     "\"ab--cd\" has \"--\" in the third and fourth positions but is not an A-label",
	     "/dns/idna/reserved-ldh-label-refused");
	says(san1(BE_SAN_DNS, "b\xc3\xbc" "cher.example", &e), BE_E_POLICY, &e,
	     "U-labels are refused: write it as A-labels, \"xn--bcher-kva.example\"",
	     "/dns/idna/u-label-refused-naming-the-a-label");
	says(san1(BE_SAN_DNS, "b\xc3\xbc\xff.example", &e), BE_E_POLICY, &e,
	     "not an ASCII host name", "/dns/idna/bad-utf8-refused");
	be_err_clear(&e);
	rc = be_sans_add(&s, BE_SAN_DNS, "XN--BCHER-KVA.Example", 21, &e);
	tap_ok(rc == BE_OK && strcmp(s.v[0].value, "xn--bcher-kva.example") == 0,
	       "/dns/idna/a-label-case-insensitive-stored-lower");
	be_sans_clear(&s);
	/* RFC 1035 2.3.1 / 2.3.4 */
	says(san1(BE_SAN_DNS, "www.example.com.", &e), BE_E_POLICY, &e,
	     "ends with a dot", "/dns/trailing-dot-refused-saying-so");
	says(san1(BE_SAN_DNS, "www..example.com", &e), BE_E_POLICY, &e, "empty label",
	     "/dns/empty-label");
	says(san1(BE_SAN_DNS, "a_b.example.com", &e), BE_E_POLICY, &e, "character \"_\"",
	     "/dns/underscore-named");
	says(san1(BE_SAN_DNS, "a-.example.com", &e), BE_E_POLICY, &e,
	     "begins or ends with a hyphen", "/dns/trailing-hyphen");
	memset(big, 'a', 63);
	memcpy(big + 63, ".com", 5);
	IS_RC(san1(BE_SAN_DNS, big, &e), BE_OK, "/dns/label-63-ok");
	memset(big, 'a', 64);
	memcpy(big + 64, ".com", 5);
	says(san1(BE_SAN_DNS, big, &e), BE_E_POLICY, &e, "longer than 63 octets",
	     "/dns/label-64-refused");
	long_name(big, 253);
	IS_RC(san1(BE_SAN_DNS, big, &e), BE_OK, "/dns/name-253-ok");
	long_name(big, 254);
	says(san1(BE_SAN_DNS, big, &e), BE_E_POLICY, &e, "longer than 253 octets",
	     "/dns/name-254-refused");
	big[0] = '*';
	big[1] = '.';
	long_name(big + 2, 251);
	big[0] = '*';
	IS_RC(san1(BE_SAN_DNS, big, &e), BE_OK, "/dns/wildcard-253-ok");
	long_name(big + 2, 252);
	says(san1(BE_SAN_DNS, big, &e), BE_E_POLICY, &e, "longer than 253 octets",
	     "/dns/wildcard-254-refused-counting-the-star");
	/* a wildcard is only ever the whole left-most label */
	IS_RC(san1(BE_SAN_DNS, "*.example.com", &e), BE_OK, "/dns/wildcard/left-most-syntax-ok");
	says(san1(BE_SAN_DNS, "f*o.example.com", &e), BE_E_POLICY, &e,
	     "only as the whole left-most label", "/dns/wildcard/partial-label-refused");
	says(san1(BE_SAN_DNS, "*.*.example.com", &e), BE_E_POLICY, &e,
	     "only as the whole left-most label", "/dns/wildcard/two-wildcards-refused");
	says(san1(BE_SAN_DNS, "www.*.com", &e), BE_E_POLICY, &e,
	     "only as the whole left-most label", "/dns/wildcard/inner-refused");
	says(san1(BE_SAN_DNS, "*", &e), BE_E_POLICY, &e, "only as the whole left-most label",
	     "/dns/wildcard/bare-star-refused");
	says(san1(BE_SAN_DNS, "*.com", &e), BE_E_POLICY, &e, "at least two labels",
	     "/dns/wildcard/directly-under-a-tld-refused");
	says(san1(BE_SAN_DNS, "**.example.com", &e), BE_E_POLICY, &e,
	     "only as the whole left-most label", "/dns/wildcard/double-star-refused");
	says(san1(BE_SAN_EMAIL, "a@*.example.com", &e), BE_E_POLICY, &e, "e-mail address",
	     "/dns/wildcard/not-in-an-e-mail-domain");
	tap_ok(be_dns_name_valid("a.example", 9, false, why, sizeof(why)) &&
	       !be_dns_name_valid("*.a.example", 11, false, why, sizeof(why)),
	       "/dns/valid/wildcard-only-when-asked");
}

static void
test_patterns(void)
{
	static const struct {
		const char *pattern, *name;
		bool match;
	} m[] = {
		{ "*.example.com", "www.example.com", true },
		{ "*.example.com", "WWW.Example.COM", true },
		{ "*.example.com", "a.b.example.com", false },
		{ "*.example.com", "example.com", false },
		{ "*.example.com", "wwwexample.com", false },
		{ "*.example.com", "www.example.com.evil.org", false },
		{ "*.example.com", "*.example.com", true },
		{ "*.example.com", "*.a.example.com", false },
		{ "**.example.com", "www.example.com", true },
		{ "**.example.com", "a.b.c.example.com", true },
		{ "**.example.com", "*.a.example.com", true },
		{ "**.example.com", "example.com", false },
		{ "**.example.com", "badexample.com", false },
		{ "host.example.org", "host.example.org", true },
		{ "host.example.org", "HOST.example.ORG", true },
		{ "host.example.org", "a.host.example.org", false },
		{ "host.example.org", "*.example.org", false },
	};
	static const char *const good[] = { "*.example.com", "**.example.com", "host.example.org",
					    "*.xn--bcher-kva.example", "*.com" };
	static const char *const bad[] = { "f*o.example.com", "*.*.example.com", "www.*.com", "*",
					   "***.example.com", "example.com.", "*.example.com.",
					   "xn--a.example.com", "b\xc3\xbc" "cher.example", "" };
	char why[256];
	size_t i;
	bool all = true;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		if (be_namepolicy_pattern_match(m[i].pattern, m[i].name) != m[i].match) {
			tap_diag("%s vs %s: want %d", m[i].pattern, m[i].name, m[i].match);
			all = false;
		}
	}
	tap_ok(all, "/pattern/match/one-label-for-star-any-depth-for-double-star-case-insensitive");
	for (i = 0, all = true; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!be_namepolicy_pattern_valid(good[i], why, sizeof(why))) {
			tap_diag("%s: %s", good[i], why);
			all = false;
		}
	}
	tap_ok(all, "/pattern/valid/name-star-double-star");
	for (i = 0, all = true; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (be_namepolicy_pattern_valid(bad[i], why, sizeof(why))) {
			tap_diag("%s: accepted", bad[i]);
			all = false;
		}
	}
	tap_ok(all, "/pattern/invalid/partial-inner-bare-triple-star-trailing-dot-bad-a-u-label");
}

/* A profile as be_profile.c makes it: types DNS, IP, e-mail, at most 8 names. */
static void
profile_init(struct be_profile *p, char **patterns, size_t n)
{
	memset(p, 0, sizeof(*p));
	p->name = (char *)"tls-server";
	p->san_types = (1u << BE_SAN_DNS) | (1u << BE_SAN_IP) | (1u << BE_SAN_EMAIL);
	p->san_max = 8;
	p->dns_patterns = patterns;
	p->n_dns_patterns = n;
}

/* Runs be_namepolicy_sans for subject CN=cn (none when NULL) and the SANs given as
 * "dns:NAME", "ip:ADDR", "email:ADDR", "uri:URI"; out holds the final list. */
static int
policy(const struct be_profile *p, const char *cn, const char *const *sans,
       struct be_sans *out, struct be_err *e)
{
	struct be_name subject = { NULL, 0 };
	struct be_sans in = { NULL, 0 };
	enum be_san_type t;
	const char *colon;
	size_t i;
	int rc = BE_OK;

	be_err_clear(e);
	be_sans_clear(out);
	if (cn != NULL && (rc = be_name_add(&subject, BE_DN_CN, cn, strlen(cn), e)) != BE_OK)
		goto out;
	for (i = 0; sans != NULL && sans[i] != NULL; i++) {
		colon = strchr(sans[i], ':');
		for (t = 0; t < BE_SAN__COUNT; t++)
			if (strncmp(sans[i], be_san_type_name(t), (size_t)(colon - sans[i])) == 0)
				break;
		if ((rc = be_sans_add(&in, t, colon + 1, strlen(colon + 1), e)) != BE_OK)
			goto out;
	}
	rc = be_namepolicy_sans(p, sans != NULL ? &in : NULL, &subject, out, e);
out:
	be_name_clear(&subject);
	be_sans_clear(&in);
	return rc;
}

static void
test_policy(void)
{
	char *one[] = { (char *)"*.example.com" };
	char *deep[] = { (char *)"**.example.com", (char *)"host.example.org" };
	struct be_profile p;
	struct be_sans out = { NULL, 0 };
	struct be_err e;
	int rc;

	/* cn_as_dns: the CN joins the list first, then the policy applies to all of it */
	profile_init(&p, one, 1);
	p.cn_as_dns = true;
	says(policy(&p, "www.evil.org", NULL, &out, &e), BE_E_POLICY, &e,
	     "SAN DNS:www.evil.org not allowed by profile tls-server (dns_patterns: *.example.com)",
	     "/policy/cn-as-dns/promoted-cn-meets-dns-patterns");
	says(policy(&p, "www.evil.org", (const char *const[]){ "dns:www.example.com", NULL },
		    &out, &e), BE_E_POLICY, &e, "SAN DNS:www.evil.org not allowed",
	     "/policy/cn-as-dns/promoted-cn-beside-an-allowed-san");
	rc = policy(&p, "WWW.Example.com", NULL, &out, &e);
	tap_ok(rc == BE_OK && out.n == 1 && strcmp(out.v[0].value, "www.example.com") == 0,
	       "/policy/cn-as-dns/allowed-cn-promoted-lower-case (%s)", e.msg);
	rc = policy(&p, "www.example.com", (const char *const[]){ "dns:WWW.example.com", NULL },
		    &out, &e);
	tap_ok(rc == BE_OK && out.n == 1, "/policy/cn-as-dns/cn-already-listed-is-no-duplicate");
	rc = policy(&p, "Device 42", NULL, &out, &e);
	tap_ok(rc == BE_OK && out.n == 0, "/policy/cn-as-dns/cn-that-is-no-host-name-stays-out");
	rc = policy(&p, "192.0.2.1", NULL, &out, &e);
	tap_ok(rc == BE_OK && out.n == 0, "/policy/cn-as-dns/ip-address-cn-is-no-host-name");
	says(policy(&p, "www.example.com.", NULL, &out, &e), BE_E_POLICY, &e,
	     "subject CN \"www.example.com.\" reads as a host name but is not a valid one: ends "
	     "with a dot", "/policy/cn/trailing-dot-refused");
	/* a host name in the CN meets the patterns even without cn_as_dns (RFC 6125 6.4.4) */
	p.cn_as_dns = false;
	says(policy(&p, "www.evil.org", (const char *const[]){ "dns:www.example.com", NULL },
		    &out, &e), BE_E_POLICY, &e,
	     "subject CN:www.evil.org not allowed by profile tls-server (dns_patterns",
	     "/policy/cn/host-name-cn-meets-dns-patterns");
	says(policy(&p, "*.example.com", NULL, &out, &e), BE_E_POLICY, &e,
	     "subject CN:*.example.com not allowed by profile tls-server (san.wildcards is false)",
	     "/policy/cn/wildcard-cn-refused");
	rc = policy(&p, "Device 42", (const char *const[]){ "dns:a.example.com", NULL }, &out,
		    &e);
	tap_ok(rc == BE_OK, "/policy/cn/plain-cn-untouched");

	/* dns_patterns: "*." is exactly one label, "**." any depth */
	says(policy(&p, NULL, (const char *const[]){ "dns:a.b.example.com", NULL }, &out, &e),
	     BE_E_POLICY, &e, "SAN DNS:a.b.example.com not allowed by profile tls-server "
	     "(dns_patterns", "/policy/patterns/star-is-one-label");
	says(policy(&p, NULL, (const char *const[]){ "dns:example.com", NULL }, &out, &e),
	     BE_E_POLICY, &e, "SAN DNS:example.com not allowed", "/policy/patterns/star-not-apex");
	profile_init(&p, deep, 2);
	IS_RC(policy(&p, NULL, (const char *const[]){ "dns:a.b.example.com", "dns:host.example.org",
						      NULL }, &out, &e), BE_OK,
	      "/policy/patterns/double-star-any-depth-and-exact");
	says(policy(&p, NULL, (const char *const[]){ "dns:a.host.example.org", NULL }, &out, &e),
	     BE_E_POLICY, &e, "(dns_patterns: **.example.com, host.example.org)",
	     "/policy/patterns/exact-is-exact-and-listed");

	/* wildcards: a profile decision, forbidden by default */
	profile_init(&p, NULL, 0);
	says(policy(&p, NULL, (const char *const[]){ "dns:*.example.com", NULL }, &out, &e),
	     BE_E_POLICY, &e,
	     "SAN DNS:*.example.com not allowed by profile tls-server (san.wildcards is false)",
	     "/policy/wildcards/forbidden-by-default");
	p.san_wildcards = true;
	IS_RC(policy(&p, NULL, (const char *const[]){ "dns:*.example.com", NULL }, &out, &e),
	      BE_OK, "/policy/wildcards/allowed-when-the-profile-says");
	p.dns_patterns = one;
	p.n_dns_patterns = 1;
	IS_RC(policy(&p, NULL, (const char *const[]){ "dns:*.example.com", NULL }, &out, &e),
	      BE_OK, "/policy/wildcards/star-pattern-covers-a-one-label-wildcard");
	says(policy(&p, NULL, (const char *const[]){ "dns:*.a.example.com", NULL }, &out, &e),
	     BE_E_POLICY, &e, "SAN DNS:*.a.example.com not allowed",
	     "/policy/wildcards/deeper-wildcard-outside-star-pattern");

	/* duplicates: refused, naming the name */
	profile_init(&p, NULL, 0);
	says(policy(&p, NULL, (const char *const[]){ "dns:www.example.com", "dns:WWW.Example.COM",
						     NULL }, &out, &e), BE_E_MALFORMED, &e,
	     "SAN DNS:www.example.com is listed twice", "/policy/duplicate/dns-case-insensitive");
	says(policy(&p, NULL, (const char *const[]){ "ip:2001:db8::1", "dns:a.example",
						     "ip:2001:DB8:0:0::0001", NULL }, &out, &e),
	     BE_E_MALFORMED, &e, "SAN IP:2001:db8::1 is listed twice", "/policy/duplicate/same-ip");
	says(policy(&p, NULL, (const char *const[]){ "email:ops@Example.com",
						     "email:ops@example.COM", NULL }, &out, &e),
	     BE_E_MALFORMED, &e, "SAN email:ops@example.COM is listed twice",
	     "/policy/duplicate/email-domain-case-insensitive");
	IS_RC(policy(&p, NULL, (const char *const[]){ "email:Ops@example.com",
						      "email:ops@example.com", NULL }, &out, &e),
	      BE_OK, "/policy/duplicate/email-local-part-case-sensitive");

	/* types and count */
	says(policy(&p, NULL, (const char *const[]){ "uri:https://example.com/", NULL }, &out, &e),
	     BE_E_POLICY, &e, "SAN URI:https://example.com/ not allowed by profile tls-server "
	     "(san.types has no uri)", "/policy/types/type-not-in-profile");
	p.san_max = 1;
	p.cn_as_dns = true;
	says(policy(&p, "b.example.com", (const char *const[]){ "dns:a.example.com", NULL }, &out,
		    &e), BE_E_POLICY, &e, "2 subjectAltName entries; profile tls-server allows at "
	     "most 1 (san.max)", "/policy/max/counts-the-promoted-cn");
	says(policy(&p, NULL, NULL, &out, &e), BE_E_POLICY, &e,
	     "neither a subject nor a subjectAltName", "/policy/empty-certificate");
	be_sans_clear(&out);
}

int
main(void)
{
	test_table();
	test_values();
	test_name_ops();
	test_sans();
	test_dns_names();
	test_patterns();
	test_policy();
	return tap_done();
}
