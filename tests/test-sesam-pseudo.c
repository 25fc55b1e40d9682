/*
 * The se.SAM pseudo-CSR (issuepseudocsr's request_data, sesam_pseudo_csr_parse): subject
 * fields, DNS names and the optional public key, as the template decides, and every kind
 * of bad request_data refused naming the key.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "fuzz/fuzz-profile.h"
#include "sesam_pseudo.h"
#include "tap.h"

/* RFC 8410 section 10.1 */
#define ED25519_PUB "-----BEGIN PUBLIC KEY-----\\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4" \
	"rXAxZuE=\\n-----END PUBLIC KEY-----\\n"

static struct be_profile prof;
static struct be_name subject;
static struct be_sans sans;
static gnutls_pubkey_t key;
static struct be_err err;

static void
reset(void)
{
	be_name_clear(&subject);
	be_sans_clear(&sans);
	if (key != NULL)
		gnutls_pubkey_deinit(key);
	key = NULL;
	be_err_clear(&err);
}

static int
parse(const char *rd)
{
	reset();
	return sesam_pseudo_csr_parse(&prof, rd, &subject, &sans, &key, &err);
}

static bool
san_is(size_t i, enum be_san_type t, const char *v)
{
	return i < sans.n && sans.v[i].type == t && strcmp(sans.v[i].value, v) == 0;
}

static void
refused(const char *name, const char *rd, int code, const char *needle)
{
	int rc = parse(rd);

	tap_ok(rc == code && strstr(err.msg, needle) != NULL && subject.n == 0 && sans.n == 0 &&
	       key == NULL, "/sesam-pseudo/%s: refused %d, \"%s\", nothing returned (got %d: %s)",
	       name, code, needle, rc, err.msg);
}

int
main(void)
{
	const char *cn;
	int rc;

	gnutls_global_init();
	fuzz_profile(&prof);

	rc = parse("{\"name\": \"device 1\", \"CN\": \"device-1\", \"O\": \"Securosys\", \"OU\": "
		   "\"IoT\", \"C\": \"CH\", \"ST\": \"ZH\", \"L\": \"Zurich\", \"E\": "
		   "\"dev@example.com\", \"DNS\": \"device-1.example.com, www.example.com\"}");
	cn = be_name_get(&subject, BE_DN_CN);
	tap_ok(rc == BE_OK && cn != NULL && strcmp(cn, "device-1") == 0 && subject.n == 7 &&
	       be_name_get(&subject, BE_DN_E) != NULL && key == NULL,
	       "/sesam-pseudo/seed: seven subject attributes, E among them, no key (%s)", err.msg);
	tap_ok(sans.n == 3 && san_is(0, BE_SAN_EMAIL, "dev@example.com") &&
	       san_is(1, BE_SAN_DNS, "device-1.example.com") &&
	       san_is(2, BE_SAN_DNS, "www.example.com"),
	       "/sesam-pseudo/seed: E as an rfc822Name, DNS split at ', '");

	rc = parse("{\"CN\": \"device-2\", \"public_key\": \"" ED25519_PUB "\"}");
	tap_ok(rc == BE_OK && key != NULL, "/sesam-pseudo/public-key: parsed (%s)", err.msg);
	rc = parse("{\"CN\": \"x\", \"DNS\": [\"a.example.com\", \"b.example.com\"], \"GN\": \"\"}");
	tap_ok(rc == BE_OK && sans.n == 2 && san_is(1, BE_SAN_DNS, "b.example.com") &&
	       subject.n == 1, "/sesam-pseudo/dns-array: a list; an empty field is absent (%s)",
	       err.msg);

	prof.subject[BE_DN_OU] = BE_FIELD_IGNORE;
	prof.subject[BE_DN_E] = BE_FIELD_FORBIDDEN;
	rc = parse("{\"CN\": \"x\", \"OU\": \"dropped\", \"E\": \"a@example.com\"}");
	tap_ok(rc == BE_OK && subject.n == 1 && be_name_get(&subject, BE_DN_OU) == NULL &&
	       sans.n == 1 && san_is(0, BE_SAN_EMAIL, "a@example.com"),
	       "/sesam-pseudo/template: an ignored field is dropped, E only in the SAN when the "
	       "subject may not hold it (%s)", err.msg);
	fuzz_profile(&prof);

	refused("not-json", "CN=x", BE_E_MALFORMED, "request_data");
	refused("not-object", "[\"CN\"]", BE_E_MALFORMED, "request_data");
	refused("truncated", "{\"CN\": \"x\", \"DNS\": \"a.exa", BE_E_MALFORMED, "request_data");
	refused("unknown-key", "{\"CN\": \"x\", \"serial\": \"1\"}", BE_E_MALFORMED,
		"request_data.serial: unknown key");
	refused("duplicate-key", "{\"CN\": \"x\", \"CN\": \"y\"}", BE_E_MALFORMED, "request_data");
	refused("dns-not-string", "{\"CN\": \"x\", \"DNS\": [\"a.example.com\", 1]}",
		BE_E_MALFORMED, "request_data.DNS[1]: must be a string");
	refused("number", "{\"CN\": 1.5}", BE_E_MALFORMED, "request_data.CN: must be a string");
	refused("bad-country", "{\"CN\": \"x\", \"C\": \"Switzerland\"}", BE_E_POLICY, "C");
	refused("bad-dns", "{\"CN\": \"x\", \"DNS\": \"bad_name.example.com\"}", BE_E_POLICY,
		"bad_name.example.com");
	refused("bad-public-key", "{\"CN\": \"x\", \"public_key\": \"-----BEGIN PUBLIC KEY-----"
		"\\nAAAA\\n-----END PUBLIC KEY-----\\n\"}", BE_E_MALFORMED,
		"request_data.public_key: ");
	{
		char rd[400];

		snprintf(rd, sizeof(rd), "{\"CN\": \"x\", \"name\": \"%0300d\"}", 0);
		refused("long-name", rd, BE_E_MALFORMED, "request_data.name: longer than 256 bytes");
	}
	reset();
	return tap_done();
}
