/*
 * be_cms / be_zip: every EnvelopedData we write opens with `openssl cms -decrypt` and
 * `openssl smime -decrypt` (RSA-OAEP, RSA-PKCS#1 v1.5, ECDH P-256/384/521, pre-shared AES
 * KEK) and gives back the exact bytes; SignedData verifies with `openssl cms -verify` and
 * GnuTLS; encryption certificates are refused for the right reasons; ZIP bundles pass
 * `unzip -t` and extract byte for byte.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/pkcs7.h>

#include "be_asn1.h"
#include "be_cms.h"
#include "be_csr.h"
#include "be_key.h"
#include "tap.h"

static char dir[64];

/* ---------------------------------------------------------------- helpers */

static int
sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static int
write_file(const char *name, const void *data, size_t len)
{
	char path[160];
	FILE *f;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	if (len > 0 && fwrite(data, 1, len, f) != len)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/* The whole file dir/name, malloc()ed (NULL when unreadable). */
static unsigned char *
read_file(const char *name, size_t *len)
{
	char path[160];
	unsigned char *buf = NULL;
	FILE *f;
	long n;

	*len = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static bool
file_equals(const char *name, const void *data, size_t len)
{
	size_t n;
	unsigned char *got = read_file(name, &n);
	bool eq = got != NULL && n == len && (len == 0 || memcmp(got, data, len) == 0);

	free(got);
	return eq;
}

static gnutls_x509_privkey_t
gen_key(const char *spec_name)
{
	gnutls_x509_privkey_t key = NULL;
	struct be_keyspec spec;

	if (be_keyspec_parse(spec_name, &spec) != BE_OK ||
	    be_key_generate(&spec, &key, NULL) != BE_OK)
		return NULL;
	return key;
}

struct cert_opts {
	unsigned ku;		/* 0: no keyUsage extension */
	bool ca;
	long not_before;	/* seconds from now */
	long not_after;
};

/* A self-signed certificate for key; *der gnutls_malloc()ed. */
static int
make_cert(gnutls_x509_privkey_t key, const struct cert_opts *o, const char *cn,
	  gnutls_datum_t *der)
{
	gnutls_x509_crt_t crt = NULL;
	unsigned char serial[9] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x11 };
	char dn[128];
	time_t now = time(NULL);
	int rc = -1;

	der->data = NULL;
	der->size = 0;
	snprintf(dn, sizeof(dn), "CN=%s,O=certgate test", cn);
	if (gnutls_x509_crt_init(&crt) < 0 || gnutls_x509_crt_set_version(crt, 3) < 0 ||
	    gnutls_x509_crt_set_dn(crt, dn, NULL) < 0 ||
	    gnutls_x509_crt_set_issuer_dn(crt, dn, NULL) < 0 ||
	    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, now + o->not_before) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, now + o->not_after) < 0 ||
	    gnutls_x509_crt_set_key(crt, key) < 0)
		goto out;
	if (o->ku != 0 && gnutls_x509_crt_set_key_usage(crt, o->ku) < 0)
		goto out;
	if (o->ca && gnutls_x509_crt_set_basic_constraints(crt, 1, -1) < 0)
		goto out;
	if (gnutls_x509_crt_sign2(crt, crt, key,
				  gnutls_x509_privkey_get_pk_algorithm(key) ==
				  GNUTLS_PK_EDDSA_ED25519 ? GNUTLS_DIG_UNKNOWN : GNUTLS_DIG_SHA256,
				  0) < 0 ||
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, der) < 0)
		goto out;
	rc = 0;
out:
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	return rc;
}

static int
write_cert_pem(const char *name, const gnutls_datum_t *der)
{
	gnutls_datum_t pem = { NULL, 0 };
	int rc = -1;

	if (be_encode_pem_certs(der, 1, &pem, NULL) == BE_OK)
		rc = write_file(name, pem.data, pem.size);
	be_datum_free(&pem);
	return rc;
}

static int
write_key_pem(const char *name, gnutls_x509_privkey_t key)
{
	gnutls_datum_t pem = { NULL, 0 };
	int rc = -1;

	if (be_key_export(key, BE_KEY_PKCS8, true, &pem, NULL) == BE_OK)
		rc = write_file(name, pem.data, pem.size);
	be_datum_wipe(&pem);
	return rc;
}

/* A recipient of spec_name: key, certificate (keyUsage ku) and both written as
 * <tag>.key / <tag>.pem; the certificate parsed from its PEM. */
struct party {
	gnutls_x509_privkey_t key;
	gnutls_datum_t der;
	struct be_cms_recipient *r;
};

static bool
party_make(struct party *p, const char *spec_name, unsigned ku, const char *tag)
{
	struct cert_opts o = { ku, false, -60, 86400 };
	struct be_err e = { 0, "" };
	char name[64];
	size_t n;
	unsigned char *pem;

	memset(p, 0, sizeof(*p));
	if ((p->key = gen_key(spec_name)) == NULL || make_cert(p->key, &o, tag, &p->der) != 0)
		return false;
	snprintf(name, sizeof(name), "%s.key", tag);
	if (write_key_pem(name, p->key) != 0)
		return false;
	snprintf(name, sizeof(name), "%s.pem", tag);
	if (write_cert_pem(name, &p->der) != 0 || (pem = read_file(name, &n)) == NULL)
		return false;
	if (be_cms_recipient_parse(pem, n, &p->r, &e) != BE_OK)
		tap_diag("%s: %s", tag, e.msg);
	free(pem);
	return p->r != NULL;
}

static void
party_clear(struct party *p)
{
	be_cms_recipient_free(p->r);
	be_datum_free(&p->der);
	if (p->key != NULL)
		gnutls_x509_privkey_deinit(p->key);
	memset(p, 0, sizeof(*p));
}

static int inner_version;	/* version of the last content strict_content_info decoded */

/* True when der decodes strictly as a ContentInfo of content type oid whose content
 * decodes strictly as inner_type (its version in inner_version). */
static bool
strict_content_info(const gnutls_datum_t *der, const char *oid, const char *inner_type)
{
	unsigned char ver[8];
	int vn = sizeof(ver);

	asn1_node ci = NULL, in = NULL;
	unsigned char *v = NULL;
	size_t vlen;
	char got[64] = "";
	int n = sizeof(got);
	bool ok = false;

	if (be_asn1_decode("CMS.ContentInfo", der->data, der->size, "ContentInfo", &ci,
			   NULL) != BE_OK ||
	    asn1_read_value(ci, "contentType", got, &n) != ASN1_SUCCESS ||
	    strcmp(got, oid) != 0 || be_asn1_read(ci, "content", &v, &vlen, NULL) != BE_OK ||
	    be_asn1_decode(inner_type, v, vlen, "content", &in, NULL) != BE_OK ||
	    asn1_read_value(in, "version", ver, &vn) != ASN1_SUCCESS || vn != 1)
		goto out;
	inner_version = ver[0];
	ok = true;
out:
	free(v);
	if (ci != NULL)
		asn1_delete_structure(&ci);
	if (in != NULL)
		asn1_delete_structure(&in);
	return ok;
}

static void
random_bytes(unsigned char *p, size_t n)
{
	gnutls_rnd(GNUTLS_RND_NONCE, p, n);
}

/* ---------------------------------------------------------------- EnvelopedData */

struct env_case {
	const char *spec;
	enum be_cms_kt kt;
	const char *kt_name;
	const char *alg_text;	/* what `openssl cms -cmsout -print` shows */
};

static void
test_envelope_recipients(void)
{
	static const struct env_case cases[] = {
		{ "rsa2048", BE_CMS_KT_OAEP, "oaep", "rsaesOaep" },
		{ "rsa2048", BE_CMS_KT_PKCS1, "pkcs1", "rsaEncryption" },
		{ "rsa3072", BE_CMS_KT_OAEP, "oaep", "rsaesOaep" },
		{ "p256", BE_CMS_KT_OAEP, "ecdh", "dhSinglePass-stdDH-sha256kdf-scheme" },
		{ "p384", BE_CMS_KT_OAEP, "ecdh", "dhSinglePass-stdDH-sha256kdf-scheme" },
		{ "p521", BE_CMS_KT_OAEP, "ecdh", "dhSinglePass-stdDH-sha256kdf-scheme" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct env_case *c = &cases[i];
		bool rsa = strncmp(c->spec, "rsa", 3) == 0;
		struct party p;
		struct be_err e = { 0, "" };
		gnutls_datum_t content = { NULL, 0 }, env = { NULL, 0 }, p8 = { NULL, 0 };
		gnutls_x509_privkey_t dev = NULL;
		unsigned char data[1000 + 7];
		char name[96];
		int rc;

		snprintf(name, sizeof(name), "/cms/envelope/%s/%s", c->spec, c->kt_name);
		if (!tap_ok(party_make(&p, c->spec, rsa ? GNUTLS_KEY_KEY_ENCIPHERMENT :
				       GNUTLS_KEY_KEY_AGREEMENT, "rcpt"),
			    "%s: recipient certificate accepted", name)) {
			party_clear(&p);
			continue;
		}
		random_bytes(data, sizeof(data));
		content.data = data;
		content.size = (unsigned)sizeof(data);
		rc = be_cms_envelope(&content, BE_OID_DATA, p.r, c->kt, &env, &e);
		tap_ok(rc == BE_OK, "%s: enveloped (%s)", name, e.msg);
		tap_ok(rc == BE_OK && strict_content_info(&env, BE_OID_ENVELOPED_DATA,
							  "CMS.EnvelopedData") &&
		       inner_version == (rsa ? 0 : 2),
		       "%s: strict DER ContentInfo / EnvelopedData version %d", name,
		       rsa ? 0 : 2);
		write_file("env.der", env.data, env.size);
		unlink("dec.bin");
		tap_ok(sh("cd %s && openssl cms -decrypt -inform DER -in env.der -inkey rcpt.key "
			  "-recip rcpt.pem -binary -out dec.bin 2>cms.err", dir) == 0 &&
		       file_equals("dec.bin", data, sizeof(data)),
		       "%s: openssl cms -decrypt gives the content back", name);
		/* `openssl smime` is OpenSSL's PKCS#7 (RFC 2315) reader: key transport with
		 * RSAES-PKCS1-v1_5 only; it fails on OAEP and ECDH from `openssl cms` too */
		if (c->kt == BE_CMS_KT_PKCS1 && rsa)
			tap_ok(sh("cd %s && openssl smime -decrypt -inform DER -in env.der "
				  "-inkey rcpt.key -recip rcpt.pem -binary -out dec2.bin "
				  "2>>cms.err", dir) == 0 &&
			       file_equals("dec2.bin", data, sizeof(data)),
			       "%s: openssl smime -decrypt gives the content back", name);
		tap_ok(sh("cd %s && openssl cms -decrypt -inform DER -in env.der -inkey rcpt.key "
			  "-binary -out dec3.bin 2>>cms.err", dir) == 0 &&
		       file_equals("dec3.bin", data, sizeof(data)),
		       "%s: openssl cms -decrypt with the key alone", name);
		tap_ok(sh("cd %s && openssl cms -cmsout -print -inform DER -in env.der > env.txt && "
			  "grep -q '%s' env.txt && grep -q 'aes-256-cbc' env.txt %s", dir,
			  c->alg_text, rsa ? "" : "&& grep -q 'id-aes256-wrap' env.txt") == 0,
		       "%s: algorithms are %s%s, AES-256-CBC", name, c->alg_text,
		       rsa ? "" : " + id-aes256-wrap");
		be_datum_free(&env);

		/* a real private key, PKCS#8 DER, as server keygen sends it */
		if ((dev = gen_key(i % 2 ? "p384" : "rsa2048")) != NULL &&
		    gnutls_x509_privkey_export2_pkcs8(dev, GNUTLS_X509_FMT_DER, NULL,
						      GNUTLS_PKCS_PLAIN, &p8) >= 0 &&
		    be_cms_envelope(&p8, BE_OID_DATA, p.r, c->kt, &env, &e) == BE_OK) {
			write_file("env.der", env.data, env.size);
			tap_ok(sh("cd %s && openssl cms -decrypt -inform DER -in env.der "
				  "-inkey rcpt.key -recip rcpt.pem -binary -out key.der 2>>cms.err "
				  "&& openssl pkey -inform DER -in key.der -noout 2>>cms.err", dir) ==
			       0 && file_equals("key.der", p8.data, p8.size),
			       "%s: a PKCS#8 key decrypts byte for byte and openssl reads it",
			       name);
		} else {
			tap_ok(0, "%s: PKCS#8 key enveloped (%s)", name, e.msg);
		}
		if (dev != NULL)
			gnutls_x509_privkey_deinit(dev);
		be_datum_wipe(&p8);
		be_datum_free(&env);
		party_clear(&p);
	}
}

/* Many envelopes for one recipient, all decrypted by openssl: catches encodings that go
 * wrong for a value with leading zero octets (ECDH Z or coordinates, RSA ciphertext). */
static void
test_envelope_many(const char *spec, unsigned ku, enum be_cms_kt kt, int count)
{
	struct party p;
	struct be_err e = { 0, "" };
	unsigned char data[48];
	gnutls_datum_t content = { data, sizeof(data) }, env = { NULL, 0 };
	char name[64];
	int i, made = 0;

	if (!tap_ok(party_make(&p, spec, ku, "many"), "/cms/envelope/%s/x%d: recipient", spec,
		    count)) {
		party_clear(&p);
		return;
	}
	for (i = 0; i < count; i++) {
		random_bytes(data, sizeof(data));
		snprintf(name, sizeof(name), "m%03d.der", i);
		if (be_cms_envelope(&content, BE_OID_DATA, p.r, kt, &env, &e) != BE_OK)
			break;
		write_file(name, env.data, env.size);
		be_datum_free(&env);
		snprintf(name, sizeof(name), "m%03d.bin", i);
		write_file(name, data, sizeof(data));
		made++;
	}
	tap_ok(made == count, "/cms/envelope/%s/x%d: all enveloped (%s)", spec, count, e.msg);
	tap_ok(sh("cd %s && fail=0; for f in m*.der; do b=${f%%.der}; "
		  "openssl cms -decrypt -inform DER -in $f -inkey many.key -recip many.pem "
		  "-binary -out $b.out 2>/dev/null && cmp -s $b.out $b.bin || fail=1; done; "
		  "rm -f m*.der m*.bin m*.out; exit $fail", dir) == 0,
	       "/cms/envelope/%s/x%d: openssl decrypts every one exactly", spec, count);
	party_clear(&p);
}

static void
test_envelope_kek(void)
{
	static const size_t lens[] = { 16, 24, 32 };
	static const unsigned char kek_id[] = "device-7/kek-1";
	unsigned char kek[32], data[333];
	gnutls_datum_t content = { data, sizeof(data) }, env = { NULL, 0 };
	struct be_err e = { 0, "" };
	char hex[65], idhex[2 * sizeof(kek_id) + 1];
	size_t i, j;
	int rc;

	for (j = 0; j < sizeof(kek_id) - 1; j++)
		snprintf(idhex + 2 * j, 3, "%02X", kek_id[j]);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		random_bytes(kek, lens[i]);
		random_bytes(data, sizeof(data));
		for (j = 0; j < lens[i]; j++)
			snprintf(hex + 2 * j, 3, "%02X", kek[j]);
		rc = be_cms_envelope_kek(&content, BE_OID_DATA, kek, lens[i], kek_id,
					 sizeof(kek_id) - 1, &env, &e);
		tap_ok(rc == BE_OK && strict_content_info(&env, BE_OID_ENVELOPED_DATA,
							  "CMS.EnvelopedData") && inner_version == 2,
		       "/cms/kek/aes%zu: enveloped, strict DER, version 2 (%s)", lens[i] * 8,
		       e.msg);
		write_file("kek.der", env.data, env.size);
		unlink("kek.bin");
		tap_ok(sh("cd %s && openssl cms -decrypt -inform DER -in kek.der -secretkey %s "
			  "-secretkeyid %s -binary -out kek.bin 2>>cms.err", dir, hex, idhex) == 0 &&
		       file_equals("kek.bin", data, sizeof(data)),
		       "/cms/kek/aes%zu: openssl cms -decrypt -secretkey gives the content back",
		       lens[i] * 8);
		tap_ok(sh("cd %s && openssl cms -cmsout -print -inform DER -in kek.der | "
			  "grep -q 'id-aes%zu-wrap'", dir, lens[i] * 8) == 0,
		       "/cms/kek/aes%zu: key wrap algorithm id-aes%zu-wrap", lens[i] * 8,
		       lens[i] * 8);
		be_datum_free(&env);
	}
	/* no content at all: one block of padding */
	content.size = 0;
	content.data = NULL;
	if (be_cms_envelope_kek(&content, BE_OID_DATA, kek, 32, kek_id, sizeof(kek_id) - 1,
				&env, &e) == BE_OK)
		write_file("kek.der", env.data, env.size);
	be_datum_free(&env);
	tap_ok(sh("cd %s && openssl cms -decrypt -inform DER -in kek.der -secretkey %s "
		  "-secretkeyid %s -binary -out kek.bin 2>>cms.err", dir, hex, idhex) == 0 &&
	       file_equals("kek.bin", "", 0), "/cms/kek/empty-content: opens to nothing");
	content.data = data;
	content.size = sizeof(data);
	tap_ok(be_cms_envelope_kek(&content, BE_OID_DATA, kek, 20, kek_id, 3, &env, &e) ==
	       BE_E_CONFIG && env.data == NULL, "/cms/kek/bad-length: a 20-octet KEK refused");
	be_err_clear(&e);
	tap_ok(be_cms_envelope_kek(&content, BE_OID_DATA, kek, 16, kek_id, 0, &env, &e) ==
	       BE_E_MALFORMED, "/cms/kek/empty-id: an empty key identifier refused (%s)", e.msg);
}

static void
test_key_package(void)
{
	gnutls_x509_privkey_t key = gen_key("p256");
	gnutls_datum_t pkg = { NULL, 0 }, p8 = { NULL, 0 }, env = { NULL, 0 };
	struct be_err e = { 0, "" };
	asn1_node el = NULL;
	unsigned char *one = NULL;
	size_t one_len = 0;
	struct party p;
	int rc;

	rc = key ? be_cms_key_package(key, &pkg, &e) : BE_E_CRYPTO;
	tap_ok(rc == BE_OK, "/cms/key-package: encoded (%s)", e.msg);
	gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN,
					  &p8);
	tap_ok(rc == BE_OK &&
	       be_asn1_decode("CMS.AsymmetricKeyPackage", pkg.data, pkg.size, "package", &el,
			      NULL) == BE_OK &&
	       be_asn1_read(el, "?1", &one, &one_len, NULL) == BE_OK &&
	       asn1_read_value(el, "?2", NULL, &(int){ 0 }) == ASN1_ELEMENT_NOT_FOUND &&
	       one_len == p8.size && memcmp(one, p8.data, one_len) == 0,
	       "/cms/key-package: one OneAsymmetricKey, the PKCS#8 PrivateKeyInfo");
	write_file("one.der", one, one_len);
	tap_ok(sh("cd %s && openssl pkey -inform DER -in one.der -noout 2>>cms.err", dir) == 0,
	       "/cms/key-package: openssl reads the OneAsymmetricKey");
	if (party_make(&p, "rsa2048", GNUTLS_KEY_KEY_ENCIPHERMENT, "kp") &&
	    be_cms_envelope(&pkg, BE_OID_KEY_PACKAGE, p.r, BE_CMS_KT_OAEP, &env, &e) == BE_OK) {
		write_file("kp.der", env.data, env.size);
		tap_ok(sh("cd %s && openssl cms -decrypt -inform DER -in kp.der -inkey kp.key "
			  "-recip kp.pem -binary -out kp.bin 2>>cms.err", dir) == 0 &&
		       file_equals("kp.bin", pkg.data, pkg.size),
		       "/cms/key-package: enveloped as id-ct-KP-aKeyPackage, openssl decrypts it");
		tap_ok(sh("cd %s && openssl cms -cmsout -print -inform DER -in kp.der | "
			  "grep -q 'contentType: .*(2\\.16\\.840\\.1\\.101\\.2\\.1\\.2\\.78\\.5)'",
			  dir) == 0, "/cms/key-package: encryptedContentInfo names its type");
	} else {
		tap_ok(0, "/cms/key-package: enveloped (%s)", e.msg);
		tap_ok(0, "/cms/key-package: content type");
	}
	party_clear(&p);
	be_datum_free(&env);
	be_datum_wipe(&pkg);
	be_datum_wipe(&p8);
	be_memzero(one, one_len);
	free(one);
	if (el != NULL)
		asn1_delete_structure(&el);
	if (key != NULL)
		gnutls_x509_privkey_deinit(key);
}

/* ---------------------------------------------------------------- refusals */

static void
expect_refused(const char *name, const unsigned char *data, size_t len, int code,
	       const char *needle)
{
	struct be_cms_recipient *r = (struct be_cms_recipient *)1;
	struct be_err e = { 0, "" };
	int rc = be_cms_recipient_parse(data, len, &r, &e);

	tap_ok(rc == code && (code == BE_OK ? r != NULL : r == NULL) &&
	       strstr(e.msg, needle) != NULL, "/cms/recipient/%s%s (%s: %s)",
	       code == BE_OK ? "" : "refused/", name, be_err_name(rc), e.msg);
	be_cms_recipient_free(rc == BE_OK ? r : NULL);
}

static void
refuse_cert(const char *name, gnutls_x509_privkey_t key, const struct cert_opts *o, int code,
	    const char *needle)
{
	gnutls_datum_t der = { NULL, 0 };

	if (key == NULL || make_cert(key, o, name, &der) != 0) {
		tap_ok(0, "/cms/recipient/refused/%s: test certificate made", name);
		return;
	}
	expect_refused(name, der.data, der.size, code, needle);
	be_datum_free(&der);
}

static void
test_recipient_refusals(void)
{
	gnutls_x509_privkey_t rsa = gen_key("rsa2048"), ec = gen_key("p256"),
			      ed = gen_key("ed25519"), small = NULL;
	struct cert_opts ok_rsa = { GNUTLS_KEY_KEY_ENCIPHERMENT, false, -60, 86400 };
	struct cert_opts o;
	gnutls_datum_t der = { NULL, 0 }, pem = { NULL, 0 };
	struct be_cms_recipient *r = NULL;
	struct be_err e = { 0, "" };
	unsigned char *buf = NULL, *k1 = NULL;
	size_t k1_len = 0;
	char *b64 = NULL;
	static const unsigned char garbage[] = "\x30\x82\x01\x00 this is not a certificate";

	expect_refused("garbage", garbage, sizeof(garbage) - 1, BE_E_MALFORMED, "");
	expect_refused("empty", (const unsigned char *)"", 0, BE_E_MALFORMED, "");

	/* the good certificate in every accepted form, then spoiled ones */
	make_cert(rsa, &ok_rsa, "good", &der);
	be_encode_pem_certs(&der, 1, &pem, NULL);
	tap_ok(be_cms_recipient_parse(pem.data, pem.size, &r, &e) == BE_OK &&
	       r->key.alg == BE_KEY_RSA && r->key.bits == 2048,
	       "/cms/recipient/pem: PEM accepted, RSA 2048 (%s)", e.msg);
	be_cms_recipient_free(r);
	r = NULL;
	tap_ok(be_cms_recipient_parse(der.data, der.size, &r, &e) == BE_OK,
	       "/cms/recipient/der: DER accepted (%s)", e.msg);
	be_cms_recipient_free(r);
	r = NULL;
	be_base64_encode(der.data, der.size, 76, &b64);
	tap_ok(b64 != NULL && be_cms_recipient_parse((unsigned char *)b64, strlen(b64), &r, &e) ==
	       BE_OK, "/cms/recipient/base64: bare base64 accepted (%s)", e.msg);
	be_cms_recipient_free(r);
	r = NULL;
	if ((buf = malloc(pem.size + 32)) != NULL) {
		memcpy(buf, pem.data, pem.size);
		memcpy(buf + pem.size, "junk after the END line\n", 24);
		expect_refused("pem-junk", buf, pem.size + 24, BE_E_MALFORMED, "");
		memcpy(buf, pem.data, pem.size);
		memcpy(buf + pem.size, pem.data, 16);	/* a second BEGIN */
		expect_refused("pem-second-block", buf, pem.size + 16, BE_E_MALFORMED, "");
		memcpy(buf, der.data, der.size);
		buf[der.size] = 0;
		expect_refused("der-trailing-byte", buf, der.size + 1, BE_E_MALFORMED, "");
	}
	free(buf);
	buf = NULL;
	if ((buf = malloc(70 * 1024)) != NULL) {
		memset(buf, 'A', 70 * 1024);
		expect_refused("too-big", buf, 70 * 1024, BE_E_TOOBIG, "bytes");
	}
	free(buf);
	buf = NULL;
	be_datum_free(&pem);
	be_datum_free(&der);

	/* RSA-1024: GnuTLS generates it when asked directly */
	if (gnutls_x509_privkey_init(&small) >= 0 &&
	    gnutls_x509_privkey_generate(small, GNUTLS_PK_RSA, 1024, 0) >= 0)
		refuse_cert("rsa1024", small, &ok_rsa, BE_E_POLICY, "at least 2048");
	else
		tap_ok(0, "/cms/recipient/refused/rsa1024: key generated");
	o = (struct cert_opts){ GNUTLS_KEY_DIGITAL_SIGNATURE, false, -60, 86400 };
	refuse_cert("ed25519", ed, &o, BE_E_POLICY, "can only sign");
	refuse_cert("rsa-ku-signature-only", rsa, &o, BE_E_POLICY, "keyEncipherment");
	refuse_cert("ec-ku-signature-only", ec, &o, BE_E_POLICY, "keyAgreement");
	o.ku = GNUTLS_KEY_KEY_ENCIPHERMENT;
	refuse_cert("ec-ku-keyencipherment", ec, &o, BE_E_POLICY, "keyAgreement");
	o = (struct cert_opts){ GNUTLS_KEY_KEY_ENCIPHERMENT, false, -2 * 86400, -86400 };
	refuse_cert("expired", rsa, &o, BE_E_POLICY, "expired");
	o = (struct cert_opts){ GNUTLS_KEY_KEY_ENCIPHERMENT, false, 86400, 2 * 86400 };
	refuse_cert("not-yet-valid", rsa, &o, BE_E_POLICY, "not valid yet");
	o = (struct cert_opts){ 0, false, -60, 86400 };
	refuse_cert("no-ku-ec-accepted", ec, &o, BE_OK, "");

	/* secp256k1: GnuTLS cannot make one, openssl can */
	if (sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:secp256k1 "
	       "-nodes -keyout k1.key -subj /CN=k1 -days 2 -out k1.pem 2>>cms.err >&2", dir) ==
	    0 && (k1 = read_file("k1.pem", &k1_len)) != NULL)
		expect_refused("secp256k1", k1, k1_len, BE_E_POLICY, "P-256/P-384/P-521");
	else
		tap_ok(0, "/cms/recipient/refused/secp256k1: openssl made the certificate");
	free(k1);
	free(b64);
	if (small != NULL)
		gnutls_x509_privkey_deinit(small);
	if (rsa != NULL)
		gnutls_x509_privkey_deinit(rsa);
	if (ec != NULL)
		gnutls_x509_privkey_deinit(ec);
	if (ed != NULL)
		gnutls_x509_privkey_deinit(ed);
}

/* ---------------------------------------------------------------- SignedData */

static gnutls_privkey_t
abstract_key(gnutls_x509_privkey_t x)
{
	gnutls_privkey_t k = NULL;

	if (gnutls_privkey_init(&k) < 0 || gnutls_privkey_import_x509(k, x, 0) < 0) {
		if (k != NULL)
			gnutls_privkey_deinit(k);
		k = NULL;
	}
	return k;
}

/* The signer's signature over the DER signed attributes (SET OF tag, RFC 5652 5.4) checked
 * by `openssl pkeyutl -verify -rawin` with the public key of signer.pem. */
static bool
openssl_verifies_signed_attrs(const gnutls_datum_t *sd)
{
	asn1_node ci = NULL, el = NULL;
	unsigned char *v = NULL, *sig = NULL, attrs[4096];
	size_t vlen, sig_len;
	int alen = sizeof(attrs);
	bool ok = false;

	if (be_asn1_decode("CMS.ContentInfo", sd->data, sd->size, "ci", &ci, NULL) != BE_OK ||
	    be_asn1_read(ci, "content", &v, &vlen, NULL) != BE_OK ||
	    be_asn1_decode("CMS.SignedData", v, vlen, "sd", &el, NULL) != BE_OK ||
	    asn1_der_coding(el, "signerInfos.?1.signedAttrs", attrs, &alen, NULL) !=
	    ASN1_SUCCESS ||
	    be_asn1_read(el, "signerInfos.?1.signature", &sig, &sig_len, NULL) != BE_OK)
		goto out;
	attrs[0] = 0x31;
	write_file("attrs.der", attrs, (size_t)alen);
	write_file("sig.bin", sig, sig_len);
	ok = sh("cd %s && openssl x509 -in signer.pem -pubkey -noout > signer.pub && "
		"openssl pkeyutl -verify -pubin -inkey signer.pub -rawin -in attrs.der "
		"-sigfile sig.bin >/dev/null 2>>cms.err", dir) == 0;
out:
	free(v);
	free(sig);
	if (ci != NULL)
		asn1_delete_structure(&ci);
	if (el != NULL)
		asn1_delete_structure(&el);
	return ok;
}

/* SignedData by a CA of spec_name with keyUsage ku, over content of type oid. */
static void
test_sign_one(const char *spec_name, unsigned ku, const char *oid, const char *oid_name,
	      const char *verify_opts)
{
	gnutls_x509_privkey_t x = gen_key(spec_name);
	gnutls_privkey_t key = x ? abstract_key(x) : NULL;
	struct cert_opts o = { ku, true, -60, 86400 };
	gnutls_datum_t cert = { NULL, 0 }, sd = { NULL, 0 }, content = { NULL, 0 };
	gnutls_datum_t embedded = { NULL, 0 };
	gnutls_pkcs7_t p7 = NULL;
	gnutls_x509_crt_t crt = NULL;
	struct be_err e = { 0, "" };
	unsigned char data[777];
	char name[96];
	const char *got_oid;
	int rc;

	snprintf(name, sizeof(name), "/cms/sign/%s/%s", spec_name, oid_name);
	random_bytes(data, sizeof(data));
	content.data = data;
	content.size = sizeof(data);
	if (key == NULL || make_cert(x, &o, "signer", &cert) != 0) {
		tap_ok(0, "%s: signer made", name);
		goto out;
	}
	write_cert_pem("signer.pem", &cert);
	rc = be_cms_sign(&content, oid, &cert, key, &sd, &e);
	tap_ok(rc == BE_OK && strict_content_info(&sd, BE_OID_SIGNED_DATA, "CMS.SignedData") &&
	       inner_version == (strcmp(oid, BE_OID_DATA) == 0 ? 1 : 3),
	       "%s: signed, strict DER, version %d (%s)", name,
	       strcmp(oid, BE_OID_DATA) == 0 ? 1 : 3, e.msg);
	write_file("sd.der", sd.data, sd.size);
	unlink("sd.bin");
	if (strcmp(spec_name, "ed25519") == 0)
		/* OpenSSL 3.0's CMS cannot sign or verify with Ed25519 at all (it passes the
		 * digest to EdDSA: "eddsa_digest_signverify_init:invalid digest"); openssl
		 * checks the RFC 8419 signature over the signed attributes instead */
		tap_ok(openssl_verifies_signed_attrs(&sd),
		       "%s: openssl pkeyutl verifies the Ed25519 signature over the signed "
		       "attributes", name);
	else
		tap_ok(sh("cd %s && openssl cms -verify -inform DER -in sd.der "
			  "-CAfile signer.pem -binary %s -out sd.bin 2>>cms.err", dir,
			  verify_opts) == 0 && file_equals("sd.bin", data, sizeof(data)),
		       "%s: openssl cms -verify -binary %saccepts it and gives the content",
		       name, verify_opts);
	/* GnuTLS as a second reader: eContentType and the signature */
	tap_ok(gnutls_pkcs7_init(&p7) >= 0 && gnutls_pkcs7_import(p7, &sd, GNUTLS_X509_FMT_DER)
	       >= 0 && (got_oid = gnutls_pkcs7_get_embedded_data_oid(p7)) != NULL &&
	       strcmp(got_oid, oid) == 0 && gnutls_x509_crt_init(&crt) >= 0 &&
	       gnutls_x509_crt_import(crt, &cert, GNUTLS_X509_FMT_DER) >= 0 &&
	       gnutls_pkcs7_verify_direct(p7, crt, 0, NULL, 0) >= 0 &&
	       gnutls_pkcs7_get_embedded_data(p7, 0, &embedded) >= 0 &&
	       embedded.size == sizeof(data) && memcmp(embedded.data, data, sizeof(data)) == 0,
	       "%s: GnuTLS reads eContentType %s and verifies the signature", name, oid);
out:
	gnutls_free(embedded.data);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	if (p7 != NULL)
		gnutls_pkcs7_deinit(p7);
	be_datum_free(&sd);
	be_datum_free(&cert);
	if (key != NULL)
		gnutls_privkey_deinit(key);
	if (x != NULL)
		gnutls_x509_privkey_deinit(x);
}

static void
test_sign(void)
{
	const unsigned ku = GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_CERT_SIGN |
			    GNUTLS_KEY_CRL_SIGN;
	gnutls_x509_privkey_t a = gen_key("p256"), b = gen_key("p256");
	gnutls_privkey_t kb = b ? abstract_key(b) : NULL, ka = NULL;
	struct cert_opts o = { ku, true, -60, 86400 };
	gnutls_datum_t cert = { NULL, 0 }, sd = { NULL, 0 };
	gnutls_datum_t content = { (unsigned char *)"x", 1 };
	struct be_err e = { 0, "" };

	test_sign_one("rsa2048", ku, BE_OID_KEY_PACKAGE, "key-package", "");
	test_sign_one("rsa2048", ku, BE_OID_DATA, "data", "");
	test_sign_one("p256", ku, BE_OID_ENVELOPED_DATA, "enveloped-data", "");
	test_sign_one("p384", ku, BE_OID_KEY_PACKAGE, "key-package", "");
	test_sign_one("p521", ku, BE_OID_DATA, "data", "");
	test_sign_one("ed25519", ku, BE_OID_KEY_PACKAGE, "key-package", "");
	/* a CA certificate as `certgate init` makes it (keyCertSign | cRLSign only): OpenSSL's
	 * S/MIME signer purpose wants digitalSignature, so the verifier says -purpose any */
	test_sign_one("p256", GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN, BE_OID_KEY_PACKAGE,
		      "ca-keyusage", "-purpose any ");

	content.size = 0;
	if (a != NULL && make_cert(a, &o, "empty", &cert) == 0 &&
	    (ka = abstract_key(a)) != NULL &&
	    be_cms_sign(&content, BE_OID_DATA, &cert, ka, &sd, &e) == BE_OK) {
		write_cert_pem("signer.pem", &cert);
		write_file("sd.der", sd.data, sd.size);
	}
	tap_ok(sh("cd %s && openssl cms -verify -inform DER -in sd.der -CAfile signer.pem "
		  "-binary -out sd.bin 2>>cms.err", dir) == 0 && file_equals("sd.bin", "", 0),
	       "/cms/sign/empty-content: verifies, eContent empty (%s)", e.msg);
	be_datum_free(&sd);
	be_datum_free(&cert);
	content.size = 1;
	tap_ok(a != NULL && kb != NULL && make_cert(a, &o, "a", &cert) == 0 &&
	       be_cms_sign(&content, BE_OID_DATA, &cert, kb, &sd, &e) == BE_E_INTERNAL &&
	       sd.data == NULL, "/cms/sign/wrong-key: a key not the certificate's refused (%s)",
	       e.msg);
	be_datum_free(&cert);
	if (kb != NULL)
		gnutls_privkey_deinit(kb);
	if (ka != NULL)
		gnutls_privkey_deinit(ka);
	if (a != NULL)
		gnutls_x509_privkey_deinit(a);
	if (b != NULL)
		gnutls_x509_privkey_deinit(b);
}

/* ---------------------------------------------------------------- ZIP */

static void
test_zip(void)
{
	unsigned char bin[3000];
	static const char text[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
	struct be_zip_entry ents[] = {
		{ "cert.pem", (const unsigned char *)text, sizeof(text) - 1 },
		{ "key.p8", bin, sizeof(bin) },
		{ "empty.txt", NULL, 0 },
		{ "chain/ca.pem", (const unsigned char *)"123456789", 9 },
	};
	struct be_zip_entry bad[2] = { { "a", bin, 1 }, { "a", bin, 1 } };
	static const char *const bad_names[] = { "../x", "/abs", "a//b", "a/./b", "back\\slash",
						 "tab\there", "" };
	unsigned char *zip = NULL;
	size_t zip_len = 0, i;
	struct be_err e = { 0, "" };
	int rc;

	random_bytes(bin, sizeof(bin));
	write_file("z-cert.pem", text, sizeof(text) - 1);
	write_file("z-key.p8", bin, sizeof(bin));
	write_file("z-ca.pem", "123456789", 9);
	rc = be_zip_bundle(ents, sizeof(ents) / sizeof(ents[0]), &zip, &zip_len, &e);
	tap_ok(rc == BE_OK, "/zip/bundle: written (%s)", e.msg);
	write_file("b.zip", zip, zip_len);
	tap_ok(sh("cd %s && unzip -tq b.zip >/dev/null", dir) == 0,
	       "/zip/bundle: unzip -t finds no error (CRC-32, sizes, offsets)");
	tap_ok(sh("cd %s && unzip -p b.zip cert.pem | cmp -s - z-cert.pem && "
		  "unzip -p b.zip key.p8 | cmp -s - z-key.p8 && "
		  "unzip -p b.zip chain/ca.pem | cmp -s - z-ca.pem && "
		  "test -z \"$(unzip -p b.zip empty.txt)\"", dir) == 0,
	       "/zip/bundle: unzip -p gives every entry back byte for byte");
	tap_ok(sh("cd %s && unzip -Z b.zip key.p8 | grep -q '^-rw-------.*stor'", dir) == 0,
	       "/zip/bundle: entries are stored, mode 0600");
	tap_ok(sh("cd %s && unzip -Z1 b.zip | tr '\\n' ' ' | "
		  "grep -qx 'cert.pem key.p8 empty.txt chain/ca.pem '", dir) == 0,
	       "/zip/bundle: names and order kept");
	tap_ok(sh("cd %s && python3 -c 'import sys,zipfile; "
		  "z=zipfile.ZipFile(\"b.zip\"); sys.exit(z.testzip() is not None)'", dir) == 0,
	       "/zip/bundle: python zipfile reads it");
	if (zip != NULL)
		be_memzero(zip, zip_len);
	free(zip);
	zip = NULL;

	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		struct be_zip_entry one = { bad_names[i], bin, 1 };

		be_err_clear(&e);
		tap_ok(be_zip_bundle(&one, 1, &zip, &zip_len, &e) != BE_OK && zip == NULL,
		       "/zip/refused/name-%zu: \"%s\" refused", i, bad_names[i]);
	}
	be_err_clear(&e);
	tap_ok(be_zip_bundle(bad, 2, &zip, &zip_len, &e) != BE_OK && zip == NULL,
	       "/zip/refused/duplicate: a name twice refused (%s)", e.msg);
	be_err_clear(&e);
	tap_ok(be_zip_bundle(bad, 0, &zip, &zip_len, &e) != BE_OK && zip == NULL,
	       "/zip/refused/empty: no entries refused");
}

int
main(void)
{
	gnutls_global_init();
	snprintf(dir, sizeof(dir), "/tmp/certgate-cms-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 99;

	test_envelope_recipients();
	test_envelope_many("p256", GNUTLS_KEY_KEY_AGREEMENT, BE_CMS_KT_OAEP, 120);
	test_envelope_many("p521", GNUTLS_KEY_KEY_AGREEMENT, BE_CMS_KT_OAEP, 30);
	test_envelope_many("rsa2048", GNUTLS_KEY_KEY_ENCIPHERMENT, BE_CMS_KT_OAEP, 60);
	test_envelope_kek();
	test_key_package();
	test_recipient_refusals();
	test_sign();
	test_zip();

	if (tap_failed > 0)
		sh("cat %s/cms.err | sed 's/^/# /' | tail -n 30", dir);
	if (!getenv("KEEP")) sh("rm -rf %s", dir);
	gnutls_global_deinit();
	return tap_done();
}
