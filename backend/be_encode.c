/*
 * Output encodings of issued certificates: PEM, PKCS#7 / CMS certs-only, PKCS#12.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be_asn1.h"
#include "be_key.h"
#include "be_utf8.h"

/* More certificates than any real chain has; bounds the work per call. */
#define ENCODE_CERTS_MAX 16

/* One DER TLV at p (n octets left): *tag, and the content at *val of *len octets.  Definite,
 * minimal lengths of at most four octets (X.690 10.1, 8.1.3.5).  false when malformed. */
static bool
der_tlv(const unsigned char *p, size_t n, unsigned char *tag, const unsigned char **val,
	size_t *len)
{
	size_t k, i, l = 0;

	if (n < 2 || (p[0] & 0x1f) == 0x1f)
		return false;		/* no room, or a multi-octet tag certificates never use */
	*tag = p[0];
	if (p[1] < 0x80) {
		l = p[1];
		k = 2;
	} else {
		k = p[1] & 0x7f;
		if (k == 0 || k > 4 || n < 2 + k || p[2] == 0)
			return false;
		for (i = 0; i < k; i++)
			l = (l << 8) | p[2 + i];
		if (l < 0x80)
			return false;
		k += 2;
	}
	if (l > n - k)
		return false;
	*val = p + k;
	*len = l;
	return true;
}

/*
 * Checks that der has the shape of exactly one X.509 certificate (RFC 5280 4.1):
 *   SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL, serialNumber INTEGER,
 *     signature SEQUENCE, issuer SEQUENCE, validity SEQUENCE { Time, Time }, ... },
 *     signatureAlgorithm SEQUENCE, signatureValue BIT STRING }
 * with definite minimal lengths that add up and nothing after it.  The inputs come from
 * certgate's own CA and store, so this is a guard against a caller passing the wrong datum
 * (a key, a CSR, a PEM text) before it is wrapped into something a client has to reject;
 * the walk is cheap, where parsing each certificate again with GnuTLS cost as much as a
 * tenth of an issuance.
 */
static int
check_cert_shape(const gnutls_datum_t *der, size_t i, struct be_err *e)
{
	const unsigned char *cert, *tbs, *p, *v, *end;
	size_t clen, tlen, len, k;
	unsigned char tag;
	bool ok = false;

	if (der == NULL || der->data == NULL || der->size == 0)
		return be_err_set(e, BE_E_INTERNAL, "certificate %zu is empty", i);
	if (!der_tlv(der->data, der->size, &tag, &cert, &clen) || tag != 0x30 ||
	    (size_t)(cert + clen - der->data) != der->size)
		goto out;
	end = cert + clen;
	/* tbsCertificate */
	if (!der_tlv(cert, clen, &tag, &tbs, &tlen) || tag != 0x30)
		goto out;
	p = tbs;
	if (!der_tlv(p, tlen, &tag, &v, &len))
		goto out;
	if (tag == 0xa0) {				/* [0] EXPLICIT Version */
		p = v + len;
		if (!der_tlv(p, (size_t)(tbs + tlen - p), &tag, &v, &len))
			goto out;
	}
	if (tag != 0x02)				/* serialNumber */
		goto out;
	for (k = 0; k < 3; k++) {			/* signature, issuer, validity */
		p = v + len;
		if (!der_tlv(p, (size_t)(tbs + tlen - p), &tag, &v, &len) || tag != 0x30)
			goto out;
	}
	/* Validity: notBefore Time (UTCTime or GeneralizedTime) */
	if (len < 2 || (v[0] != 0x17 && v[0] != 0x18))
		goto out;
	/* signatureAlgorithm, signatureValue, and nothing more */
	p = tbs + tlen;
	if (!der_tlv(p, (size_t)(end - p), &tag, &v, &len) || tag != 0x30)
		goto out;
	p = v + len;
	if (!der_tlv(p, (size_t)(end - p), &tag, &v, &len) || tag != 0x03 || v + len != end)
		goto out;
	ok = true;
out:
	return ok ? BE_OK : be_err_set(e, BE_E_INTERNAL, "certificate %zu is not a DER "
				       "certificate", i);
}

/* Parses der as one X.509 certificate with GnuTLS (strict DER) into *keep (caller
 * gnutls_x509_crt_deinit()), for callers that need its fields. */
static int
check_cert(const gnutls_datum_t *der, size_t i, gnutls_x509_crt_t *keep, struct be_err *e)
{
	gnutls_x509_crt_t crt = NULL;
	int r, rc = BE_OK;

	if (der == NULL || der->data == NULL || der->size == 0) {
		rc = be_err_set(e, BE_E_INTERNAL, "certificate %zu is empty", i);
		goto out;
	}
	r = gnutls_x509_crt_init(&crt);
	if (r < 0) {
		rc = be_err_set(e, BE_E_NOMEM, "certificate %zu: %s", i, gnutls_strerror(r));
		goto out;
	}
	r = gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER);
	if (r < 0) {
		rc = be_err_set(e, BE_E_INTERNAL, "certificate %zu is not a DER certificate: %s",
				i, gnutls_strerror(r));
		goto out;
	}
	*keep = crt;
	crt = NULL;
out:
	gnutls_x509_crt_deinit(crt);
	return rc;
}

static int
check_certs(const gnutls_datum_t *ders, size_t n, struct be_err *e)
{
	size_t i;
	int rc = BE_OK;

	if (ders == NULL || n == 0) {
		rc = be_err_set(e, BE_E_INTERNAL, "no certificates to encode");
		goto out;
	}
	if (n > ENCODE_CERTS_MAX) {
		rc = be_err_set(e, BE_E_TOOBIG, "%zu certificates are more than %d", n,
				ENCODE_CERTS_MAX);
		goto out;
	}
	for (i = 0; i < n; i++) {
		rc = check_cert_shape(&ders[i], i, e);
		if (rc != BE_OK)
			goto out;
	}
out:
	return rc;
}

int
be_encode_pem_certs(const gnutls_datum_t *ders, size_t n, gnutls_datum_t *out,
		    struct be_err *e)
{
	gnutls_datum_t *pems = NULL;
	unsigned char *buf = NULL, *p;
	size_t i, total = 0;
	int r, rc = BE_OK;

	out->data = NULL;
	out->size = 0;
	rc = check_certs(ders, n, e);
	if (rc != BE_OK)
		goto out;
	pems = calloc(n, sizeof(*pems));
	if (pems == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		r = gnutls_pem_base64_encode2("CERTIFICATE", &ders[i], &pems[i]);
		if (r < 0) {
			rc = be_err_set(e, BE_E_CRYPTO, "PEM encoding failed: %s",
					gnutls_strerror(r));
			goto out;
		}
		/* GnuTLS terminates the text with a NUL it does not count; do not trust that. */
		while (pems[i].size > 0 && pems[i].data[pems[i].size - 1] == '\0')
			pems[i].size--;
		total += pems[i].size;
	}
	if (total >= UINT_MAX) {
		rc = be_err_set(e, BE_E_TOOBIG, "PEM output too large");
		goto out;
	}
	buf = gnutls_malloc(total + 1);
	if (buf == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	p = buf;
	for (i = 0; i < n; i++) {
		memcpy(p, pems[i].data, pems[i].size);
		p += pems[i].size;
	}
	*p = '\0';
	out->data = buf;
	out->size = (unsigned)total;
	buf = NULL;
out:
	if (pems != NULL) {
		for (i = 0; i < n; i++)
			be_datum_free(&pems[i]);
	}
	free(pems);
	gnutls_free(buf);
	return rc;
}

/* ------------------------------------------------------------------ PKCS#7 certs-only */

/*
 * GnuTLS 3.7 (lib/x509/pkcs7.c create_empty_signed_data) writes the encapsulated content
 * type of a certs-only SignedData as 1.2.840.113549.1.7.5 (digestedData) although its
 * comment says id-data, and libtasn1 sorts the certificates SET OF into DER order.  RFC 5652
 * 5.2 and the RFC 5272 Simple PKI Response that RFC 7030 4.1.3 / 4.2.3 use need id-data
 * with eContent absent.  So the fixed structure is written here:
 *
 *   ContentInfo ::= SEQUENCE {                         -- RFC 5652 3
 *     contentType   id-signedData,
 *     content [0] EXPLICIT SignedData ::= SEQUENCE {   -- RFC 5652 5.1
 *       version          1,                            -- 5.1: only X.509 v3 certificates
 *       digestAlgorithms SET {},
 *       encapContentInfo SEQUENCE { eContentType id-data },   -- eContent absent
 *       certificates [0] IMPLICIT SET OF Certificate,  -- in the caller's order
 *       signerInfos      SET {} } }
 *
 * Every length is definite and minimal, as DER wants.  The certificates keep the caller's
 * order (leaf first, then issuing CA ...) as OpenSSL writes them; CMS is BER (RFC 5652 1)
 * and clients that pick "the first certificate" keep working.  This is byte for byte what
 * `openssl crl2pkcs7 -nocrl -outform DER` produces for the same certificates.
 */
static const unsigned char oid_signed_data[] = {	/* 1.2.840.113549.1.7.2 */
	0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02
};
static const unsigned char oid_data[] = {		/* 1.2.840.113549.1.7.1 */
	0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01
};
static const unsigned char sd_version[] = { 0x02, 0x01, 0x01 };
static const unsigned char empty_set[] = { 0x31, 0x00 };

/* Octets of a DER header (tag and definite length) for content of n octets. */
static size_t
der_header_len(size_t n)
{
	size_t len = 2;

	if (n > 0x7f) {
		for (; n > 0; n >>= 8)
			len++;
	}
	return len;
}

static unsigned char *
der_put_header(unsigned char *p, unsigned char tag, size_t n)
{
	size_t octets = der_header_len(n) - 2, i;

	*p++ = tag;
	if (octets == 0) {
		*p++ = (unsigned char)n;
	} else {
		*p++ = (unsigned char)(0x80 | octets);
		for (i = octets; i > 0; i--)
			*p++ = (unsigned char)(n >> (8 * (i - 1)));
	}
	return p;
}

static unsigned char *
der_put(unsigned char *p, const void *src, size_t n)
{
	memcpy(p, src, n);
	return p + n;
}

int
be_encode_pkcs7_certs(const gnutls_datum_t *ders, size_t n, gnutls_datum_t *out,
		      struct be_err *e)
{
	unsigned char *buf = NULL, *p;
	size_t i, certs = 0, certset, encap, sd, wrap, ci, total;
	int rc = BE_OK;

	out->data = NULL;
	out->size = 0;
	rc = check_certs(ders, n, e);
	if (rc != BE_OK)
		goto out;
	for (i = 0; i < n; i++)
		certs += ders[i].size;
	certset = der_header_len(certs) + certs;
	encap = der_header_len(sizeof(oid_data)) + sizeof(oid_data);
	sd = sizeof(sd_version) + sizeof(empty_set) + encap + certset + sizeof(empty_set);
	wrap = der_header_len(sd) + sd;
	ci = sizeof(oid_signed_data) + der_header_len(wrap) + wrap;
	total = der_header_len(ci) + ci;
	if (total >= UINT_MAX) {
		rc = be_err_set(e, BE_E_TOOBIG, "PKCS#7 output too large");
		goto out;
	}
	buf = gnutls_malloc(total);
	if (buf == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	p = der_put_header(buf, 0x30, ci);			/* ContentInfo */
	p = der_put(p, oid_signed_data, sizeof(oid_signed_data));
	p = der_put_header(p, 0xa0, wrap);			/* [0] EXPLICIT */
	p = der_put_header(p, 0x30, sd);			/* SignedData */
	p = der_put(p, sd_version, sizeof(sd_version));
	p = der_put(p, empty_set, sizeof(empty_set));		/* digestAlgorithms */
	p = der_put_header(p, 0x30, sizeof(oid_data));		/* encapContentInfo */
	p = der_put(p, oid_data, sizeof(oid_data));
	p = der_put_header(p, 0xa0, certs);			/* certificates [0] */
	for (i = 0; i < n; i++)
		p = der_put(p, ders[i].data, ders[i].size);
	p = der_put(p, empty_set, sizeof(empty_set));		/* signerInfos */
	if ((size_t)(p - buf) != total) {
		rc = be_err_set(e, BE_E_INTERNAL, "PKCS#7 length mismatch");
		goto out;
	}
	out->data = buf;
	out->size = (unsigned)total;
	buf = NULL;
out:
	gnutls_free(buf);
	return rc;
}

/* ------------------------------------------------------------------ PKCS#12 */

/*
 * GnuTLS 3.7.9 (Debian 12) writes PKCS#12 only with its built-in key-derivation count
 * (PKCS12_ITER_COUNT, 600000) and no call takes another: three derivations, about 0.25 s of
 * CPU per file.  So certgate assembles the file itself from the declarations in
 * certgate.asn, with the count the profile chooses:
 *
 *   PFX (RFC 7292 4), version 3
 *     authSafe: id-data, AuthenticatedSafe (4.1) =
 *       [0] id-encryptedData: EncryptedData (RFC 5652 8), PBES2, of SafeContents =
 *             certBag leaf (localKeyId, friendlyName), certBag per chain certificate
 *       [1] id-data: SafeContents =
 *             pkcs8ShroudedKeyBag (localKeyId, friendlyName): EncryptedPrivateKeyInfo
 *             (RFC 5958 3), PBES2
 *     macData: HMAC-SHA256 over the AuthenticatedSafe with the key from the RFC 7292
 *              Appendix B KDF over SHA-256
 *
 * PBES2 (RFC 8018 6.2): PBKDF2-HMAC-SHA256 with a fresh 16-octet salt (NIST SP 800-132
 * 5.1: at least 128 bits), then AES-256-CBC with a fresh IV.  Both bags and the MAC use the
 * profile's iteration count, each with its own salt.  This is the layout and the algorithms
 * of OpenSSL 3's `openssl pkcs12 -export` (which uses 2048 iterations and 8-octet salts), so
 * OpenSSL 3 without -legacy, GnuTLS, NSS, Java 11+, macOS and Windows 10 1709+ / Server
 * 2019+ read it.
 *
 * The count: be_p12_params.iterations, the profile's "pkcs12": {"iterations": N}; 0 takes
 * P12_ITERATIONS_DEFAULT.  Why 10000:
 *  - most files are locked with certgate's own random 20-character password (about 119
 *    bits), which no iteration count makes weaker or stronger in practice;
 *  - for a password the client chose, the count is the only brake on guessing it: 10000 is
 *    the floor NIST SP 800-63B 5.1.1.2 (2017) set for PBKDF2, five times OpenSSL 3's default
 *    and far inside every reader's limits; OWASP's 600000 (2023) is meant for password
 *    databases that are stolen whole, and costs a quarter of a second per file;
 *  - measured on the benchmark machine (AMD EPYC, SHA-NI; tests/test-be-encode.c prints
 *    it): a whole file (three derivations) takes 3.1 ms of CPU at 10000 iterations, 0.7 ms
 *    at 2048, 30 ms at 100000 and 190 ms at GnuTLS's 600000, almost all of it SHA-256.
 * Counts below 1000 (NIST SP 800-132 5.2's minimum) are raised to 1000.
 */
#define P12_ITERATIONS_DEFAULT	10000
#define P12_ITERATIONS_MIN	1000
#define P12_ITERATIONS_MAX	10000000
#define P12_SALT_LEN		16
#define P12_KEY_LEN		32	/* AES-256; also the HMAC-SHA256 MAC key */
#define P12_BLOCK		16	/* AES block, CBC IV */

/* Chain certificates plus the leaf; bounds the work per file. */
#define P12_CHAIN_MAX 15

static const char oid_p12_data[] = "1.2.840.113549.1.7.1";
static const char oid_p12_encrypted_data[] = "1.2.840.113549.1.7.6";
static const char oid_shrouded_key_bag[] = "1.2.840.113549.1.12.10.1.2";
static const char oid_cert_bag[] = "1.2.840.113549.1.12.10.1.3";
static const char oid_x509_certificate[] = "1.2.840.113549.1.9.22.1";
static const char oid_friendly_name[] = "1.2.840.113549.1.9.20";
static const char oid_local_key_id[] = "1.2.840.113549.1.9.21";
static const char oid_pbes2[] = "1.2.840.113549.1.5.13";
static const char oid_pbkdf2[] = "1.2.840.113549.1.5.12";
static const char oid_hmac_sha256[] = "1.2.840.113549.2.9";
static const char oid_aes256_cbc[] = "2.16.840.1.101.3.4.1.42";
static const char oid_sha256[] = "2.16.840.1.101.3.4.2.1";
static const unsigned char der_null[] = { 0x05, 0x00 };

/* Maps a GnuTLS error from a call that used the password or the friendly name. */
static int
p12_error(int r, const char *what, struct be_err *e)
{
	int rc;

	if (r == GNUTLS_E_INVALID_UTF8_STRING)
		rc = be_err_set(e, BE_E_MALFORMED, "PKCS#12 %s is not valid UTF-8 text", what);
	else if (r == GNUTLS_E_MEMORY_ERROR)
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
	else
		rc = be_err_set(e, BE_E_CRYPTO, "PKCS#12 %s: %s", what, gnutls_strerror(r));
	return rc;
}

/* Longest password accepted, in bytes. */
#define P12_PASSWORD_MAX 256

/*
 * GnuTLS prepares the password for PBES2 with RFC 8265 OpaqueString (NFC, non-ASCII spaces
 * mapped to U+0020) but uses it unprepared for the MAC, and OpenSSL uses it as given for
 * both.  A password that preparation changes (NFD input as macOS produces it, a no-break
 * space) would give a file that no reader opens with what the user types, so such
 * passwords are refused; for all others the three derivations agree.
 */
static int
check_password(const char *pw, struct be_err *e)
{
	gnutls_datum_t norm = { NULL, 0 };
	size_t len = strlen(pw);
	int r, rc = BE_OK;

	if (len == 0) {
		rc = be_err_set(e, BE_E_POLICY, "a PKCS#12 file needs a non-empty password");
		goto out;
	}
	if (len > P12_PASSWORD_MAX) {
		rc = be_err_set(e, BE_E_TOOBIG, "the PKCS#12 password is longer than %d bytes",
				P12_PASSWORD_MAX);
		goto out;
	}
	r = gnutls_utf8_password_normalize((const unsigned char *)pw, (unsigned)len, &norm, 0);
	if (r < 0) {
		rc = be_err_set(e, BE_E_MALFORMED,
				"the PKCS#12 password must be UTF-8 text without control "
				"characters (RFC 8265 OpaqueString)");
		goto out;
	}
	if (!be_ct_equal(norm.data, norm.size, pw, len)) {
		rc = be_err_set(e, BE_E_MALFORMED,
				"the PKCS#12 password must be in Unicode NFC with U+0020 as its "
				"only space (RFC 8265 OpaqueString)");
		goto out;
	}
out:
	be_datum_wipe(&norm);
	return rc;
}

/* RFC 2985 5.5.1: friendlyName is a BMPString of 1 to 255 characters.  s must be UTF-8
 * (RFC 3629: no overlong forms, no surrogates) of non-control characters in the Basic
 * Multilingual Plane, which is what a BMPString can hold. */
static int
check_friendly_name(const char *s, struct be_err *e)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t chars = 0, need, n = strlen(s);
	bool valid = true;
	int rc = BE_OK;

	while (valid && *p != '\0') {
		need = be_utf8_next(p, n - (size_t)(p - (const unsigned char *)s), &cp);
		if (need == 0 || cp > 0xffff || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			valid = false;
			break;
		}
		p += need;
		chars++;
	}
	if (!valid)
		rc = be_err_set(e, BE_E_MALFORMED,
				"the PKCS#12 friendly name must be UTF-8 text without control "
				"characters, within the Basic Multilingual Plane");
	else if (chars == 0 || chars > 255)
		rc = be_err_set(e, BE_E_MALFORMED,
				"the PKCS#12 friendly name must be 1 to 255 characters");
	return rc;
}

/* ---- building blocks */

/* The asn1_write_value calls of one structure; the first failure sticks in *r, so a run of
 * writes is checked once.  put_str: OBJECT IDENTIFIER text or "NEW"; put_uint: INTEGER;
 * put_bytes: OCTET STRING octets or the DER of an ANY; put_none: drops an OPTIONAL. */
static void
put_str(asn1_node el, const char *path, const char *v, int *r)
{
	if (*r == ASN1_SUCCESS)
		*r = asn1_write_value(el, path, v, 1);
}

static void
put_uint(asn1_node el, const char *path, unsigned v, int *r)
{
	char num[16];

	snprintf(num, sizeof(num), "%u", v);
	if (*r == ASN1_SUCCESS)
		*r = asn1_write_value(el, path, num, 0);
}

static void
put_bytes(asn1_node el, const char *path, const void *v, size_t len, int *r)
{
	if (*r == ASN1_SUCCESS)
		*r = len > INT32_MAX ? ASN1_MEM_ERROR : asn1_write_value(el, path, v, (int)len);
}

static void
put_none(asn1_node el, const char *path, int *r)
{
	if (*r == ASN1_SUCCESS)
		*r = asn1_write_value(el, path, NULL, 0);
}

static int
p12_new(const char *type, asn1_node *el, struct be_err *e)
{
	asn1_node defs = be_asn1_module(type);
	int rc = BE_OK;

	*el = NULL;
	if (defs == NULL || asn1_create_element(defs, type, el) != ASN1_SUCCESS) {
		*el = NULL;
		rc = be_err_set(e, BE_E_INTERNAL, "ASN.1 type %s is not available", type);
	}
	return rc;
}

/* DER-encodes *el (after writes that left r) into *out, then deletes *el. */
static int
p12_finish(asn1_node *el, int r, const char *what, gnutls_datum_t *out, struct be_err *e)
{
	int rc;

	if (r != ASN1_SUCCESS)
		rc = be_err_set(e, BE_E_INTERNAL, "PKCS#12 %s: %s", what, asn1_strerror(r));
	else
		rc = be_asn1_encode(*el, out, e);
	asn1_delete_structure(el);
	return rc;
}

/* *out = DER TLV with tag around len octets at data; gnutls_malloc()ed. */
static int
der_wrap(unsigned char tag, const unsigned char *data, size_t len, gnutls_datum_t *out,
	 struct be_err *e)
{
	size_t total = der_header_len(len) + len;
	unsigned char *p;
	int rc = BE_OK;

	out->data = NULL;
	out->size = 0;
	if (total >= UINT_MAX) {
		rc = be_err_set(e, BE_E_TOOBIG, "PKCS#12 output too large");
		goto out;
	}
	if ((out->data = gnutls_malloc(total)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	p = der_put_header(out->data, tag, len);
	memcpy(p, data, len);
	out->size = (unsigned)total;
out:
	return rc;
}

/* s as UTF-16BE (RFC 2781; above U+FFFF as surrogate pairs, which is what OpenSSL's
 * OPENSSL_utf82uni does for the password), with a two-octet zero terminator when nul (RFC
 * 7292 B.1).  s must be valid UTF-8; anything else is BE_E_MALFORMED.  *out
 * gnutls_malloc()ed; a password's copy is released with be_datum_wipe(). */
static int
utf16be(const char *s, bool nul, gnutls_datum_t *out, struct be_err *e)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), o = 0, need;
	uint32_t cp;
	unsigned char *buf = NULL;
	int rc = BE_OK;

	out->data = NULL;
	out->size = 0;
	if ((buf = gnutls_malloc(2 * n + 2)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	while (*p != '\0') {
		need = be_utf8_next(p, n - (size_t)(p - (const unsigned char *)s), &cp);
		if (need == 0) {
			rc = be_err_set(e, BE_E_MALFORMED, "PKCS#12 password is not UTF-8");
			goto out;
		}
		if (cp >= 0x10000) {
			uint32_t hi = 0xd800 + ((cp - 0x10000) >> 10);
			uint32_t lo = 0xdc00 + ((cp - 0x10000) & 0x3ff);

			buf[o++] = (unsigned char)(hi >> 8);
			buf[o++] = (unsigned char)hi;
			buf[o++] = (unsigned char)(lo >> 8);
			buf[o++] = (unsigned char)lo;
		} else {
			buf[o++] = (unsigned char)(cp >> 8);
			buf[o++] = (unsigned char)cp;
		}
		p += need;
	}
	if (nul) {
		buf[o++] = 0;
		buf[o++] = 0;
	}
	out->data = buf;
	out->size = (unsigned)o;
	buf = NULL;
out:
	if (buf != NULL) {
		be_memzero(buf, 2 * n + 2);
		gnutls_free(buf);
	}
	return rc;
}

/*
 * PBES2 (RFC 8018 6.2.1): PBKDF2-HMAC-SHA256 over the UTF-8 password with a fresh salt and
 * iter iterations gives an AES-256 key; plain is padded (RFC 8018 6.1.1 step 4) and
 * encrypted in CBC mode under a fresh IV.  *params is the DER of the PBES2-params (A.4) for
 * the AlgorithmIdentifier, *ct the ciphertext; both gnutls_malloc()ed, caller
 * be_datum_free()s.
 */
static int
pbes2_encrypt(const char *password, unsigned iter, const gnutls_datum_t *plain,
	      gnutls_datum_t *params, gnutls_datum_t *ct, struct be_err *e)
{
	unsigned char salt[P12_SALT_LEN], iv[P12_BLOCK], key[P12_KEY_LEN], ivos[2 + P12_BLOCK];
	gnutls_datum_t pw, sd, kd, ivd, kdf = { NULL, 0 };
	gnutls_cipher_hd_t h = NULL;
	asn1_node el = NULL;
	unsigned char *buf = NULL;
	size_t pad = 0, padded = 0;
	int r = ASN1_SUCCESS, rc = BE_OK;

	params->data = ct->data = NULL;
	params->size = ct->size = 0;
	if (gnutls_rnd(GNUTLS_RND_NONCE, salt, sizeof(salt)) < 0 ||
	    gnutls_rnd(GNUTLS_RND_NONCE, iv, sizeof(iv)) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "PKCS#12: no random numbers");
		goto out;
	}
	pw.data = (unsigned char *)password;
	pw.size = (unsigned)strlen(password);
	sd.data = salt;
	sd.size = sizeof(salt);
	if ((r = gnutls_pbkdf2(GNUTLS_MAC_SHA256, &pw, &sd, iter, key, sizeof(key))) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "PKCS#12 key derivation: %s", gnutls_strerror(r));
		goto out;
	}
	pad = P12_BLOCK - plain->size % P12_BLOCK;
	padded = plain->size + pad;
	if (padded >= UINT_MAX || (buf = gnutls_malloc(padded)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(buf, plain->data, plain->size);
	memset(buf + plain->size, (int)pad, pad);
	kd.data = key;
	kd.size = sizeof(key);
	ivd.data = iv;
	ivd.size = sizeof(iv);
	if ((r = gnutls_cipher_init(&h, GNUTLS_CIPHER_AES_256_CBC, &kd, &ivd)) < 0 ||
	    (r = gnutls_cipher_encrypt(h, buf, padded)) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "PKCS#12 encryption: %s", gnutls_strerror(r));
		goto out;
	}

	r = ASN1_SUCCESS;
	if ((rc = p12_new("CERTGATE.PBKDF2Params", &el, e)) != BE_OK)
		goto out;
	put_bytes(el, "salt", salt, sizeof(salt), &r);
	put_uint(el, "iterationCount", iter, &r);
	put_none(el, "keyLength", &r);
	put_str(el, "prf.algorithm", oid_hmac_sha256, &r);
	put_bytes(el, "prf.parameters", der_null, sizeof(der_null), &r);
	if ((rc = p12_finish(&el, r, "PBKDF2 parameters", &kdf, e)) != BE_OK)
		goto out;
	if ((rc = p12_new("CERTGATE.PBES2Params", &el, e)) != BE_OK)
		goto out;
	ivos[0] = 0x04;		/* the IV, an OCTET STRING (RFC 8018 B.2.5) */
	ivos[1] = P12_BLOCK;
	memcpy(ivos + 2, iv, sizeof(iv));
	put_str(el, "keyDerivationFunc.algorithm", oid_pbkdf2, &r);
	put_bytes(el, "keyDerivationFunc.parameters", kdf.data, kdf.size, &r);
	put_str(el, "encryptionScheme.algorithm", oid_aes256_cbc, &r);
	put_bytes(el, "encryptionScheme.parameters", ivos, sizeof(ivos), &r);
	if ((rc = p12_finish(&el, r, "PBES2 parameters", params, e)) != BE_OK)
		goto out;
	ct->data = buf;
	ct->size = (unsigned)padded;
	buf = NULL;
out:
	if (h != NULL)
		gnutls_cipher_deinit(h);
	if (buf != NULL) {
		be_memzero(buf, padded);	/* may still hold the plaintext */
		gnutls_free(buf);
	}
	if (el != NULL)
		asn1_delete_structure(&el);
	if (rc != BE_OK)
		be_datum_free(params);
	be_datum_free(&kdf);
	be_memzero(key, sizeof(key));
	return rc;
}

/*
 * RFC 7292 Appendix B.2 with SHA-256 (u = 32, v = 64 octets), ID 3 (integrity key), n = 32
 * octets: one block, so step 6C never runs.  bmp is the password as a BMPString with its
 * terminator (B.1).  gnutls_hash_output() resets the hash, so one handle serves all
 * iterations.
 */
static int
p12_mac_key(const gnutls_datum_t *bmp, const unsigned char *salt, size_t saltlen,
	    unsigned iter, unsigned char out[P12_KEY_LEN])
{
	unsigned char block[64];
	gnutls_hash_hd_t h = NULL;
	size_t i, k, len;
	unsigned j;
	int rc = BE_OK;

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
		h = NULL;
		rc = BE_E_CRYPTO;
		goto out;
	}
	memset(block, 3, sizeof(block));				/* D */
	gnutls_hash(h, block, sizeof(block));
	len = sizeof(block) * ((saltlen + sizeof(block) - 1) / sizeof(block));	/* S */
	for (i = 0; i < len; i += sizeof(block)) {
		for (k = 0; k < sizeof(block); k++)
			block[k] = salt[(i + k) % saltlen];
		gnutls_hash(h, block, sizeof(block));
	}
	len = sizeof(block) * ((bmp->size + sizeof(block) - 1) / sizeof(block));	/* P */
	for (i = 0; i < len; i += sizeof(block)) {
		for (k = 0; k < sizeof(block); k++)
			block[k] = bmp->data[(i + k) % bmp->size];
		gnutls_hash(h, block, sizeof(block));
	}
	gnutls_hash_output(h, out);
	for (j = 1; j < iter; j++) {
		gnutls_hash(h, out, P12_KEY_LEN);
		gnutls_hash_output(h, out);
	}
out:
	if (h != NULL)
		gnutls_hash_deinit(h, NULL);
	be_memzero(block, sizeof(block));
	return rc;
}

/* Appends to the SafeContents sc a SafeBag of bag_oid holding value (DER), with the
 * attributes given (each the DER of the attribute value; NULL: absent). */
static void
bag_add(asn1_node sc, const char *bag_oid, const gnutls_datum_t *value,
	const gnutls_datum_t *key_id, const gnutls_datum_t *name, int *r)
{
	const struct {
		const char *oid;
		const gnutls_datum_t *v;
	} attrs[] = { { oid_local_key_id, key_id }, { oid_friendly_name, name } };
	size_t i;

	put_str(sc, "", "NEW", r);
	put_str(sc, "?LAST.bagId", bag_oid, r);
	put_bytes(sc, "?LAST.bagValue", value->data, value->size, r);
	if (key_id == NULL && name == NULL) {
		put_none(sc, "?LAST.bagAttributes", r);
		return;
	}
	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		if (attrs[i].v == NULL)
			continue;
		put_str(sc, "?LAST.bagAttributes", "NEW", r);
		put_str(sc, "?LAST.bagAttributes.?LAST.attrId", attrs[i].oid, r);
		put_str(sc, "?LAST.bagAttributes.?LAST.attrValues", "NEW", r);
		put_bytes(sc, "?LAST.bagAttributes.?LAST.attrValues.?LAST", attrs[i].v->data,
			  attrs[i].v->size, r);
	}
}

/* The certificates' SafeContents (leaf with the attributes, then the chain), encrypted:
 * *out is the DER of the EncryptedData. */
static int
p12_cert_part(const gnutls_datum_t *cert, const gnutls_datum_t *chain, size_t n_chain,
	      const gnutls_datum_t *key_id, const gnutls_datum_t *name, const char *password,
	      unsigned iter, gnutls_datum_t *out, struct be_err *e)
{
	gnutls_datum_t os = { NULL, 0 }, bag = { NULL, 0 }, sc_der = { NULL, 0 };
	gnutls_datum_t params = { NULL, 0 }, ct = { NULL, 0 };
	asn1_node el = NULL, sc = NULL;
	size_t i;
	int r = ASN1_SUCCESS, rc;

	if ((rc = p12_new("CERTGATE.SafeContents", &sc, e)) != BE_OK)
		goto out;
	for (i = 0; i <= n_chain; i++) {
		const gnutls_datum_t *c = i == 0 ? cert : &chain[i - 1];

		be_datum_free(&os);
		be_datum_free(&bag);
		if ((rc = der_wrap(0x04, c->data, c->size, &os, e)) != BE_OK ||
		    (rc = p12_new("CERTGATE.CertBag", &el, e)) != BE_OK)
			goto out;
		put_str(el, "certId", oid_x509_certificate, &r);
		put_bytes(el, "certValue", os.data, os.size, &r);
		if ((rc = p12_finish(&el, r, "certificate bag", &bag, e)) != BE_OK)
			goto out;
		bag_add(sc, oid_cert_bag, &bag, i == 0 ? key_id : NULL, i == 0 ? name : NULL,
			&r);
	}
	if ((rc = p12_finish(&sc, r, "certificates", &sc_der, e)) != BE_OK ||
	    (rc = pbes2_encrypt(password, iter, &sc_der, &params, &ct, e)) != BE_OK ||
	    (rc = p12_new("CERTGATE.EncryptedData", &el, e)) != BE_OK)
		goto out;
	put_uint(el, "version", 0, &r);
	put_str(el, "encryptedContentInfo.contentType", oid_p12_data, &r);
	put_str(el, "encryptedContentInfo.contentEncryptionAlgorithm.algorithm", oid_pbes2, &r);
	put_bytes(el, "encryptedContentInfo.contentEncryptionAlgorithm.parameters", params.data,
		  params.size, &r);
	put_bytes(el, "encryptedContentInfo.encryptedContent", ct.data, ct.size, &r);
	rc = p12_finish(&el, r, "encrypted certificates", out, e);
out:
	if (el != NULL)
		asn1_delete_structure(&el);
	if (sc != NULL)
		asn1_delete_structure(&sc);
	be_datum_free(&os);
	be_datum_free(&bag);
	be_datum_free(&sc_der);
	be_datum_free(&params);
	be_datum_free(&ct);
	return rc;
}

/* The key's SafeContents: one pkcs8ShroudedKeyBag with the attributes; *out is the DER of
 * the SafeContents wrapped in an OCTET STRING (the content of an id-data ContentInfo). */
static int
p12_key_part(gnutls_x509_privkey_t key, const gnutls_datum_t *key_id,
	     const gnutls_datum_t *name, const char *password, unsigned iter,
	     gnutls_datum_t *out, struct be_err *e)
{
	gnutls_datum_t pki = { NULL, 0 }, params = { NULL, 0 }, ct = { NULL, 0 };
	gnutls_datum_t epki = { NULL, 0 }, sc_der = { NULL, 0 };
	asn1_node el = NULL;
	int r, rc;

	r = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN,
					      &pki);
	if (r < 0) {
		rc = p12_error(r, "key", e);
		goto out;
	}
	r = ASN1_SUCCESS;
	if ((rc = pbes2_encrypt(password, iter, &pki, &params, &ct, e)) != BE_OK ||
	    (rc = p12_new("CERTGATE.EncryptedPrivateKeyInfo", &el, e)) != BE_OK)
		goto out;
	put_str(el, "encryptionAlgorithm.algorithm", oid_pbes2, &r);
	put_bytes(el, "encryptionAlgorithm.parameters", params.data, params.size, &r);
	put_bytes(el, "encryptedData", ct.data, ct.size, &r);
	if ((rc = p12_finish(&el, r, "shrouded key", &epki, e)) != BE_OK ||
	    (rc = p12_new("CERTGATE.SafeContents", &el, e)) != BE_OK)
		goto out;
	bag_add(el, oid_shrouded_key_bag, &epki, key_id, name, &r);
	if ((rc = p12_finish(&el, r, "key bag", &sc_der, e)) != BE_OK)
		goto out;
	rc = der_wrap(0x04, sc_der.data, sc_der.size, out, e);
out:
	if (el != NULL)
		asn1_delete_structure(&el);
	be_datum_wipe(&pki);
	be_datum_free(&params);
	be_datum_free(&ct);
	be_datum_free(&epki);
	be_datum_free(&sc_der);
	return rc;
}

/* The PFX around the AuthenticatedSafe auth (DER) with its MAC (RFC 7292 4, 5.1). */
static int
p12_pfx(const gnutls_datum_t *auth, const char *password, unsigned iter, gnutls_datum_t *out,
	struct be_err *e)
{
	unsigned char salt[P12_SALT_LEN], mac_key[P12_KEY_LEN], digest[32];
	gnutls_datum_t bmp = { NULL, 0 }, os = { NULL, 0 };
	asn1_node el = NULL;
	int r = ASN1_SUCCESS, rc;

	if (gnutls_rnd(GNUTLS_RND_NONCE, salt, sizeof(salt)) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "PKCS#12: no random numbers");
		goto out;
	}
	if ((rc = utf16be(password, true, &bmp, e)) != BE_OK)
		goto out;
	if (p12_mac_key(&bmp, salt, sizeof(salt), iter, mac_key) != BE_OK ||
	    gnutls_hmac_fast(GNUTLS_MAC_SHA256, mac_key, sizeof(mac_key), auth->data,
			     auth->size, digest) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "PKCS#12: the MAC could not be computed");
		goto out;
	}
	if ((rc = der_wrap(0x04, auth->data, auth->size, &os, e)) != BE_OK ||
	    (rc = p12_new("CERTGATE.PFX", &el, e)) != BE_OK)
		goto out;
	put_uint(el, "version", 3, &r);
	put_str(el, "authSafe.contentType", oid_p12_data, &r);
	put_bytes(el, "authSafe.content", os.data, os.size, &r);
	put_str(el, "macData.mac.digestAlgorithm.algorithm", oid_sha256, &r);
	put_bytes(el, "macData.mac.digestAlgorithm.parameters", der_null, sizeof(der_null), &r);
	put_bytes(el, "macData.mac.digest", digest, sizeof(digest), &r);
	put_bytes(el, "macData.macSalt", salt, sizeof(salt), &r);
	put_uint(el, "macData.iterations", iter, &r);
	rc = p12_finish(&el, r, "PFX", out, e);
out:
	if (el != NULL)
		asn1_delete_structure(&el);
	be_datum_wipe(&bmp);
	be_datum_free(&os);
	be_memzero(mac_key, sizeof(mac_key));
	return rc;
}

int
be_encode_pkcs12(gnutls_x509_privkey_t key, const gnutls_datum_t *cert,
		 const gnutls_datum_t *chain, size_t n_chain,
		 const struct be_p12_params *params, gnutls_datum_t *out, struct be_err *e)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t id_attr = { NULL, 0 }, name16 = { NULL, 0 }, name_attr = { NULL, 0 };
	gnutls_datum_t certs = { NULL, 0 }, keys = { NULL, 0 }, auth = { NULL, 0 };
	unsigned char key_id[20], crt_id[20];
	size_t key_id_len = sizeof(key_id), crt_id_len = sizeof(crt_id);
	asn1_node el = NULL;
	unsigned iter;
	int r = ASN1_SUCCESS, rc = BE_OK;

	out->data = NULL;
	out->size = 0;
	if (key == NULL || params == NULL || params->password == NULL) {
		rc = be_err_set(e, BE_E_INTERNAL, "PKCS#12: key and password are required");
		goto out;
	}
	rc = check_password(params->password, e);
	if (rc != BE_OK)
		goto out;
	if (params->friendly_name != NULL) {
		rc = check_friendly_name(params->friendly_name, e);
		if (rc != BE_OK)
			goto out;
	}
	if (n_chain > P12_CHAIN_MAX) {
		rc = be_err_set(e, BE_E_TOOBIG, "PKCS#12: %zu chain certificates are more than %d",
				n_chain, P12_CHAIN_MAX);
		goto out;
	}
	if (params->iterations > P12_ITERATIONS_MAX) {
		rc = be_err_set(e, BE_E_POLICY, "PKCS#12: %u iterations are more than %d",
				params->iterations, P12_ITERATIONS_MAX);
		goto out;
	}
	iter = params->iterations == 0 ? P12_ITERATIONS_DEFAULT : params->iterations;
	if (iter < P12_ITERATIONS_MIN)
		iter = P12_ITERATIONS_MIN;
	rc = check_cert(cert, 0, &crt, e);
	if (rc != BE_OK)
		goto out;
	if (n_chain > 0) {
		rc = check_certs(chain, n_chain, e);
		if (rc != BE_OK)
			goto out;
	}

	/* localKeyId (RFC 7292 4.2, PKCS#9 1.2.840.113549.1.9.21): SHA-1 of the public key,
	 * the same on the key and the leaf so that readers pair them. */
	r = gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA1, key_id, &key_id_len);
	if (r >= 0)
		r = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, crt_id, &crt_id_len);
	if (r < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "PKCS#12: key identifier: %s", gnutls_strerror(r));
		goto out;
	}
	if (!be_ct_equal(key_id, key_id_len, crt_id, crt_id_len)) {
		rc = be_err_set(e, BE_E_INTERNAL,
				"PKCS#12: the certificate does not belong to the private key");
		goto out;
	}
	r = ASN1_SUCCESS;
	if ((rc = der_wrap(0x04, key_id, key_id_len, &id_attr, e)) != BE_OK)
		goto out;
	/* friendlyName (RFC 2985 5.5.1): a BMPString. */
	if (params->friendly_name != NULL &&
	    ((rc = utf16be(params->friendly_name, false, &name16, e)) != BE_OK ||
	     (rc = der_wrap(0x1e, name16.data, name16.size, &name_attr, e)) != BE_OK))
		goto out;

	if ((rc = p12_cert_part(cert, chain, n_chain, &id_attr,
				name_attr.data != NULL ? &name_attr : NULL, params->password, iter,
				&certs, e)) != BE_OK ||
	    (rc = p12_key_part(key, &id_attr, name_attr.data != NULL ? &name_attr : NULL,
			       params->password, iter, &keys, e)) != BE_OK ||
	    (rc = p12_new("CERTGATE.AuthenticatedSafe", &el, e)) != BE_OK)
		goto out;
	put_str(el, "", "NEW", &r);
	put_str(el, "?LAST.contentType", oid_p12_encrypted_data, &r);
	put_bytes(el, "?LAST.content", certs.data, certs.size, &r);
	put_str(el, "", "NEW", &r);
	put_str(el, "?LAST.contentType", oid_p12_data, &r);
	put_bytes(el, "?LAST.content", keys.data, keys.size, &r);
	if ((rc = p12_finish(&el, r, "authenticated safe", &auth, e)) != BE_OK)
		goto out;
	rc = p12_pfx(&auth, params->password, iter, out, e);
out:
	if (el != NULL)
		asn1_delete_structure(&el);
	be_datum_free(&id_attr);
	be_datum_free(&name16);
	be_datum_free(&name_attr);
	be_datum_free(&certs);
	be_datum_free(&keys);
	be_datum_free(&auth);
	gnutls_x509_crt_deinit(crt);
	return rc;
}
