/*
 * CMS (RFC 5652) that GnuTLS does not write: EnvelopedData to a recipient certificate or a
 * pre-shared key-encryption key, SignedData with encapsulated content of any type, the
 * RFC 5958 AsymmetricKeyPackage, and a ZIP bundle.  Built with libtasn1 from backend/cms.asn;
 * the crypto GnuTLS 3.7 lacks (RSAES-OAEP, ECDH, AES key wrap) comes from nettle (be_cms.c).
 * Used by the EST serverkeygen reply (RFC 7030 4.4.2) and the enrollment-profile API's
 * cert_encrypted formats.  Everything here opens with `openssl cms -decrypt` using the
 * recipient's key (tests/test-be-cms.c).  `openssl smime -decrypt` is OpenSSL's PKCS#7
 * (RFC 2315) reader: it opens only BE_CMS_KT_PKCS1 envelopes (it fails on OAEP and ECDH
 * from `openssl cms -encrypt` just the same), so clients known to use it need KT_PKCS1.
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
 * DER; strict: one PEM block and nothing after it, DER that re-encodes identically, at most
 * 64 KiB), for use as a recipient: RSA of at least 2048 bits (key transport) or EC on
 * P-256/P-384/P-521 (key agreement); when the certificate has a keyUsage extension it must
 * allow keyEncipherment (RSA) or keyAgreement (EC).  Its signature and chain are not
 * checked (it names a key to encrypt to, nothing more).  BE_E_MALFORMED for bytes that are
 * not a certificate, BE_E_TOOBIG, BE_E_POLICY (with a sentence naming the reason) for
 * Ed25519, other curves (secp256k1, ...), small RSA, keyUsage, and expired or
 * not-yet-valid certificates.  *out: caller be_cms_recipient_free(); NULL on failure. */
int be_cms_recipient_parse(const unsigned char *data, size_t len,
			   struct be_cms_recipient **out, struct be_err *e);
void be_cms_recipient_free(struct be_cms_recipient *r);

enum be_cms_kt {
	BE_CMS_KT_OAEP = 0,	/* RSAES-OAEP, SHA-256, MGF1-SHA-256 (RFC 8017, RFC 4055) */
	BE_CMS_KT_PKCS1,	/* RSAES-PKCS1-v1_5 (for old clients) */
};

/* EnvelopedData (RFC 5652 6) holding content (of content type oid, e.g. BE_OID_DATA or
 * BE_OID_KEY_PACKAGE; at most 16 MiB, may be empty) for recipient r, as a DER ContentInfo.
 * Content encryption AES-256-CBC with a random IV.  RSA recipients: KeyTransRecipientInfo
 * (issuerAndSerialNumber) with kt; EnvelopedData version 0.  EC recipients (kt ignored):
 * KeyAgreeRecipientInfo with an ephemeral key on the recipient's curve (originatorKey,
 * parameters absent), dhSinglePass-stdDH-sha256kdf-scheme (RFC 5753 7.2 ECC-CMS-SharedInfo,
 * X9.63 KDF with SHA-256, no ukm) and id-aes256-wrap (RFC 3394), RecipientEncryptedKey by
 * issuerAndSerialNumber; version 2.  The content-encryption key, KEK, shared secret and
 * ephemeral key are wiped.  *out gnutls_malloc()ed; caller be_datum_free().  Errors:
 * BE_E_TOOBIG, BE_E_CRYPTO, BE_E_INTERNAL (bad arguments). */
int be_cms_envelope(const gnutls_datum_t *content, const char *oid,
		    const struct be_cms_recipient *r, enum be_cms_kt kt, gnutls_datum_t *out,
		    struct be_err *e);

/* EnvelopedData to a pre-shared key-encryption key (RFC 5652 6.2.3 KEKRecipientInfo,
 * version 4, id-aes128/192/256-wrap by the key's length 16/24/32, parameters absent),
 * kek_id (1..1024 octets) being the KEKIdentifier keyIdentifier (RFC 7030 4.4.1.1
 * DecryptKeyIdentifier); EnvelopedData version 2.  Opens with `openssl cms -decrypt
 * -secretkey HEX -secretkeyid HEX`.  BE_E_CONFIG for a KEK of another length,
 * BE_E_MALFORMED for an empty kek_id, BE_E_TOOBIG; otherwise as be_cms_envelope. */
int be_cms_envelope_kek(const gnutls_datum_t *content, const char *oid,
			const unsigned char *kek, size_t kek_len, const unsigned char *kek_id,
			size_t kek_id_len, gnutls_datum_t *out, struct be_err *e);

/* SignedData (RFC 5652 5) with encapsulated content of type oid (eContent present; version
 * 3, or 1 for id-data), signed by signer_cert (DER) with signer_key (borrowed; a file or
 * PKCS#11 key): one SignerInfo (version 1, issuerAndSerialNumber, signed attributes
 * contentType / signingTime / messageDigest), the signer's certificate included.  Digest and
 * signature by key type: RSA PKCS#1 v1.5 with SHA-256; ECDSA with SHA-256 / SHA-384 /
 * SHA-512 for P-256 / P-384 / P-521; Ed25519 with SHA-512 as the digest (RFC 8419 3.1).
 * DER ContentInfo; `openssl cms -verify -binary` accepts RSA and ECDSA ones (OpenSSL 3.0
 * has no CMS Ed25519 at all; GnuTLS verifies those).  OpenSSL's default signer purpose
 * wants keyUsage digitalSignature: a CA certificate with only keyCertSign / cRLSign (as
 * `certgate init` makes) verifies with `-purpose any`.  *out gnutls_malloc()ed; caller
 * be_datum_free().  BE_E_POLICY for other key types, BE_E_INTERNAL when signer_key is not
 * the certificate's key. */
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

/* A ZIP archive (APPNOTE 6.3.x, "stored" entries, CRC-32, DOS timestamps of now in UTC,
 * Unix mode 0600, no ZIP64) holding the n (1..1024) entries in order; `unzip` extracts it.
 * Names: printable ASCII, at most 255, relative, "/" only between non-empty components
 * other than "." and "..", no "\", no duplicates (else BE_E_INTERNAL: names are ours).
 * BE_E_TOOBIG near 4 GiB.  *out malloc()ed; when it holds key material the caller wipes it
 * (be_memzero) before free(). */
int be_zip_bundle(const struct be_zip_entry *entries, size_t n, unsigned char **out,
		  size_t *out_len, struct be_err *e);

#endif
