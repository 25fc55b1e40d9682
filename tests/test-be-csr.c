/*
 * Unit tests for backend/be_csr.c and backend/be_text.c.  Every request is made at test time:
 * GnuTLS builds the good ones and most bad ones, libtasn1 (with certgate.asn) edits and
 * re-signs the ones GnuTLS will not build, byte surgery makes the non-DER ones, and
 * openssl(1) makes some for interoperability.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "be_asn1.h"
#include "be_csr.h"
#include "tap.h"

#define OID_CN "2.5.4.3"
#define OID_C "2.5.4.6"
#define OID_CHALLENGE "1.2.840.113549.1.9.7"
#define OID_EXT_REQ "1.2.840.113549.1.9.14"
#define OID_DECRYPT_KEY_ID "1.2.840.113549.1.9.16.2.37"
#define OID_ASYM_DECRYPT_KEY_ID "1.2.840.113549.1.9.16.2.54"

static gnutls_x509_privkey_t key_ec;	/* P-256, for most requests */
static char tmpdir[] = "/tmp/test-be-csr.XXXXXX";
static bool have_openssl;

/* ---------------------------------------------------------------- helpers */

/* Writes tag, a minimal DER length and content into out (content may lie in out); returns
 * the total length. */
static size_t
tlv(unsigned char *out, unsigned char tag, const void *content, size_t len)
{
	size_t hl = len < 0x80 ? 2 : len < 0x100 ? 3 : 4;

	memmove(out + hl, content, len);
	out[0] = tag;
	if (hl == 2) {
		out[1] = (unsigned char)len;
	} else if (hl == 3) {
		out[1] = 0x81;
		out[2] = (unsigned char)len;
	} else {
		out[1] = 0x82;
		out[2] = (unsigned char)(len >> 8);
		out[3] = (unsigned char)len;
	}
	return hl + len;
}

static gnutls_x509_crq_t
new_crq(gnutls_x509_privkey_t key, const char *cn)
{
	gnutls_x509_crq_t crq = NULL;

	if (gnutls_x509_crq_init(&crq) < 0)
		abort();
	if (cn != NULL && gnutls_x509_crq_set_dn_by_oid(crq, OID_CN, 0, cn, strlen(cn)) < 0)
		abort();
	if (gnutls_x509_crq_set_key(crq, key) < 0)
		abort();
	return crq;
}

/* Signs crq with key and returns its DER; frees crq. */
static gnutls_datum_t
finish(gnutls_x509_crq_t crq, gnutls_x509_privkey_t key)
{
	gnutls_datum_t der = { NULL, 0 };
	int r;

	if ((r = gnutls_x509_crq_sign2(crq, key, GNUTLS_DIG_SHA256, 0)) < 0 ||
	    (r = gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &der)) < 0) {
		tap_diag("cannot make a request: %s", gnutls_strerror(r));
		abort();
	}
	gnutls_x509_crq_deinit(crq);
	return der;
}

static int
parse(const void *data, size_t len, unsigned flags, struct be_csr **csr, struct be_err *e)
{
	be_err_clear(e);
	return be_csr_parse(data, len, flags, csr, e);
}

/* Parses and expects a refusal with code want whose sentence contains needle. */
static void
refused(const void *data, size_t len, int want, const char *needle, const char *name)
{
	struct be_csr *csr = NULL;
	struct be_err e;
	int rc = parse(data, len, 0, &csr, &e);

	tap_ok(rc == want && csr == NULL && strstr(e.msg, needle) != NULL &&
	       strncmp(e.msg, "CSR", 3) == 0, "%s (%s: %s)", name, be_err_name(rc), e.msg);
	be_csr_free(csr);
}

static void
refused_datum(gnutls_datum_t *der, int want, const char *needle, const char *name)
{
	refused(der->data, der->size, want, needle, name);
	gnutls_free(der->data);
	der->data = NULL;
}

/* A request with CN=device and the given raw attribute. */
static gnutls_datum_t
with_attribute(const char *oid, const void *value, size_t len)
{
	gnutls_x509_crq_t crq = new_crq(key_ec, "device");

	if (gnutls_x509_crq_set_attribute_by_oid(crq, oid, (void *)value, len) < 0)
		abort();
	return finish(crq, key_ec);
}

/* A request whose subject is one attribute oid with the raw DER value. */
static gnutls_datum_t
with_raw_dn(const char *oid, const void *value, size_t len)
{
	gnutls_x509_crq_t crq = new_crq(key_ec, NULL);

	if (gnutls_x509_crq_set_dn_by_oid(crq, oid, 1, value, len) < 0)
		abort();
	return finish(crq, key_ec);
}

typedef void (*tree_edit)(asn1_node tree);

/* Decodes der with certgate.asn, applies edit, re-signs certificationRequestInfo with
 * key_ec (ecdsa-with-SHA256, as before) and returns the new DER. */
static gnutls_datum_t
edit_and_resign(const gnutls_datum_t *der, tree_edit edit)
{
	asn1_node tree = NULL;
	gnutls_privkey_t pk = NULL;
	gnutls_datum_t tbs = { NULL, 0 }, sig = { NULL, 0 }, out = { NULL, 0 };
	struct be_err e;
	char msg[ASN1_MAX_ERROR_DESCRIPTION_SIZE];
	int len = 0;

	be_err_clear(&e);
	if (be_asn1_decode("CERTGATE.CertificationRequest", der->data, der->size, "test", &tree,
			   &e) != BE_OK)
		abort();
	edit(tree);
	if (asn1_der_coding(tree, "certificationRequestInfo", NULL, &len, msg) != ASN1_MEM_ERROR ||
	    (tbs.data = gnutls_malloc((size_t)len)) == NULL ||
	    asn1_der_coding(tree, "certificationRequestInfo", tbs.data, &len, msg) !=
	    ASN1_SUCCESS) {
		tap_diag("re-encoding failed: %s", msg);
		abort();
	}
	tbs.size = (unsigned)len;
	if (gnutls_privkey_init(&pk) < 0 || gnutls_privkey_import_x509(pk, key_ec, 0) < 0 ||
	    gnutls_privkey_sign_data(pk, GNUTLS_DIG_SHA256, 0, &tbs, &sig) < 0)
		abort();
	if (asn1_write_value(tree, "signature", sig.data, (int)sig.size * 8) != ASN1_SUCCESS ||
	    be_asn1_encode(tree, &out, &e) != BE_OK)
		abort();
	gnutls_free(tbs.data);
	gnutls_free(sig.data);
	gnutls_privkey_deinit(pk);
	asn1_delete_structure(&tree);
	return out;
}

static void
add_attribute(asn1_node tree, const char *oid, const void *value, int len)
{
	static const char a[] = "certificationRequestInfo.attributes";

	if (asn1_write_value(tree, a, "NEW", 1) != ASN1_SUCCESS ||
	    asn1_write_value(tree, "certificationRequestInfo.attributes.?LAST.type", oid, 1) !=
	    ASN1_SUCCESS ||
	    asn1_write_value(tree, "certificationRequestInfo.attributes.?LAST.values", "NEW", 1) !=
	    ASN1_SUCCESS ||
	    asn1_write_value(tree, "certificationRequestInfo.attributes.?LAST.values.?LAST", value,
			     len) != ASN1_SUCCESS)
		abort();
}

static void
edit_second_challenge(asn1_node tree)
{
	add_attribute(tree, OID_CHALLENGE, "\x0c\x03" "abc", 5);
}

static void
edit_second_value(asn1_node tree)
{
	if (asn1_write_value(tree, "certificationRequestInfo.attributes.?1.values", "NEW", 1) !=
	    ASN1_SUCCESS ||
	    asn1_write_value(tree, "certificationRequestInfo.attributes.?1.values.?LAST",
			     "\x0c\x03" "xyz", 5) != ASN1_SUCCESS)
		abort();
}

static void
edit_multi_valued_rdn(asn1_node tree)
{
	static const char r[] = "certificationRequestInfo.subject.rdnSequence.?1";

	if (asn1_write_value(tree, r, "NEW", 1) != ASN1_SUCCESS ||
	    asn1_write_value(tree, "certificationRequestInfo.subject.rdnSequence.?1.?LAST.type",
			     "0.9.2342.19200300.100.1.1", 1) != ASN1_SUCCESS ||
	    asn1_write_value(tree, "certificationRequestInfo.subject.rdnSequence.?1.?LAST.value",
			     "\x0c\x03" "uid", 5) != ASN1_SUCCESS)
		abort();
}

static void
edit_version_1(asn1_node tree)
{
	if (asn1_write_value(tree, "certificationRequestInfo.version", "1", 0) != ASN1_SUCCESS)
		abort();
}

static void
edit_unknown_attribute(asn1_node tree)
{
	/* Microsoft's OS version attribute: ignored */
	add_attribute(tree, "1.3.6.1.4.1.311.13.2.3", "\x16\x08" "10.0.1.2", 10);
}

static bool
read_file(const char *path, unsigned char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;
	bool ok = false;

	*data = NULL;
	*len = 0;
	if (f == NULL)
		return false;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n)) != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		*data = buf;
		*len = (size_t)n;
		buf = NULL;
		ok = true;
	}
	free(buf);
	fclose(f);
	return ok;
}

/* Runs an openssl(1) command line (the tmpdir is the working directory). */
static bool
openssl(const char *args)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "cd %s && openssl %s >/dev/null 2>&1", tmpdir, args);
	return system(cmd) == 0;
}

static bool
read_tmp(const char *name, unsigned char **data, size_t *len)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return read_file(path, data, len);
}

/* ---------------------------------------------------------------- base64 and PEM */

static void
test_base64(void)
{
	static const struct {
		const char *in;
		const char *out;	/* NULL: refused */
		const char *name;
	} cases[] = {
		{ "QUJD", "ABC", "/base64/decode/plain" },
		{ "QUI=", "AB", "/base64/decode/one-pad" },
		{ "QQ==", "A", "/base64/decode/two-pad" },
		{ " QU\r\nJD\tQQ==\n", "ABCA", "/base64/decode/whitespace-ignored" },
		{ "", "", "/base64/decode/empty" },
		{ "QUJ", NULL, "/base64/decode/missing-padding" },
		{ "QR==", NULL, "/base64/decode/non-zero-trailing-bits" },
		{ "QUJ=", NULL, "/base64/decode/non-zero-trailing-bits-one-pad" },
		{ "Q!JD", NULL, "/base64/decode/junk-character" },
		{ "QQ==QUJD", NULL, "/base64/decode/data-after-padding" },
		{ "QQ===", NULL, "/base64/decode/three-pads" },
		{ "Q===", NULL, "/base64/decode/pad-too-early" },
		{ "QUJD-_", NULL, "/base64/decode/url-alphabet-refused" },
	};
	unsigned char *out = NULL, bytes[300];
	char *enc = NULL;
	size_t i, n = 0, len;
	struct be_err e;
	int rc;
	bool all = true;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		be_err_clear(&e);
		rc = be_base64_decode(cases[i].in, strlen(cases[i].in), &out, &n, &e);
		if (cases[i].out != NULL)
			tap_ok(rc == BE_OK && n == strlen(cases[i].out) &&
			       memcmp(out, cases[i].out, n) == 0, "%s", cases[i].name);
		else
			tap_ok(rc == BE_E_MALFORMED && out == NULL && e.msg[0] != '\0',
			       "%s (%s)", cases[i].name, e.msg);
		free(out);
		out = NULL;
	}

	rc = be_base64_encode((const unsigned char *)"ABC", 3, 0, &enc);
	tap_ok(rc == BE_OK && strcmp(enc, "QUJD") == 0, "/base64/encode/plain");
	free(enc);
	for (i = 0; i < sizeof(bytes); i++)
		bytes[i] = (unsigned char)(i * 7 + 3);
	rc = be_base64_encode(bytes, 100, 64, &enc);
	tap_ok(rc == BE_OK && strlen(enc) == 136 + 3 && enc[64] == '\n' && enc[129] == '\n' &&
	       strchr(enc + 130, '\n') == enc + 138, "/base64/encode/lines-of-64-each-ended");
	free(enc);
	for (len = 0; len <= sizeof(bytes) && all; len++) {
		enc = NULL;
		out = NULL;
		all = be_base64_encode(bytes, len, len % 2 ? 76 : 0, &enc) == BE_OK &&
		      be_base64_decode(enc, strlen(enc), &out, &n, NULL) == BE_OK && n == len &&
		      (len == 0 || memcmp(out, bytes, len) == 0);
		free(enc);
		free(out);
	}
	tap_ok(all, "/base64/round-trip/0-to-300-bytes");
}

static void
test_der_from_text(void)
{
	static const char *const labels[] = { "THING", NULL };
	static const char *const good[] = {
		"-----BEGIN THING-----\nQUJD\n-----END THING-----\n",
		"\r\n  -----BEGIN THING-----\r\nQU\r\nJD\r\n-----END THING-----\r\n\r\n",
		"QUJD\n",
		"-----BEGIN THING----- QUJD -----END THING-----",
	};
	static const struct {
		const char *in;
		const char *needle;
		const char *name;
	} bad[] = {
		{ "-----BEGIN OTHER-----\nQUJD\n-----END OTHER-----\n", "label",
		  "/pem/wrong-label" },
		{ "-----BEGIN THING-----\nQUJD\n-----END THING-----\njunk\n", "after",
		  "/pem/junk-after-end" },
		{ "-----BEGIN THING-----\nQUJD\n-----END THING-----\n-----BEGIN THING-----\nQUJD\n"
		  "-----END THING-----\n", "more than one", "/pem/two-blocks" },
		{ "-----BEGIN THING-----\nQUJD\n", "END", "/pem/no-end" },
		{ "-----BEGIN THING-----\nQUJD\n-----END OTHER-----\n", "END",
		  "/pem/end-label-differs" },
		{ "-----BEGIN THING-----\nProc-Type: 4,ENCRYPTED\n\nQUJD\n-----END THING-----\n",
		  "base64", "/pem/rfc1421-headers-refused" },
		{ "  \n\t", "empty", "/text/only-whitespace" },
	};
	unsigned char *der = NULL;
	size_t i, n = 0;
	struct be_err e;
	int rc;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		rc = be_der_from_text((const unsigned char *)good[i], strlen(good[i]), labels, &der,
				      &n, NULL);
		tap_ok(rc == BE_OK && n == 3 && memcmp(der, "ABC", 3) == 0,
		       "/pem/good/form-%zu", i + 1);
		free(der);
		der = NULL;
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		be_err_clear(&e);
		rc = be_der_from_text((const unsigned char *)bad[i].in, strlen(bad[i].in), labels,
				      &der, &n, &e);
		tap_ok(rc == BE_E_MALFORMED && der == NULL && strstr(e.msg, bad[i].needle) != NULL,
		       "%s (%s)", bad[i].name, e.msg);
	}
	rc = be_der_from_text((const unsigned char *)"\x30\x03\x02\x01\x05", 5, labels, &der, &n,
			      NULL);
	tap_ok(rc == BE_OK && n == 5 && der[0] == 0x30, "/text/der-passes-through");
	free(der);
}

/* ---------------------------------------------------------------- requests */

static void
test_good(void)
{
	gnutls_x509_crq_t crq = new_crq(key_ec, "device-1.example.com");
	gnutls_datum_t der, pem = { NULL, 0 }, spk = { NULL, 0 };
	struct be_csr *csr = NULL;
	struct be_err e;
	asn1_node tree = NULL;
	unsigned char sha1[20], *text = NULL, *b64 = NULL;
	char *b64s = NULL;
	size_t tlen;
	int rc, bits = 0;

	gnutls_x509_crq_set_dn_by_oid(crq, OID_C, 0, "DE", 2);
	der = finish(crq, key_ec);
	rc = parse(der.data, der.size, 0, &csr, &e);
	tap_ok(rc == BE_OK && csr != NULL, "/csr/good/der (%s)", e.msg);
	if (csr == NULL)
		goto out;
	tap_ok(csr->signature_ok && csr->key.alg == BE_KEY_EC && csr->key.bits == 256,
	       "/csr/good/ec-p256-signature-verified");
	tap_ok(csr->subject.n == 2 && csr->subject.v[0].attr == BE_DN_CN &&
	       strcmp(be_name_get(&csr->subject, BE_DN_CN), "device-1.example.com") == 0 &&
	       strcmp(be_name_get(&csr->subject, BE_DN_C), "DE") == 0,
	       "/csr/good/subject-in-order");
	tap_ok(csr->der.size == der.size && memcmp(csr->der.data, der.data, der.size) == 0,
	       "/csr/good/keeps-exact-der");
	tap_ok(!csr->has_challenge && csr->sans.n == 0 && !csr->has_basic_constraints &&
	       !csr->has_key_usage && csr->n_eku == 0 && csr->decrypt_key_id == NULL,
	       "/csr/good/nothing-requested");
	/* RFC 5280 4.2.1.2 (1), computed independently from the BIT STRING */
	be_err_clear(&e);
	if (be_asn1_decode("CERTGATE.CertificationRequest", der.data, der.size, "t", &tree, &e) ==
	    BE_OK) {
		bits = 0;
		asn1_read_value(tree, "certificationRequestInfo.subjectPKInfo.subjectPublicKey",
				NULL, &bits);
		spk.data = gnutls_malloc((size_t)bits / 8 + 1);
		asn1_read_value(tree, "certificationRequestInfo.subjectPKInfo.subjectPublicKey",
				spk.data, &bits);
		gnutls_hash_fast(GNUTLS_DIG_SHA1, spk.data, (size_t)bits / 8, sha1);
		asn1_delete_structure(&tree);
	}
	tap_ok(bits > 0 && memcmp(sha1, csr->key_id, 20) == 0, "/csr/key-id/rfc5280-method-1");
	be_csr_free(csr);
	csr = NULL;

	gnutls_pem_base64_encode2("CERTIFICATE REQUEST", &der, &pem);
	rc = parse(pem.data, pem.size, 0, &csr, &e);
	tap_ok(rc == BE_OK, "/csr/good/pem (%s)", e.msg);
	be_csr_free(csr);
	csr = NULL;
	gnutls_free(pem.data);
	gnutls_pem_base64_encode2("NEW CERTIFICATE REQUEST", &der, &pem);
	rc = parse(pem.data, pem.size, 0, &csr, &e);
	tap_ok(rc == BE_OK, "/csr/good/pem-new-certificate-request-label (%s)", e.msg);
	be_csr_free(csr);
	csr = NULL;
	gnutls_free(pem.data);
	gnutls_pem_base64_encode2("CERTIFICATE", &der, &pem);
	refused(pem.data, pem.size, BE_E_MALFORMED, "label", "/csr/pem/wrong-label");
	gnutls_free(pem.data);
	gnutls_pem_base64_encode2("CERTIFICATE REQUEST", &der, &pem);
	text = malloc(pem.size + 16);
	memcpy(text, pem.data, pem.size);
	memcpy(text + pem.size, "\ntrailing junk\n", 15);
	refused(text, pem.size + 15, BE_E_MALFORMED, "after the PEM END",
		"/csr/pem/junk-after-end");
	free(text);
	gnutls_free(pem.data);

	/* bare base64, as EST (RFC 7030 4.2.1) sends it, with CRLF every 64 characters */
	be_base64_encode(der.data, der.size, 64, &b64s);
	tlen = 0;
	b64 = malloc(2 * strlen(b64s) + 1);
	for (size_t i = 0; b64s[i] != '\0'; i++) {
		if (b64s[i] == '\n')
			b64[tlen++] = '\r';
		b64[tlen++] = (unsigned char)b64s[i];
	}
	rc = parse(b64, tlen, 0, &csr, &e);
	tap_ok(rc == BE_OK, "/csr/good/bare-base64-crlf (%s)", e.msg);
	be_csr_free(csr);
	csr = NULL;
	free(b64);
	free(b64s);
out:
	gnutls_free(spk.data);
	gnutls_free(der.data);
}

static void
test_encoding(void)
{
	gnutls_datum_t der = finish(new_crq(key_ec, "device"), key_ec);
	struct be_csr *csr = NULL;
	struct be_err e;
	unsigned char *b = malloc(der.size + 8), *big = NULL;
	size_t body, n;
	int rc;

	/* GnuTLS' own import already refuses trailing bytes; libtasn1 says how many */
	memcpy(b, der.data, der.size);
	b[der.size] = 0;
	refused(b, der.size + 1, BE_E_MALFORMED, "1 trailing octet", "/csr/trailing-bytes");

	/* the generated request starts 30 81 xx or 30 82 xx xx */
	body = der.data[1] == 0x81 ? 3 : 4;
	n = der.size - body;
	b[0] = 0x30;
	b[1] = 0x80;
	memcpy(b + 2, der.data + body, n);
	b[2 + n] = 0;
	b[3 + n] = 0;
	refused(b, n + 4, BE_E_MALFORMED, "DER", "/csr/ber/indefinite-length");

	b[0] = 0x30;
	b[1] = 0x83;
	b[2] = 0;
	b[3] = (unsigned char)(n >> 8);
	b[4] = (unsigned char)n;
	memcpy(b + 5, der.data + body, n);
	refused(b, n + 5, BE_E_MALFORMED, "DER", "/csr/ber/non-minimal-length");

	/* a signature that no longer verifies: the last octet is inside the ECDSA s */
	memcpy(b, der.data, der.size);
	b[der.size - 1] ^= 0x01;
	refused(b, der.size, BE_E_MALFORMED, "does not verify", "/csr/signature/flipped-byte");
	rc = parse(b, der.size, BE_CSR_NO_VERIFY, &csr, &e);
	tap_ok(rc == BE_OK && csr != NULL && !csr->signature_ok,
	       "/csr/signature/no-verify-flag-records-bad-signature (%s)", e.msg);
	be_csr_free(csr);
	csr = NULL;
	rc = parse(der.data, der.size, BE_CSR_NO_VERIFY, &csr, &e);
	tap_ok(rc == BE_OK && csr != NULL && csr->signature_ok,
	       "/csr/signature/no-verify-flag-records-good-signature");
	be_csr_free(csr);
	csr = NULL;

	big = calloc(1, 300000);
	big[0] = 0x30;
	refused(big, BE_CSR_MAX_DER + 100, BE_E_TOOBIG, "more than", "/csr/toobig/der");
	refused(big, 300000, BE_E_TOOBIG, "larger than", "/csr/toobig/text");
	refused("garbage!", 8, BE_E_MALFORMED, "CSR", "/csr/garbage");
	free(big);

	rc = parse(der.data, der.size, 0, &csr, &e);
	tap_ok(rc == BE_OK, "/csr/encoding/untouched-original-still-parses");
	be_csr_free(csr);
	csr = NULL;
	{
		gnutls_datum_t v = edit_and_resign(&der, edit_version_1);

		refused_datum(&v, BE_E_MALFORMED, "version", "/csr/version/not-zero");
	}
	free(b);
	gnutls_free(der.data);
}

static void
test_subject(void)
{
	static const char cn65[] =
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	unsigned char v[128];
	gnutls_datum_t der;
	gnutls_x509_crq_t crq;
	struct be_csr *csr = NULL;
	struct be_err e;
	size_t n;
	int rc;

	n = tlv(v, 0x0c, "ab\0cd", 5);
	der = with_raw_dn(OID_CN, v, n);
	refused_datum(&der, BE_E_POLICY, "CN: contains a NUL byte", "/csr/subject/nul-in-cn");

	crq = new_crq(key_ec, cn65);
	der = finish(crq, key_ec);
	refused_datum(&der, BE_E_POLICY, "CSR subject CN: longer than 64 characters",
		      "/csr/subject/cn-too-long");

	n = tlv(v, 0x13, "My City", 7);
	der = with_raw_dn(OID_C, v, n);
	refused_datum(&der, BE_E_POLICY, "\"My City\" is not an ISO 3166-1 alpha-2",
		      "/csr/subject/country-my-city");

	crq = new_crq(key_ec, "device");
	gnutls_x509_crq_set_dn_by_oid(crq, "2.5.4.17", 0, "12345", 5);
	der = finish(crq, key_ec);
	refused_datum(&der, BE_E_POLICY, "2.5.4.17", "/csr/subject/unknown-attribute-names-oid");

	n = tlv(v, 0x13, "a@b", 3);
	der = with_raw_dn(OID_CN, v, n);
	refused_datum(&der, BE_E_MALFORMED, "PrintableString",
		      "/csr/subject/printablestring-outside-alphabet");

	n = tlv(v, 0x14, "abc", 3);
	der = with_raw_dn(OID_CN, v, n);
	refused_datum(&der, BE_E_POLICY, "TeletexString", "/csr/subject/teletexstring-refused");

	n = tlv(v, 0x02, "\x05", 1);
	der = with_raw_dn(OID_CN, v, n);
	refused_datum(&der, BE_E_MALFORMED, "not a string type", "/csr/subject/integer-value");

	/* the value's own length in long form although 4 fits the short form */
	memcpy(v, "\x0c\x81\x04test", 7);
	der = with_raw_dn(OID_CN, v, 7);
	refused_datum(&der, BE_E_MALFORMED, "not DER", "/csr/ber/non-minimal-inner-length");

	n = tlv(v, 0x1e, "\x00J\x00\xfc\x00r\x00g", 8);
	der = with_raw_dn(OID_CN, v, n);
	rc = parse(der.data, der.size, 0, &csr, &e);
	tap_ok(rc == BE_OK && strcmp(be_name_get(&csr->subject, BE_DN_CN), "J\xc3\xbcrg") == 0,
	       "/csr/subject/bmpstring-to-utf8 (%s)", e.msg);
	be_csr_free(csr);
	csr = NULL;
	gnutls_free(der.data);

	n = tlv(v, 0x1e, "\xd8\x00\x00a", 4);
	der = with_raw_dn(OID_CN, v, n);
	refused_datum(&der, BE_E_MALFORMED, "BMPString", "/csr/subject/bmpstring-surrogate");

	n = tlv(v, 0x16, "ops@example.com", 15);
	der = with_raw_dn("1.2.840.113549.1.9.1", v, n);
	rc = parse(der.data, der.size, 0, &csr, &e);
	tap_ok(rc == BE_OK && strcmp(be_name_get(&csr->subject, BE_DN_E), "ops@example.com") == 0,
	       "/csr/subject/email-ia5string (%s)", e.msg);
	be_csr_free(csr);
	csr = NULL;
	gnutls_free(der.data);

	der = finish(new_crq(key_ec, "device"), key_ec);
	{
		gnutls_datum_t m = edit_and_resign(&der, edit_multi_valued_rdn);

		refused_datum(&m, BE_E_POLICY, "multi-valued", "/csr/subject/multi-valued-rdn");
	}
	gnutls_free(der.data);
}

static void
test_challenge(void)
{
	unsigned char v[1200], s[1100];
	gnutls_datum_t der, two;
	struct be_csr *csr = NULL;
	struct be_err e;
	size_t n, i;
	int rc;

	n = tlv(v, 0x0c, "s3cret Pässword", 16);
	der = with_attribute(OID_CHALLENGE, v, n);
	rc = parse(der.data, der.size, 0, &csr, &e);
	tap_ok(rc == BE_OK && csr->has_challenge && csr->challenge_len == 16 &&
	       memcmp(csr->challenge, "s3cret Pässword", 16) == 0 && csr->challenge[16] == '\0',
	       "/csr/challenge/utf8string (%s)", e.msg);
	be_csr_free(csr);
	csr = NULL;

	two = edit_and_resign(&der, edit_second_challenge);
	refused_datum(&two, BE_E_MALFORMED, "more than once", "/csr/challenge/duplicate-attribute");
	two = edit_and_resign(&der, edit_second_value);
	refused_datum(&two, BE_E_MALFORMED, "exactly one", "/csr/challenge/two-values");
	gnutls_free(der.data);

	n = tlv(v, 0x13, "s3cret", 6);
	der = with_attribute(OID_CHALLENGE, v, n);
	rc = parse(der.data, der.size, 0, &csr, &e);
	tap_ok(rc == BE_OK && csr->challenge_len == 6 && memcmp(csr->challenge, "s3cret", 6) == 0,
	       "/csr/challenge/printablestring");
	be_csr_free(csr);
	csr = NULL;
	gnutls_free(der.data);

	n = tlv(v, 0x1e, "\x00p\x00w", 4);
	der = with_attribute(OID_CHALLENGE, v, n);
	rc = parse(der.data, der.size, 0, &csr, &e);
	tap_ok(rc == BE_OK && csr->challenge_len == 2 && memcmp(csr->challenge, "pw", 2) == 0,
	       "/csr/challenge/bmpstring-as-utf8");
	be_csr_free(csr);
	csr = NULL;
	gnutls_free(der.data);

	n = tlv(v, 0x0c, "x", 1);
	der = with_attribute(OID_CHALLENGE, v, n);
	rc = parse(der.data, der.size, 0, &csr, &e);
	tap_ok(rc == BE_OK && csr->challenge_len == 1, "/csr/challenge/one-character");
	be_csr_free(csr);
	csr = NULL;
	gnutls_free(der.data);

	for (i = 0; i < 255; i++)
		memcpy(s + 2 * i, "\xc3\xa9", 2);
	n = tlv(v, 0x0c, s, 510);
	der = with_attribute(OID_CHALLENGE, v, n);
	rc = parse(der.data, der.size, 0, &csr, &e);
	tap_ok(rc == BE_OK && csr->challenge_len == 510,
	       "/csr/challenge/255-characters-counted-not-bytes (%s)", e.msg);
	be_csr_free(csr);
	csr = NULL;
	gnutls_free(der.data);

	memset(s, 'p', 256);
	n = tlv(v, 0x0c, s, 256);
	der = with_attribute(OID_CHALLENGE, v, n);
	refused_datum(&der, BE_E_MALFORMED, "1 to 255", "/csr/challenge/256-characters");

	der = with_attribute(OID_CHALLENGE, "\x0c\x00", 2);
	refused_datum(&der, BE_E_MALFORMED, "challengePassword", "/csr/challenge/empty");

	der = with_attribute(OID_CHALLENGE, "\x02\x01\x05", 3);
	refused_datum(&der, BE_E_MALFORMED, "CSR challengePassword: not a DirectoryString",
		      "/csr/challenge/integer-is-not-directorystring");

	der = with_attribute(OID_CHALLENGE, "\x04\x03" "abc", 5);
	refused_datum(&der, BE_E_MALFORMED, "CSR challengePassword: not a DirectoryString",
		      "/csr/challenge/octet-string-is-not-directorystring");

	der = with_attribute(OID_CHALLENGE, "\x0c\x03" "a\0b", 5);
	refused_datum(&der, BE_E_MALFORMED, "NUL", "/csr/challenge/nul-byte");

	der = with_attribute(OID_CHALLENGE, "\x16\x03" "abc", 5);
	rc = parse(der.data, der.size, 0, &csr, &e);
	tap_ok(rc == BE_E_MALFORMED, "/csr/challenge/ia5string-is-not-directorystring (%s)",
	       e.msg);
	be_csr_free(csr);
	csr = NULL;
	gnutls_free(der.data);
}

static void
test_attributes(void)
{
	gnutls_x509_crq_t crq;
	gnutls_datum_t der, u;
	struct be_csr *csr = NULL;
	struct be_err e;
	int rc;

	der = with_attribute(OID_DECRYPT_KEY_ID, "\x04\x04\x01\x02\x03\x04", 6);
	rc = parse(der.data, der.size, 0, &csr, &e);
	tap_ok(rc == BE_OK && csr->decrypt_key_id_len == 4 &&
	       memcmp(csr->decrypt_key_id, "\x01\x02\x03\x04", 4) == 0 &&
	       csr->asym_decrypt_key_id == NULL, "/csr/attr/decrypt-key-identifier (%s)", e.msg);
	be_csr_free(csr);
	csr = NULL;
	gnutls_free(der.data);

	crq = new_crq(key_ec, "device");
	gnutls_x509_crq_set_attribute_by_oid(crq, OID_ASYM_DECRYPT_KEY_ID, "\x04\x02\xaa\xbb", 4);
	gnutls_x509_crq_set_attribute_by_oid(crq, OID_CHALLENGE, "\x0c\x02pw", 4);
	der = finish(crq, key_ec);
	rc = parse(der.data, der.size, 0, &csr, &e);
	tap_ok(rc == BE_OK && csr->asym_decrypt_key_id_len == 2 &&
	       memcmp(csr->asym_decrypt_key_id, "\xaa\xbb", 2) == 0 && csr->has_challenge,
	       "/csr/attr/asymmetric-decrypt-key-identifier (%s)", e.msg);
	be_csr_free(csr);
	csr = NULL;
	u = edit_and_resign(&der, edit_unknown_attribute);
	rc = parse(u.data, u.size, 0, &csr, &e);
	tap_ok(rc == BE_OK, "/csr/attr/unknown-attribute-ignored (%s)", e.msg);
	be_csr_free(csr);
	csr = NULL;
	gnutls_free(u.data);
	gnutls_free(der.data);

	der = with_attribute(OID_DECRYPT_KEY_ID, "\x0c\x02id", 4);
	refused_datum(&der, BE_E_MALFORMED, "not an OCTET STRING",
		      "/csr/attr/decrypt-key-identifier-wrong-type");
}

static void
test_extensions(void)
{
	static const unsigned char ip[4] = { 192, 0, 2, 7 };
	unsigned char v[256], w[256], x[256];
	gnutls_x509_crq_t crq;
	gnutls_datum_t der;
	struct be_csr *csr = NULL;
	struct be_err e;
	size_t n, m;
	int rc;

	crq = new_crq(key_ec, "www.example.com");
	gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_DNSNAME, "www.Example.com", 15,
					     GNUTLS_FSAN_APPEND);
	gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_IPADDRESS, ip, 4,
					     GNUTLS_FSAN_APPEND);
	gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_RFC822NAME, "ops@example.com", 15,
					     GNUTLS_FSAN_APPEND);
	gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_URI, "https://example.com/", 20,
					     GNUTLS_FSAN_APPEND);
	der = finish(crq, key_ec);
	rc = parse(der.data, der.size, 0, &csr, &e);
	tap_ok(rc == BE_OK && csr->sans.n == 4 && csr->sans.v[0].type == BE_SAN_DNS &&
	       strcmp(csr->sans.v[0].value, "www.example.com") == 0 &&
	       csr->sans.v[1].type == BE_SAN_IP && strcmp(csr->sans.v[1].value, "192.0.2.7") == 0 &&
	       csr->sans.v[2].type == BE_SAN_EMAIL && csr->sans.v[3].type == BE_SAN_URI,
	       "/csr/san/dns-ip-email-uri (%s)", e.msg);
	be_csr_free(csr);
	csr = NULL;
	gnutls_free(der.data);

	crq = new_crq(key_ec, "device");
	gnutls_x509_crq_set_basic_constraints(crq, 1, -1);
	gnutls_x509_crq_set_key_usage(crq, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN);
	gnutls_x509_crq_set_key_purpose_oid(crq, GNUTLS_KP_TLS_WWW_SERVER, 0);
	gnutls_x509_crq_set_key_purpose_oid(crq, GNUTLS_KP_OCSP_SIGNING, 0);
	der = finish(crq, key_ec);
	rc = parse(der.data, der.size, 0, &csr, &e);
	tap_ok(rc == BE_OK && csr->has_basic_constraints && csr->asks_ca && csr->has_key_usage &&
	       csr->key_usage == (GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN) &&
	       csr->n_eku == 2 && strcmp(csr->eku[0], GNUTLS_KP_TLS_WWW_SERVER) == 0 &&
	       strcmp(csr->eku[1], GNUTLS_KP_OCSP_SIGNING) == 0,
	       "/csr/ext/ca-keycertsign-eku-parsed-not-refused (%s)", e.msg);
	be_csr_free(csr);
	csr = NULL;
	gnutls_free(der.data);

	/* RFC 5280 4.1.2.6: an empty subject with the identity in subjectAltName */
	crq = new_crq(key_ec, NULL);
	gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_DNSNAME, "a.example", 9,
					     GNUTLS_FSAN_APPEND);
	der = finish(crq, key_ec);
	rc = parse(der.data, der.size, 0, &csr, &e);
	tap_ok(rc == BE_OK && csr->subject.n == 0 && csr->sans.n == 1,
	       "/csr/subject/empty-with-san (%s)", e.msg);
	be_csr_free(csr);
	csr = NULL;
	gnutls_free(der.data);

	crq = new_crq(key_ec, "device");
	gnutls_x509_crq_set_basic_constraints(crq, 0, -1);
	der = finish(crq, key_ec);
	rc = parse(der.data, der.size, 0, &csr, &e);
	tap_ok(rc == BE_OK && csr->has_basic_constraints && !csr->asks_ca,
	       "/csr/ext/ca-false");
	be_csr_free(csr);
	csr = NULL;
	gnutls_free(der.data);

	crq = new_crq(key_ec, "device");
	gnutls_x509_crq_set_subject_alt_othername(crq, "1.3.6.1.4.1.311.20.2.3",
						  "\x0c\x05" "u@x.y", 7,
						  GNUTLS_FSAN_APPEND);
	der = finish(crq, key_ec);
	refused_datum(&der, BE_E_POLICY, "otherName", "/csr/san/othername-refused");

	crq = new_crq(key_ec, "device");
	gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_DNSNAME, "bad..name", 9,
					     GNUTLS_FSAN_APPEND);
	der = finish(crq, key_ec);
	refused_datum(&der, BE_E_POLICY, "CSR subjectAltName DNS", "/csr/san/bad-dns-name");

	/* Extensions with subjectAltName twice, made by hand: GnuTLS will not */
	n = tlv(v, 0x82, "a.example", 9);		/* dNSName */
	n = tlv(v, 0x30, v, n);				/* GeneralNames */
	n = tlv(v, 0x04, v, n);				/* extnValue */
	memmove(v + 5, v, n);
	memcpy(v, "\x06\x03\x55\x1d\x11", 5);		/* id-ce-subjectAltName */
	n = tlv(v, 0x30, v, n + 5);			/* Extension */
	memcpy(w, v, n);
	memcpy(w + n, v, n);
	m = tlv(x, 0x30, w, 2 * n);			/* Extensions */
	der = with_attribute(OID_EXT_REQ, x, m);
	refused_datum(&der, BE_E_MALFORMED, "appears twice", "/csr/ext/duplicate-extension");

	m = tlv(x, 0x30, v, n);
	der = with_attribute(OID_EXT_REQ, x, m);
	rc = parse(der.data, der.size, 0, &csr, &e);
	tap_ok(rc == BE_OK && csr->sans.n == 1 && strcmp(csr->sans.v[0].value, "a.example") == 0,
	       "/csr/ext/hand-made-extension-request (%s)", e.msg);
	be_csr_free(csr);
	csr = NULL;
	gnutls_free(der.data);

	/* an empty GeneralNames */
	memcpy(v, "\x30\x09\x06\x03\x55\x1d\x11\x04\x02\x30\x00", 11);
	m = tlv(x, 0x30, v, 11);
	der = with_attribute(OID_EXT_REQ, x, m);
	refused_datum(&der, BE_E_MALFORMED, "subjectAltName", "/csr/san/empty-generalnames");

	der = with_attribute(OID_EXT_REQ, "\x30\x00", 2);
	refused_datum(&der, BE_E_MALFORMED, "extensionRequest", "/csr/ext/empty-extensions");

	der = with_attribute(OID_EXT_REQ, "\x04\x00", 2);
	refused_datum(&der, BE_E_MALFORMED, "extensionRequest", "/csr/ext/not-extensions");
}

static void
test_keys(void)
{
	gnutls_x509_privkey_t k = NULL;
	gnutls_datum_t der;
	struct be_csr *csr = NULL;
	struct be_err e;
	int rc;

	if (gnutls_x509_privkey_init(&k) == 0 &&
	    gnutls_x509_privkey_generate(k, GNUTLS_PK_EDDSA_ED25519, 256, 0) == 0) {
		gnutls_x509_crq_t crq = new_crq(k, "ed-device");

		if (gnutls_x509_crq_sign2(crq, k, GNUTLS_DIG_SHA512, 0) == 0 &&
		    gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &der) == 0) {
			rc = parse(der.data, der.size, 0, &csr, &e);
			tap_ok(rc == BE_OK && csr->key.alg == BE_KEY_ED25519 && csr->signature_ok,
			       "/csr/key/ed25519 (%s)", e.msg);
			be_csr_free(csr);
			csr = NULL;
			gnutls_free(der.data);
		} else {
			tap_ok(0, "/csr/key/ed25519 (cannot sign)");
		}
		gnutls_x509_crq_deinit(crq);
	}
	gnutls_x509_privkey_deinit(k);

	k = NULL;
	if (gnutls_x509_privkey_init(&k) == 0 &&
	    gnutls_x509_privkey_generate(
		    k, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP224R1), 0) == 0) {
		der = finish(new_crq(k, "small-curve"), k);
		refused_datum(&der, BE_E_POLICY, "CSR", "/csr/key/p224-refused");
	} else {
		tap_ok(1, "/csr/key/p224-refused # SKIP GnuTLS cannot make P-224 keys");
	}
	gnutls_x509_privkey_deinit(k);

	/* RSA below the 2048-bit floor (be_goodkey.h): 400 with the size, whatever the size */
	{
		static const unsigned sizes[] = { 1024, 2040 };
		char name[64];
		size_t i;

		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			k = NULL;
			snprintf(name, sizeof(name), "RSA modulus of %u bits", sizes[i]);
			if (gnutls_x509_privkey_init(&k) == 0 &&
			    gnutls_x509_privkey_generate(k, GNUTLS_PK_RSA, sizes[i], 0) == 0) {
				der = finish(new_crq(k, "small-rsa"), k);
				refused_datum(&der, BE_E_MALFORMED, name, "/csr/key/rsa-below-2048");
			} else {
				tap_ok(0, "/csr/key/rsa-below-2048 (GnuTLS cannot make the key)");
			}
			gnutls_x509_privkey_deinit(k);
		}
	}

	/* The signature's hash: SHA-256/384/512 taken, everything else refused by name. */
	{
		static const struct {
			gnutls_digest_algorithm_t dig;
			const char *name;	/* NULL: accepted */
		} sigs[] = {
			{ GNUTLS_DIG_SHA1, "ECDSA-SHA1" }, { GNUTLS_DIG_SHA224, "ECDSA-SHA224" },
			{ GNUTLS_DIG_SHA3_256, "ECDSA-SHA3-256" }, { GNUTLS_DIG_SHA384, NULL },
			{ GNUTLS_DIG_SHA512, NULL },
		};
		size_t i;

		for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
			gnutls_x509_crq_t crq = new_crq(key_ec, "hash");
			const char *dn = gnutls_digest_get_name(sigs[i].dig);

			der.data = NULL;
			if (gnutls_x509_crq_sign2(crq, key_ec, sigs[i].dig, 0) < 0 ||
			    gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &der) < 0) {
				tap_ok(0, "/csr/signature/%s (GnuTLS cannot sign)", dn);
			} else if (sigs[i].name != NULL) {
				refused(der.data, der.size, BE_E_MALFORMED, sigs[i].name,
					sigs[i].name);
			} else {
				rc = parse(der.data, der.size, 0, &csr, &e);
				tap_ok(rc == BE_OK, "/csr/signature/ecdsa-%s-accepted (%s)", dn, e.msg);
				be_csr_free(csr);
				csr = NULL;
			}
			gnutls_free(der.data);
			gnutls_x509_crq_deinit(crq);
		}
	}
}

static void
test_pubkey(void)
{
	gnutls_pubkey_t pub = NULL, got = NULL;
	gnutls_datum_t der = { NULL, 0 }, pem = { NULL, 0 };
	struct be_keyspec spec;
	struct be_err e;
	unsigned char *b = NULL;
	int rc;

	gnutls_pubkey_init(&pub);
	{
		gnutls_privkey_t pk = NULL;

		gnutls_privkey_init(&pk);
		gnutls_privkey_import_x509(pk, key_ec, 0);
		gnutls_pubkey_import_privkey(pub, pk, 0, 0);
		gnutls_privkey_deinit(pk);
	}
	gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der);
	gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &pem);

	be_err_clear(&e);
	rc = be_pubkey_parse(der.data, der.size, &got, &spec, &e);
	tap_ok(rc == BE_OK && got != NULL && spec.alg == BE_KEY_EC && spec.bits == 256,
	       "/pubkey/der (%s)", e.msg);
	gnutls_pubkey_deinit(got);
	got = NULL;
	be_err_clear(&e);
	rc = be_pubkey_parse(pem.data, pem.size, &got, &spec, &e);
	tap_ok(rc == BE_OK && got != NULL, "/pubkey/pem (%s)", e.msg);
	gnutls_pubkey_deinit(got);
	got = NULL;

	b = malloc(der.size + 1);
	memcpy(b, der.data, der.size);
	b[der.size] = 0;
	be_err_clear(&e);
	rc = be_pubkey_parse(b, der.size + 1, &got, &spec, &e);
	tap_ok(rc == BE_E_MALFORMED && got == NULL &&
	       strstr(e.msg, "public key: 1 trailing") != NULL, "/pubkey/trailing-bytes (%s)",
	       e.msg);
	be_err_clear(&e);
	rc = be_pubkey_parse((const unsigned char *)
			     "-----BEGIN RSA PUBLIC KEY-----\nMA==\n-----END RSA PUBLIC KEY-----\n",
			     64, &got, &spec, &e);
	tap_ok(rc == BE_E_MALFORMED && got == NULL && strstr(e.msg, "label") != NULL,
	       "/pubkey/wrong-label (%s)", e.msg);
	free(b);
	gnutls_free(der.data);
	gnutls_free(pem.data);
	gnutls_pubkey_deinit(pub);
}

/* ---------------------------------------------------------------- openssl interop */

static void
test_openssl(void)
{
	static const char cnf[] =
		"[req]\ndistinguished_name = dn\nattributes = attrs\nprompt = no\n"
		"[dn]\nC = DE\nO = Example GmbH\nCN = host.example.com\n"
		"[attrs]\nchallengePassword = s3cret-Pass\n"
		"[ext]\nsubjectAltName = DNS:host.example.com,IP:192.0.2.7,IP:2001:db8::7\n"
		"keyUsage = digitalSignature\nextendedKeyUsage = serverAuth\n";
	static const char *const skips[] = {
		"/openssl/rsa2048", "/openssl/rsa2048-subject", "/openssl/rsa2048-sans",
		"/openssl/rsa2048-challenge", "/openssl/ec-p384", "/openssl/sha1-signature-refused",
		"/openssl/md5-signature-refused", "/openssl/secp256k1-refused",
		"/openssl/pubkey-rsa", "/openssl/pubkey-secp256k1-refused",
	};
	struct be_csr *csr = NULL;
	struct be_err e;
	gnutls_pubkey_t got = NULL;
	struct be_keyspec spec;
	unsigned char *data = NULL;
	size_t len = 0, i;
	char path[256];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/req.cnf", tmpdir);
	if (!have_openssl || (f = fopen(path, "w")) == NULL) {
		for (i = 0; i < sizeof(skips) / sizeof(skips[0]); i++)
			tap_ok(1, "%s # SKIP openssl not available", skips[i]);
		return;
	}
	fputs(cnf, f);
	fclose(f);

	if (openssl("req -new -config req.cnf -reqexts ext -newkey rsa:2048 -nodes "
		    "-keyout rsa.key -out rsa.csr") && read_tmp("rsa.csr", &data, &len)) {
		rc = parse(data, len, 0, &csr, &e);
		tap_ok(rc == BE_OK && csr->key.alg == BE_KEY_RSA && csr->key.bits == 2048 &&
		       csr->signature_ok, "/openssl/rsa2048 (%s)", e.msg);
		tap_ok(rc == BE_OK && csr->subject.n == 3 && csr->subject.v[0].attr == BE_DN_C &&
		       strcmp(be_name_get(&csr->subject, BE_DN_O), "Example GmbH") == 0 &&
		       strcmp(be_name_get(&csr->subject, BE_DN_CN), "host.example.com") == 0,
		       "/openssl/rsa2048-subject");
		tap_ok(rc == BE_OK && csr->sans.n == 3 &&
		       strcmp(csr->sans.v[2].value, "2001:db8::7") == 0 && csr->n_eku == 1 &&
		       csr->has_key_usage && csr->key_usage == GNUTLS_KEY_DIGITAL_SIGNATURE,
		       "/openssl/rsa2048-sans");
		tap_ok(rc == BE_OK && csr->has_challenge && csr->challenge_len == 11 &&
		       be_ct_equal(csr->challenge, csr->challenge_len, "s3cret-Pass", 11),
		       "/openssl/rsa2048-challenge");
		be_csr_free(csr);
		csr = NULL;
	} else {
		for (i = 0; i < 4; i++)
			tap_ok(0, "%s (openssl failed)", skips[i]);
	}
	free(data);
	data = NULL;

	if (openssl("req -new -config req.cnf -newkey ec -pkeyopt ec_paramgen_curve:P-384 "
		    "-nodes -keyout ec.key -outform DER -out ec.der") &&
	    read_tmp("ec.der", &data, &len)) {
		rc = parse(data, len, 0, &csr, &e);
		tap_ok(rc == BE_OK && csr->key.alg == BE_KEY_EC && csr->key.bits == 384,
		       "/openssl/ec-p384 (%s)", e.msg);
		be_csr_free(csr);
		csr = NULL;
	} else {
		tap_ok(0, "/openssl/ec-p384 (openssl failed)");
	}
	free(data);
	data = NULL;

	if (openssl("req -new -config req.cnf -key rsa.key -sha1 -out sha1.csr") &&
	    read_tmp("sha1.csr", &data, &len)) {
		refused(data, len, BE_E_MALFORMED, "RSA-SHA1 (1.2.840.113549.1.1.5) is not accepted",
			"/openssl/sha1-signature-refused");
	} else {
		tap_ok(0, "/openssl/sha1-signature-refused (openssl failed)");
	}
	free(data);
	data = NULL;

	if (openssl("req -new -config req.cnf -key rsa.key -md5 -out md5.csr") &&
	    read_tmp("md5.csr", &data, &len))
		refused(data, len, BE_E_MALFORMED, "RSA-MD5 (1.2.840.113549.1.1.4) is not accepted",
			"/openssl/md5-signature-refused");
	else
		tap_ok(0, "/openssl/md5-signature-refused (openssl failed)");
	free(data);
	data = NULL;

	if (openssl("req -new -config req.cnf -newkey ec -pkeyopt ec_paramgen_curve:secp256k1 "
		    "-nodes -keyout k1.key -out k1.csr") && read_tmp("k1.csr", &data, &len))
		refused(data, len, BE_E_POLICY, "curve", "/openssl/secp256k1-refused");
	else
		tap_ok(1, "/openssl/secp256k1-refused # SKIP openssl cannot make secp256k1 keys");
	free(data);
	data = NULL;

	if (openssl("pkey -in rsa.key -pubout -out rsa.pub") && read_tmp("rsa.pub", &data, &len)) {
		be_err_clear(&e);
		rc = be_pubkey_parse(data, len, &got, &spec, &e);
		tap_ok(rc == BE_OK && spec.alg == BE_KEY_RSA && spec.bits == 2048,
		       "/openssl/pubkey-rsa (%s)", e.msg);
		gnutls_pubkey_deinit(got);
		got = NULL;
	} else {
		tap_ok(0, "/openssl/pubkey-rsa (openssl failed)");
	}
	free(data);
	data = NULL;

	if (openssl("pkey -in k1.key -pubout -out k1.pub") && read_tmp("k1.pub", &data, &len)) {
		be_err_clear(&e);
		rc = be_pubkey_parse(data, len, &got, &spec, &e);
		tap_ok(rc == BE_E_POLICY && got == NULL, "/openssl/pubkey-secp256k1-refused (%s)",
		       e.msg);
	} else {
		tap_ok(1, "/openssl/pubkey-secp256k1-refused # SKIP no secp256k1 key");
	}
	free(data);
}

int
main(void)
{
	char cmd[256];

	if (gnutls_global_init() < 0 || gnutls_x509_privkey_init(&key_ec) < 0 ||
	    gnutls_x509_privkey_generate(key_ec, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
	    mkdtemp(tmpdir) == NULL) {
		printf("Bail out! cannot set up\n");
		return 99;
	}
	have_openssl = system("openssl version >/dev/null 2>&1") == 0;

	test_base64();
	test_der_from_text();
	test_good();
	test_encoding();
	test_subject();
	test_challenge();
	test_attributes();
	test_extensions();
	test_keys();
	test_pubkey();
	test_openssl();

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", tmpdir);
	gnutls_x509_privkey_deinit(key_ec);
	gnutls_global_deinit();
	return tap_done();
}
