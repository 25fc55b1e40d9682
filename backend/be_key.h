/*
 * Key generation and the encodings certgate emits: certificates as PEM / DER / PKCS#7
 * certs-only, private keys as PEM / DER in PKCS#1 (SEC1 for EC) or PKCS#8, and PKCS#12.
 */
#ifndef CERTGATE_BE_KEY_H
#define CERTGATE_BE_KEY_H

#include "be.h"

enum be_key_syntax {
	BE_KEY_PKCS8 = 0,	/* PrivateKeyInfo (RFC 5208 / 5958) */
	BE_KEY_PKCS1,		/* RSAPrivateKey (RFC 8017) or ECPrivateKey (RFC 5915) */
};

/* The crypto library's health.  Once GnuTLS fails to draw random numbers (its system entropy
 * source failed) it stays in its error state for the life of the process: every random draw,
 * signature and TLS handshake fails, and a key generation under way never ends (its prime
 * search gets the same "random" bytes forever).  certgate cannot repair that; it refuses
 * what needs the library with BE_E_UNAVAILABLE (503) until it is restarted.
 *
 * be_crypto_check: 0 when the library draws random numbers (one byte, from this thread's
 * generator), else BE_E_UNAVAILABLE with a sentence naming the failure.  A library in its
 * error state is recorded for good (be_crypto_failed); a thread's generator that could not
 * be seeded is not (GnuTLS seeds it again at its next draw).  Thread-safe. */
int be_crypto_check(struct be_err *e);
/* True once a failure was recorded (an atomic read, no probe).  Thread-safe. */
bool be_crypto_failed(void);

/* Generates a key pair of the given spec with the CSPRNG.  *out is a new key the caller
 * frees with gnutls_x509_privkey_deinit() (GnuTLS wipes it).  BE_E_POLICY for a spec
 * certgate does not generate (RSA outside 2048..8192 bits or not a multiple of 8, an EC
 * size other than 256/384/521), BE_E_CRYPTO on library failure, BE_E_UNAVAILABLE when the crypto library is in its error
 * state (be_crypto_check; checked before and after).  RSA keys have e = 65537. */
int be_key_generate(const struct be_keyspec *spec, gnutls_x509_privkey_t *out,
		    struct be_err *e);

/* Exports a private key, unencrypted.  pem selects PEM text ("PRIVATE KEY",
 * "RSA PRIVATE KEY", "EC PRIVATE KEY") over DER.  Ed25519 has no PKCS#1 form: BE_E_POLICY.
 * *out is gnutls_malloc()ed; the caller releases it with be_datum_wipe(). */
int be_key_export(gnutls_x509_privkey_t key, enum be_key_syntax syntax, bool pem,
		  gnutls_datum_t *out, struct be_err *e);

/* The public half of key as a new gnutls_pubkey_t; caller frees with gnutls_pubkey_deinit. */
int be_key_pubkey(gnutls_x509_privkey_t key, gnutls_pubkey_t *out, struct be_err *e);

/* Concatenated PEM "CERTIFICATE" blocks of n DER certificates, in the given order.
 * *out is gnutls_malloc()ed, NUL-terminated (size excludes the NUL); caller be_datum_free().
 * BE_E_INTERNAL for n == 0 or an input that is not a DER certificate, BE_E_TOOBIG for
 * n > 16. */
int be_encode_pem_certs(const gnutls_datum_t *ders, size_t n, gnutls_datum_t *out,
			struct be_err *e);

/* A degenerate, certs-only PKCS#7 / CMS SignedData (RFC 5652 5.1, RFC 7030 4.1.3) holding
 * the n DER certificates: version 1, eContentType id-data, eContent absent, no signers.
 * Definite minimal lengths; the certificates keep the given order (not sorted as a DER
 * SET OF would be), byte for byte what `openssl crl2pkcs7 -nocrl` writes.  *out
 * gnutls_malloc()ed; caller be_datum_free().  Errors as be_encode_pem_certs. */
int be_encode_pkcs7_certs(const gnutls_datum_t *ders, size_t n, gnutls_datum_t *out,
			  struct be_err *e);

/* The PKCS#12 iteration count be_issue uses, when the profile sets none, for a file locked
 * with certgate's own random password (20 characters of A-Z a-z 0-9, about 119 bits): key
 * stretching adds nothing to such a password, so the file costs what OpenSSL 3's default
 * costs.  A password the client chose gets the profile's count (10000 unless set). */
#define BE_P12_ITERATIONS_RANDOM_PW 2048

struct be_p12_params {
	const char *password;		/* required, UTF-8, NFC, 1..256 bytes */
	const char *friendly_name;	/* may be NULL; else 1..255 BMP characters, UTF-8 */
	unsigned iterations;		/* PBKDF2 and MAC iterations (the profile's
					 * pkcs12.iterations); 0: 10000; below 1000: 1000 */
};

/* PKCS#12 (RFC 7292) with the key in a shrouded bag and the certificate plus chain in an
 * encrypted bag, PBES2 with AES-256-CBC and PBKDF2-HMAC-SHA256 (16-octet salts), HMAC-SHA256
 * MAC, every derivation with params->iterations; opens with `openssl pkcs12` (OpenSSL 3
 * without legacy) and GnuTLS.  cert is the end-entity DER, chain the
 * n_chain CA certificates (issuing CA first, at most 15).  The key and the leaf carry the
 * same localKeyId (SHA-1 of the public key) and the friendly name.  *out gnutls_malloc()ed
 * DER; caller be_datum_free().  BE_E_POLICY for an empty password, BE_E_MALFORMED for a
 * password or friendly name that is not acceptable text (the sentence says why),
 * BE_E_TOOBIG for a long password or chain, BE_E_INTERNAL when cert is not key's,
 * BE_E_POLICY for more than 10000000 iterations.  Costs three key derivations: about
 * 3.5 ms of CPU at the default 10000 iterations (be_encode.c has the figures). */
int be_encode_pkcs12(gnutls_x509_privkey_t key, const gnutls_datum_t *cert,
		     const gnutls_datum_t *chain, size_t n_chain,
		     const struct be_p12_params *params, gnutls_datum_t *out, struct be_err *e);

/* A random password of len characters from A-Z a-z 0-9 (len < bufsize), uniformly chosen.
 * Returns 0, BE_E_INTERNAL when buf is NULL or len >= bufsize, or BE_E_CRYPTO. */
int be_random_password(char *buf, size_t bufsize, size_t len);

#endif
