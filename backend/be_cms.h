/*
 * CMS (RFC 5652) that GnuTLS does not write: EnvelopedData to a recipient certificate or a
 * pre-shared key-encryption key, SignedData with encapsulated content of any type, the
 * RFC 5958 AsymmetricKeyPackage, and a ZIP bundle.  Built with libtasn1 from backend/cms.asn.
 * Used by the EST serverkeygen reply (RFC 7030 4.4.2) and the enrollment-profile API's
 * cert_encrypted formats; everything here opens with `openssl cms -decrypt` /
 * `openssl smime -decrypt` using the recipient's key.
 */
#ifndef CERTGATE_BE_CMS_H
#define CERTGATE_BE_CMS_H

#include "be.h"

#define BE_OID_DATA "1.2.840.113549.1.7.1"			/* id-data */
#define BE_OID_SIGNED_DATA "1.2.840.113549.1.7.2"		/* id-signedData */
#define BE_OID_ENVELOPED_DATA "1.2.840.113549.1.7.3"		/* id-envelopedData */
#define BE_OID_KEY_PACKAGE "2.16.840.1.101.2.1.2.78.5"	/* id-ct-KP-aKeyPackage (RFC 5958) */

/* A validated recipient for EnvelopedData. */
struct be_cms_recipient {
	gnutls_x509_crt_t crt;		/* owned */
	gnutls_pubkey_t pubkey;		/* owned */
	struct be_keyspec key;		/* RSA (>= 2048) or EC P-256/384/521 */
};

/* Parses an encryption certificate from untrusted input (PEM "CERTIFICATE", bare base64 or
 * DER; strict), for use as a recipient: RSA of at least 2048 bits (key transport) or EC on
 * P-256/P-384/P-521 (key agreement); when the certificate has a keyUsage extension it must
 * allow keyEncipherment (RSA) or keyAgreement (EC).  Expired or not-yet-valid certificates
 * are refused (BE_E_POLICY).  *out: caller be_cms_recipient_free(). */
int be_cms_recipient_parse(const unsigned char *data, size_t len,
			   struct be_cms_recipient **out, struct be_err *e);
void be_cms_recipient_free(struct be_cms_recipient *r);

enum be_cms_kt {
	BE_CMS_KT_OAEP = 0,	/* RSAES-OAEP, SHA-256, MGF1-SHA-256 (RFC 8017, RFC 4055) */
	BE_CMS_KT_PKCS1,	/* RSAES-PKCS1-v1_5 (for old clients) */
};

/* EnvelopedData (RFC 5652 6) holding content (of content type oid, e.g. BE_OID_DATA) for
 * recipient r, as a DER ContentInfo.  Content encryption AES-256-CBC with a random IV.
 * RSA recipients: KeyTransRecipientInfo (issuerAndSerialNumber) with kt.  EC recipients:
 * KeyAgreeRecipientInfo, ephemeral-static ECDH with dhSinglePass-stdDH-sha256kdf-scheme
 * (RFC 5753 / RFC 8418 style X9.63 KDF) and id-aes256-wrap (RFC 3394).  The content
 * encryption key is wiped.  *out gnutls_malloc()ed; caller be_datum_free(). */
int be_cms_envelope(const gnutls_datum_t *content, const char *oid,
		    const struct be_cms_recipient *r, enum be_cms_kt kt, gnutls_datum_t *out,
		    struct be_err *e);

/* EnvelopedData to a pre-shared key-encryption key (RFC 5652 6.2.3 KEKRecipientInfo,
 * id-aes128/192/256-wrap by the key's length 16/24/32), kek_id being the KEKIdentifier
 * (RFC 7030 4.4.1.1 DecryptKeyIdentifier). */
int be_cms_envelope_kek(const gnutls_datum_t *content, const char *oid,
			const unsigned char *kek, size_t kek_len, const unsigned char *kek_id,
			size_t kek_id_len, gnutls_datum_t *out, struct be_err *e);

/* SignedData (RFC 5652 5) with encapsulated content of type oid, signed by signer_cert
 * (DER) with signer_key: one SignerInfo (issuerAndSerialNumber, SHA-256, signed attributes
 * contentType / messageDigest / signingTime), the signer's certificate included.  DER
 * ContentInfo; `openssl cms -verify` accepts it. */
int be_cms_sign(const gnutls_datum_t *content, const char *oid,
		const gnutls_datum_t *signer_cert, gnutls_privkey_t signer_key,
		gnutls_datum_t *out, struct be_err *e);

/* RFC 5958 AsymmetricKeyPackage holding key as one OneAsymmetricKey (version v1 /
 * PrivateKeyInfo).  *out is secret: caller be_datum_wipe(). */
int be_cms_key_package(gnutls_x509_privkey_t key, gnutls_datum_t *out, struct be_err *e);

/* ---------------------------------------------------------------- ZIP bundle (be_zip.c) */

struct be_zip_entry {
	const char *name;		/* file name inside the archive, ASCII, no '/' prefix */
	const unsigned char *data;
	size_t len;
};

/* A ZIP archive (APPNOTE 6.3.x, "stored" entries, CRC-32, DOS timestamps of now) holding the
 * n entries; `unzip` extracts it.  *out malloc()ed; when it holds key material the caller
 * wipes it (be_memzero) before free(). */
int be_zip_bundle(const struct be_zip_entry *entries, size_t n, unsigned char **out,
		  size_t *out_len, struct be_err *e);

#endif
