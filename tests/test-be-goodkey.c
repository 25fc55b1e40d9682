/*
 * Weak-key checks and the key-size floor (backend/be_goodkey.c).  Every weak key is built
 * here from real numbers with GMP (deterministic seed): an even modulus, one with a small
 * prime factor, two close primes, a ROCA modulus made as RSALib makes its primes, bad
 * exponents, EC points off the curve, Ed25519 points of small order, a blocklisted key;
 * the good keys next to them pass.  The time of a full check is measured per key size.
 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gmp.h>

#include "be_ca.h"
#include "be_goodkey.h"
#include "be_key.h"
#include "be_json.h"
#include "tap.h"
#include "testlib.h"

static gmp_randstate_t rnd;

/* A gnutls public key of modulus n and exponent e; NULL on failure. */
static gnutls_pubkey_t
rsa_pub(const mpz_t n, const mpz_t e)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t dn, de;
	size_t ln = 0, le = 0;
	unsigned char *bn, *be;

	bn = mpz_export(NULL, &ln, 1, 1, 1, 0, n);
	be = mpz_export(NULL, &le, 1, 1, 1, 0, e);
	dn.data = bn;
	dn.size = (unsigned)ln;
	de.data = be;
	de.size = (unsigned)le;
	if (gnutls_pubkey_init(&pub) < 0 || gnutls_pubkey_import_rsa_raw(pub, &dn, &de) < 0) {
		gnutls_pubkey_deinit(pub);
		pub = NULL;
	}
	free(bn);
	free(be);
	return pub;
}

/* Checks (n, e) and returns the code; msg gets the sentence. */
static int
check_ne(const struct be_goodkey *gk, const mpz_t n, const mpz_t e, char *msg, size_t len)
{
	struct be_err err = { 0, "" };
	gnutls_pubkey_t pub = rsa_pub(n, e);
	int rc;

	if (pub == NULL) {
		snprintf(msg, len, "cannot import the key");
		return BE_E_INTERNAL;
	}
	rc = be_goodkey_check(gk, pub, "CSR key", &err);
	snprintf(msg, len, "%s", err.msg);
	gnutls_pubkey_deinit(pub);
	return rc;
}

static void
expect_weak(const struct be_goodkey *gk, const mpz_t n, const mpz_t e, const char *needle,
	    const char *name)
{
	char msg[BE_ERR_MSG_MAX];
	int rc = check_ne(gk, n, e, msg, sizeof(msg));

	tap_ok(rc == BE_E_MALFORMED && strstr(msg, needle) != NULL, "%s (%s: %s)", name,
	       be_err_name(rc), msg);
}

static void
expect_good(const struct be_goodkey *gk, const mpz_t n, const mpz_t e, const char *name)
{
	char msg[BE_ERR_MSG_MAX];
	int rc = check_ne(gk, n, e, msg, sizeof(msg));

	tap_ok(rc == BE_OK, "%s (%s %s)", name, be_err_name(rc), msg);
}

/* A random prime of exactly bits bits (top two bits set, so p*q has 2*bits bits). */
static void
random_prime(mpz_t p, unsigned bits)
{
	mpz_urandomb(p, rnd, bits);
	mpz_setbit(p, bits - 1);
	mpz_setbit(p, bits - 2);
	mpz_nextprime(p, p);
}

/* A modulus of bits bits that passes every check (the product of two random primes). */
static void
good_modulus(mpz_t n, unsigned bits)
{
	mpz_t p, q;

	mpz_inits(p, q, NULL);
	random_prime(p, bits / 2);
	random_prime(q, bits / 2);
	mpz_mul(n, p, q);
	mpz_clears(p, q, NULL);
}

/* ROCA: primes of the form k*M + (65537^a mod M), M the product of the first 126 primes
 * (2 .. 701), the primorial RSALib uses for 2048-bit keys (Nemec et al., CCS 2017, 2.1). */
static void
roca_prime(mpz_t p, const mpz_t m, unsigned bits)
{
	mpz_t k, a, g;
	size_t mbits = mpz_sizeinbase(m, 2);

	mpz_inits(k, a, g, NULL);
	mpz_set_ui(g, 65537);
	for (;;) {
		mpz_urandomb(k, rnd, (unsigned)(bits - mbits));
		mpz_setbit(k, (unsigned)(bits - mbits) - 1);
		mpz_urandomb(a, rnd, 64);
		mpz_powm(p, g, a, m);
		mpz_addmul(p, k, m);
		if (mpz_sizeinbase(p, 2) == bits && mpz_tstbit(p, bits - 2) &&
		    mpz_probab_prime_p(p, 30) != 0)
			break;
	}
	mpz_clears(k, a, g, NULL);
}

static void
test_rsa_weak(void)
{
	mpz_t n, e, p, q, m;
	unsigned nprimes;

	mpz_inits(n, e, p, q, m, NULL);
	mpz_set_ui(e, 65537);

	good_modulus(n, 2048);
	expect_good(NULL, n, e, "/goodkey/rsa2048/random-primes-pass");

	mpz_urandomb(n, rnd, 2048);
	mpz_setbit(n, 2047);
	mpz_clrbit(n, 0);
	expect_weak(NULL, n, e, "modulus is even", "/goodkey/rsa/even-modulus");

	random_prime(p, 2038);
	mpz_mul_ui(n, p, 751);
	expect_weak(NULL, n, e, "small prime 751", "/goodkey/rsa/factor-751");
	random_prime(p, 2040);
	mpz_mul_ui(n, p, 3 * 241);
	expect_weak(NULL, n, e, "small prime 3", "/goodkey/rsa/factor-3");
	/* 757 is the first prime past Boulder's bound: not this check's business. */
	random_prime(p, 2038);
	mpz_mul_ui(n, p, 757);
	expect_good(NULL, n, e, "/goodkey/rsa/factor-757-beyond-the-bound");

	/* Fermat: q the next prime after p. */
	random_prime(p, 1024);
	mpz_nextprime(q, p);
	mpz_mul(n, p, q);
	expect_weak(NULL, n, e, "Fermat", "/goodkey/rsa/close-primes-next-prime");
	/* p and q agreeing in their upper 520 bits: (p - q)^2 / 8 sqrt(n) < 100 rounds */
	mpz_urandomb(q, rnd, 500);
	mpz_add(q, q, p);
	mpz_nextprime(q, q);
	mpz_mul(n, p, q);
	expect_weak(NULL, n, e, "Fermat", "/goodkey/rsa/close-primes-500-bit-gap");
	mpz_mul(n, p, p);
	expect_weak(NULL, n, e, "Fermat", "/goodkey/rsa/square-modulus");

	/* ROCA */
	mpz_set_ui(m, 1);
	for (mpz_set_ui(p, 2), nprimes = 0; nprimes < 126; nprimes++) {
		mpz_mul(m, m, p);
		mpz_nextprime(p, p);
	}
	roca_prime(p, m, 1024);
	roca_prime(q, m, 1024);
	mpz_mul(n, p, q);
	expect_weak(NULL, n, e, "ROCA", "/goodkey/rsa/roca-rsalib-primes");
	tap_ok(mpz_sizeinbase(n, 2) == 2048, "/goodkey/rsa/roca-modulus-is-2048-bits (%zu)",
	       mpz_sizeinbase(n, 2));
	/* one ordinary prime breaks the fingerprint */
	random_prime(q, 1024);
	mpz_mul(n, p, q);
	expect_good(NULL, n, e, "/goodkey/rsa/roca-half-is-not-roca");

	/* Exponents: BR 6.1.6 range, odd */
	good_modulus(n, 2048);
	mpz_set_ui(e, 3);
	expect_weak(NULL, n, e, "exponent", "/goodkey/rsa/exponent-3");
	mpz_set_ui(e, 65536);
	expect_weak(NULL, n, e, "exponent", "/goodkey/rsa/exponent-even");
	mpz_ui_pow_ui(e, 2, 256);
	mpz_add_ui(e, e, 1);
	expect_weak(NULL, n, e, "exponent", "/goodkey/rsa/exponent-2^256+1");
	mpz_ui_pow_ui(e, 2, 256);
	mpz_sub_ui(e, e, 1);
	expect_good(NULL, n, e, "/goodkey/rsa/exponent-2^256-1");
	mpz_set_ui(e, 65537);

	/* Sizes: the floor */
	good_modulus(n, 1024);
	expect_weak(NULL, n, e, "1024 bits", "/goodkey/rsa/1024-bits-refused");
	good_modulus(n, 2046);
	expect_weak(NULL, n, e, "2046 bits", "/goodkey/rsa/2046-bits-refused");

	/* fermat_rounds 0 turns that one check off, and only that one */
	{
		struct be_goodkey *gk = NULL;
		struct be_err err = { 0, "" };
		json_t *conf = json_pack("{s:i}", "fermat_rounds", 0);

		tap_ok(be_goodkey_new(conf, ".", &gk, &err) == BE_OK, "/goodkey/conf/fermat-0 (%s)",
		       err.msg);
		random_prime(p, 1024);
		mpz_nextprime(q, p);
		mpz_mul(n, p, q);
		expect_good(gk, n, e, "/goodkey/conf/fermat-0-lets-close-primes-pass");
		random_prime(p, 2038);
		mpz_mul_ui(n, p, 751);
		expect_weak(gk, n, e, "751", "/goodkey/conf/fermat-0-still-small-primes");
		be_goodkey_free(gk);
		json_decref(conf);
	}
	mpz_clears(n, e, p, q, m, NULL);
}

/* ---------------------------------------------------------------- EC and Ed25519 */

static int
check_pub(const struct be_goodkey *gk, gnutls_pubkey_t pub, char *msg, size_t len)
{
	struct be_err err = { 0, "" };
	int rc = be_goodkey_check(gk, pub, "public key", &err);

	snprintf(msg, len, "%s", err.msg);
	return rc;
}

static gnutls_pubkey_t
generated(const char *spec_name)
{
	struct be_keyspec spec;
	gnutls_x509_privkey_t k = NULL;
	gnutls_pubkey_t pub = NULL;

	if (be_keyspec_parse(spec_name, &spec) != BE_OK || be_key_generate(&spec, &k, NULL) != BE_OK)
		return NULL;
	(void)be_key_pubkey(k, &pub, NULL);
	gnutls_x509_privkey_deinit(k);
	return pub;
}

static void
test_ec(void)
{
	static const char *const curves[] = { "p256", "p384", "p521", "ed25519" };
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t x = { NULL, 0 }, y = { NULL, 0 }, xx;
	gnutls_ecc_curve_t curve;
	unsigned char ed[32];
	char msg[BE_ERR_MSG_MAX];
	mpz_t pp, d, y8, t;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		pub = generated(curves[i]);
		rc = pub != NULL ? check_pub(NULL, pub, msg, sizeof(msg)) : BE_E_INTERNAL;
		tap_ok(rc == BE_OK, "/goodkey/%s/generated-passes (%s)", curves[i], msg);
		gnutls_pubkey_deinit(pub);
	}

	/* P-256 point with y + 1: off the curve */
	pub = generated("p256");
	if (pub != NULL && gnutls_pubkey_export_ecc_raw2(pub, &curve, &x, &y, 0) >= 0) {
		gnutls_pubkey_deinit(pub);
		pub = NULL;
		y.data[y.size - 1] ^= 1;
		if (gnutls_pubkey_init(&pub) >= 0 &&
		    gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_SECP256R1, &x, &y) >= 0)
			rc = check_pub(NULL, pub, msg, sizeof(msg));
		else
			rc = BE_E_INTERNAL, snprintf(msg, sizeof(msg), "GnuTLS refused the import");
		tap_ok(rc == BE_E_MALFORMED && strstr(msg, "not a point on") != NULL,
		       "/goodkey/p256/point-off-curve (%s)", msg);
	} else {
		tap_ok(0, "/goodkey/p256/point-off-curve (no key)");
	}
	gnutls_pubkey_deinit(pub);
	pub = NULL;
	gnutls_free(x.data);
	gnutls_free(y.data);

	/* The identity (SEC 1 2.3.3: the single octet 00) and (0, 0) in a P-256
	 * SubjectPublicKeyInfo: GnuTLS may refuse the import; if it takes it, the check must
	 * refuse. */
	{
		static const unsigned char spki_head[] = {
			0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
			0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03,
			0x42, 0x00, 0x04,
		};
		static const unsigned char spki_inf[] = {
			0x30, 0x1a, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
			0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03,
			0x03, 0x00, 0x00,
		};
		unsigned char spki[sizeof(spki_head) + 64];
		gnutls_datum_t dd;
		int k;

		memset(spki, 0, sizeof(spki));
		memcpy(spki, spki_head, sizeof(spki_head));
		for (k = 0; k < 2; k++) {
			dd.data = (unsigned char *)(k == 0 ? spki : spki_inf);
			dd.size = k == 0 ? sizeof(spki) : sizeof(spki_inf);
			snprintf(msg, sizeof(msg), "GnuTLS refused the import");
			rc = BE_E_MALFORMED;
			if (gnutls_pubkey_init(&pub) >= 0 &&
			    gnutls_pubkey_import(pub, &dd, GNUTLS_X509_FMT_DER) >= 0)
				rc = check_pub(NULL, pub, msg, sizeof(msg));
			tap_ok(rc == BE_E_MALFORMED, "/goodkey/p256/%s-never-passes (%s)",
			       k == 0 ? "zero-point" : "identity", msg);
			gnutls_pubkey_deinit(pub);
			pub = NULL;
		}
	}

	/* Ed25519: the identity, and a point of order 8 whose y the test verifies. */
	mpz_inits(pp, d, y8, t, NULL);
	mpz_ui_pow_ui(pp, 2, 255);
	mpz_sub_ui(pp, pp, 19);
	mpz_set_ui(d, 121666);
	mpz_invert(d, d, pp);
	mpz_mul_si(d, d, -121665);
	mpz_mod(d, d, pp);
	mpz_set_str(y8, "05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826", 16);
	/* d y^4 + 2 y^2 - 1 = 0: 2P has y = 0, so P has order 8 */
	mpz_powm_ui(t, y8, 4, pp);
	mpz_mul(t, t, d);
	{
		mpz_t y2;

		mpz_init(y2);
		mpz_powm_ui(y2, y8, 2, pp);
		mpz_addmul_ui(t, y2, 2);
		mpz_sub_ui(t, t, 1);
		mpz_mod(t, t, pp);
		mpz_clear(y2);
	}
	tap_ok(mpz_sgn(t) == 0, "/goodkey/ed25519/y8-has-order-8");
	{
		static const char *const names[] = { "identity", "order-8", "order-8-negated",
						     "order-2", "order-4" };
		for (i = 0; i < 5; i++) {
			size_t cnt = 0;

			switch (i) {
			case 0: mpz_set_ui(t, 1); break;
			case 1: mpz_set(t, y8); break;
			case 2: mpz_sub(t, pp, y8); break;
			case 3: mpz_sub_ui(t, pp, 1); break;
			default: mpz_set_ui(t, 0); break;
			}
			memset(ed, 0, sizeof(ed));
			mpz_export(ed, &cnt, -1, 1, 1, 0, t);
			xx.data = ed;
			xx.size = 32;
			if (gnutls_pubkey_init(&pub) >= 0 &&
			    gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_ED25519, &xx,
							 NULL) >= 0)
				rc = check_pub(NULL, pub, msg, sizeof(msg));
			else
				rc = BE_E_INTERNAL, snprintf(msg, sizeof(msg), "import refused");
			tap_ok(rc == BE_E_MALFORMED && strstr(msg, "small order") != NULL,
			       "/goodkey/ed25519/small-order-%s (%s)", names[i], msg);
			gnutls_pubkey_deinit(pub);
			pub = NULL;
		}
	}
	/* y = 2 has no x on the curve exactly when (4 - 1) / (4d + 1) is not a square */
	for (mpz_set_ui(t, 2);; mpz_add_ui(t, t, 1)) {
		mpz_t u, w;
		int leg;

		mpz_inits(u, w, NULL);
		mpz_mul(u, t, t);
		mpz_mul(w, u, d);
		mpz_add_ui(w, w, 1);
		mpz_sub_ui(u, u, 1);
		mpz_invert(w, w, pp);
		mpz_mul(u, u, w);
		mpz_mod(u, u, pp);
		leg = mpz_legendre(u, pp);
		mpz_clears(u, w, NULL);
		if (leg < 0)
			break;
	}
	memset(ed, 0, sizeof(ed));
	mpz_export(ed, NULL, -1, 1, 1, 0, t);
	xx.data = ed;
	xx.size = 32;
	if (gnutls_pubkey_init(&pub) >= 0 &&
	    gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_ED25519, &xx, NULL) >= 0)
		rc = check_pub(NULL, pub, msg, sizeof(msg));
	else
		rc = BE_E_INTERNAL, snprintf(msg, sizeof(msg), "import refused");
	tap_ok(rc == BE_E_MALFORMED && strstr(msg, "not a point") != NULL,
	       "/goodkey/ed25519/y-without-x (y = %lu: %s)", mpz_get_ui(t), msg);
	gnutls_pubkey_deinit(pub);
	mpz_clears(pp, d, y8, t, NULL);
}

/* ---------------------------------------------------------------- blocklist */

static void
test_blocklist(void)
{
	gnutls_pubkey_t bad = generated("p256"), good = generated("p256");
	gnutls_datum_t der = { NULL, 0 };
	struct be_goodkey *gk = NULL;
	struct be_err err = { 0, "" };
	unsigned char md[32];
	char hex[65], text[512], msg[BE_ERR_MSG_MAX];
	json_t *conf = NULL;
	int rc;

	if (bad == NULL || good == NULL ||
	    gnutls_pubkey_export2(bad, GNUTLS_X509_FMT_DER, &der) < 0 ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, md) < 0) {
		tap_ok(0, "/goodkey/blocklist (no key)");
		goto out;
	}
	be_serial_hex(md, sizeof(md), hex, sizeof(hex));
	snprintf(text, sizeof(text), "# known-compromised keys\n\n"
		 "%s  p256 test key\n"
		 "0000000000000000000000000000000000000000000000000000000000000000\n%s\n", hex,
		 hex);
	write_file("blocked.txt", text, strlen(text));
	write_file("bad-line.txt", "# fine\nnot-a-digest\n", 21);
	conf = json_pack("{s:[s]}", "blocklist", "blocked.txt");
	rc = be_goodkey_new(conf, tmpdir, &gk, &err);
	tap_ok(rc == BE_OK && be_goodkey_blocked_count(gk) == 2,
	       "/goodkey/blocklist/loads-two-distinct (%s, %zu)", err.msg,
	       be_goodkey_blocked_count(gk));
	rc = check_pub(gk, bad, msg, sizeof(msg));
	tap_ok(rc == BE_E_MALFORMED && strstr(msg, hex) != NULL && strstr(msg, "blocklist"),
	       "/goodkey/blocklist/listed-key-refused (%s)", msg);
	rc = check_pub(gk, good, msg, sizeof(msg));
	tap_ok(rc == BE_OK, "/goodkey/blocklist/other-key-passes (%s)", msg);
	rc = check_pub(NULL, bad, msg, sizeof(msg));
	tap_ok(rc == BE_OK, "/goodkey/blocklist/without-list-passes (%s)", msg);
	be_goodkey_free(gk);
	gk = NULL;
	json_decref(conf);

	conf = json_pack("{s:[s]}", "blocklist", "bad-line.txt");
	err.code = 0;
	err.msg[0] = '\0';
	rc = be_goodkey_new(conf, tmpdir, &gk, &err);
	tap_ok(rc == BE_E_CONFIG && strstr(err.msg, "weak_keys.blocklist[0]") &&
	       strstr(err.msg, "line 2"), "/goodkey/blocklist/bad-line-named (%s)", err.msg);
	json_decref(conf);
	conf = json_pack("{s:[s]}", "blocklist", "missing.txt");
	err.code = 0;
	err.msg[0] = '\0';
	rc = be_goodkey_new(conf, tmpdir, &gk, &err);
	tap_ok(rc == BE_E_CONFIG && strstr(err.msg, "weak_keys.blocklist[0]: ") &&
	       strstr(err.msg, "missing.txt"),
	       "/goodkey/blocklist/missing-file (%s)", err.msg);
	json_decref(conf);
	conf = json_pack("{s:i}", "fermat_round", 3);
	err.code = 0;
	err.msg[0] = '\0';
	rc = be_goodkey_new(conf, tmpdir, &gk, &err);
	tap_ok(rc == BE_E_CONFIG && strstr(err.msg, "weak_keys.fermat_round"),
	       "/goodkey/conf/unknown-key (%s)", err.msg);
out:
	json_decref(conf);
	be_goodkey_free(gk);
	gnutls_free(der.data);
	gnutls_pubkey_deinit(bad);
	gnutls_pubkey_deinit(good);
}

/* ---------------------------------------------------------------- the floor */

static void
test_floor(void)
{
	static const struct {
		const char *name;
		bool ok;
	} v[] = {
		{ "rsa1024", false }, { "rsa2040", false }, { "rsa2048", true },
		{ "rsa16384", true }, { "p256", true }, { "p521", true }, { "ed25519", true },
	};
	struct be_keyspec spec;
	struct be_err err;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(&err, 0, sizeof(err));
		rc = be_keyspec_parse(v[i].name, &spec);
		if (rc == BE_OK)
			rc = be_goodkey_spec_check(&spec, "profiles.P.key_types[0]", &err);
		tap_ok(v[i].ok ? rc == BE_OK : rc == BE_E_CONFIG &&
		       strstr(err.msg, "profiles.P.key_types[0]") && strstr(err.msg, "2048"),
		       "/goodkey/floor/%s (%s)", v[i].name, err.msg);
	}
}

/* ---------------------------------------------------------------- time */

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The full check of a good key (every test runs to its end) per modulus size: the most
 * of 5 runs, and the median.  The bound asserted is loose (sanitizers, a shared machine);
 * the figures are printed. */
static void
test_time(void)
{
	static const unsigned sizes[] = { 2048, 3072, 4096, 8192, 16384 };
	struct be_goodkey *gk = NULL;
	gnutls_pubkey_t pub;
	struct be_err err;
	mpz_t n, e;
	double t[5], tmp, worst;
	size_t i, j, k;
	int rc;

	mpz_inits(n, e, NULL);
	mpz_set_ui(e, 65537);
	(void)be_goodkey_new(NULL, ".", &gk, NULL);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (sizes[i] <= 4096) {
			good_modulus(n, sizes[i]);
		} else {
			/* random odd modulus without small factors: the checks do not care
			 * whether it has two prime factors, and their cost is the same */
			do {
				mpz_urandomb(n, rnd, sizes[i]);
				mpz_setbit(n, sizes[i] - 1);
				mpz_setbit(n, 0);
				memset(&err, 0, sizeof(err));
				pub = rsa_pub(n, e);
				rc = be_goodkey_check(gk, pub, "k", &err);
				gnutls_pubkey_deinit(pub);
			} while (rc != BE_OK);
		}
		pub = rsa_pub(n, e);
		rc = BE_OK;
		for (j = 0; j < 5; j++) {
			memset(&err, 0, sizeof(err));
			t[j] = now_ms();
			rc |= be_goodkey_check(gk, pub, "k", &err);
			t[j] = now_ms() - t[j];
		}
		gnutls_pubkey_deinit(pub);
		for (j = 0; j < 5; j++)
			for (k = j + 1; k < 5; k++)
				if (t[k] < t[j])
					tmp = t[j], t[j] = t[k], t[k] = tmp;
		worst = t[4];
		tap_diag("rsa%u: full check median %.2f ms, worst of 5 %.2f ms", sizes[i], t[2],
			 worst);
		tap_ok(rc == BE_OK && worst < (sizes[i] <= 4096 ? 500.0 : 5000.0),
		       "/goodkey/time/rsa%u (median %.2f ms)", sizes[i], t[2]);
	}
	be_goodkey_free(gk);
	gk = NULL;

	/* The bound at the largest fermat_rounds the configuration accepts */
	{
		json_t *conf = json_pack("{s:i}", "fermat_rounds", BE_GOODKEY_FERMAT_MAX);
		double t0;

		(void)be_goodkey_new(conf, ".", &gk, NULL);
		json_decref(conf);
		good_modulus(n, 4096);
		pub = rsa_pub(n, e);
		memset(&err, 0, sizeof(err));
		t0 = now_ms();
		rc = be_goodkey_check(gk, pub, "k", &err);
		t0 = now_ms() - t0;
		gnutls_pubkey_deinit(pub);
		tap_diag("rsa4096 with fermat_rounds %d: %.2f ms", BE_GOODKEY_FERMAT_MAX, t0);
		tap_ok(rc == BE_OK && t0 < 5000.0, "/goodkey/time/rsa4096-fermat-max (%.2f ms)", t0);
	}
	be_goodkey_free(gk);
	mpz_clears(n, e, NULL);
}

int
main(void)
{
	if (gnutls_global_init() < 0 || !tmp_setup("goodkey"))
		return 1;
	gmp_randinit_default(rnd);
	gmp_randseed_ui(rnd, 20171016);	/* ROCA's disclosure date */
	test_floor();
	test_rsa_weak();
	test_ec();
	test_blocklist();
	test_time();
	gmp_randclear(rnd);
	(void)read_file;
	tmp_cleanup();
	gnutls_global_deinit();
	return tap_done();
}
