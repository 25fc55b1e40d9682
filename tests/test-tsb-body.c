/*
 * TSB request bodies (protocols/tsb.c, tsb_ops.c): trailing commas, passwords given as a
 * string or as an array of one-character strings, and the field parsers of the seeds'
 * bodies.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tsb.h"
#include "tsb_body.h"

static json_t *
body(const char *text, int *rc, struct be_err *e)
{
	json_t *j = NULL;

	be_err_clear(e);
	*rc = tsb_body_parse((const unsigned char *)text, strlen(text), &j, e);
	return j;
}

static void
body_ok(const char *name, const char *text, const char *want)
{
	struct be_err e = { 0, "" };
	json_t *j, *w = json_loads(want, 0, NULL);
	int rc;

	j = body(text, &rc, &e);
	tap_ok(rc == BE_OK && json_equal(j, w), "/tsb-body/parse/%s: as %s (%s)", name, want,
	       e.msg);
	json_decref(j);
	json_decref(w);
}

static void
body_bad(const char *name, const char *text, const char *needle)
{
	struct be_err e = { 0, "" };
	json_t *j;
	int rc;

	j = body(text, &rc, &e);
	tap_ok(rc == BE_E_MALFORMED && j == NULL && strstr(e.msg, needle) != NULL,
	       "/tsb-body/parse/%s: refused, \"%s\" (got %d: %s)", name, needle, rc, e.msg);
	json_decref(j);
}

static void
password(const char *name, const char *text, int want_rc, const char *want)
{
	struct be_err e = { 0, "" };
	json_t *j = json_loads(text, 0, NULL);
	char *pw = (char *)"unset";
	int rc = tsb_password(j, "", "password", &pw, &e);

	if (want_rc == BE_OK)
		tap_ok(rc == BE_OK && (want == NULL ? pw == NULL :
				       pw != NULL && strcmp(pw, want) == 0),
		       "/tsb-body/password/%s: %s (%s)", name, want != NULL ? want : "none",
		       e.msg);
	else
		tap_ok(rc == want_rc && pw == NULL && strstr(e.msg, want) != NULL,
		       "/tsb-body/password/%s: refused, \"%s\" (got %d: %s)", name, want, rc,
		       e.msg);
	if (rc == BE_OK)
		free(pw);
	json_decref(j);
}

static void
check(const char *name, const char *text, int want_rc, const char *needle)
{
	struct be_err e = { 0, "" };
	json_t *j;
	int rc;

	j = body(text, &rc, &e);
	if (rc == BE_OK)
		rc = tsb_body_check(j, &e);
	tap_ok(rc == want_rc && strstr(e.msg, needle) != NULL, "/tsb-body/check/%s: %d \"%s\" "
	       "(got %d: %s)", name, want_rc, needle, rc, e.msg);
	json_decref(j);
}

int
main(void)
{
	gnutls_global_init();

	/* seed 004: the curl example ends "destroyable": true,\n    }, */
	body_ok("seed-trailing-commas", "{\"label\": \"k\",\n \"attributes\": {\n  \"sign\": "
		"true,\n  \"destroyable\": true,\n },\n \"policy\": null\n}",
		"{\"label\":\"k\",\"attributes\":{\"sign\":true,\"destroyable\":true},"
		"\"policy\":null}");
	body_ok("array-trailing-comma", "{\"keyUsage\": [\"A\", \"B\",\t\r\n]}",
		"{\"keyUsage\":[\"A\",\"B\"]}");
	body_ok("commas-in-strings", "{\"label\": \"a,}\", \"x\": \"b\\\",]\"}",
		"{\"label\":\"a,}\",\"x\":\"b\\\",]\"}");
	body_ok("escaped-backslash", "{\"x\": \"c\\\\\", }", "{\"x\":\"c\\\\\"}");
	body_bad("double-comma", "{\"a\": 1,,}", "request body");
	body_bad("leading-comma", "{, \"a\": 1}", "request body");
	body_bad("not-object", "[1, 2,]", "request body: must be a JSON object");
	body_bad("empty", "", "request body");
	body_bad("truncated", "{\"label\": \"k\"", "request body");
	body_bad("duplicate-key", "{\"a\": 1, \"a\": 2}", "request body");

	password("absent", "{}", BE_OK, NULL);
	password("null", "{\"password\": null}", BE_OK, NULL);
	password("string", "{\"password\": \"s3cret\"}", BE_OK, "s3cret");
	password("empty-array", "{\"password\": []}", BE_OK, NULL);
	password("array", "{\"password\": [\"p\", \"w\", \"\\u00e9\", \"\\ud83d\\udd11\"]}", BE_OK,
		 "pw\xc3\xa9\xf0\x9f\x94\x91");
	/* the first element refused: the buffer held nothing yet (a heap over-read and
	 * over-write before the fix) */
	password("array-first-too-long", "{\"password\": [\"ab\"]}", BE_E_MALFORMED,
		 "password[0]: must be a string of one character");
	password("array-later-too-long", "{\"password\": [\"a\", \"b\", \"cd\"]}", BE_E_MALFORMED,
		 "password[2]: must be a string of one character");
	password("array-empty-string", "{\"password\": [\"\"]}", BE_E_MALFORMED, "password[0]");
	password("array-number", "{\"password\": [1]}", BE_E_MALFORMED, "password[0]");
	password("number", "{\"password\": 5}", BE_E_MALFORMED,
		 "password: must be an array of one-character strings");

	check("seed-key-create", "{\"label\": \"sub_certificate_key\", \"password\": null, "
	      "\"algorithm\": \"RSA\", \"keySize\": 4096, \"attributes\": {\"decrypt\": false, "
	      "\"sign\": true, \"unwrap\": false, \"extractable\": false, \"modifiable\": true, "
	      "\"destroyable\": true,}, \"policy\": null}", BE_OK, "");
	check("seed-csr-request", "{\"signKeyName\": \"sub_certificate_key\", \"keyPassword\": "
	      "null, \"signatureAlgorithm\": \"SHA256_WITH_RSA\", \"validity\": 365, "
	      "\"standardCertificateAttributes\": {\"commonName\": \"SUB-Securosys-001\", "
	      "\"country\": \"CH\", \"stateOrProvinceName\": \"Zurich\", \"locality\": \"Zurich\","
	      " \"organizationName\": \"Securosys SA\", \"organizationUnitName\": \"Operations\", "
	      "\"email\": null, \"title\": null}, \"keyUsage\": [\"DIGITAL_SIGNATURE\"], "
	      "\"extendedKeyUsage\": [\"ANY_EXTENDED_KEY_USAGE\"]}", BE_OK, "");
	check("rsa-1024", "{\"label\": \"k\", \"algorithm\": \"RSA\", \"keySize\": 1024}",
	      BE_E_POLICY, "keySize: RSA keys are 2048 to 8192 bits");
	check("pss", "{\"signatureAlgorithm\": \"SHA256_WITH_RSA_PSS\"}", BE_E_MALFORMED,
	      "RSA-PSS certificates are not supported");
	check("unknown-usage", "{\"keyUsage\": [\"DIGITAL_SIGNATURE,NOPE\"]}", BE_E_MALFORMED,
	      "keyUsage[0]: unknown keyUsage \"NOPE\"");
	check("unknown-dn", "{\"standardCertificateAttributes\": {\"commonName\": \"x\", "
	      "\"foo\": \"y\"}}", BE_E_MALFORMED, "standardCertificateAttributes.foo: unknown key");
	check("bad-country", "{\"standardCertificateAttributes\": {\"commonName\": \"x\", "
	      "\"country\": \"Switzerland\"}}", BE_E_POLICY, "standardCertificateAttributes.country");
	check("sign-unknown-key", "{\"signCertificateRequest\": {\"signKeyName\": \"k\", "
	      "\"certificateSigningRequest\": \"x\", \"extra\": 1}}", BE_E_MALFORMED,
	      "signCertificateRequest");
	check("bad-password-array", "{\"password\": [\"ab\"]}", BE_E_MALFORMED, "password[0]");
	check("signature-not-base64", "{\"signature\": \"%%%\"}", BE_E_MALFORMED,
	      "signature: not base64");
	return tap_done();
}
