/*
 * Key specs: the names front ends give key types, and the spec of a public key.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "be.h"

#define KEYSPEC_NAME_MAX 32	/* longer input is not a key type name */
#define RSA_BITS_MIN 1024
#define RSA_BITS_MAX 16384

/* Whole-name spellings that do not follow <prefix>[-_]<number>. */
static const struct {
	const char *name;
	enum be_key_alg alg;
	unsigned bits;
} keyspec_aliases[] = {
	{ "prime256v1", BE_KEY_EC, 256 },	/* ANSI X9.62 / OpenSSL */
	{ "secp256r1", BE_KEY_EC, 256 },	/* SEC 2 */
	{ "secp384r1", BE_KEY_EC, 384 },
	{ "secp521r1", BE_KEY_EC, 521 },
};

/* <prefix>[-_]<number>, matched after lower-casing. */
static const struct {
	const char *prefix;
	enum be_key_alg alg;
} keyspec_prefixes[] = {
	{ "rsa", BE_KEY_RSA },
	{ "ec", BE_KEY_EC },
	{ "ed", BE_KEY_ED25519 },
	{ "p", BE_KEY_EC },
};

static bool
ec_bits_valid(unsigned bits)
{
	return bits == 256 || bits == 384 || bits == 521;
}

/* Reads 1 to 5 decimal digits without a leading zero that make up all of s. */
static bool
parse_number(const char *s, unsigned *out)
{
	unsigned v = 0;
	size_t i;

	if (s[0] < '1' || s[0] > '9')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 5 || s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return true;
}

int
be_keyspec_parse(const char *s, struct be_keyspec *out)
{
	char low[KEYSPEC_NAME_MAX + 1];
	const char *rest;
	size_t i, n, plen = 0;
	unsigned bits;
	int rc = BE_E_MALFORMED;

	out->alg = BE_KEY_NONE;
	out->bits = 0;
	if (s == NULL)
		goto out;
	n = strlen(s);
	if (n == 0 || n > KEYSPEC_NAME_MAX)
		goto out;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			   c == '_'))
			goto out;
		low[i] = (char)c;
	}
	low[n] = '\0';

	for (i = 0; i < sizeof(keyspec_aliases) / sizeof(keyspec_aliases[0]); i++) {
		if (strcmp(low, keyspec_aliases[i].name) == 0) {
			out->alg = keyspec_aliases[i].alg;
			out->bits = keyspec_aliases[i].bits;
			rc = BE_OK;
			goto out;
		}
	}

	for (i = 0; i < sizeof(keyspec_prefixes) / sizeof(keyspec_prefixes[0]); i++) {
		plen = strlen(keyspec_prefixes[i].prefix);
		if (strncmp(low, keyspec_prefixes[i].prefix, plen) == 0)
			break;
	}
	if (i == sizeof(keyspec_prefixes) / sizeof(keyspec_prefixes[0]))
		goto out;
	rest = low + plen;
	if (*rest == '-' || *rest == '_')
		rest++;
	if (!parse_number(rest, &bits))
		goto out;

	switch (keyspec_prefixes[i].alg) {
	case BE_KEY_RSA:
		if (bits < RSA_BITS_MIN || bits > RSA_BITS_MAX || bits % 8 != 0)
			goto out;
		break;
	case BE_KEY_EC:
		if (!ec_bits_valid(bits))
			goto out;
		break;
	case BE_KEY_ED25519:
		if (bits != 25519)
			goto out;
		bits = 256;
		break;
	case BE_KEY_NONE:
	default:
		goto out;
	}
	out->alg = keyspec_prefixes[i].alg;
	out->bits = bits;
	rc = BE_OK;
out:
	return rc;
}

const char *
be_keyspec_name(const struct be_keyspec *k, char *buf, size_t len)
{
	if (buf == NULL || len == 0)
		goto out;
	switch (k != NULL ? k->alg : BE_KEY_NONE) {
	case BE_KEY_RSA:
		snprintf(buf, len, "rsa%u", k->bits);
		break;
	case BE_KEY_EC:
		snprintf(buf, len, "p%u", k->bits);
		break;
	case BE_KEY_ED25519:
		snprintf(buf, len, "ed25519");
		break;
	case BE_KEY_NONE:
	default:
		snprintf(buf, len, "none");
		break;
	}
out:
	return buf;
}

int
be_keyspec_of_pubkey(gnutls_pubkey_t pub, struct be_keyspec *out, struct be_err *e)
{
	gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
	gnutls_datum_t x = { NULL, 0 }, y = { NULL, 0 };
	const char *name;
	unsigned bits = 0;
	int pk, r, rc = BE_OK;

	out->alg = BE_KEY_NONE;
	out->bits = 0;
	if (pub == NULL) {
		rc = be_err_set(e, BE_E_INTERNAL, "no public key given");
		goto out;
	}
	pk = gnutls_pubkey_get_pk_algorithm(pub, &bits);
	if (pk < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot read the public key algorithm: %s",
				gnutls_strerror(pk));
		goto out;
	}
	switch (pk) {
	case GNUTLS_PK_RSA:
		if (bits < RSA_BITS_MIN || bits > RSA_BITS_MAX) {
			rc = be_err_set(e, BE_E_POLICY,
					"RSA key of %u bits is outside %u to %u bits", bits,
					RSA_BITS_MIN, RSA_BITS_MAX);
			goto out;
		}
		out->alg = BE_KEY_RSA;
		out->bits = bits;
		break;
	case GNUTLS_PK_RSA_PSS:
		rc = be_err_set(e, BE_E_POLICY,
				"RSA-PSS public keys (id-RSASSA-PSS) are not supported; "
				"use an rsaEncryption RSA key");
		goto out;
	case GNUTLS_PK_ECDSA:
		r = gnutls_pubkey_export_ecc_raw2(pub, &curve, &x, &y, 0);
		if (r < 0) {
			rc = be_err_set(e, BE_E_CRYPTO, "cannot read the EC public key: %s",
					gnutls_strerror(r));
			goto out;
		}
		switch (curve) {
		case GNUTLS_ECC_CURVE_SECP256R1:
			out->bits = 256;
			break;
		case GNUTLS_ECC_CURVE_SECP384R1:
			out->bits = 384;
			break;
		case GNUTLS_ECC_CURVE_SECP521R1:
			out->bits = 521;
			break;
		default:
			name = gnutls_ecc_curve_get_name(curve);
			rc = be_err_set(e, BE_E_POLICY,
					"EC curve %s is not supported; use P-256, P-384 or P-521",
					name != NULL ? name : "(unknown)");
			goto out;
		}
		out->alg = BE_KEY_EC;
		break;
	case GNUTLS_PK_EDDSA_ED25519:
		out->alg = BE_KEY_ED25519;
		out->bits = 256;
		break;
	default:
		name = gnutls_pk_algorithm_get_name((gnutls_pk_algorithm_t)pk);
		rc = be_err_set(e, BE_E_POLICY,
				"%s public keys are not supported; use RSA, EC P-256/P-384/P-521 "
				"or Ed25519", name != NULL ? name : "these");
		goto out;
	}
out:
	be_datum_free(&x);
	be_datum_free(&y);
	if (rc != BE_OK) {
		out->alg = BE_KEY_NONE;
		out->bits = 0;
	}
	return rc;
}

bool
be_keyspec_equal(const struct be_keyspec *a, const struct be_keyspec *b)
{
	if (a == NULL || b == NULL)
		return a == b;	/* two absent specs are equal, one absent is not */
	return a->alg == b->alg && a->bits == b->bits;
}

gnutls_ecc_curve_t
be_keyspec_curve(const struct be_keyspec *k)
{
	gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;

	if (k != NULL && k->alg == BE_KEY_EC) {
		if (k->bits == 256)
			curve = GNUTLS_ECC_CURVE_SECP256R1;
		else if (k->bits == 384)
			curve = GNUTLS_ECC_CURVE_SECP384R1;
		else if (k->bits == 521)
			curve = GNUTLS_ECC_CURVE_SECP521R1;
	}
	return curve;
}
