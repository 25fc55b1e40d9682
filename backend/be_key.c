/*
 * Server-side key generation, private key export (PKCS#8, PKCS#1 / SEC1) and random
 * passwords.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "be_key.h"

/* RSA sizes certgate generates.  Parsing accepts 1024..16384 (be_keyspec.c); a profile
 * narrows that further.  Below 2048 is too weak to create today, and above 8192 a single
 * generation takes long enough to tie up a worker. */
#define GEN_RSA_BITS_MIN 2048
#define GEN_RSA_BITS_MAX 8192

/* 0, or GNUTLS_E_LIB_IN_ERROR_STATE once seen: the library does not come back. */
static atomic_int crypto_fault;

int
be_crypto_check(struct be_err *e)
{
	unsigned char b = 0;
	int r = atomic_load(&crypto_fault);

	if (r != 0)
		goto failed;
	/* This thread's generator: GnuTLS seeds one per thread at its first draw. */
	r = gnutls_rnd(GNUTLS_RND_NONCE, &b, sizeof(b));
	if (r >= 0)
		return BE_OK;
	if (r != GNUTLS_E_LIB_IN_ERROR_STATE) {
		/* The system's entropy source failed this seeding: the library stays usable
		 * and seeds again at the next draw; only this request is refused. */
		return be_err_set(e, BE_E_UNAVAILABLE, "crypto failure: the random generator "
				  "could not be seeded (%s)", gnutls_strerror(r));
	}
	atomic_store(&crypto_fault, r);
failed:
	return be_err_set(e, BE_E_UNAVAILABLE, "crypto failure: the crypto library is in its "
			  "error state (%s) and refuses all work until certgate is restarted",
			  gnutls_strerror(r));
}

bool
be_crypto_failed(void)
{
	return atomic_load(&crypto_fault) != 0;
}

int
be_key_generate(const struct be_keyspec *spec, gnutls_x509_privkey_t *out, struct be_err *e)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_pk_algorithm_t pk = GNUTLS_PK_UNKNOWN;
	gnutls_ecc_curve_t curve;
	unsigned bits = 0;
	char name[32];
	int r, rc = BE_OK;

	*out = NULL;
	switch (spec != NULL ? spec->alg : BE_KEY_NONE) {
	case BE_KEY_RSA:
		if (spec->bits < GEN_RSA_BITS_MIN || spec->bits > GEN_RSA_BITS_MAX ||
		    spec->bits % 8 != 0) {
			rc = be_err_set(e, BE_E_POLICY,
					"certgate generates RSA keys of %u to %u bits, not %u",
					GEN_RSA_BITS_MIN, GEN_RSA_BITS_MAX, spec->bits);
			goto out;
		}
		/* GnuTLS generates RSA keys (FIPS 186-4 primes) with e = 65537. */
		pk = GNUTLS_PK_RSA;
		bits = spec->bits;
		break;
	case BE_KEY_EC:
		curve = be_keyspec_curve(spec);
		if (curve == GNUTLS_ECC_CURVE_INVALID) {
			rc = be_err_set(e, BE_E_POLICY,
					"certgate generates EC keys on P-256, P-384 and P-521, not %s",
					be_keyspec_name(spec, name, sizeof(name)));
			goto out;
		}
		pk = GNUTLS_PK_ECDSA;
		bits = GNUTLS_CURVE_TO_BITS(curve);
		break;
	case BE_KEY_ED25519:
		pk = GNUTLS_PK_EDDSA_ED25519;
		bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_ED25519);
		break;
	case BE_KEY_NONE:
	default:
		rc = be_err_set(e, BE_E_POLICY, "no key type to generate");
		goto out;
	}

	/* In its error state the library would search for primes forever. */
	if ((rc = be_crypto_check(e)) != BE_OK)
		goto out;
	r = gnutls_x509_privkey_init(&key);
	if (r < 0) {
		rc = be_err_set(e, BE_E_NOMEM, "key generation: %s", gnutls_strerror(r));
		goto out;
	}
	r = gnutls_x509_privkey_generate2(key, pk, bits, 0, NULL, 0);
	/* A draw that failed during the generation leaves a key made of bytes that were not
	 * random: never hand it out. */
	if ((rc = be_crypto_check(e)) != BE_OK)
		goto out;
	if (r < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "generating a %s key failed: %s",
				be_keyspec_name(spec, name, sizeof(name)), gnutls_strerror(r));
		goto out;
	}
	r = gnutls_x509_privkey_verify_params(key);
	if (r < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "the generated %s key is inconsistent: %s",
				be_keyspec_name(spec, name, sizeof(name)), gnutls_strerror(r));
		goto out;
	}
	*out = key;
	key = NULL;
out:
	gnutls_x509_privkey_deinit(key);
	return rc;
}

/* True when d is PEM text that begins and ends with the boundaries of label. */
static bool
pem_has_label(const gnutls_datum_t *d, const char *label)
{
	char begin[64], end[64];
	int nb, ne;
	bool ok = false;

	nb = snprintf(begin, sizeof(begin), "-----BEGIN %s-----\n", label);
	ne = snprintf(end, sizeof(end), "-----END %s-----\n", label);
	if (nb > 0 && ne > 0 && (size_t)nb < sizeof(begin) && (size_t)ne < sizeof(end) &&
	    d->data != NULL && d->size >= (size_t)nb + (size_t)ne)
		ok = memcmp(d->data, begin, (size_t)nb) == 0 &&
		     memcmp(d->data + d->size - (size_t)ne, end, (size_t)ne) == 0;
	return ok;
}

int
be_key_export(gnutls_x509_privkey_t key, enum be_key_syntax syntax, bool pem,
	      gnutls_datum_t *out, struct be_err *e)
{
	gnutls_datum_t d = { NULL, 0 };
	gnutls_x509_crt_fmt_t fmt = pem ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER;
	const char *label = NULL, *name;
	int pk, r, rc = BE_OK;

	out->data = NULL;
	out->size = 0;
	if (key == NULL) {
		rc = be_err_set(e, BE_E_INTERNAL, "no private key to export");
		goto out;
	}
	pk = gnutls_x509_privkey_get_pk_algorithm(key);
	switch (syntax) {
	case BE_KEY_PKCS8:
		/* RFC 5958 OneAsymmetricKey v1 (= RFC 5208 PrivateKeyInfo), unencrypted */
		label = "PRIVATE KEY";
		r = gnutls_x509_privkey_export2_pkcs8(key, fmt, NULL, GNUTLS_PKCS_PLAIN, &d);
		break;
	case BE_KEY_PKCS1:
		if (pk == GNUTLS_PK_RSA) {
			label = "RSA PRIVATE KEY";	/* RFC 8017 A.1.2 RSAPrivateKey */
		} else if (pk == GNUTLS_PK_ECDSA) {
			label = "EC PRIVATE KEY";	/* RFC 5915 ECPrivateKey */
		} else if (pk == GNUTLS_PK_EDDSA_ED25519) {
			rc = be_err_set(e, BE_E_POLICY,
					"Ed25519 keys have no PKCS#1 form; use PKCS#8");
			goto out;
		} else {
			name = pk > 0 ? gnutls_pk_algorithm_get_name((gnutls_pk_algorithm_t)pk)
				      : NULL;
			rc = be_err_set(e, BE_E_POLICY, "%s keys have no PKCS#1 form; use PKCS#8",
					name != NULL ? name : "these");
			goto out;
		}
		r = gnutls_x509_privkey_export2(key, fmt, &d);
		break;
	default:
		rc = be_err_set(e, BE_E_INTERNAL, "unknown private key syntax %d", (int)syntax);
		goto out;
	}
	if (r < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "exporting the private key failed: %s",
				gnutls_strerror(r));
		goto out;
	}
	if (pem ? !pem_has_label(&d, label) : (d.size < 2 || d.data[0] != 0x30)) {
		rc = be_err_set(e, BE_E_INTERNAL, "the exported private key is not a %s %s",
				pem ? "PEM" : "DER", label);
		goto out;
	}
	*out = d;
	d.data = NULL;
	d.size = 0;
out:
	be_datum_wipe(&d);
	return rc;
}

int
be_key_pubkey(gnutls_x509_privkey_t key, gnutls_pubkey_t *out, struct be_err *e)
{
	gnutls_privkey_t priv = NULL;
	gnutls_pubkey_t pub = NULL;
	int r, rc = BE_OK;

	*out = NULL;
	if (key == NULL) {
		rc = be_err_set(e, BE_E_INTERNAL, "no private key given");
		goto out;
	}
	r = gnutls_privkey_init(&priv);
	if (r >= 0)
		r = gnutls_pubkey_init(&pub);
	if (r < 0) {
		rc = be_err_set(e, BE_E_NOMEM, "public key: %s", gnutls_strerror(r));
		goto out;
	}
	/* Borrows key: without GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE priv does not free it. */
	r = gnutls_privkey_import_x509(priv, key, 0);
	if (r >= 0)
		r = gnutls_pubkey_import_privkey(pub, priv, 0, 0);
	if (r < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "deriving the public key failed: %s",
				gnutls_strerror(r));
		goto out;
	}
	*out = pub;
	pub = NULL;
out:
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(priv);
	return rc;
}

static const char password_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

_Static_assert(sizeof(password_alphabet) - 1 == 62, "password alphabet has 62 characters");

/* Bytes at or above this are rejected so that byte % 62 is uniform (248 = 4 * 62). */
#define PASSWORD_BYTE_LIMIT (256 - 256 % (sizeof(password_alphabet) - 1))

int
be_random_password(char *buf, size_t bufsize, size_t len)
{
	unsigned char rnd[64];
	size_t i = 0, j;
	int rc = BE_OK;

	if (buf == NULL || len >= bufsize) {
		rc = BE_E_INTERNAL;
		goto out;
	}
	while (i < len) {
		if (gnutls_rnd(GNUTLS_RND_KEY, rnd, sizeof(rnd)) < 0) {
			rc = be_crypto_check(NULL) != BE_OK ? BE_E_UNAVAILABLE : BE_E_CRYPTO;
			goto out;
		}
		for (j = 0; j < sizeof(rnd) && i < len; j++) {
			if (rnd[j] < PASSWORD_BYTE_LIMIT)
				buf[i++] = password_alphabet[rnd[j] % (sizeof(password_alphabet) - 1)];
		}
	}
	buf[len] = '\0';
out:
	be_memzero(rnd, sizeof(rnd));
	if (rc != BE_OK && buf != NULL && bufsize > 0)
		be_memzero(buf, bufsize);
	return rc;
}
