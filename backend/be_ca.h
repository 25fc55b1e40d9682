/*
 * Certification authorities: the CA certificate, its chain and its signing key (a PEM file
 * or a PKCS#11 URL), and signing a to-be-signed certificate (RFC 5280 4.1).
 */
#ifndef CERTGATE_BE_CA_H
#define CERTGATE_BE_CA_H

#include <jansson.h>

#include "be.h"

struct be_ca {
	char *name;			/* configuration name */
	gnutls_x509_crt_t crt;		/* the CA certificate */
	gnutls_privkey_t key;		/* its signing key */
	gnutls_datum_t *chain;		/* DER: [0] this CA, then each issuer up to the root */
	size_t n_chain;
	char id[65];			/* subjectKeyIdentifier, lower-case hex: the store's issuer */
	unsigned char ski[32];
	size_t ski_len;
	time_t not_after;
	gnutls_digest_algorithm_t hash;	/* signature hash (SHA-256 unless configured) */
	gnutls_x509_trust_list_t trust;	/* anchored at this CA: verifies what it issued */
	unsigned crl_shards;		/* CRL partitions (be_crl_shard); 1 = one complete CRL */
};

/* Loads the CA named name from its configuration object
 * {"certificate": FILE, "key": FILE | "pkcs11:...", "chain": FILE (optional),
 *  "hash": "sha256" | "sha384" | "sha512" (optional), "crl_shards": 1..1024 (optional)};
 * relative paths are under basedir.
 * Checks the key matches the certificate and that the certificate is a CA that may sign
 * certificates (basicConstraints cA, keyUsage keyCertSign).  *out: caller be_ca_free(). */
int be_ca_load(const char *name, const json_t *conf, const char *path, const char *basedir,
	       struct be_ca **out, struct be_err *e);
void be_ca_free(struct be_ca *ca);

/* What a certificate will contain; everything here was decided by the backend. */
struct be_tbs {
	unsigned char serial[20];
	size_t serial_len;
	const struct be_name *subject;
	const struct be_sans *sans;		/* may be NULL or empty */
	gnutls_pubkey_t pubkey;			/* borrowed */
	time_t not_before, not_after;
	unsigned key_usage;			/* GNUTLS_KEY_* bits; 0 = no extension */
	char *const *eku;			/* dotted OIDs */
	size_t n_eku;
	bool is_ca;
	int path_len;				/* -1 = unlimited / absent */
	bool ocsp_nocheck;			/* RFC 6960 4.2.2.2.1 id-pkix-ocsp-nocheck */
	/* Revocation pointers from the profile (borrowed, may be NULL): CRLDistributionPoints
	 * (RFC 5280 4.2.1.13) with crl_url, or its partition for this serial when the CA has
	 * crl_shards > 1 (be_crl_shard_url); authorityInfoAccess (4.2.2.1) with OCSP and
	 * caIssuers. */
	const char *crl_url, *ocsp_url, *ca_issuers_url;
};

/* Signs tbs with ca; be_issue is its one caller (DESIGN.md: every certificate certgate
 * signs goes through be_issue, whatever the issuer, be_issuer.h).  Adds subjectKeyIdentifier (RFC 5280 4.2.1.2 method 1) and
 * authorityKeyIdentifier (4.2.1.1) = the CA's SKI; basicConstraints critical; keyUsage
 * critical; subjectAltName critical when the subject is empty (4.2.1.6).
 * *der is gnutls_malloc()ed; caller be_datum_free(). */
int be_ca_sign(const struct be_ca *ca, const struct be_tbs *tbs, gnutls_datum_t *der,
	       struct be_err *e);

/* Verifies that der is a certificate ca issued (signature and chain), valid at now.
 * BE_E_FORBIDDEN with a sentence otherwise.  *crt (optional) receives the parsed certificate,
 * caller gnutls_x509_crt_deinit(). */
int be_ca_verify(const struct be_ca *ca, const gnutls_datum_t *der, time_t now,
		 gnutls_x509_crt_t *crt, struct be_err *e);

/* Fills buf (>= 16 octets) with a fresh serial of exactly 16 octets (RFC 5280 4.1.2.2:
 * positive, at most 20 octets): 0x40 (so the DER INTEGER is positive and minimal), the time in
 * milliseconds since 1970 as 6 big-endian octets, then 9 octets (72 bits) from the CSPRNG (at
 * least 64 bits per CA/B BR 7.1).  The time prefix makes serials ascend, so the store's serial
 * indexes grow at their end instead of touching a random page per certificate; uniqueness
 * rests on the random octets and the store's UNIQUE (issuer, serial). */
#define BE_SERIAL_TIME_OCTETS	6
#define BE_SERIAL_RANDOM_OCTETS	9
int be_serial_new(unsigned char *buf, size_t *len, struct be_err *e);
/* Lower-case hex of a serial (no leading zero octets). buf >= 41 bytes. */
void be_serial_hex(const unsigned char *serial, size_t len, char *buf, size_t buflen);
/* Decimal string of a serial (the se.SAM API shows serials in decimal). buf >= 50 bytes. */
void be_serial_dec(const unsigned char *serial, size_t len, char *buf, size_t buflen);

/* RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING of pub. */
int be_pubkey_key_id(gnutls_pubkey_t pub, unsigned char out[20], struct be_err *e);

/* Reads a whole file (at most max bytes) into *out (malloc()ed, NUL appended). */
int be_file_read(const char *path, size_t max, unsigned char **out, size_t *len,
		 struct be_err *e);
/* Joins basedir and path unless path is absolute; caller frees. */
char *be_path_join(const char *basedir, const char *path);

#endif
