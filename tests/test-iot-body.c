/*
 * The enrollment-profile API's request body (iot_enroll_check): shape, key source, output
 * options, names and device attributes, each refused naming the key, against one
 * enrollment profile (CN required, device attribute "serial" required, "model" optional).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz-profile.h"
#include "iot_body.h"
#include "tap.h"
#include "testlib.h"

static struct be_profile prof;
static struct iot_eprofile ep;
static char *required[] = { (char *)"subject.common_name" };
static struct iot_devattr devattrs[] = { { (char *)"serial", true },
					 { (char *)"model", false } };
static char *csr;

/* Checks the body made by json_pack(fmt, ...) ("csr" members take the test CSR). */
static void
check(const char *name, int want, const char *needle, const char *fmt, ...)
{
	struct be_err e = { 0, "" };
	json_error_t jerr;
	va_list ap;
	json_t *j;
	char *text;
	int rc;

	va_start(ap, fmt);
	j = json_vpack_ex(&jerr, 0, fmt, ap);
	va_end(ap);
	text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	rc = text != NULL ? iot_enroll_check(&ep, (const unsigned char *)text, strlen(text), &e) :
	     99;
	tap_ok(rc == want && strstr(e.msg, needle) != NULL, "/iot-body/%s: %d \"%s\" (got %d: "
	       "%s%s)", name, want, needle, rc, e.msg, j == NULL ? jerr.text : "");
	free(text);
	json_decref(j);
}

static void
raw(const char *name, const char *text, const char *needle)
{
	struct be_err e = { 0, "" };
	int rc = iot_enroll_check(&ep, (const unsigned char *)text, strlen(text), &e);

	tap_ok(rc == BE_E_MALFORMED && strstr(e.msg, needle) != NULL, "/iot-body/%s: refused, "
	       "\"%s\" (got %d: %s)", name, needle, rc, e.msg);
}

int
main(void)
{
	char cmd[PATH_MAX + 256], big[64 * 40 + 64];
	size_t len, i, o;

	(void)write_file;
	if (gnutls_global_init() < 0 || !tmp_setup("iot-body")) {
		printf("Bail out! cannot set up\n");
		return 99;
	}
	snprintf(cmd, sizeof(cmd), "cd '%s' && openssl req -new -newkey ec -pkeyopt "
		 "ec_paramgen_curve:P-256 -nodes -keyout key.pem -subj /CN=device-1/O=Example "
		 "-addext subjectAltName=DNS:device-1.example.com -out csr.pem 2>/dev/null",
		 tmpdir);
	if (system(cmd) != 0 || !read_file("csr.pem", &csr, &len)) {
		printf("Bail out! openssl could not make a CSR\n");
		tmp_cleanup();
		return 99;
	}
	fuzz_profile(&prof);
	ep.id = (char *)"IOT_test";
	ep.cprof = &prof;
	ep.methods = IOT_METHOD_API;
	ep.keygen = IOT_KEYGEN_EITHER;
	memcpy(ep.key_types, prof.key_types, prof.n_key_types * sizeof(prof.key_types[0]));
	ep.n_key_types = prof.n_key_types;
	ep.default_key = prof.server_key;
	ep.required = required;
	ep.n_required = 1;
	ep.devattrs = devattrs;
	ep.n_devattrs = 2;

	check("csr", BE_OK, "", "{s:s, s:s, s:[{s:s, s:s}]}", "enrollment_profile_id", "IOT_test",
	      "csr", csr, "device_attributes", "id", "serial", "value", "SN-1");
	check("csr-attribute-replaces", BE_OK, "", "{s:s, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}]}",
	      "enrollment_profile_id", "IOT_test", "csr", csr, "certificate_profile_attributes",
	      "id", "subject.common_name", "value", "device-2", "device_attributes", "id",
	      "serial", "value", "SN-1");
	check("server-pkcs12", BE_OK, "", "{s:s, s:b, s:s, s:s, s:s, s:b, s:[{s:s, s:s}, {s:s, "
	      "s:s}], s:[{s:s, s:s}, {s:s, s:s}]}", "enrollment_profile_id", "IOT_test",
	      "server_side_key_gen", 1, "key_type", "p_256", "private_key_format", "pkcs_12",
	      "pkcs12_password", "Passw0rd12", "include_certificate_chain", 0,
	      "certificate_profile_attributes", "id", "subject.common_name", "value", "d",
	      "id", "extensions.san.dns_name", "value", "d.example.com", "device_attributes",
	      "id", "serial", "value", "1", "id", "model", "value", "M 1");

	raw("empty", "", "request body: a JSON object is required");
	raw("not-json", "{\"csr\":", "request body");
	raw("array", "[]", "");
	check("unknown-key", BE_E_MALFORMED, "extra: unknown key", "{s:s, s:i}",
	      "enrollment_profile_id", "IOT_test", "extra", 1);
	check("no-profile-id", BE_E_MALFORMED, "enrollment_profile_id", "{s:s}", "csr", csr);
	check("ssk-not-bool", BE_E_MALFORMED, "server_side_key_gen", "{s:s, s:s}",
	      "enrollment_profile_id", "IOT_test", "server_side_key_gen", "yes");
	check("csr-and-ssk", BE_E_MALFORMED, "csr and server_side_key_gen: true exclude each other",
	      "{s:s, s:s, s:b}", "enrollment_profile_id", "IOT_test", "csr", csr,
	      "server_side_key_gen", 1);
	check("no-key-source", BE_E_MALFORMED, "csr: required unless server_side_key_gen is true",
	      "{s:s}", "enrollment_profile_id", "IOT_test");
	check("bad-csr", BE_E_MALFORMED, "csr: ", "{s:s, s:s}", "enrollment_profile_id",
	      "IOT_test", "csr", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
	      "-----END CERTIFICATE REQUEST-----\n");
	check("key-type-mismatch", BE_E_MALFORMED, "key_type: rsa_2048 does not match the CSR's",
	      "{s:s, s:s, s:s}", "enrollment_profile_id", "IOT_test", "csr", csr, "key_type",
	      "rsa_2048");
	check("unknown-key-type", BE_E_MALFORMED, "key_type: unknown key type \"dsa\"",
	      "{s:s, s:b, s:s}", "enrollment_profile_id", "IOT_test", "server_side_key_gen", 1,
	      "key_type", "dsa");
	check("format-with-csr", BE_E_MALFORMED, "private_key_format: applies to "
	      "server_side_key_gen only", "{s:s, s:s, s:s}", "enrollment_profile_id", "IOT_test",
	      "csr", csr, "private_key_format", "pem");
	check("pkcs12-short-password", BE_E_MALFORMED, "pkcs12_password: must be 6 to 20",
	      "{s:s, s:b, s:s, s:s}", "enrollment_profile_id", "IOT_test", "server_side_key_gen",
	      1, "private_key_format", "pkcs_12", "pkcs12_password", "short");
	check("ed25519-pkcs1", BE_E_MALFORMED, "Ed25519 keys have no PKCS#1 form",
	      "{s:s, s:b, s:s, s:s}", "enrollment_profile_id", "IOT_test", "server_side_key_gen",
	      1, "key_type", "ed_25519", "private_key_syntax", "pkcs1");
	check("encrypted-without-certificate", BE_E_MALFORMED, "encryption_certificate: required",
	      "{s:s, s:b, s:s}", "enrollment_profile_id", "IOT_test", "server_side_key_gen", 1,
	      "private_key_format", "cert_encrypted");
	check("bad-encryption-certificate", BE_E_MALFORMED, "encryption_certificate: ",
	      "{s:s, s:b, s:s, s:s}", "enrollment_profile_id", "IOT_test", "server_side_key_gen",
	      1, "private_key_format", "cert_encrypted", "encryption_certificate", "garbage");
	check("attrs-not-array", BE_E_MALFORMED, "certificate_profile_attributes: must be an "
	      "array", "{s:s, s:s, s:{s:s}}", "enrollment_profile_id", "IOT_test", "csr", csr,
	      "certificate_profile_attributes", "id", "x");
	check("attr-unknown", BE_E_MALFORMED, "certificate_profile_attributes[0].id: unknown "
	      "attribute \"subject.nope\"", "{s:s, s:s, s:[{s:s, s:s}]}", "enrollment_profile_id",
	      "IOT_test", "csr", csr, "certificate_profile_attributes", "id", "subject.nope",
	      "value", "x");
	check("attr-value-number", BE_E_MALFORMED, "certificate_profile_attributes[0]",
	      "{s:s, s:s, s:[{s:s, s:i}]}", "enrollment_profile_id", "IOT_test", "csr", csr,
	      "certificate_profile_attributes", "id", "subject.common_name", "value", 5);
	check("attr-bad-country", BE_E_MALFORMED, "certificate_profile_attributes[0] "
	      "(subject.country): ", "{s:s, s:s, s:[{s:s, s:s}]}", "enrollment_profile_id",
	      "IOT_test", "csr", csr, "certificate_profile_attributes", "id", "subject.country",
	      "value", "Switzerland");
	check("cn-required", BE_E_MALFORMED, "subject.common_name is required by enrollment "
	      "profile IOT_test", "{s:s, s:b, s:[{s:s, s:s}]}", "enrollment_profile_id",
	      "IOT_test", "server_side_key_gen", 1, "device_attributes", "id", "serial", "value",
	      "1");
	check("devattr-required", BE_E_MALFORMED, "device_attributes: serial is required",
	      "{s:s, s:s}", "enrollment_profile_id", "IOT_test", "csr", csr);
	check("devattr-unknown", BE_E_MALFORMED, "device_attributes[0].id: enrollment profile "
	      "IOT_test has no device attribute \"colour\"", "{s:s, s:s, s:[{s:s, s:s}]}",
	      "enrollment_profile_id", "IOT_test", "csr", csr, "device_attributes", "id",
	      "colour", "value", "red");
	check("devattr-twice", BE_E_MALFORMED, "device_attributes[1].id: \"serial\" given twice",
	      "{s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "enrollment_profile_id", "IOT_test", "csr",
	      csr, "device_attributes", "id", "serial", "value", "1", "id", "serial", "value",
	      "2");
	check("devattr-control", BE_E_MALFORMED, "device_attributes[0].value: at most 256 "
	      "characters, no control characters", "{s:s, s:s, s:[{s:s, s:s}]}",
	      "enrollment_profile_id", "IOT_test", "csr", csr, "device_attributes", "id",
	      "serial", "value", "a\tb");
	o = (size_t)snprintf(big, sizeof(big), "{\"enrollment_profile_id\":\"IOT_test\","
			     "\"device_attributes\":[");
	for (i = 0; i < 65; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "%s{\"id\":\"m\",\"value\":\"v\"}",
				      i ? "," : "");
	snprintf(big + o, sizeof(big) - o, "]}");
	raw("devattrs-65", big, "device_attributes: at most 64 entries");

	free(csr);
	tmp_cleanup();
	return tap_done();
}
