/*
 * Key specs, key generation, private key export and random passwords
 * (backend/be_keyspec.c, backend/be_key.c).  Every exported key is read back by openssl.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "be_key.h"
#include "tap.h"
#include "testlib.h"

/* ------------------------------------------------------------------ scratch directory */

static bool
files_equal(const char *a, const char *b)
{
	char *da = NULL, *db = NULL;
	size_t la, lb;
	bool eq = false;

	if (read_file(a, &da, &la) && read_file(b, &db, &lb))
		eq = la == lb && memcmp(da, db, la) == 0;
	free(da);
	free(db);
	return eq;
}

/* Prints the output of the last command as TAP diagnostics. */
static void
show_output(void)
{
	char *text = NULL, *line, *nl;
	size_t len;

	if (!read_file("cmd.out", &text, &len))
		return;
	for (line = text; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL) {
			tap_diag("  %s", line);
			break;
		}
		*nl = '\0';
		tap_diag("  %s", line);
	}
	free(text);
}

/* Runs a shell command in the scratch directory with its output in cmd.out; returns the
 * exit status (-1 when it did not run or was killed). */
static int
sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	char cmd[2048], full[PATH_MAX + 2200];
	va_list ap;
	int n, st;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	n = snprintf(full, sizeof(full), "cd '%s' && (%s) >cmd.out 2>&1 </dev/null", tmpdir,
		     cmd);
	if (n < 0 || (size_t)n >= sizeof(full))
		return -1;
	fflush(stdout);
	st = system(full);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* ok when the command exits 0; shows its output otherwise. */
static void
sh_ok(const char *name, const char *cmd)
{
	if (!tap_ok(sh("%s", cmd) == 0, "%s", name)) {
		tap_diag("command: %s", cmd);
		show_output();
	}
}

/* ok named by fmt; on failure also shows the code and the error sentence. */
static int
ok_rc(int cond, int rc, const struct be_err *e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
ok_rc(int cond, int rc, const struct be_err *e, const char *fmt, ...)
{
	char name[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	if (!tap_ok(cond, "%s", name))
		tap_diag("rc %d (%s): %s", rc, be_err_name(rc), e != NULL ? e->msg : "");
	return cond;
}

/* s with anything but printable ASCII written as \xNN, for test names. */
static const char *
printable(const char *s, char *buf, size_t n)
{
	size_t o = 0;

	for (; *s != '\0' && o + 5 < n; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------ key specs */

static void
test_keyspec_parse(void)
{
	static const struct {
		const char *s;
		enum be_key_alg alg;
		unsigned bits;
	} good[] = {
		{ "rsa2048", BE_KEY_RSA, 2048 },   { "rsa_2048", BE_KEY_RSA, 2048 },
		{ "RSA-2048", BE_KEY_RSA, 2048 },  { "Rsa3072", BE_KEY_RSA, 3072 },
		{ "rsa4096", BE_KEY_RSA, 4096 },   { "rsa1024", BE_KEY_RSA, 1024 },
		{ "rsa16384", BE_KEY_RSA, 16384 }, { "rsa2056", BE_KEY_RSA, 2056 },
		{ "p256", BE_KEY_EC, 256 },	   { "p_256", BE_KEY_EC, 256 },
		{ "P-256", BE_KEY_EC, 256 },	   { "prime256v1", BE_KEY_EC, 256 },
		{ "PRIME256V1", BE_KEY_EC, 256 },  { "secp256r1", BE_KEY_EC, 256 },
		{ "ec256", BE_KEY_EC, 256 },	   { "p384", BE_KEY_EC, 384 },
		{ "P-384", BE_KEY_EC, 384 },	   { "secp384r1", BE_KEY_EC, 384 },
		{ "ec384", BE_KEY_EC, 384 },	   { "EC_384", BE_KEY_EC, 384 },
		{ "p521", BE_KEY_EC, 521 },	   { "p_521", BE_KEY_EC, 521 },
		{ "P-521", BE_KEY_EC, 521 },	   { "secp521r1", BE_KEY_EC, 521 },
		{ "ec521", BE_KEY_EC, 521 },	   { "ed25519", BE_KEY_ED25519, 256 },
		{ "ed_25519", BE_KEY_ED25519, 256 }, { "Ed25519", BE_KEY_ED25519, 256 },
		{ "ED-25519", BE_KEY_ED25519, 256 },
	};
	static const char *const bad[] = {
		"", "rsa", "rsa_512x", "rsa512", "rsa2047", "rsa16392", "rsa32768", "rsa02048",
		"rsa--2048", "rsa-_2048", "rsa 2048", " rsa2048", "rsa2048 ", "rsa2048\n",
		"rsa_", "p_999", "p255", "p0256", "p", "ec", "ec_", "ecdsa256", "ed448",
		"ed_448", "ed", "x25519", "ed25519x", "secp256k1", "prime384v1", "secp224r1",
		"dsa2048", "2048", "\xef\xbd\x92sa2048",
		"rsa2048rsa2048rsa2048rsa2048rsa2048",
	};
	struct be_keyspec k;
	char pbuf[128];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		k.alg = BE_KEY_NONE;
		k.bits = 0;
		rc = be_keyspec_parse(good[i].s, &k);
		ok_rc(rc == BE_OK && k.alg == good[i].alg && k.bits == good[i].bits, rc, NULL,
		      "/keyspec/parse/good \"%s\"", good[i].s);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		k.alg = BE_KEY_RSA;
		k.bits = 1;
		rc = be_keyspec_parse(bad[i], &k);
		ok_rc(rc == BE_E_MALFORMED && k.alg == BE_KEY_NONE && k.bits == 0, rc, NULL,
		      "/keyspec/parse/bad \"%s\"", printable(bad[i], pbuf, sizeof(pbuf)));
	}
	rc = be_keyspec_parse(NULL, &k);
	TAP_IS_INT(rc, BE_E_MALFORMED, "/keyspec/parse/bad NULL is malformed");
}

static void
test_keyspec_name(void)
{
	static const char *const canon[] = { "rsa2048", "rsa3072", "rsa4096", "p256", "p384",
					     "p521", "ed25519" };
	struct be_keyspec k, k2, none = { BE_KEY_NONE, 0 };
	char buf[32], small[4];
	size_t i;
	bool ok;

	for (i = 0; i < sizeof(canon) / sizeof(canon[0]); i++) {
		ok = be_keyspec_parse(canon[i], &k) == BE_OK &&
		     strcmp(be_keyspec_name(&k, buf, sizeof(buf)), canon[i]) == 0 &&
		     be_keyspec_parse(buf, &k2) == BE_OK && be_keyspec_equal(&k, &k2);
		tap_ok(ok, "/keyspec/name/round-trip %s", canon[i]);
	}
	be_keyspec_parse("P-384", &k);
	tap_ok(strcmp(be_keyspec_name(&k, buf, sizeof(buf)), "p384") == 0,
	       "/keyspec/name/canonical P-384 is p384");
	be_keyspec_parse("prime256v1", &k);
	tap_ok(strcmp(be_keyspec_name(&k, buf, sizeof(buf)), "p256") == 0,
	       "/keyspec/name/canonical prime256v1 is p256");
	tap_ok(strcmp(be_keyspec_name(&none, buf, sizeof(buf)), "none") == 0,
	       "/keyspec/name/none");
	be_keyspec_parse("rsa2048", &k);
	tap_ok(strcmp(be_keyspec_name(&k, small, sizeof(small)), "rsa") == 0,
	       "/keyspec/name/truncates-within-buffer");
}

static void
test_keyspec_curve_equal(void)
{
	struct be_keyspec a, b, rsa = { BE_KEY_RSA, 256 }, bad = { BE_KEY_EC, 255 };

	be_keyspec_parse("p256", &a);
	tap_ok(be_keyspec_curve(&a) == GNUTLS_ECC_CURVE_SECP256R1, "/keyspec/curve/p256");
	be_keyspec_parse("p384", &a);
	tap_ok(be_keyspec_curve(&a) == GNUTLS_ECC_CURVE_SECP384R1, "/keyspec/curve/p384");
	be_keyspec_parse("p521", &a);
	tap_ok(be_keyspec_curve(&a) == GNUTLS_ECC_CURVE_SECP521R1, "/keyspec/curve/p521");
	tap_ok(be_keyspec_curve(&rsa) == GNUTLS_ECC_CURVE_INVALID,
	       "/keyspec/curve/rsa-has-none");
	tap_ok(be_keyspec_curve(&bad) == GNUTLS_ECC_CURVE_INVALID,
	       "/keyspec/curve/unknown-size-has-none");
	be_keyspec_parse("ed25519", &a);
	tap_ok(be_keyspec_curve(&a) == GNUTLS_ECC_CURVE_INVALID,
	       "/keyspec/curve/ed25519-is-not-ec");

	be_keyspec_parse("P-256", &a);
	be_keyspec_parse("secp256r1", &b);
	tap_ok(be_keyspec_equal(&a, &b), "/keyspec/equal/same-curve-two-spellings");
	be_keyspec_parse("p384", &b);
	tap_ok(!be_keyspec_equal(&a, &b), "/keyspec/equal/different-curves");
	tap_ok(!be_keyspec_equal(&a, &rsa), "/keyspec/equal/different-algorithms");
	tap_ok(!be_keyspec_equal(&a, NULL) && be_keyspec_equal(NULL, NULL),
	       "/keyspec/equal/null");
}

/* A public key of pk with the given curve or bits, made by GnuTLS; NULL if it can't. */
static gnutls_pubkey_t
make_pubkey(gnutls_pk_algorithm_t pk, unsigned bits)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_pubkey_t pub = NULL;

	if (gnutls_x509_privkey_init(&key) >= 0 &&
	    gnutls_x509_privkey_generate2(key, pk, bits, 0, NULL, 0) >= 0 &&
	    be_key_pubkey(key, &pub, NULL) != BE_OK)
		pub = NULL;
	gnutls_x509_privkey_deinit(key);
	return pub;
}

/* Turns an RSA public key into the same key labelled id-RSASSA-PSS, through DER, the way
 * one arrives in a CSR. */
static gnutls_pubkey_t
make_rsa_pss_pubkey(gnutls_pubkey_t rsa)
{
	gnutls_x509_spki_t spki = NULL;
	gnutls_pubkey_t pss = NULL;
	gnutls_datum_t der = { NULL, 0 };
	bool ok;

	if (gnutls_x509_spki_init(&spki) < 0)
		return NULL;
	gnutls_x509_spki_set_rsa_pss_params(spki, GNUTLS_DIG_SHA256, 32);
	ok = gnutls_pubkey_set_spki(rsa, spki, 0) >= 0 &&
	     gnutls_pubkey_export2(rsa, GNUTLS_X509_FMT_DER, &der) >= 0 &&
	     gnutls_pubkey_init(&pss) >= 0 &&
	     gnutls_pubkey_import(pss, &der, GNUTLS_X509_FMT_DER) >= 0;
	if (!ok) {
		gnutls_pubkey_deinit(pss);
		pss = NULL;
	}
	gnutls_free(der.data);
	gnutls_x509_spki_deinit(spki);
	return pss;
}

static void
test_keyspec_of_pubkey_refusals(gnutls_x509_privkey_t rsa2048)
{
	gnutls_pubkey_t pub = NULL, pss = NULL;
	struct be_keyspec k;
	struct be_err e;
	int rc;

	be_err_clear(&e);
	if (be_key_pubkey(rsa2048, &pub, NULL) == BE_OK)
		pss = make_rsa_pss_pubkey(pub);
	if (pss == NULL) {
		tap_ok(0, "/keyspec/of-pubkey/rsa-pss-refused (could not make an RSA-PSS key)");
	} else {
		rc = be_keyspec_of_pubkey(pss, &k, &e);
		ok_rc(rc == BE_E_POLICY && e.code == BE_E_POLICY &&
			      strstr(e.msg, "RSA-PSS") != NULL && k.alg == BE_KEY_NONE,
		      rc, &e, "/keyspec/of-pubkey/rsa-pss-refused");
		tap_diag("RSA-PSS: %s", e.msg);
	}
	gnutls_pubkey_deinit(pss);
	gnutls_pubkey_deinit(pub);

	pub = make_pubkey(GNUTLS_PK_EDDSA_ED448, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_ED448));
	if (pub == NULL) {
		tap_ok(1, "/keyspec/of-pubkey/ed448-refused # SKIP GnuTLS cannot make Ed448");
	} else {
		be_err_clear(&e);
		rc = be_keyspec_of_pubkey(pub, &k, &e);
		ok_rc(rc == BE_E_POLICY && strstr(e.msg, "Ed448") != NULL, rc, &e,
		      "/keyspec/of-pubkey/ed448-refused");
	}
	gnutls_pubkey_deinit(pub);

	pub = make_pubkey(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP224R1));
	if (pub == NULL) {
		tap_ok(1, "/keyspec/of-pubkey/p224-refused # SKIP GnuTLS cannot make P-224");
	} else {
		be_err_clear(&e);
		rc = be_keyspec_of_pubkey(pub, &k, &e);
		ok_rc(rc == BE_E_POLICY && strstr(e.msg, "SECP224R1") != NULL, rc, &e,
		      "/keyspec/of-pubkey/p224-refused");
	}
	gnutls_pubkey_deinit(pub);

	be_err_clear(&e);
	rc = be_keyspec_of_pubkey(NULL, &k, &e);
	TAP_IS_INT(rc, BE_E_INTERNAL, "/keyspec/of-pubkey/null");
}

/* ------------------------------------------------------------------ generation, export */

/* Skips a DER header at *p (of the n bytes left); returns the tag or -1. */
static int
der_enter(const unsigned char **p, size_t *n, bool into)
{
	const unsigned char *q = *p;
	size_t len = 0, ll, i;
	int tag;

	if (*n < 2)
		return -1;
	tag = q[0];
	if (q[1] < 0x80) {
		len = q[1];
		ll = 0;
	} else {
		ll = q[1] & 0x7f;
		if (ll == 0 || ll > 3 || *n < 2 + ll)
			return -1;
		for (i = 0; i < ll; i++)
			len = (len << 8) | q[2 + i];
	}
	if (*n < 2 + ll + len)
		return -1;
	if (into) {
		*p = q + 2 + ll;
		*n = len;
	} else {
		*p = q + 2 + ll + len;
		*n -= 2 + ll + len;
	}
	return tag;
}

/* The tag that follows the version INTEGER inside the outer SEQUENCE: 0x30 for PKCS#8
 * (AlgorithmIdentifier), 0x02 for RSAPrivateKey (modulus), 0x04 for ECPrivateKey. */
static int
der_tag_after_version(const gnutls_datum_t *d)
{
	const unsigned char *p = d->data;
	size_t n = d->size;

	if (der_enter(&p, &n, true) != 0x30 || der_enter(&p, &n, false) != 0x02 || n < 1)
		return -1;
	return p[0];
}

static const char *
syntax_name(enum be_key_syntax s)
{
	return s == BE_KEY_PKCS8 ? "pkcs8" : "pkcs1";
}

static void
test_export(const char *name, enum be_key_alg alg, gnutls_x509_privkey_t key)
{
	static const enum be_key_syntax syntaxes[] = { BE_KEY_PKCS8, BE_KEY_PKCS1 };
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t d = { NULL, 0 }, pubpem = { NULL, 0 };
	char file[64], pubfile[64], outpub[80], cmd[512], first[64];
	const char *label, *inform, *tool;
	struct be_err e;
	size_t si, nl;
	int pem, rc, want_tag;

	snprintf(pubfile, sizeof(pubfile), "%s.pub.pem", name);
	if (be_key_pubkey(key, &pub, NULL) != BE_OK ||
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &pubpem) < 0 ||
	    !write_file(pubfile, pubpem.data, pubpem.size))
		tap_ok(0, "/key/export/%s could not write the public key", name);

	for (si = 0; si < 2; si++) {
		for (pem = 1; pem >= 0; pem--) {
			enum be_key_syntax syn = syntaxes[si];
			const char *what = pem ? "pem" : "der";

			be_err_clear(&e);
			rc = be_key_export(key, syn, pem, &d, &e);
			if (alg == BE_KEY_ED25519 && syn == BE_KEY_PKCS1) {
				ok_rc(rc == BE_E_POLICY && d.data == NULL &&
					      strcmp(e.msg, "Ed25519 keys have no PKCS#1 form; "
							    "use PKCS#8") == 0,
				      rc, &e, "/key/export/%s/pkcs1-%s-refused", name, what);
				continue;
			}
			if (!ok_rc(rc == BE_OK && d.data != NULL && d.size > 0, rc, &e,
				   "/key/export/%s/%s-%s", name, syntax_name(syn), what))
				continue;
			snprintf(file, sizeof(file), "%s-%s.%s", name, syntax_name(syn), what);
			write_file(file, d.data, d.size);

			if (syn == BE_KEY_PKCS8)
				label = "PRIVATE KEY";
			else if (alg == BE_KEY_RSA)
				label = "RSA PRIVATE KEY";
			else
				label = "EC PRIVATE KEY";
			if (pem) {
				snprintf(first, sizeof(first), "-----BEGIN %s-----\n", label);
				nl = strlen(first);
				tap_ok(d.size > nl && memcmp(d.data, first, nl) == 0,
				       "/key/export/%s/%s-pem-label is \"%s\"", name,
				       syntax_name(syn), label);
			} else {
				if (syn == BE_KEY_PKCS8)
					want_tag = 0x30;
				else if (alg == BE_KEY_RSA)
					want_tag = 0x02;
				else
					want_tag = 0x04;
				tap_ok(der_tag_after_version(&d) == want_tag,
				       "/key/export/%s/%s-der-structure is %s", name,
				       syntax_name(syn), label);
			}

			inform = pem ? "PEM" : "DER";
			if (syn == BE_KEY_PKCS8)
				tool = "pkey";
			else if (alg == BE_KEY_RSA)
				tool = "rsa";
			else
				tool = "ec";
			snprintf(cmd, sizeof(cmd), "openssl %s -inform %s -in %s -check -noout",
				 tool, inform, file);
			{
				char tname[128];

				snprintf(tname, sizeof(tname), "/key/export/%s/%s-%s/openssl-%s-check",
					 name, syntax_name(syn), what, tool);
				sh_ok(tname, cmd);
			}
			snprintf(outpub, sizeof(outpub), "%s.pub", file);
			snprintf(cmd, sizeof(cmd),
				 "openssl pkey -inform %s -in %s -pubout -out %s", inform, file,
				 outpub);
			rc = sh("%s", cmd);
			if (!tap_ok(rc == 0 && files_equal(outpub, pubfile),
				    "/key/export/%s/%s-%s/openssl-public-key-matches", name,
				    syntax_name(syn), what)) {
				tap_diag("command: %s (exit %d)", cmd, rc);
				show_output();
			}
			be_datum_wipe(&d);
		}
	}
	be_datum_free(&pubpem);
	gnutls_pubkey_deinit(pub);
}

static void
test_generate(const char *name, double *ms, gnutls_x509_privkey_t *keep)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t m = { NULL, 0 }, ex = { NULL, 0 };
	struct be_keyspec spec, got;
	struct be_err e;
	unsigned bits = 0;
	double t0;
	int rc;

	be_err_clear(&e);
	be_keyspec_parse(name, &spec);
	t0 = now_ms();
	rc = be_key_generate(&spec, &key, &e);
	*ms = now_ms() - t0;
	if (!ok_rc(rc == BE_OK && key != NULL, rc, &e, "/key/generate/%s", name))
		return;
	tap_diag("keygen %s: %.1f ms", name, *ms);

	rc = gnutls_x509_privkey_get_pk_algorithm2(key, &bits);
	switch (spec.alg) {
	case BE_KEY_RSA:
		tap_ok(rc == GNUTLS_PK_RSA && bits == spec.bits,
		       "/key/generate/%s/is-rsaEncryption-of-%u-bits", name, spec.bits);
		rc = gnutls_x509_privkey_export_rsa_raw2(key, &m, &ex, NULL, NULL, NULL, NULL,
							 NULL, NULL);
		tap_ok(rc >= 0 && ex.size == 3 && ex.data[0] == 0x01 && ex.data[1] == 0x00 &&
			       ex.data[2] == 0x01,
		       "/key/generate/%s/public-exponent-is-65537", name);
		be_datum_free(&m);
		be_datum_free(&ex);
		break;
	case BE_KEY_EC:
		tap_ok(rc == GNUTLS_PK_ECDSA, "/key/generate/%s/is-ecdsa", name);
		break;
	case BE_KEY_ED25519:
		tap_ok(rc == GNUTLS_PK_EDDSA_ED25519, "/key/generate/%s/is-ed25519", name);
		break;
	case BE_KEY_NONE:
	default:
		tap_ok(0, "/key/generate/%s has a spec", name);
		break;
	}

	be_err_clear(&e);
	rc = be_key_pubkey(key, &pub, &e);
	if (rc == BE_OK)
		rc = be_keyspec_of_pubkey(pub, &got, &e);
	ok_rc(rc == BE_OK && be_keyspec_equal(&got, &spec), rc, &e,
	      "/key/generate/%s/pubkey-spec-round-trips", name);
	gnutls_pubkey_deinit(pub);

	test_export(name, spec.alg, key);
	if (keep != NULL)
		*keep = key;
	else
		gnutls_x509_privkey_deinit(key);
}

static void
test_generate_refusals(void)
{
	static const struct be_keyspec refused[] = {
		{ BE_KEY_NONE, 0 },  { BE_KEY_RSA, 1024 }, { BE_KEY_RSA, 2047 },
		{ BE_KEY_RSA, 16384 }, { BE_KEY_EC, 255 },	 { BE_KEY_EC, 0 },
		{ (enum be_key_alg)99, 256 },
	};
	gnutls_x509_privkey_t key = NULL;
	struct be_err e;
	char name[32];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		be_err_clear(&e);
		rc = be_key_generate(&refused[i], &key, &e);
		ok_rc(rc == BE_E_POLICY && key == NULL && e.msg[0] != '\0', rc, &e,
		      "/key/generate/refuses %s (alg %d, %u bits)",
		      be_keyspec_name(&refused[i], name, sizeof(name)), (int)refused[i].alg,
		      refused[i].bits);
		gnutls_x509_privkey_deinit(key);
		key = NULL;
	}
	rc = be_key_export(NULL, BE_KEY_PKCS8, true, &(gnutls_datum_t){ NULL, 0 }, NULL);
	TAP_IS_INT(rc, BE_E_INTERNAL, "/key/export/null-key");
}

/* ------------------------------------------------------------------ random passwords */

static void
test_random_password(void)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	enum { SAMPLE = 124000, PER = 2000 };
	char pw[65], pw2[65] = "", small[8];
	unsigned counts[62];
	char *big = NULL;
	const char *c;
	size_t i;
	bool ok;
	int rc;

	rc = be_random_password(pw, sizeof(pw), 24);
	ok = rc == BE_OK && strlen(pw) == 24 && strspn(pw, alphabet) == 24;
	tap_ok(ok, "/key/random-password/length-and-alphabet");

	rc = be_random_password(pw, sizeof(pw), 64);
	tap_ok(rc == BE_OK && strlen(pw) == 64, "/key/random-password/fills-buffer-minus-nul");

	memset(small, 'x', sizeof(small));
	rc = be_random_password(small, sizeof(small), sizeof(small));
	ok_rc(rc == BE_E_INTERNAL && small[0] == '\0', rc, NULL,
	      "/key/random-password/refuses-len-equal-to-bufsize");
	rc = be_random_password(NULL, 0, 0);
	TAP_IS_INT(rc, BE_E_INTERNAL, "/key/random-password/refuses-null-buffer");

	rc = be_random_password(small, sizeof(small), 0);
	tap_ok(rc == BE_OK && small[0] == '\0', "/key/random-password/zero-length");

	rc = be_random_password(pw, sizeof(pw), 32);
	if (rc == BE_OK)
		rc = be_random_password(pw2, sizeof(pw2), 32);
	tap_ok(rc == BE_OK && strcmp(pw, pw2) != 0, "/key/random-password/two-differ");

	/* 124000 characters: 2000 expected per symbol, sd ~44.  Plain byte % 62 would give
	 * A-H about 2422 each; a bound of +-250 (5.6 sd) catches that and never trips on a
	 * fair generator in practice. */
	memset(counts, 0, sizeof(counts));
	big = malloc(SAMPLE + 1);
	ok = big != NULL && be_random_password(big, SAMPLE + 1, SAMPLE) == BE_OK;
	for (i = 0; ok && i < SAMPLE; i++) {
		c = strchr(alphabet, big[i]);
		if (c == NULL || big[i] == '\0')
			ok = false;
		else
			counts[c - alphabet]++;
	}
	for (i = 0; ok && i < 62; i++) {
		if (counts[i] < PER - 250 || counts[i] > PER + 250) {
			tap_diag("'%c' appeared %u times", alphabet[i], counts[i]);
			ok = false;
		}
	}
	tap_ok(ok, "/key/random-password/uniform-without-modulo-bias");
	free(big);
}

int
main(void)
{
	static const char *const types[] = { "rsa2048", "rsa3072", "rsa4096", "p256",
					     "p384",    "p521",    "ed25519" };
	gnutls_x509_privkey_t rsa2048 = NULL;
	double ms[sizeof(types) / sizeof(types[0])];
	size_t i;

	if (!tmp_setup("key")) {
		printf("Bail out! cannot create a scratch directory\n");
		return 1;
	}
	test_keyspec_parse();
	test_keyspec_name();
	test_keyspec_curve_equal();
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		test_generate(types[i], &ms[i], i == 0 ? &rsa2048 : NULL);
	if (rsa2048 != NULL)
		test_keyspec_of_pubkey_refusals(rsa2048);
	gnutls_x509_privkey_deinit(rsa2048);
	test_generate_refusals();
	test_random_password();
	tmp_cleanup();
	return tap_done();
}
