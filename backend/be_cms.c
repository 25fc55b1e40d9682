/*
 * CMS (RFC 5652) that GnuTLS 3.7 does not write: EnvelopedData (key transport with RSAES-OAEP
 * or RSAES-PKCS1-v1_5, ECDH key agreement, pre-shared KEK), SignedData with encapsulated
 * content of any type, and the RFC 5958 AsymmetricKeyPackage.  Structures are declared in
 * backend/cms.asn and written with libtasn1 (DER, SET OF sorted by libtasn1).  SignedData
 * is written here, not by gnutls_pkcs7_sign: GnuTLS 3.7's pkcs7.h has no way to choose the
 * eContentType, and RFC 7030 4.4.2 needs id-ct-KP-aKeyPackage / id-envelopedData there.
 *
 * Crypto primitives.  GnuTLS 3.7.9's public API has RSAES-PKCS1-v1_5 encryption
 * (gnutls_pubkey_encrypt_data), AES-CBC (gnutls_cipher_*), hashes, key generation and
 * signing, but no RSAES-OAEP, no raw ECDH and no AES key wrap (the first two arrived in
 * later 3.8.x releases, not in Debian 12).  Those come from nettle/hogweed, the
 * library GnuTLS itself is built on (Debian 12: nettle 3.8.1, package nettle-dev, which
 * libgnutls28-dev already depends on): ecc_point_mul for ECDH, aes*_keywrap for RFC 3394,
 * sha256 for MGF1, and GMP (hogweed's own bignum library) for the raw RSA public operation
 * under EME-OAEP.  nettle 3.8 has no OAEP either (oaep.h came with 3.10), so EME-OAEP
 * encoding (RFC 8017 7.1.1) is written here, over mpz_powm_sec; it is tested against
 * `openssl cms -decrypt`.  Build: PKG_CHECK_MODULES([NETTLE], [nettle >= 3.6 hogweed >= 3.6
 * gmp]).
 *
 * Every content-encryption key, KEK, shared secret, ephemeral private key and padded
 * plaintext is wiped before it is freed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gmp.h>
#include <nettle/aes.h>
#include <nettle/bignum.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/nist-keywrap.h>
#include <nettle/rsa.h>
#include <nettle/sha2.h>

#include "be_asn1.h"
#include "be_cms.h"
#include "be_csr.h"
#include "be_key.h"

#define CMS_CERT_MAX (64 * 1024)		/* encryption certificate input */
#define CMS_CONTENT_MAX (16u * 1024 * 1024)	/* content to envelope or sign */
#define CMS_KEK_ID_MAX 1024
#define CMS_SERIAL_MAX 64
#define RSA_KT_BITS_MIN 2048
#define CEK_LEN 32				/* AES-256 */
#define AES_BLOCK 16
#define WRAPPED_LEN (CEK_LEN + 8)		/* RFC 3394 2.2.1 */
#define SHA256_LEN 32
#define EC_FIELD_MAX 66				/* P-521 */
#define PATH_MAX_LEN 160			/* libtasn1 element paths */

#define OID_RSA_ENCRYPTION "1.2.840.113549.1.1.1"	/* RFC 8017 A.1 */
#define OID_RSAES_OAEP "1.2.840.113549.1.1.7"		/* RFC 4055 4.1 */
#define OID_MGF1 "1.2.840.113549.1.1.8"			/* RFC 4055 2.2 */
#define OID_SHA256_RSA "1.2.840.113549.1.1.11"		/* RFC 4055 5 */
#define OID_SHA256 "2.16.840.1.101.3.4.2.1"		/* RFC 5754 2 */
#define OID_SHA384 "2.16.840.1.101.3.4.2.2"
#define OID_SHA512 "2.16.840.1.101.3.4.2.3"
#define OID_ECDSA_SHA256 "1.2.840.10045.4.3.2"		/* RFC 5758 3.2 */
#define OID_ECDSA_SHA384 "1.2.840.10045.4.3.3"
#define OID_ECDSA_SHA512 "1.2.840.10045.4.3.4"
#define OID_ED25519 "1.3.101.112"			/* RFC 8410 3 */
#define OID_EC_PUBLIC_KEY "1.2.840.10045.2.1"		/* RFC 5480 2.1.1 */
#define OID_ECDH_SHA256KDF "1.3.132.1.11.1"		/* RFC 5753 7.1.4 */
#define OID_AES128_WRAP "2.16.840.1.101.3.4.1.5"	/* RFC 3565 4.3 */
#define OID_AES192_WRAP "2.16.840.1.101.3.4.1.25"
#define OID_AES256_WRAP "2.16.840.1.101.3.4.1.45"
#define OID_AES256_CBC "2.16.840.1.101.3.4.1.42"	/* RFC 3565 4.1 */
#define OID_ATTR_CONTENT_TYPE "1.2.840.113549.1.9.3"	/* RFC 5652 11.1 */
#define OID_ATTR_MESSAGE_DIGEST "1.2.840.113549.1.9.4"	/* RFC 5652 11.2 */
#define OID_ATTR_SIGNING_TIME "1.2.840.113549.1.9.5"	/* RFC 5652 11.3 */

static const unsigned char der_null[] = { 0x05, 0x00 };

/* ---------------------------------------------------------------- small helpers */

static void
mpz_wipe(mpz_t z)
{
	size_t n = mpz_size(z);

	if (n > 0) {
		be_memzero(mpz_limbs_modify(z, (mp_size_t)n), n * sizeof(mp_limb_t));
		mpz_limbs_finish(z, 0);
	}
	mpz_clear(z);
}

static int
el_new(const char *type, asn1_node *el, struct be_err *e)
{
	asn1_node defs = be_asn1_module(type);

	*el = NULL;
	if (defs == NULL || asn1_create_element(defs, type, el) != ASN1_SUCCESS)
		return be_err_set(e, BE_E_INTERNAL, "ASN.1 type %s unavailable", type);
	return BE_OK;
}

static void
el_free(asn1_node *el, bool secret)
{
	if (*el != NULL)
		asn1_delete_structure2(el, secret ? ASN1_DELETE_FLAG_ZEROIZE : 0);
}

/* asn1_write_value with the libtasn1 conventions (len 0: NUL-terminated text; BIT STRING:
 * len in bits; NULL value: absent OPTIONAL). */
static int
wr(asn1_node el, const char *path, const void *value, size_t len, struct be_err *e)
{
	int r;

	if (len > INT32_MAX)
		return be_err_set(e, BE_E_TOOBIG, "CMS: %s too large", path);
	r = asn1_write_value(el, path, value, (int)len);
	if (r != ASN1_SUCCESS)
		return be_err_set(e, BE_E_INTERNAL, "CMS: cannot write %s (%s)", path,
				  asn1_strerror(r));
	return BE_OK;
}

/* prefix.suffix into buf (PATH_MAX_LEN); a path that does not fit becomes one no element
 * has, so that the write using it fails. */
static const char *
pj(char *buf, const char *prefix, const char *suffix)
{
	int n;

	if (prefix[0] == '\0')
		n = snprintf(buf, PATH_MAX_LEN, "%s", suffix);
	else
		n = snprintf(buf, PATH_MAX_LEN, "%s.%s", prefix, suffix);
	if (n < 0 || n >= PATH_MAX_LEN)
		snprintf(buf, PATH_MAX_LEN, "?");
	return buf;
}

/* wr() at prefix.suffix. */
static int
wr2(asn1_node el, const char *prefix, const char *suffix, const void *value, size_t len,
    struct be_err *e)
{
	char path[PATH_MAX_LEN];

	return wr(el, pj(path, prefix, suffix), value, len, e);
}

/* An AlgorithmIdentifier at path: oid, and params (a DER value) or absent parameters. */
static int
wr_alg(asn1_node el, const char *path, const char *oid, const unsigned char *params,
       size_t params_len, struct be_err *e)
{
	int rc;

	if ((rc = wr2(el, path, "algorithm", oid, 1, e)) != BE_OK)
		return rc;
	return wr2(el, path, "parameters", params, params != NULL ? params_len : 0, e);
}

/* DER of an element, wiping the intermediate buffer on every path when secret. */
static int
encode(asn1_node el, const char *path, bool secret, gnutls_datum_t *out, struct be_err *e)
{
	char msg[ASN1_MAX_ERROR_DESCRIPTION_SIZE] = "";
	unsigned char *buf = NULL;
	int len = 0, rc = BE_OK;

	out->data = NULL;
	out->size = 0;
	if (asn1_der_coding(el, path, NULL, &len, msg) != ASN1_MEM_ERROR || len <= 0) {
		rc = be_err_set(e, BE_E_INTERNAL, "CMS: DER encoding failed: %s", msg);
		goto out;
	}
	if ((buf = gnutls_malloc((size_t)len)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (asn1_der_coding(el, path, buf, &len, msg) != ASN1_SUCCESS) {
		rc = be_err_set(e, BE_E_INTERNAL, "CMS: DER encoding failed: %s", msg);
		goto out;
	}
	out->data = buf;
	out->size = (unsigned)len;
	buf = NULL;
out:
	if (buf != NULL && secret)
		be_memzero(buf, (size_t)len);
	gnutls_free(buf);
	return rc;
}

/* DER of a value of a simple type: type (e.g. "CMS.ContentType"), optionally a CHOICE
 * alternative, and the value in libtasn1's convention. */
static int
der_value(const char *type, const char *choice, const void *value, size_t len,
	  gnutls_datum_t *out, struct be_err *e)
{
	asn1_node el = NULL;
	int rc;

	if ((rc = el_new(type, &el, e)) != BE_OK)
		goto out;
	if (choice != NULL) {
		if ((rc = wr(el, "", choice, 1, e)) != BE_OK ||
		    (rc = wr(el, choice, value, len, e)) != BE_OK)
			goto out;
	} else if ((rc = wr(el, "", value, len, e)) != BE_OK) {
		goto out;
	}
	rc = encode(el, "", false, out, e);
out:
	el_free(&el, false);
	return rc;
}

/* DER of an AlgorithmIdentifier with absent parameters. */
static int
der_alg(const char *oid, gnutls_datum_t *out, struct be_err *e)
{
	asn1_node el = NULL;
	int rc;

	if ((rc = el_new("CMS.AlgorithmIdentifier", &el, e)) != BE_OK ||
	    (rc = wr_alg(el, "", oid, NULL, 0, e)) != BE_OK)
		goto out;
	rc = encode(el, "", false, out, e);
out:
	el_free(&el, false);
	return rc;
}

/* IssuerAndSerialNumber (RFC 5652 10.2.4) of crt at path. */
static int
wr_issuer_serial(asn1_node el, const char *path, gnutls_x509_crt_t crt, struct be_err *e)
{
	gnutls_datum_t issuer = { NULL, 0 };
	unsigned char serial[CMS_SERIAL_MAX];
	size_t slen = sizeof(serial);
	int rc;

	if (gnutls_x509_crt_get_raw_issuer_dn(crt, &issuer) < 0 ||
	    gnutls_x509_crt_get_serial(crt, serial, &slen) < 0 || slen == 0) {
		rc = be_err_set(e, BE_E_MALFORMED, "certificate: issuer or serial number "
				"unreadable (RFC 5280 4.1.2.2, 4.1.2.4)");
		goto out;
	}
	if ((rc = wr2(el, path, "issuer", issuer.data, issuer.size, e)) != BE_OK)
		goto out;
	rc = wr2(el, path, "serialNumber", serial, slen, e);
out:
	gnutls_free(issuer.data);
	return rc;
}

/* A ContentInfo (RFC 5652 3) of type oid around the DER-encoded inner element. */
static int
content_info(const char *oid, asn1_node inner, gnutls_datum_t *out, struct be_err *e)
{
	gnutls_datum_t der = { NULL, 0 };
	asn1_node ci = NULL;
	int rc;

	if ((rc = encode(inner, "", false, &der, e)) != BE_OK ||
	    (rc = el_new("CMS.ContentInfo", &ci, e)) != BE_OK ||
	    (rc = wr(ci, "contentType", oid, 1, e)) != BE_OK ||
	    (rc = wr(ci, "content", der.data, der.size, e)) != BE_OK)
		goto out;
	rc = encode(ci, "", false, out, e);
out:
	be_datum_free(&der);
	el_free(&ci, false);
	return rc;
}

static int
check_content(const gnutls_datum_t *content, const char *oid, struct be_err *e)
{
	if (content == NULL || oid == NULL || (content->data == NULL && content->size > 0))
		return be_err_set(e, BE_E_INTERNAL, "CMS: no content given");
	if (content->size > CMS_CONTENT_MAX)
		return be_err_set(e, BE_E_TOOBIG, "CMS: content of %u bytes is over %u bytes",
				  content->size, CMS_CONTENT_MAX);
	return BE_OK;
}

/* ---------------------------------------------------------------- recipients */

int
be_cms_recipient_parse(const unsigned char *data, size_t len, struct be_cms_recipient **out,
		       struct be_err *e)
{
	static const char *const labels[] = { "CERTIFICATE", NULL };
	struct be_cms_recipient *r = NULL;
	unsigned char *der = NULL;
	size_t der_len = 0;
	gnutls_datum_t in, re = { NULL, 0 };
	time_t now = time(NULL), nb, na;
	unsigned ku = 0, crit = 0, bits = 0;
	int pk, kr, rc;

	*out = NULL;
	if (len > CMS_CERT_MAX) {
		rc = be_err_set(e, BE_E_TOOBIG, "encryption certificate: over %u bytes",
				CMS_CERT_MAX);
		goto out;
	}
	if ((rc = be_der_from_text(data, len, labels, &der, &der_len, e)) != BE_OK)
		goto out;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	in.data = der;
	in.size = (unsigned)der_len;
	if (gnutls_x509_crt_init(&r->crt) < 0 || gnutls_pubkey_init(&r->pubkey) < 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (gnutls_x509_crt_import(r->crt, &in, GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_x509_crt_export2(r->crt, GNUTLS_X509_FMT_DER, &re) < 0 ||
	    !be_ct_equal(re.data, re.size, in.data, in.size)) {
		rc = be_err_set(e, BE_E_MALFORMED, "encryption certificate: not a DER X.509 "
				"certificate (RFC 5280 4.1)");
		goto out;
	}
	nb = gnutls_x509_crt_get_activation_time(r->crt);
	na = gnutls_x509_crt_get_expiration_time(r->crt);
	if (nb == (time_t)-1 || na == (time_t)-1) {
		rc = be_err_set(e, BE_E_MALFORMED, "encryption certificate: validity unreadable "
				"(RFC 5280 4.1.2.5)");
		goto out;
	}
	if (now < nb) {
		rc = be_err_set(e, BE_E_POLICY, "encryption certificate is not valid yet "
				"(notBefore is %lld seconds ahead)", (long long)(nb - now));
		goto out;
	}
	if (now > na) {
		rc = be_err_set(e, BE_E_POLICY, "encryption certificate has expired "
				"(notAfter was %lld seconds ago)", (long long)(now - na));
		goto out;
	}
	pk = gnutls_x509_crt_get_pk_algorithm(r->crt, &bits);
	if (pk == GNUTLS_PK_EDDSA_ED25519 || pk == GNUTLS_PK_EDDSA_ED448) {
		rc = be_err_set(e, BE_E_POLICY, "encryption certificate: %s keys can only sign; "
				"use RSA (>= %u bits) or EC P-256/P-384/P-521",
				gnutls_pk_get_name((gnutls_pk_algorithm_t)pk), RSA_KT_BITS_MIN);
		goto out;
	}
	if (gnutls_pubkey_import_x509(r->pubkey, r->crt, 0) < 0) {
		rc = be_err_set(e, BE_E_POLICY, "encryption certificate: its public key "
				"(algorithm or curve) is not supported; use RSA (>= %u bits) or "
				"EC P-256/P-384/P-521", RSA_KT_BITS_MIN);
		goto out;
	}
	if ((rc = be_keyspec_of_pubkey(r->pubkey, &r->key, e)) != BE_OK)
		goto out;
	if (r->key.alg == BE_KEY_RSA && r->key.bits < RSA_KT_BITS_MIN) {
		rc = be_err_set(e, BE_E_POLICY, "encryption certificate: RSA key of %u bits is "
				"too small; at least %u bits", r->key.bits, RSA_KT_BITS_MIN);
		goto out;
	}
	if (r->key.alg != BE_KEY_RSA && r->key.alg != BE_KEY_EC) {
		rc = be_err_set(e, BE_E_POLICY, "encryption certificate: key type cannot "
				"encrypt; use RSA (>= %u bits) or EC P-256/P-384/P-521",
				RSA_KT_BITS_MIN);
		goto out;
	}
	/* RFC 5280 4.2.1.3; RFC 5652 6.2.1 / RFC 5753 3.1 */
	kr = gnutls_x509_crt_get_key_usage(r->crt, &ku, &crit);
	if (kr < 0 && kr != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
		rc = be_err_set(e, BE_E_MALFORMED, "encryption certificate: keyUsage "
				"unreadable (RFC 5280 4.2.1.3)");
		goto out;
	}
	if (kr >= 0 && r->key.alg == BE_KEY_RSA && !(ku & GNUTLS_KEY_KEY_ENCIPHERMENT)) {
		rc = be_err_set(e, BE_E_POLICY, "encryption certificate: keyUsage does not "
				"allow keyEncipherment (RFC 5280 4.2.1.3)");
		goto out;
	}
	if (kr >= 0 && r->key.alg == BE_KEY_EC && !(ku & GNUTLS_KEY_KEY_AGREEMENT)) {
		rc = be_err_set(e, BE_E_POLICY, "encryption certificate: keyUsage does not "
				"allow keyAgreement (RFC 5280 4.2.1.3)");
		goto out;
	}
	*out = r;
	r = NULL;
out:
	be_datum_free(&re);
	free(der);
	be_cms_recipient_free(r);
	return rc;
}

void
be_cms_recipient_free(struct be_cms_recipient *r)
{
	if (r == NULL)
		return;
	if (r->crt != NULL)
		gnutls_x509_crt_deinit(r->crt);
	if (r->pubkey != NULL)
		gnutls_pubkey_deinit(r->pubkey);
	free(r);
}

/* ---------------------------------------------------------------- content encryption */

/* EncryptedContentInfo (RFC 5652 6.1) of env: AES-256-CBC (RFC 3565 2.1, 4.1) with a random
 * IV and the padding of RFC 5652 6.3. */
static int
encrypt_content(asn1_node env, const gnutls_datum_t *content, const char *oid,
		const unsigned char cek[CEK_LEN], struct be_err *e)
{
	gnutls_cipher_hd_t h = NULL;
	unsigned char iv[AES_BLOCK];
	unsigned char key_copy[CEK_LEN];
	gnutls_datum_t k = { key_copy, CEK_LEN }, ivd = { iv, AES_BLOCK };
	gnutls_datum_t params = { NULL, 0 };
	unsigned char *buf = NULL;
	size_t pad, n = 0;
	int rc;

	memcpy(key_copy, cek, CEK_LEN);
	if (gnutls_rnd(GNUTLS_RND_NONCE, iv, sizeof(iv)) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "CMS: random IV failed");
		goto out;
	}
	pad = AES_BLOCK - content->size % AES_BLOCK;
	n = content->size + pad;
	if ((buf = malloc(n)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (content->size > 0)
		memcpy(buf, content->data, content->size);
	memset(buf + content->size, (int)pad, pad);
	if (gnutls_cipher_init(&h, GNUTLS_CIPHER_AES_256_CBC, &k, &ivd) < 0 ||
	    gnutls_cipher_encrypt(h, buf, n) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "CMS: AES-256-CBC encryption failed");
		goto out;
	}
	if ((rc = der_value("CMS.CMSOctetString", NULL, iv, sizeof(iv), &params, e)) != BE_OK ||
	    (rc = wr(env, "encryptedContentInfo.contentType", oid, 1, e)) != BE_OK ||
	    (rc = wr_alg(env, "encryptedContentInfo.contentEncryptionAlgorithm",
			 OID_AES256_CBC, params.data, params.size, e)) != BE_OK ||
	    (rc = wr(env, "encryptedContentInfo.encryptedContent", buf, n, e)) != BE_OK)
		goto out;
out:
	if (h != NULL)
		gnutls_cipher_deinit(h);
	be_memzero(key_copy, sizeof(key_copy));
	if (buf != NULL) {
		be_memzero(buf, n);
		free(buf);
	}
	be_datum_free(&params);
	return rc;
}

/* RFC 3394 2.2.1 key wrap of the CEK with a 16, 24 or 32 octet KEK. */
static int
key_wrap(const unsigned char *kek, size_t kek_len, const unsigned char cek[CEK_LEN],
	 unsigned char out[WRAPPED_LEN], struct be_err *e)
{
	static const uint8_t iv[8] = { 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6 };
	union {
		struct aes128_ctx a128;
		struct aes192_ctx a192;
		struct aes256_ctx a256;
	} ctx;
	int rc = BE_OK;

	switch (kek_len) {
	case 16:
		aes128_set_encrypt_key(&ctx.a128, kek);
		aes128_keywrap(&ctx.a128, iv, WRAPPED_LEN, out, cek);
		break;
	case 24:
		aes192_set_encrypt_key(&ctx.a192, kek);
		aes192_keywrap(&ctx.a192, iv, WRAPPED_LEN, out, cek);
		break;
	case 32:
		aes256_set_encrypt_key(&ctx.a256, kek);
		aes256_keywrap(&ctx.a256, iv, WRAPPED_LEN, out, cek);
		break;
	default:
		rc = be_err_set(e, BE_E_INTERNAL, "CMS: key-encryption key of %zu octets; "
				"AES key wrap takes 16, 24 or 32", kek_len);
		break;
	}
	be_memzero(&ctx, sizeof(ctx));
	return rc;
}

/* ---------------------------------------------------------------- RSA key transport */

/* MGF1 with SHA-256 (RFC 8017 B.2.1), XORed into out. */
static void
mgf1_sha256_xor(unsigned char *out, size_t out_len, const unsigned char *seed, size_t seed_len)
{
	struct sha256_ctx ctx;
	unsigned char mask[SHA256_LEN], c[4];
	uint32_t counter;
	size_t done = 0, i, n;

	for (counter = 0; done < out_len; counter++) {
		c[0] = (unsigned char)(counter >> 24);
		c[1] = (unsigned char)(counter >> 16);
		c[2] = (unsigned char)(counter >> 8);
		c[3] = (unsigned char)counter;
		sha256_init(&ctx);
		sha256_update(&ctx, seed_len, seed);
		sha256_update(&ctx, sizeof(c), c);
		sha256_digest(&ctx, SHA256_LEN, mask);
		n = out_len - done < SHA256_LEN ? out_len - done : SHA256_LEN;
		for (i = 0; i < n; i++)
			out[done + i] ^= mask[i];
		done += n;
	}
	be_memzero(&ctx, sizeof(ctx));
	be_memzero(mask, sizeof(mask));
}

/* RSAES-OAEP-ENCRYPT (RFC 8017 7.1.1) with SHA-256, MGF1-SHA-256 and an empty label.
 * EME-OAEP encoding here; RSAEP (m^e mod n) with GMP's mpz_powm_sec. */
static int
rsa_oaep_encrypt(gnutls_pubkey_t pub, const unsigned char *msg, size_t msg_len,
		 gnutls_datum_t *out, struct be_err *e)
{
	static const unsigned char empty_sha256[SHA256_LEN] = {
		0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8,
		0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
		0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55 };	/* lHash = SHA-256("") */
	gnutls_datum_t n = { NULL, 0 }, ex = { NULL, 0 };
	struct rsa_public_key key;
	unsigned char *em = NULL, *seed, *db;
	size_t k = 0, db_len;
	mpz_t m, c;
	int rc = BE_OK;

	rsa_public_key_init(&key);
	mpz_init(m);
	mpz_init(c);
	out->data = NULL;
	out->size = 0;
	if (gnutls_pubkey_export_rsa_raw2(pub, &n, &ex, GNUTLS_EXPORT_FLAG_NO_LZ) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "CMS: cannot read the RSA public key");
		goto out;
	}
	nettle_mpz_set_str_256_u(key.n, n.size, n.data);
	nettle_mpz_set_str_256_u(key.e, ex.size, ex.data);
	if (!rsa_public_key_prepare(&key) || !mpz_odd_p(key.n) || !mpz_odd_p(key.e) ||
	    mpz_cmp_ui(key.e, 3) < 0) {
		rc = be_err_set(e, BE_E_POLICY, "encryption certificate: RSA public key is not "
				"usable (RFC 8017 3.1)");
		goto out;
	}
	k = key.size;
	if (k < 2 * SHA256_LEN + 2 || msg_len > k - 2 * SHA256_LEN - 2) {
		rc = be_err_set(e, BE_E_INTERNAL, "CMS: message too long for RSAES-OAEP");
		goto out;
	}
	/* EM = 0x00 || maskedSeed || maskedDB; DB = lHash || PS || 0x01 || M */
	if ((em = calloc(1, k)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	seed = em + 1;
	db = em + 1 + SHA256_LEN;
	db_len = k - SHA256_LEN - 1;
	memcpy(db, empty_sha256, SHA256_LEN);
	db[db_len - msg_len - 1] = 0x01;
	memcpy(db + db_len - msg_len, msg, msg_len);
	if (gnutls_rnd(GNUTLS_RND_RANDOM, seed, SHA256_LEN) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "CMS: random OAEP seed failed");
		goto out;
	}
	mgf1_sha256_xor(db, db_len, seed, SHA256_LEN);
	mgf1_sha256_xor(seed, SHA256_LEN, db, db_len);
	/* RFC 8017 5.1.1 RSAEP; em[0] == 0 so m < n */
	nettle_mpz_set_str_256_u(m, k, em);
	mpz_powm_sec(c, m, key.e, key.n);
	if ((out->data = gnutls_malloc(k)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	nettle_mpz_get_str_256(k, out->data, c);
	out->size = (unsigned)k;
out:
	if (em != NULL) {
		be_memzero(em, k);
		free(em);
	}
	mpz_wipe(m);
	mpz_clear(c);
	rsa_public_key_clear(&key);
	gnutls_free(n.data);
	gnutls_free(ex.data);
	return rc;
}

/* RFC 4055 4.1 rSAES-OAEP-SHA256-Params: hashFunc sha256Identifier and maskGenFunc
 * mgf1SHA256Identifier, both with NULL hash parameters as RFC 4055 2.1 lists them;
 * pSourceFunc left at its default (empty label). */
static int
oaep_params(gnutls_datum_t *out, struct be_err *e)
{
	gnutls_datum_t sha256 = { NULL, 0 };
	asn1_node el = NULL, alg = NULL;
	int rc;

	if ((rc = el_new("CMS.AlgorithmIdentifier", &alg, e)) != BE_OK ||
	    (rc = wr_alg(alg, "", OID_SHA256, der_null, sizeof(der_null), e)) != BE_OK ||
	    (rc = encode(alg, "", false, &sha256, e)) != BE_OK ||
	    (rc = el_new("CMS.RSAES-OAEP-params", &el, e)) != BE_OK ||
	    (rc = wr_alg(el, "hashFunc", OID_SHA256, der_null, sizeof(der_null), e)) != BE_OK ||
	    (rc = wr_alg(el, "maskGenFunc", OID_MGF1, sha256.data, sha256.size, e)) != BE_OK ||
	    (rc = wr(el, "pSourceFunc", NULL, 0, e)) != BE_OK)
		goto out;
	rc = encode(el, "", false, out, e);
out:
	be_datum_free(&sha256);
	el_free(&alg, false);
	el_free(&el, false);
	return rc;
}

/* KeyTransRecipientInfo (RFC 5652 6.2.1, version 0, issuerAndSerialNumber) at path. */
static int
wr_ktri(asn1_node env, const char *path, const struct be_cms_recipient *r, enum be_cms_kt kt,
	const unsigned char cek[CEK_LEN], struct be_err *e)
{
	unsigned char key_copy[CEK_LEN];
	gnutls_datum_t k = { key_copy, CEK_LEN }, ek = { NULL, 0 }, params = { NULL, 0 };
	char p[PATH_MAX_LEN];
	int r2, rc;

	memcpy(key_copy, cek, CEK_LEN);
	if ((rc = wr2(env, path, "version", "0", 0, e)) != BE_OK ||
	    (rc = wr2(env, path, "rid", "issuerAndSerialNumber", 1, e)) != BE_OK ||
	    (rc = wr_issuer_serial(env, pj(p, path, "rid.issuerAndSerialNumber"), r->crt, e)) !=
	    BE_OK)
		goto out;
	pj(p, path, "keyEncryptionAlgorithm");
	if (kt == BE_CMS_KT_OAEP) {
		/* RFC 8017 7.1, RFC 4055 4.1 */
		if ((rc = rsa_oaep_encrypt(r->pubkey, cek, CEK_LEN, &ek, e)) != BE_OK ||
		    (rc = oaep_params(&params, e)) != BE_OK ||
		    (rc = wr_alg(env, p, OID_RSAES_OAEP, params.data, params.size, e)) != BE_OK)
			goto out;
	} else if (kt == BE_CMS_KT_PKCS1) {
		/* RFC 8017 7.2, RFC 3370 4.2.1 */
		if ((r2 = gnutls_pubkey_encrypt_data(r->pubkey, 0, &k, &ek)) < 0) {
			rc = be_err_set(e, BE_E_CRYPTO, "CMS: RSAES-PKCS1-v1_5 encryption failed: "
					"%s", gnutls_strerror(r2));
			goto out;
		}
		if ((rc = wr_alg(env, p, OID_RSA_ENCRYPTION, der_null, sizeof(der_null), e)) !=
		    BE_OK)
			goto out;
	} else {
		rc = be_err_set(e, BE_E_INTERNAL, "CMS: unknown key transport %d", (int)kt);
		goto out;
	}
	rc = wr2(env, path, "encryptedKey", ek.data, ek.size, e);
out:
	be_memzero(key_copy, sizeof(key_copy));
	be_datum_free(&ek);
	be_datum_free(&params);
	return rc;
}

/* ---------------------------------------------------------------- EC key agreement */

static const struct ecc_curve *
nettle_curve(unsigned bits)
{
	switch (bits) {
	case 256:
		return nettle_get_secp_256r1();
	case 384:
		return nettle_get_secp_384r1();
	case 521:
		return nettle_get_secp_521r1();
	default:
		return NULL;
	}
}

/* An unsigned big-endian integer (leading zero octets allowed) as exactly len octets. */
static int
fixed_be(const gnutls_datum_t *d, unsigned char *out, size_t len, struct be_err *e)
{
	size_t i = 0, n;

	while (i < d->size && d->data[i] == 0)
		i++;
	n = d->size - i;
	if (n > len)
		return be_err_set(e, BE_E_CRYPTO, "CMS: EC coordinate longer than the field");
	memset(out, 0, len - n);
	if (n > 0)
		memcpy(out + len - n, d->data + i, n);
	return BE_OK;
}

/* Ephemeral-static ECDH primitive (SEC 1 3.3.1, RFC 5753 3.1.2): Z = x coordinate of k * Q
 * as fsize octets, Q the recipient's public point (checked to be on the curve), k the
 * ephemeral private scalar. */
static int
ecdh_z(const struct ecc_curve *curve, gnutls_pubkey_t peer, const gnutls_datum_t *k,
       unsigned char *z, size_t fsize, struct be_err *e)
{
	gnutls_datum_t qx = { NULL, 0 }, qy = { NULL, 0 };
	gnutls_ecc_curve_t gc;
	struct ecc_point q, s;
	struct ecc_scalar sc;
	mpz_t x, y, kz;
	int rc = BE_OK;

	mpz_init(x);
	mpz_init(y);
	mpz_init(kz);
	ecc_point_init(&q, curve);
	ecc_point_init(&s, curve);
	ecc_scalar_init(&sc, curve);
	if (gnutls_pubkey_export_ecc_raw2(peer, &gc, &qx, &qy, GNUTLS_EXPORT_FLAG_NO_LZ) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "CMS: cannot read the EC public key");
		goto out;
	}
	nettle_mpz_set_str_256_u(x, qx.size, qx.data);
	nettle_mpz_set_str_256_u(y, qy.size, qy.data);
	if (!ecc_point_set(&q, x, y)) {
		rc = be_err_set(e, BE_E_POLICY, "encryption certificate: EC public key is not a "
				"point on its curve (SEC 1 3.2.2.1)");
		goto out;
	}
	nettle_mpz_set_str_256_u(kz, k->size, k->data);
	if (!ecc_scalar_set(&sc, kz)) {
		rc = be_err_set(e, BE_E_CRYPTO, "CMS: ephemeral EC key out of range");
		goto out;
	}
	ecc_point_mul(&s, &sc, &q);
	ecc_point_get(&s, x, y);
	nettle_mpz_get_str_256(fsize, z, x);
out:
	be_memzero(sc.p, (size_t)ecc_size(curve) * sizeof(mp_limb_t));
	be_memzero(s.p, 2 * (size_t)ecc_size(curve) * sizeof(mp_limb_t));
	ecc_scalar_clear(&sc);
	ecc_point_clear(&s);
	ecc_point_clear(&q);
	mpz_wipe(kz);
	mpz_wipe(x);
	mpz_wipe(y);
	gnutls_free(qx.data);
	gnutls_free(qy.data);
	return rc;
}

/* RFC 5753 7.2 / SEC 1 3.6.1 (ANSI X9.63 KDF with SHA-256): the 32-octet KEK for
 * id-aes256-wrap is SHA-256(Z || 00000001 || DER(ECC-CMS-SharedInfo)), SharedInfo holding
 * the key-wrap algorithm (wrap_oid, absent parameters, exactly as in the
 * keyEncryptionAlgorithm parameters), no entityUInfo (no ukm) and suppPubInfo = the KEK
 * length in bits as a 32-bit big-endian number. */
static int
x963_kdf(const unsigned char *z, size_t z_len, const char *wrap_oid,
	 unsigned char kek[SHA256_LEN], struct be_err *e)
{
	static const unsigned char counter[4] = { 0, 0, 0, 1 };
	static const unsigned char supp_pub[4] = { 0, 0, (CEK_LEN * 8) >> 8,
						   (CEK_LEN * 8) & 0xff };
	gnutls_datum_t si = { NULL, 0 };
	asn1_node el = NULL;
	struct sha256_ctx ctx;
	int rc;

	if ((rc = el_new("CMS.ECC-CMS-SharedInfo", &el, e)) != BE_OK ||
	    (rc = wr_alg(el, "keyInfo", wrap_oid, NULL, 0, e)) != BE_OK ||
	    (rc = wr(el, "entityUInfo", NULL, 0, e)) != BE_OK ||
	    (rc = wr(el, "suppPubInfo", supp_pub, sizeof(supp_pub), e)) != BE_OK ||
	    (rc = encode(el, "", false, &si, e)) != BE_OK)
		goto out;
	sha256_init(&ctx);
	sha256_update(&ctx, z_len, z);
	sha256_update(&ctx, sizeof(counter), counter);
	sha256_update(&ctx, si.size, si.data);
	sha256_digest(&ctx, SHA256_LEN, kek);
	be_memzero(&ctx, sizeof(ctx));
out:
	be_datum_free(&si);
	el_free(&el, false);
	return rc;
}

/* KeyAgreeRecipientInfo (RFC 5652 6.2.2, RFC 5753 3.1.1) at path: version 3, originatorKey
 * an ephemeral key on the recipient's curve (id-ecPublicKey, parameters absent as OpenSSL
 * writes them, the uncompressed ECPoint), no ukm, dhSinglePass-stdDH-sha256kdf-scheme
 * with id-aes256-wrap, one RecipientEncryptedKey by issuerAndSerialNumber. */
static int
wr_kari(asn1_node env, const char *path, const struct be_cms_recipient *r,
	const unsigned char cek[CEK_LEN], struct be_err *e)
{
	const struct ecc_curve *curve = nettle_curve(r->key.bits);
	gnutls_x509_privkey_t eph = NULL;
	gnutls_datum_t ex = { NULL, 0 }, ey = { NULL, 0 }, ek = { NULL, 0 };
	gnutls_datum_t wrap_alg = { NULL, 0 };
	gnutls_ecc_curve_t gc;
	unsigned char z[EC_FIELD_MAX], kek[SHA256_LEN], wrapped[WRAPPED_LEN];
	unsigned char point[1 + 2 * EC_FIELD_MAX];
	size_t fsize = (r->key.bits + 7) / 8;
	char p[PATH_MAX_LEN];
	int rc;

	if (curve == NULL || r->key.alg != BE_KEY_EC) {
		rc = be_err_set(e, BE_E_INTERNAL, "CMS: recipient is not on P-256/P-384/P-521");
		goto out;
	}
	/* RFC 5753 3.1.2: a fresh ephemeral key pair on the recipient's curve */
	if ((rc = be_key_generate(&r->key, &eph, e)) != BE_OK)
		goto out;
	if (gnutls_x509_privkey_export_ecc_raw(eph, &gc, &ex, &ey, &ek) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "CMS: cannot read the ephemeral EC key");
		goto out;
	}
	point[0] = 0x04;	/* SEC 1 2.3.3 uncompressed */
	if ((rc = fixed_be(&ex, point + 1, fsize, e)) != BE_OK ||
	    (rc = fixed_be(&ey, point + 1 + fsize, fsize, e)) != BE_OK ||
	    (rc = ecdh_z(curve, r->pubkey, &ek, z, fsize, e)) != BE_OK ||
	    (rc = x963_kdf(z, fsize, OID_AES256_WRAP, kek, e)) != BE_OK ||
	    (rc = key_wrap(kek, sizeof(kek), cek, wrapped, e)) != BE_OK ||
	    (rc = der_alg(OID_AES256_WRAP, &wrap_alg, e)) != BE_OK)
		goto out;
	if ((rc = wr2(env, path, "version", "3", 0, e)) != BE_OK ||
	    (rc = wr2(env, path, "originator", "originatorKey", 1, e)) != BE_OK ||
	    (rc = wr_alg(env, pj(p, path, "originator.originatorKey.algorithm"),
			 OID_EC_PUBLIC_KEY, NULL, 0, e)) != BE_OK ||
	    (rc = wr2(env, path, "originator.originatorKey.publicKey", point,
		      (1 + 2 * fsize) * 8, e)) != BE_OK ||
	    (rc = wr2(env, path, "ukm", NULL, 0, e)) != BE_OK ||
	    (rc = wr_alg(env, pj(p, path, "keyEncryptionAlgorithm"), OID_ECDH_SHA256KDF,
			 wrap_alg.data, wrap_alg.size, e)) != BE_OK ||
	    (rc = wr2(env, path, "recipientEncryptedKeys", "NEW", 1, e)) != BE_OK ||
	    (rc = wr2(env, path, "recipientEncryptedKeys.?1.rid", "issuerAndSerialNumber", 1,
		      e)) != BE_OK ||
	    (rc = wr_issuer_serial(env, pj(p, path,
				   "recipientEncryptedKeys.?1.rid.issuerAndSerialNumber"),
				   r->crt, e)) != BE_OK)
		goto out;
	rc = wr2(env, path, "recipientEncryptedKeys.?1.encryptedKey", wrapped, sizeof(wrapped),
		 e);
out:
	be_memzero(z, sizeof(z));
	be_memzero(kek, sizeof(kek));
	be_datum_wipe(&ek);
	gnutls_free(ex.data);
	gnutls_free(ey.data);
	be_datum_free(&wrap_alg);
	if (eph != NULL)
		gnutls_x509_privkey_deinit(eph);
	return rc;
}

/* ---------------------------------------------------------------- EnvelopedData */

int
be_cms_envelope(const gnutls_datum_t *content, const char *oid,
		const struct be_cms_recipient *r, enum be_cms_kt kt, gnutls_datum_t *out,
		struct be_err *e)
{
	unsigned char cek[CEK_LEN];
	asn1_node env = NULL;
	int rc;

	out->data = NULL;
	out->size = 0;
	if ((rc = check_content(content, oid, e)) != BE_OK)
		goto out;
	if (r == NULL || (r->key.alg != BE_KEY_RSA && r->key.alg != BE_KEY_EC)) {
		rc = be_err_set(e, BE_E_INTERNAL, "CMS: no usable recipient given");
		goto out;
	}
	if (gnutls_rnd(GNUTLS_RND_KEY, cek, sizeof(cek)) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "CMS: random content-encryption key failed");
		goto out;
	}
	/* RFC 5652 6.1: version 0 when every RecipientInfo is version 0 (ktri with
	 * issuerAndSerialNumber), else 2 (kari) */
	if ((rc = el_new("CMS.EnvelopedData", &env, e)) != BE_OK ||
	    (rc = wr(env, "version", r->key.alg == BE_KEY_RSA ? "0" : "2", 0, e)) != BE_OK ||
	    (rc = wr(env, "originatorInfo", NULL, 0, e)) != BE_OK ||
	    (rc = wr(env, "recipientInfos", "NEW", 1, e)) != BE_OK)
		goto out;
	if (r->key.alg == BE_KEY_RSA) {
		if ((rc = wr(env, "recipientInfos.?1", "ktri", 1, e)) != BE_OK ||
		    (rc = wr_ktri(env, "recipientInfos.?1.ktri", r, kt, cek, e)) != BE_OK)
			goto out;
	} else {
		if ((rc = wr(env, "recipientInfos.?1", "kari", 1, e)) != BE_OK ||
		    (rc = wr_kari(env, "recipientInfos.?1.kari", r, cek, e)) != BE_OK)
			goto out;
	}
	if ((rc = encrypt_content(env, content, oid, cek, e)) != BE_OK ||
	    (rc = wr(env, "unprotectedAttrs", NULL, 0, e)) != BE_OK)
		goto out;
	rc = content_info(BE_OID_ENVELOPED_DATA, env, out, e);
out:
	be_memzero(cek, sizeof(cek));
	el_free(&env, false);
	return rc;
}

int
be_cms_envelope_kek(const gnutls_datum_t *content, const char *oid,
		    const unsigned char *kek, size_t kek_len, const unsigned char *kek_id,
		    size_t kek_id_len, gnutls_datum_t *out, struct be_err *e)
{
	unsigned char cek[CEK_LEN], wrapped[WRAPPED_LEN];
	const char *wrap_oid;
	asn1_node env = NULL;
	int rc;

	out->data = NULL;
	out->size = 0;
	if ((rc = check_content(content, oid, e)) != BE_OK)
		goto out;
	switch (kek != NULL ? kek_len : 0) {
	case 16:
		wrap_oid = OID_AES128_WRAP;
		break;
	case 24:
		wrap_oid = OID_AES192_WRAP;
		break;
	case 32:
		wrap_oid = OID_AES256_WRAP;
		break;
	default:
		rc = be_err_set(e, BE_E_CONFIG, "key-encryption key of %zu octets; AES key wrap "
				"(RFC 3394) takes 16, 24 or 32", kek != NULL ? kek_len : 0);
		goto out;
	}
	if (kek_id == NULL || kek_id_len == 0) {
		rc = be_err_set(e, BE_E_MALFORMED, "key-encryption key identifier is empty "
				"(RFC 5652 6.2.3)");
		goto out;
	}
	if (kek_id_len > CMS_KEK_ID_MAX) {
		rc = be_err_set(e, BE_E_TOOBIG, "key-encryption key identifier over %u octets",
				CMS_KEK_ID_MAX);
		goto out;
	}
	if (gnutls_rnd(GNUTLS_RND_KEY, cek, sizeof(cek)) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "CMS: random content-encryption key failed");
		goto out;
	}
	if ((rc = key_wrap(kek, kek_len, cek, wrapped, e)) != BE_OK)
		goto out;
	/* RFC 5652 6.1: a kekri (version 4) makes the EnvelopedData version 2; RFC 3565 4.3:
	 * key wrap parameters absent */
	if ((rc = el_new("CMS.EnvelopedData", &env, e)) != BE_OK ||
	    (rc = wr(env, "version", "2", 0, e)) != BE_OK ||
	    (rc = wr(env, "originatorInfo", NULL, 0, e)) != BE_OK ||
	    (rc = wr(env, "recipientInfos", "NEW", 1, e)) != BE_OK ||
	    (rc = wr(env, "recipientInfos.?1", "kekri", 1, e)) != BE_OK ||
	    (rc = wr(env, "recipientInfos.?1.kekri.version", "4", 0, e)) != BE_OK ||
	    (rc = wr(env, "recipientInfos.?1.kekri.kekid.keyIdentifier", kek_id, kek_id_len,
		     e)) != BE_OK ||
	    (rc = wr(env, "recipientInfos.?1.kekri.kekid.date", NULL, 0, e)) != BE_OK ||
	    (rc = wr(env, "recipientInfos.?1.kekri.kekid.other", NULL, 0, e)) != BE_OK ||
	    (rc = wr_alg(env, "recipientInfos.?1.kekri.keyEncryptionAlgorithm", wrap_oid, NULL,
			 0, e)) != BE_OK ||
	    (rc = wr(env, "recipientInfos.?1.kekri.encryptedKey", wrapped, sizeof(wrapped),
		     e)) != BE_OK ||
	    (rc = encrypt_content(env, content, oid, cek, e)) != BE_OK ||
	    (rc = wr(env, "unprotectedAttrs", NULL, 0, e)) != BE_OK)
		goto out;
	rc = content_info(BE_OID_ENVELOPED_DATA, env, out, e);
out:
	be_memzero(cek, sizeof(cek));
	el_free(&env, false);
	return rc;
}

/* ---------------------------------------------------------------- SignedData */

struct sig_alg {
	gnutls_digest_algorithm_t dig;
	gnutls_sign_algorithm_t sign;
	const char *dig_oid;
	const char *sig_oid;
	bool sig_null;		/* NULL parameters (RSA) rather than absent */
};

/* The digest and signature algorithm for the signer's key: RSA with SHA-256 (RFC 5754 3.2,
 * sha256WithRSAEncryption, NULL parameters); ECDSA with SHA-256/384/512 by curve size
 * (RFC 5753 2.1.1, RFC 5758 3.2, parameters absent); Ed25519 with SHA-512 as the digest
 * (RFC 8419 3.1). */
static int
sig_alg_of(gnutls_privkey_t key, struct sig_alg *a, struct be_err *e)
{
	unsigned bits = 0;
	int pk = gnutls_privkey_get_pk_algorithm(key, &bits);

	memset(a, 0, sizeof(*a));
	switch (pk) {
	case GNUTLS_PK_RSA:
		*a = (struct sig_alg){ GNUTLS_DIG_SHA256, GNUTLS_SIGN_RSA_SHA256, OID_SHA256,
				       OID_SHA256_RSA, true };
		return BE_OK;
	case GNUTLS_PK_ECDSA:
		if (bits <= 256)
			*a = (struct sig_alg){ GNUTLS_DIG_SHA256, GNUTLS_SIGN_ECDSA_SHA256,
					       OID_SHA256, OID_ECDSA_SHA256, false };
		else if (bits <= 384)
			*a = (struct sig_alg){ GNUTLS_DIG_SHA384, GNUTLS_SIGN_ECDSA_SHA384,
					       OID_SHA384, OID_ECDSA_SHA384, false };
		else
			*a = (struct sig_alg){ GNUTLS_DIG_SHA512, GNUTLS_SIGN_ECDSA_SHA512,
					       OID_SHA512, OID_ECDSA_SHA512, false };
		return BE_OK;
	case GNUTLS_PK_EDDSA_ED25519:
		*a = (struct sig_alg){ GNUTLS_DIG_SHA512, GNUTLS_SIGN_EDDSA_ED25519, OID_SHA512,
				       OID_ED25519, false };
		return BE_OK;
	default:
		return be_err_set(e, BE_E_POLICY, "CMS: cannot sign with a %s key; RSA, ECDSA "
				  "or Ed25519 signing keys only",
				  pk < 0 ? "unreadable" :
				  gnutls_pk_get_name((gnutls_pk_algorithm_t)pk));
	}
}

/* BE_OK when key is the private half of crt's public key. */
static int
key_matches(gnutls_privkey_t key, gnutls_x509_crt_t crt, struct be_err *e)
{
	gnutls_pubkey_t a = NULL, b = NULL;
	gnutls_datum_t da = { NULL, 0 }, db = { NULL, 0 };
	int rc = BE_OK;

	if (gnutls_pubkey_init(&a) < 0 || gnutls_pubkey_init(&b) < 0 ||
	    gnutls_pubkey_import_privkey(a, key, 0, 0) < 0 ||
	    gnutls_pubkey_import_x509(b, crt, 0) < 0 ||
	    gnutls_pubkey_export2(a, GNUTLS_X509_FMT_DER, &da) < 0 ||
	    gnutls_pubkey_export2(b, GNUTLS_X509_FMT_DER, &db) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "CMS: cannot read the signer's public key");
		goto out;
	}
	if (!be_ct_equal(da.data, da.size, db.data, db.size))
		rc = be_err_set(e, BE_E_INTERNAL, "CMS: the signing key does not belong to the "
				"signer's certificate");
out:
	be_datum_free(&da);
	be_datum_free(&db);
	if (a != NULL)
		gnutls_pubkey_deinit(a);
	if (b != NULL)
		gnutls_pubkey_deinit(b);
	return rc;
}

/* One signed attribute (RFC 5652 5.3) with a single DER value at signerInfos.?1.signedAttrs. */
static int
wr_attr(asn1_node sd, const char *oid, const gnutls_datum_t *value, struct be_err *e)
{
	int rc;

	if ((rc = wr(sd, "signerInfos.?1.signedAttrs", "NEW", 1, e)) != BE_OK ||
	    (rc = wr(sd, "signerInfos.?1.signedAttrs.?LAST.attrType", oid, 1, e)) != BE_OK ||
	    (rc = wr(sd, "signerInfos.?1.signedAttrs.?LAST.attrValues", "NEW", 1, e)) != BE_OK)
		return rc;
	return wr(sd, "signerInfos.?1.signedAttrs.?LAST.attrValues.?1", value->data,
		  value->size, e);
}

/* RFC 5652 11.3: UTCTime for 1950..2049, GeneralizedTime otherwise; seconds, "Z". */
static int
der_signing_time(time_t now, gnutls_datum_t *out, struct be_err *e)
{
	struct tm tm;
	char buf[32];
	bool utc;

	if (gmtime_r(&now, &tm) == NULL)
		return be_err_set(e, BE_E_INTERNAL, "CMS: clock unreadable");
	utc = tm.tm_year >= 50 && tm.tm_year < 150;
	if (strftime(buf, sizeof(buf), "%Y%m%d%H%M%SZ", &tm) != 15)
		return be_err_set(e, BE_E_INTERNAL, "CMS: clock unreadable");
	/* UTCTime is YYMMDDHHMMSSZ: the GeneralizedTime text without the century */
	return der_value("CMS.Time", utc ? "utcTime" : "generalTime", utc ? buf + 2 : buf,
			 utc ? 13 : 15, out, e);
}

int
be_cms_sign(const gnutls_datum_t *content, const char *oid,
	    const gnutls_datum_t *signer_cert, gnutls_privkey_t signer_key,
	    gnutls_datum_t *out, struct be_err *e)
{
	gnutls_x509_crt_t crt = NULL;
	struct sig_alg alg;
	unsigned char digest[64];
	gnutls_datum_t dg = { digest, 0 }, v_type = { NULL, 0 }, v_digest = { NULL, 0 };
	gnutls_datum_t v_time = { NULL, 0 }, attrs = { NULL, 0 }, sig = { NULL, 0 };
	asn1_node sd = NULL;
	int r, rc;

	out->data = NULL;
	out->size = 0;
	if ((rc = check_content(content, oid, e)) != BE_OK)
		goto out;
	if (signer_cert == NULL || signer_key == NULL) {
		rc = be_err_set(e, BE_E_INTERNAL, "CMS: no signer given");
		goto out;
	}
	if (gnutls_x509_crt_init(&crt) < 0 ||
	    gnutls_x509_crt_import(crt, signer_cert, GNUTLS_X509_FMT_DER) < 0) {
		rc = be_err_set(e, BE_E_INTERNAL, "CMS: signer certificate unreadable");
		goto out;
	}
	if ((rc = sig_alg_of(signer_key, &alg, e)) != BE_OK ||
	    (rc = key_matches(signer_key, crt, e)) != BE_OK)
		goto out;
	dg.size = gnutls_hash_get_len(alg.dig);
	if (gnutls_hash_fast(alg.dig, content->data, content->size, digest) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "CMS: digest failed");
		goto out;
	}
	/* RFC 5652 11.1-11.3 signed attributes */
	if ((rc = der_value("CMS.ContentType", NULL, oid, 1, &v_type, e)) != BE_OK ||
	    (rc = der_value("CMS.CMSOctetString", NULL, digest, dg.size, &v_digest, e)) !=
	    BE_OK || (rc = der_signing_time(time(NULL), &v_time, e)) != BE_OK)
		goto out;
	/* RFC 5652 5.1: version 3 when eContentType is not id-data, else 1 */
	if ((rc = el_new("CMS.SignedData", &sd, e)) != BE_OK ||
	    (rc = wr(sd, "version", strcmp(oid, BE_OID_DATA) == 0 ? "1" : "3", 0, e)) != BE_OK ||
	    (rc = wr(sd, "digestAlgorithms", "NEW", 1, e)) != BE_OK ||
	    (rc = wr_alg(sd, "digestAlgorithms.?1", alg.dig_oid, NULL, 0, e)) != BE_OK ||
	    (rc = wr(sd, "encapContentInfo.eContentType", oid, 1, e)) != BE_OK ||
	    (rc = wr(sd, "encapContentInfo.eContent", content->size > 0 ? content->data :
		     (const unsigned char *)"", content->size, e)) != BE_OK ||
	    (rc = wr(sd, "certificates", "NEW", 1, e)) != BE_OK ||
	    (rc = wr(sd, "certificates.?1", signer_cert->data, signer_cert->size, e)) !=
	    BE_OK ||
	    (rc = wr(sd, "crls", NULL, 0, e)) != BE_OK ||
	    (rc = wr(sd, "signerInfos", "NEW", 1, e)) != BE_OK ||
	    (rc = wr(sd, "signerInfos.?1.version", "1", 0, e)) != BE_OK ||
	    (rc = wr(sd, "signerInfos.?1.sid", "issuerAndSerialNumber", 1, e)) != BE_OK ||
	    (rc = wr_issuer_serial(sd, "signerInfos.?1.sid.issuerAndSerialNumber", crt, e)) !=
	    BE_OK ||
	    (rc = wr_alg(sd, "signerInfos.?1.digestAlgorithm", alg.dig_oid, NULL, 0, e)) !=
	    BE_OK ||
	    (rc = wr_attr(sd, OID_ATTR_CONTENT_TYPE, &v_type, e)) != BE_OK ||
	    (rc = wr_attr(sd, OID_ATTR_SIGNING_TIME, &v_time, e)) != BE_OK ||
	    (rc = wr_attr(sd, OID_ATTR_MESSAGE_DIGEST, &v_digest, e)) != BE_OK ||
	    (rc = wr_alg(sd, "signerInfos.?1.signatureAlgorithm", alg.sig_oid,
			 alg.sig_null ? der_null : NULL, sizeof(der_null), e)) != BE_OK ||
	    (rc = wr(sd, "signerInfos.?1.unsignedAttrs", NULL, 0, e)) != BE_OK)
		goto out;
	/* RFC 5652 5.4: the signature covers the DER of the signed attributes with an
	 * EXPLICIT SET OF tag in place of the [0] IMPLICIT one */
	if ((rc = encode(sd, "signerInfos.?1.signedAttrs", false, &attrs, e)) != BE_OK)
		goto out;
	attrs.data[0] = 0x31;
	if ((r = gnutls_privkey_sign_data2(signer_key, alg.sign, 0, &attrs, &sig)) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "CMS: signing failed: %s", gnutls_strerror(r));
		goto out;
	}
	if ((rc = wr(sd, "signerInfos.?1.signature", sig.data, sig.size, e)) != BE_OK)
		goto out;
	rc = content_info(BE_OID_SIGNED_DATA, sd, out, e);
out:
	be_datum_free(&v_type);
	be_datum_free(&v_digest);
	be_datum_free(&v_time);
	be_datum_free(&attrs);
	be_datum_free(&sig);
	el_free(&sd, false);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	return rc;
}

/* ---------------------------------------------------------------- RFC 5958 */

int
be_cms_key_package(gnutls_x509_privkey_t key, gnutls_datum_t *out, struct be_err *e)
{
	gnutls_datum_t p8 = { NULL, 0 };
	asn1_node el = NULL;
	int r, rc;

	out->data = NULL;
	out->size = 0;
	if (key == NULL) {
		rc = be_err_set(e, BE_E_INTERNAL, "CMS: no key given");
		goto out;
	}
	/* RFC 5958 2: OneAsymmetricKey v1 is PrivateKeyInfo (RFC 5208 5) */
	if ((r = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_DER, NULL,
						   GNUTLS_PKCS_PLAIN, &p8)) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "CMS: cannot export the private key: %s",
				gnutls_strerror(r));
		goto out;
	}
	if ((rc = el_new("CMS.AsymmetricKeyPackage", &el, e)) != BE_OK ||
	    (rc = wr(el, "", "NEW", 1, e)) != BE_OK ||
	    (rc = wr(el, "?1", p8.data, p8.size, e)) != BE_OK)
		goto out;
	rc = encode(el, "", true, out, e);
out:
	be_datum_wipe(&p8);
	el_free(&el, true);
	return rc;
}
