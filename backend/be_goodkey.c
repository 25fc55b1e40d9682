/*
 * Good keys: the key-size floor and the refusal of known-weak public keys (be_goodkey.h).
 *
 * The RSA checks follow the list of Let's Encrypt Boulder's goodkey package (even modulus,
 * small prime factors up to 751, the ROCA fingerprint, Fermat factoring in a bounded number
 * of rounds, a blocklist of SubjectPublicKeyInfo digests); the bignum work is GMP's, the EC
 * point check nettle's (ecc_point_set tests the curve equation).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmp.h>
#include <nettle/ecc.h>
#include <nettle/ecc-curve.h>

#include "be_ca.h"
#include "be_goodkey.h"
#include "be_json.h"

#define C BE_E_CONFIG
#define SMALL_PRIME_MAX 751		/* Boulder: the product of the primes below 752 */
#define ROCA_PRIME_MAX 167		/* the 38 odd primes of the ROCA fingerprint */
#define ROCA_GENERATOR 65537
#define SHA256_LEN 32

struct be_goodkey {
	unsigned char *blocked;		/* n sorted SHA-256 digests of SPKI DER */
	size_t n;
	unsigned fermat_rounds;
};

/* ---------------------------------------------------------------- the floor */

int
be_goodkey_spec_check(const struct be_keyspec *spec, const char *what, struct be_err *e)
{
	char name[24];

	switch (spec->alg) {
	case BE_KEY_RSA:
		if (spec->bits < BE_GOODKEY_RSA_MIN_BITS)
			return be_err_set(e, C, "%s: %s: RSA keys below %u bits are refused whatever "
					  "a profile says (certgate.json(5) KEYS CERTGATE CERTIFIES)",
					  what, be_keyspec_name(spec, name, sizeof(name)),
					  BE_GOODKEY_RSA_MIN_BITS);
		if (spec->bits > BE_GOODKEY_RSA_MAX_BITS)
			return be_err_set(e, C, "%s: %s: RSA keys above %u bits are not certified",
					  what, be_keyspec_name(spec, name, sizeof(name)),
					  BE_GOODKEY_RSA_MAX_BITS);
		return BE_OK;
	case BE_KEY_EC:
		if (spec->bits == 256 || spec->bits == 384 || spec->bits == 521)
			return BE_OK;
		return be_err_set(e, C, "%s: EC keys are P-256, P-384 or P-521 only", what);
	case BE_KEY_ED25519:
		return BE_OK;
	case BE_KEY_NONE:
	default:
		return be_err_set(e, C, "%s: not a key type certgate certifies", what);
	}
}

/* ---------------------------------------------------------------- blocklist */

static int
digest_cmp(const void *a, const void *b)
{
	return memcmp(a, b, SHA256_LEN);
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Appends the digests of one file (text, len bytes) to gk->blocked (capacity *cap). */
static int
blocklist_parse(struct be_goodkey *gk, size_t *cap, const unsigned char *text, size_t len,
		const char *what, const char *file, struct be_err *e)
{
	size_t pos = 0, line = 0, end, i;
	unsigned char *grown;
	int hi, lo;

	while (pos < len) {
		line++;
		for (end = pos; end < len && text[end] != '\n'; end++)
			;
		if (end > pos && text[end - 1] == '\r')
			end--;
		if (end == pos || text[pos] == '#')
			goto next;
		if (end - pos < 2 * SHA256_LEN ||
		    (end - pos > 2 * SHA256_LEN && text[pos + 2 * SHA256_LEN] != ' ' &&
		     text[pos + 2 * SHA256_LEN] != '\t'))
			return be_err_set(e, C, "%s: %s line %zu: not 64 hexadecimal digits (a "
					  "SubjectPublicKeyInfo SHA-256)", what, file, line);
		if (gk->n == *cap) {
			*cap = *cap ? 2 * *cap : 1024;
			if ((grown = realloc(gk->blocked, *cap * SHA256_LEN)) == NULL)
				return be_err_set(e, BE_E_NOMEM, "out of memory");
			gk->blocked = grown;
		}
		for (i = 0; i < SHA256_LEN; i++) {
			hi = hexval(text[pos + 2 * i]);
			lo = hexval(text[pos + 2 * i + 1]);
			if (hi < 0 || lo < 0)
				return be_err_set(e, C, "%s: %s line %zu: not 64 hexadecimal digits "
						  "(a SubjectPublicKeyInfo SHA-256)", what, file,
						  line);
			gk->blocked[gk->n * SHA256_LEN + i] = (unsigned char)(hi << 4 | lo);
		}
		gk->n++;
next:
		pos = end;
		while (pos < len && text[pos] != '\n')
			pos++;
		pos++;
	}
	return BE_OK;
}

int
be_goodkey_new(const json_t *conf, const char *basedir, struct be_goodkey **out,
	       struct be_err *e)
{
	static const char *const keys[] = { "blocklist", "fermat_rounds", NULL };
	struct be_goodkey *gk = NULL;
	struct be_err fe = { 0, "" };
	unsigned long long rounds = BE_GOODKEY_FERMAT_ROUNDS;
	unsigned char *text = NULL;
	char **files = NULL, *path = NULL, what[48];
	size_t n_files = 0, cap = 0, len = 0, i, w;
	int rc;

	*out = NULL;
	if ((gk = calloc(1, sizeof(*gk))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (conf != NULL) {
		if ((rc = be_json_keys(conf, "weak_keys", keys, C, e)) != BE_OK ||
		    (rc = be_json_uint(conf, "weak_keys", "fermat_rounds", false, 0,
				       BE_GOODKEY_FERMAT_MAX, &rounds, C, e)) != BE_OK ||
		    (rc = be_json_strv(conf, "weak_keys", "blocklist", false, &files, &n_files, C,
				       e)) != BE_OK)
			goto out;
	}
	gk->fermat_rounds = (unsigned)rounds;
	if (n_files > BE_GOODKEY_BLOCKLIST_FILES) {
		rc = be_err_set(e, C, "weak_keys.blocklist: at most %d files",
				BE_GOODKEY_BLOCKLIST_FILES);
		goto out;
	}
	for (i = 0; i < n_files; i++) {
		snprintf(what, sizeof(what), "weak_keys.blocklist[%zu]", i);
		if ((path = be_path_join(basedir, files[i])) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		be_err_clear(&fe);
		if (be_file_read(path, BE_GOODKEY_BLOCKLIST_MAX, &text, &len, &fe) != BE_OK) {
			rc = be_err_set(e, C, "%s: %s", what, fe.msg);
			goto out;
		}
		if ((rc = blocklist_parse(gk, &cap, text, len, what, files[i], e)) != BE_OK)
			goto out;
		free(text);
		text = NULL;
		free(path);
		path = NULL;
	}
	if (gk->n > 1) {
		qsort(gk->blocked, gk->n, SHA256_LEN, digest_cmp);
		for (i = 1, w = 1; i < gk->n; i++) {
			if (memcmp(gk->blocked + i * SHA256_LEN, gk->blocked + (w - 1) * SHA256_LEN,
				   SHA256_LEN) == 0)
				continue;
			if (w != i)
				memcpy(gk->blocked + w * SHA256_LEN, gk->blocked + i * SHA256_LEN,
				       SHA256_LEN);
			w++;
		}
		gk->n = w;
	}
	*out = gk;
	gk = NULL;
	rc = BE_OK;
out:
	free(text);
	free(path);
	be_strv_free(files, n_files);
	be_goodkey_free(gk);
	return rc;
}

void
be_goodkey_free(struct be_goodkey *gk)
{
	if (gk == NULL)
		return;
	free(gk->blocked);
	free(gk);
}

size_t
be_goodkey_blocked_count(const struct be_goodkey *gk)
{
	return gk != NULL ? gk->n : 0;
}

static int
check_blocklist(const struct be_goodkey *gk, gnutls_pubkey_t pub, const char *what,
		struct be_err *e)
{
	gnutls_datum_t der = { NULL, 0 };
	unsigned char md[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];
	int r, rc = BE_OK;

	if (gk == NULL || gk->n == 0)
		goto out;
	if ((r = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der)) < 0 ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, md) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "%s: cannot digest the public key", what);
		goto out;
	}
	if (bsearch(md, gk->blocked, gk->n, SHA256_LEN, digest_cmp) != NULL) {
		be_serial_hex(md, sizeof(md), hex, sizeof(hex));
		rc = be_err_set(e, BE_E_MALFORMED, "%s: a known-compromised key (SubjectPublicKey"
				"Info SHA-256 %s is on the weak_keys blocklist)", what, hex);
	}
out:
	be_datum_free(&der);
	return rc;
}

/* ---------------------------------------------------------------- RSA */

/* ROCA (Nemec, Sys, Svenda, Klinec, Matyas, CCS 2017): RSALib primes are k*M + (65537^a
 * mod M) with M a primorial, so n = pq is a power of 65537 modulo every prime of M.  The
 * published detector tests that for the odd primes to 167; a random modulus passes all 38
 * with probability about 2^-154. */
static bool
roca_fingerprint(const mpz_t n)
{
	unsigned long r, x, g, h, k;
	bool in;

	for (r = 3; r <= ROCA_PRIME_MAX; r += 2) {
		for (k = 3; k * k <= r && r % k != 0; k += 2)
			;
		if (k * k <= r)
			continue;	/* not prime */
		x = mpz_fdiv_ui(n, r);
		g = ROCA_GENERATOR % r;
		/* walk the cyclic subgroup <g> modulo r: at most r - 1 steps */
		in = false;
		h = 1;
		do {
			in = h == x;
			h = h * g % r;
		} while (!in && h != 1);
		if (!in)
			return false;
	}
	return true;
}

/* Fermat: n = a^2 - b^2 with a from ceil(sqrt(n)) upwards; finds p, q within rounds steps
 * when (p - q)^2 / (8 sqrt(n)) < rounds, i.e. when the primes share about their upper half
 * of bits.  Returns true when n factors (n a perfect square included). */
static bool
fermat_factors(const mpz_t n, unsigned rounds)
{
	mpz_t a, b2, rem;
	unsigned i;
	bool found = false;

	mpz_inits(a, b2, rem, NULL);
	mpz_sqrtrem(a, rem, n);
	if (mpz_sgn(rem) == 0) {
		found = true;
		goto out;
	}
	mpz_add_ui(a, a, 1);
	mpz_mul(b2, a, a);
	mpz_sub(b2, b2, n);
	for (i = 0; i < rounds && !found; i++) {
		found = mpz_perfect_square_p(b2) != 0;
		/* (a + 1)^2 - n = b2 + 2a + 1 */
		mpz_addmul_ui(b2, a, 2);
		mpz_add_ui(b2, b2, 1);
		mpz_add_ui(a, a, 1);
	}
out:
	mpz_clears(a, b2, rem, NULL);
	return found;
}

static int
check_rsa(const struct be_goodkey *gk, gnutls_pubkey_t pub, const char *what,
	  struct be_err *e)
{
	gnutls_datum_t m = { NULL, 0 }, ex = { NULL, 0 };
	mpz_t n, pe, small, g;
	size_t bits;
	unsigned long d;
	int r, rc = BE_OK;

	mpz_inits(n, pe, small, g, NULL);
	if ((r = gnutls_pubkey_export_rsa_raw2(pub, &m, &ex, 0)) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "%s: cannot read the RSA key: %s", what,
				gnutls_strerror(r));
		goto out;
	}
	mpz_import(n, m.size, 1, 1, 1, 0, m.data);
	mpz_import(pe, ex.size, 1, 1, 1, 0, ex.data);
	bits = mpz_sgn(n) > 0 ? mpz_sizeinbase(n, 2) : 0;
	if (bits < BE_GOODKEY_RSA_MIN_BITS || bits > BE_GOODKEY_RSA_MAX_BITS) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s: RSA modulus of %zu bits; certgate "
				"certifies %u to %u bits", what, bits, BE_GOODKEY_RSA_MIN_BITS,
				BE_GOODKEY_RSA_MAX_BITS);
		goto out;
	}
	/* CA/Browser Forum BR 6.1.6: odd, at least 3, SHOULD be 2^16+1 to 2^256-1; certgate
	 * makes the SHOULD a MUST. */
	if (mpz_even_p(pe) || mpz_cmp_ui(pe, 65537) < 0 || mpz_sizeinbase(pe, 2) > 256) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s: the RSA public exponent must be odd and "
				"from 65537 to 2^256-1 (CA/Browser Forum BR 6.1.6)", what);
		goto out;
	}
	if (mpz_even_p(n)) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s: weak key: the RSA modulus is even", what);
		goto out;
	}
	mpz_primorial_ui(small, SMALL_PRIME_MAX);
	mpz_gcd(g, n, small);
	if (mpz_cmp_ui(g, 1) != 0) {
		for (d = 3; d <= SMALL_PRIME_MAX && !mpz_divisible_ui_p(n, d); d += 2)
			;
		rc = be_err_set(e, BE_E_MALFORMED, "%s: weak key: the RSA modulus is divisible by "
				"the small prime %lu", what, d);
		goto out;
	}
	if (roca_fingerprint(n)) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s: weak key: the RSA modulus has the "
				"fingerprint of Infineon RSALib keys, which can be factored (ROCA, "
				"CVE-2017-15361)", what);
		goto out;
	}
	if (fermat_factors(n, gk != NULL ? gk->fermat_rounds : BE_GOODKEY_FERMAT_ROUNDS)) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s: weak key: the RSA modulus factors by "
				"Fermat's method (its two primes are too close together)", what);
		goto out;
	}
out:
	mpz_clears(n, pe, small, g, NULL);
	be_datum_free(&m);
	be_datum_free(&ex);
	return rc;
}

/* ---------------------------------------------------------------- EC */

static int
check_ec(gnutls_pubkey_t pub, const char *what, struct be_err *e)
{
	gnutls_datum_t x = { NULL, 0 }, y = { NULL, 0 };
	gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
	const struct ecc_curve *ec = NULL;
	struct ecc_point pt;
	bool pt_init = false;
	mpz_t mx, my;
	int r, rc = BE_OK;

	mpz_inits(mx, my, NULL);
	if ((r = gnutls_pubkey_export_ecc_raw2(pub, &curve, &x, &y, 0)) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "%s: cannot read the EC key: %s", what,
				gnutls_strerror(r));
		goto out;
	}
	switch (curve) {
	case GNUTLS_ECC_CURVE_SECP256R1:
		ec = nettle_get_secp_256r1();
		break;
	case GNUTLS_ECC_CURVE_SECP384R1:
		ec = nettle_get_secp_384r1();
		break;
	case GNUTLS_ECC_CURVE_SECP521R1:
		ec = nettle_get_secp_521r1();
		break;
	default:
		rc = be_err_set(e, BE_E_MALFORMED, "%s: EC keys are P-256, P-384 or P-521 only",
				what);
		goto out;
	}
	mpz_import(mx, x.size, 1, 1, 1, 0, x.data);
	mpz_import(my, y.size, 1, 1, 1, 0, y.data);
	ecc_point_init(&pt, ec);
	pt_init = true;
	/* SEC 1 3.2.2.1: coordinates in [0, p-1] satisfying the curve equation; the point at
	 * infinity has no affine coordinates and so never passes. */
	if (!ecc_point_set(&pt, mx, my)) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s: the EC public key is not a point on %s "
				"(SEC 1 3.2.2.1)", what, gnutls_ecc_curve_get_name(curve));
		goto out;
	}
out:
	if (pt_init)
		ecc_point_clear(&pt);
	mpz_clears(mx, my, NULL);
	be_datum_free(&x);
	be_datum_free(&y);
	return rc;
}

/* The y coordinate (little-endian, RFC 8032 5.1.2) of the points of order 8 on
 * edwards25519; the other is p minus it.  The points of order 1, 2 and 4 have y = 1, p-1
 * and 0.  test-be-goodkey checks that this y solves d y^4 + 2 y^2 - 1 = 0 (the condition
 * for 2P to have y = 0, i.e. order 4). */
static const unsigned char ed25519_y8[32] = {
	0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef,
	0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88,
	0x6d, 0x53, 0xfc, 0x05,
};

static int
check_ed25519(gnutls_pubkey_t pub, const char *what, struct be_err *e)
{
	gnutls_datum_t x = { NULL, 0 }, y = { NULL, 0 };
	gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
	unsigned char enc[32];
	mpz_t p, v, y8, pm1, ny8, d, u, w;
	int r, rc = BE_OK;

	mpz_inits(p, v, y8, pm1, ny8, d, u, w, NULL);
	if ((r = gnutls_pubkey_export_ecc_raw2(pub, &curve, &x, &y, 0)) < 0 || x.size != 32) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s: not a 32-octet Ed25519 key (RFC 8410 3)",
				what);
		goto out;
	}
	memcpy(enc, x.data, sizeof(enc));
	enc[31] &= 0x7f;		/* the sign of x */
	mpz_import(v, sizeof(enc), -1, 1, 1, 0, enc);
	mpz_import(y8, sizeof(ed25519_y8), -1, 1, 1, 0, ed25519_y8);
	mpz_ui_pow_ui(p, 2, 255);
	mpz_sub_ui(p, p, 19);
	/* RFC 8032 5.1.3: y < p, and x^2 = (y^2 - 1) / (d y^2 + 1) a square mod p, where
	 * d = -121665 / 121666; x = 0 with the sign bit set has no point either. */
	if (mpz_cmp(v, p) >= 0) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s: the Ed25519 key is not a canonical point "
				"encoding (RFC 8032 5.1.3)", what);
		goto out;
	}
	mpz_set_ui(d, 121666);
	mpz_invert(d, d, p);
	mpz_mul_si(d, d, -121665);
	mpz_mod(d, d, p);
	mpz_mul(u, v, v);
	mpz_mul(w, u, d);
	mpz_add_ui(w, w, 1);
	mpz_sub_ui(u, u, 1);
	mpz_mod(u, u, p);
	mpz_mod(w, w, p);
	if (mpz_sgn(w) == 0 || mpz_invert(w, w, p) == 0) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s: the Ed25519 key is not a point on the curve "
				"(RFC 8032 5.1.3)", what);
		goto out;
	}
	mpz_mul(u, u, w);
	mpz_mod(u, u, p);
	if (mpz_legendre(u, p) < 0 || (mpz_sgn(u) == 0 && (x.data[31] & 0x80))) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s: the Ed25519 key is not a point on the curve "
				"(RFC 8032 5.1.3)", what);
		goto out;
	}
	mpz_sub_ui(pm1, p, 1);
	mpz_sub(ny8, p, y8);
	if (mpz_cmp_ui(v, 0) == 0 || mpz_cmp_ui(v, 1) == 0 || mpz_cmp(v, pm1) == 0 ||
	    mpz_cmp(v, y8) == 0 || mpz_cmp(v, ny8) == 0) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s: weak key: an Ed25519 point of small order "
				"(RFC 8032 5.1)", what);
		goto out;
	}
out:
	mpz_clears(p, v, y8, pm1, ny8, d, u, w, NULL);
	be_datum_free(&x);
	be_datum_free(&y);
	return rc;
}

/* ---------------------------------------------------------------- entry */

int
be_goodkey_check(const struct be_goodkey *gk, gnutls_pubkey_t pub, const char *what,
		 struct be_err *e)
{
	unsigned bits = 0;
	const char *name;
	int pk, rc;

	if (pub == NULL)
		return be_err_set(e, BE_E_INTERNAL, "%s: no public key", what);
	pk = gnutls_pubkey_get_pk_algorithm(pub, &bits);
	switch (pk) {
	case GNUTLS_PK_RSA:
		rc = check_rsa(gk, pub, what, e);
		break;
	case GNUTLS_PK_ECDSA:
		rc = check_ec(pub, what, e);
		break;
	case GNUTLS_PK_EDDSA_ED25519:
		rc = check_ed25519(pub, what, e);
		break;
	default:
		name = pk > 0 ? gnutls_pk_algorithm_get_name((gnutls_pk_algorithm_t)pk) : NULL;
		rc = be_err_set(e, BE_E_MALFORMED, "%s: %s keys are not certified; use RSA, EC "
				"P-256/P-384/P-521 or Ed25519", what, name != NULL ? name : "such");
		break;
	}
	if (rc == BE_OK)
		rc = check_blocklist(gk, pub, what, e);
	return rc;
}
