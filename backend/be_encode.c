/*
 * Output encodings of issued certificates: PEM, PKCS#7 / CMS certs-only, PKCS#12.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/pkcs12.h>

#include "be_key.h"

/* More certificates than any real chain has; bounds the work per call. */
#define ENCODE_CERTS_MAX 16

/* Checks that der is one X.509 certificate (strict DER, as GnuTLS imports it).  The
 * inputs come from certgate's own CA and store; this catches a caller passing the wrong
 * datum before it is wrapped into something a client has to reject. */
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
	if (keep != NULL) {
		*keep = crt;
		crt = NULL;
	}
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
		rc = check_cert(&ders[i], i, NULL, e);
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
 * Cipher and KDF: GNUTLS_PKCS_PBES2_AES_256 gives PBES2 (RFC 8018 6.2) with AES-256-CBC.
 * GnuTLS 3.7.9 as Debian 12 ships it (3.7.9-2+deb12u6, measured with `openssl pkcs12
 * -info`) derives both bag keys with PBKDF2-HMAC-SHA256, 600000 iterations, and the MAC
 * key (RFC 7292 Appendix B KDF, HMAC-SHA256, 8-byte salt) with 600000 iterations.  The
 * count is fixed when GnuTLS is built (PKCS12_ITER_COUNT in its sources) and no call takes
 * one, so be_p12_params.iterations is not used; choosing it needs PBES2 built here.
 * tests/test-be-encode.c checks the algorithms OpenSSL reports, so a library update that
 * changes them shows up.
 */
#define P12_CIPHER GNUTLS_PKCS_PBES2_AES_256

/* Chain certificates plus the leaf must fit one GnuTLS bag (MAX_BAG_ELEMENTS is 32). */
#define P12_CHAIN_MAX 15

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
	unsigned long cp;
	size_t chars = 0, need, i;
	bool valid = true;
	int rc = BE_OK;

	while (valid && *p != '\0') {
		if (p[0] < 0x80) {
			cp = p[0];
			need = 0;
		} else if ((p[0] & 0xe0) == 0xc0) {
			cp = p[0] & 0x1f;
			need = 1;
		} else if ((p[0] & 0xf0) == 0xe0) {
			cp = p[0] & 0x0f;
			need = 2;
		} else {
			valid = false;	/* a continuation byte, or a form beyond the BMP */
			break;
		}
		for (i = 1; valid && i <= need; i++) {
			if ((p[i] & 0xc0) != 0x80)
				valid = false;	/* also stops at the terminating NUL */
			else
				cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (!valid || (need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			valid = false;
		p += need + 1;
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

int
be_encode_pkcs12(gnutls_x509_privkey_t key, const gnutls_datum_t *cert,
		 const gnutls_datum_t *chain, size_t n_chain,
		 const struct be_p12_params *params, gnutls_datum_t *out, struct be_err *e)
{
	gnutls_pkcs12_t p12 = NULL;
	gnutls_pkcs12_bag_t cbag = NULL, kbag = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t shrouded = { NULL, 0 }, der = { NULL, 0 }, id;
	unsigned char key_id[20], crt_id[20];
	size_t key_id_len = sizeof(key_id), crt_id_len = sizeof(crt_id), i;
	int r, idx, rc = BE_OK;

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
	id.data = key_id;
	id.size = (unsigned)key_id_len;

	r = gnutls_pkcs12_init(&p12);
	if (r >= 0)
		r = gnutls_pkcs12_bag_init(&cbag);
	if (r >= 0)
		r = gnutls_pkcs12_bag_init(&kbag);
	if (r < 0) {
		rc = p12_error(r, "init", e);
		goto out;
	}

	/* Certificates: one SafeContents in an EncryptedData (RFC 7292 4.1), leaf first. */
	idx = gnutls_pkcs12_bag_set_data(cbag, GNUTLS_BAG_CERTIFICATE, cert);
	if (idx < 0) {
		rc = p12_error(idx, "certificate bag", e);
		goto out;
	}
	r = gnutls_pkcs12_bag_set_key_id(cbag, (unsigned)idx, &id);
	if (r >= 0 && params->friendly_name != NULL)
		r = gnutls_pkcs12_bag_set_friendly_name(cbag, (unsigned)idx,
							params->friendly_name);
	if (r < 0) {
		rc = p12_error(r, "friendly name", e);
		goto out;
	}
	for (i = 0; i < n_chain; i++) {
		r = gnutls_pkcs12_bag_set_data(cbag, GNUTLS_BAG_CERTIFICATE, &chain[i]);
		if (r < 0) {
			rc = p12_error(r, "certificate bag", e);
			goto out;
		}
	}
	r = gnutls_pkcs12_bag_encrypt(cbag, params->password, P12_CIPHER);
	if (r < 0) {
		rc = p12_error(r, "password", e);
		goto out;
	}

	/* Key: a pkcs8ShroudedKeyBag (RFC 7292 4.2.2) in a plain Data SafeContents. */
	r = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_DER, params->password,
					      P12_CIPHER, &shrouded);
	if (r < 0) {
		rc = p12_error(r, "password", e);
		goto out;
	}
	idx = gnutls_pkcs12_bag_set_data(kbag, GNUTLS_BAG_PKCS8_ENCRYPTED_KEY, &shrouded);
	if (idx < 0) {
		rc = p12_error(idx, "key bag", e);
		goto out;
	}
	r = gnutls_pkcs12_bag_set_key_id(kbag, (unsigned)idx, &id);
	if (r >= 0 && params->friendly_name != NULL)
		r = gnutls_pkcs12_bag_set_friendly_name(kbag, (unsigned)idx,
							params->friendly_name);
	if (r < 0) {
		rc = p12_error(r, "friendly name", e);
		goto out;
	}

	r = gnutls_pkcs12_set_bag(p12, cbag);
	if (r >= 0)
		r = gnutls_pkcs12_set_bag(p12, kbag);
	if (r < 0) {
		rc = p12_error(r, "bag", e);
		goto out;
	}
	r = gnutls_pkcs12_generate_mac2(p12, GNUTLS_MAC_SHA256, params->password);
	if (r < 0) {
		rc = p12_error(r, "password", e);
		goto out;
	}
	r = gnutls_pkcs12_export2(p12, GNUTLS_X509_FMT_DER, &der);
	if (r < 0) {
		rc = p12_error(r, "export", e);
		goto out;
	}
	*out = der;
	der.data = NULL;
	der.size = 0;
out:
	be_datum_free(&der);
	be_datum_wipe(&shrouded);
	gnutls_pkcs12_bag_deinit(kbag);
	gnutls_pkcs12_bag_deinit(cbag);
	gnutls_pkcs12_deinit(p12);
	gnutls_x509_crt_deinit(crt);
	return rc;
}
