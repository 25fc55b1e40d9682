/*
 * Unit tests of gateway/gw_auth.c: roles, password hashes and their cache, API keys,
 * HTTP Basic parsing (RFC 7617) and client-certificate verification.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "gw.h"
#include "tap.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* "Basic " + base64 of len bytes of s, into a static buffer. */
static const char *
basic(const void *s, size_t len)
{
	static char buf[8192];
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)s, (unsigned)len }, out = { NULL, 0 };

	if (gnutls_base64_encode2(&in, &out) < 0 || out.size + 7 > sizeof(buf))
		abort();
	snprintf(buf, sizeof(buf), "Basic %.*s", (int)out.size, (const char *)out.data);
	gnutls_free(out.data);
	return buf;
}

/* ---------------------------------------------------------------- roles */

static void
test_roles(void)
{
	TAP_IS_INT(gw_role_parse("client"), GW_ROLE_CLIENT, "/auth/role/client");
	TAP_IS_INT(gw_role_parse("ca_admin"), GW_ROLE_CA_ADMIN, "/auth/role/ca_admin");
	TAP_IS_INT(gw_role_parse("key_operation"), GW_ROLE_KEY_OP, "/auth/role/key_operation");
	TAP_IS_INT(gw_role_parse("service"), GW_ROLE_SERVICE, "/auth/role/service");
	TAP_IS_INT(gw_role_parse("Client"), 0, "/auth/role/case-sensitive");
	TAP_IS_INT(gw_role_parse("root"), 0, "/auth/role/unknown");
	TAP_IS_INT(gw_role_parse(NULL), 0, "/auth/role/null");
}

/* ---------------------------------------------------------------- passwords */

static void
test_password_roundtrip(void)
{
	char *h1 = NULL, *h2 = NULL;

	tap_ok(gw_auth_hash_password("correct horse", 1000, &h1) == 0 && h1 != NULL,
	       "/auth/password/hash");
	tap_ok(h1 != NULL && strncmp(h1, "pbkdf2-sha256$1000$", 19) == 0,
	       "/auth/password/hash-format: %s", h1 != NULL ? h1 : "(null)");
	tap_ok(gw_auth_hash_password("correct horse", 1000, &h2) == 0 && h2 != NULL &&
	       strcmp(h1, h2) != 0, "/auth/password/salted: two hashes of one password differ");
	tap_ok(gw_auth_check_password(h1, "correct horse"), "/auth/password/check: right password");
	tap_ok(gw_auth_check_password(h2, "correct horse"), "/auth/password/check: second hash");
	tap_ok(!gw_auth_check_password(h1, "correct horsE"), "/auth/password/check: wrong password");
	tap_ok(!gw_auth_check_password(h1, "correct horse "), "/auth/password/check: longer");
	tap_ok(!gw_auth_check_password(h1, "correct hors"), "/auth/password/check: prefix");
	tap_ok(!gw_auth_check_password(h1, ""), "/auth/password/check: empty password");
	tap_ok(!gw_auth_check_password(h1, NULL), "/auth/password/check: NULL password");
	tap_ok(!gw_auth_check_password(NULL, "correct horse"), "/auth/password/check: NULL hash");
	free(h2);
	h2 = NULL;
	tap_ok(gw_auth_hash_password("x", 999, &h2) != 0 && h2 == NULL,
	       "/auth/password/hash: fewer than 1000 iterations refused");
	tap_ok(gw_auth_hash_password("", 1000, &h2) != 0 && h2 == NULL,
	       "/auth/password/hash: empty password refused");
	free(h1);
	free(h2);
}

/* A valid hash, then every way of spoiling it: none may verify. */
static void
test_password_malformed(void)
{
	char good[256], iter[16], salt64[128], hash64[128], s[512], *made = NULL;
	const char *salt, *hash;

	if (gw_auth_hash_password("pw", 1000, &made) != 0)
		abort();
	snprintf(good, sizeof(good), "%s", made);
	free(made);
	tap_ok(gw_auth_check_password(good, "pw"), "/auth/password/malformed: the base case verifies");
	/* good = "pbkdf2-sha256$" iter "$" salt "$" hash */
	salt = strchr(good + 14, '$') + 1;
	hash = strchr(salt, '$') + 1;
	snprintf(iter, sizeof(iter), "%.*s", (int)(salt - 1 - (good + 14)), good + 14);
	snprintf(salt64, sizeof(salt64), "%.*s", (int)(hash - 1 - salt), salt);
	snprintf(hash64, sizeof(hash64), "%s", hash);

#define BAD(what, ...) do { \
		snprintf(s, sizeof(s), __VA_ARGS__); \
		tap_ok(!gw_auth_check_password(s, "pw"), "/auth/password/malformed/%s", what); \
	} while (0)
	BAD("empty", "%s", "");
	BAD("prefix only", "pbkdf2-sha256$");
	BAD("other algorithm", "pbkdf2-sha1$%s$%s$%s", iter, salt64, hash64);
	BAD("upper-case prefix", "PBKDF2-SHA256$%s$%s$%s", iter, salt64, hash64);
	BAD("leading zero iterations", "pbkdf2-sha256$0%s$%s$%s", iter, salt64, hash64);
	BAD("signed iterations", "pbkdf2-sha256$+%s$%s$%s", iter, salt64, hash64);
	BAD("space before iterations", "pbkdf2-sha256$ %s$%s$%s", iter, salt64, hash64);
	BAD("iterations with suffix", "pbkdf2-sha256$%sx$%s$%s", iter, salt64, hash64);
	BAD("no iterations", "pbkdf2-sha256$$%s$%s", salt64, hash64);
	BAD("999 iterations", "pbkdf2-sha256$999$%s$%s", salt64, hash64);
	BAD("iterations over 10^7", "pbkdf2-sha256$10000001$%s$%s", salt64, hash64);
	BAD("iterations overflowing 64 bits", "pbkdf2-sha256$18446744073709552616$%s$%s",
	    salt64, hash64);
	BAD("missing hash", "pbkdf2-sha256$%s$%s", iter, salt64);
	BAD("empty hash", "pbkdf2-sha256$%s$%s$", iter, salt64);
	BAD("empty salt", "pbkdf2-sha256$%s$$%s", iter, hash64);
	BAD("extra field", "pbkdf2-sha256$%s$%s$%s$", iter, salt64, hash64);
	BAD("trailing newline", "pbkdf2-sha256$%s$%s$%s\n", iter, salt64, hash64);
	BAD("trailing space", "pbkdf2-sha256$%s$%s$%s ", iter, salt64, hash64);
	BAD("hash not base64", "pbkdf2-sha256$%s$%s$!%s", iter, salt64, hash64 + 1);
	BAD("salt not base64", "pbkdf2-sha256$%s$*%s$%s", iter, salt64 + 1, hash64);
	BAD("4-byte salt", "pbkdf2-sha256$%s$AAAAAA==$%s", iter, hash64);
	BAD("unpadded salt", "pbkdf2-sha256$%s$%.22s$%s", iter, salt64, hash64);
	BAD("non-canonical salt (stray low bits)", "pbkdf2-sha256$%s$%.21sB==$%s", iter, salt64,
	    hash64);
	BAD("30-byte hash", "pbkdf2-sha256$%s$%s$%.40s", iter, salt64, hash64);
	BAD("33-byte hash", "pbkdf2-sha256$%s$%s$%.43sA", iter, salt64, hash64);
	BAD("hash without '='", "pbkdf2-sha256$%s$%s$%.43s", iter, salt64, hash64);
	BAD("newline in hash", "pbkdf2-sha256$%s$%s$%.20s\n%s", iter, salt64, hash64, hash64 + 20);
	BAD("one character off", "pbkdf2-sha256$%s$%s$%c%s", iter, salt64,
	    hash64[0] == 'A' ? 'B' : 'A', hash64 + 1);
	BAD("other iteration count", "pbkdf2-sha256$1001$%s$%s", salt64, hash64);
	memset(s, 'A', 300);
	memcpy(s, good, strlen(good));
	s[300] = '\0';
	tap_ok(!gw_auth_check_password(s, "pw"), "/auth/password/malformed/over-long");
#undef BAD
}

static void
test_password_cache(void)
{
	char *h = NULL, *other = NULL;
	double t0, t1, t2;

	if (gw_auth_hash_password("cached secret", 200000, &h) != 0 ||
	    gw_auth_hash_password("different", 1000, &other) != 0)
		abort();
	t0 = now_ms();
	tap_ok(gw_auth_check_password(h, "cached secret"), "/auth/cache/first check verifies");
	t1 = now_ms();
	tap_ok(gw_auth_check_password(h, "cached secret"), "/auth/cache/second check verifies");
	t2 = now_ms();
	tap_diag("200000 rounds: first %.2f ms, cached %.3f ms", t1 - t0, t2 - t1);
	tap_ok((t2 - t1) * 4 < (t1 - t0), "/auth/cache/hit costs far less than the slow hash");
	tap_ok(!gw_auth_check_password(h, "cached secreT"),
	       "/auth/cache/hit still rejects a wrong password");
	tap_ok(!gw_auth_check_password(h, "cached secret "),
	       "/auth/cache/hit still rejects a longer password");
	tap_ok(!gw_auth_check_password(other, "cached secret"),
	       "/auth/cache/a cached password does not open another hash");
	tap_ok(gw_auth_check_password(h, "cached secret"), "/auth/cache/still verifies after misses");
	free(h);
	free(other);
}

struct cache_worker {
	const char *hash[2];
	int wrong;			/* answers that were not what they should be */
};

static void *
cache_worker_run(void *arg)
{
	struct cache_worker *w = arg;
	static const char *const pw[2] = { "thread pw 0", "thread pw 1" };
	int i, k;

	for (i = 0; i < 300; i++) {
		k = i & 1;
		if (!gw_auth_check_password(w->hash[k], pw[k]))
			w->wrong++;
		if (gw_auth_check_password(w->hash[k], pw[1 - k]))
			w->wrong++;
	}
	return NULL;
}

static void
test_password_cache_threads(void)
{
	struct cache_worker w[4];
	pthread_t th[4];
	char *h0 = NULL, *h1 = NULL;
	int i, wrong = 0;

	if (gw_auth_hash_password("thread pw 0", 1000, &h0) != 0 ||
	    gw_auth_hash_password("thread pw 1", 1000, &h1) != 0)
		abort();
	for (i = 0; i < 4; i++) {
		w[i].hash[0] = h0;
		w[i].hash[1] = h1;
		w[i].wrong = 0;
		if (pthread_create(&th[i], NULL, cache_worker_run, &w[i]) != 0)
			abort();
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		wrong += w[i].wrong;
	}
	TAP_IS_INT(wrong, 0, "/auth/cache/threads: 4 threads x 600 checks all answered right");
	free(h0);
	free(h1);
}

/* ---------------------------------------------------------------- API keys */

static void
test_api_keys(void)
{
	struct gw_principal p[2];
	struct gw_config cfg;
	const struct gw_principal *who = NULL;
	struct be_err e = { 0, "" };
	char *k1 = NULL, *k2 = NULL, *keys0[2], *keys1[1];
	char upper[80];
	size_t i;

	tap_ok(gw_auth_hash_api_key("abc", &k1) == 0 && k1 != NULL &&
	       strcmp(k1, "sha256$ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
	       == 0, "/auth/apikey/hash: sha256$<hex> of the key (FIPS 180-2 vector)");
	free(k1);
	k1 = NULL;
	tap_ok(gw_auth_hash_api_key("", &k1) != 0 && k1 == NULL, "/auth/apikey/hash: empty refused");

	if (gw_auth_hash_api_key("key-of-p0", &k1) != 0 || gw_auth_hash_api_key("key-of-p1", &k2))
		abort();
	snprintf(upper, sizeof(upper), "%s", k2);
	for (i = 7; upper[i] != '\0'; i++)
		if (upper[i] >= 'a' && upper[i] <= 'f')
			upper[i] = (char)(upper[i] - 'a' + 'A');
	memset(p, 0, sizeof(p));
	memset(&cfg, 0, sizeof(cfg));
	keys0[0] = (char *)"sha256$nothex";
	keys0[1] = k1;
	keys1[0] = upper;
	p[0].name = (char *)"p0";
	p[0].api_key_hashes = keys0;
	p[0].n_api_keys = 2;
	p[1].name = (char *)"p1";
	p[1].api_key_hashes = keys1;
	p[1].n_api_keys = 1;
	cfg.principals = p;
	cfg.n_principals = 2;

	tap_ok(gw_auth_api_key(&cfg, "key-of-p0", &who, &e) == 0 && who == &p[0],
	       "/auth/apikey/lookup: second key of p0 (a malformed first one is skipped)");
	tap_ok(gw_auth_api_key(&cfg, "key-of-p1", &who, &e) == 0 && who == &p[1],
	       "/auth/apikey/lookup: upper-case hex stored hash");
	be_err_clear(&e);
	tap_ok(gw_auth_api_key(&cfg, "key-of-p2", &who, &e) == BE_E_UNAUTH && who == NULL,
	       "/auth/apikey/lookup: unknown key is BE_E_UNAUTH (%s)", e.msg);
	be_err_clear(&e);
	tap_ok(gw_auth_api_key(&cfg, "", &who, &e) == BE_E_UNAUTH, "/auth/apikey/lookup: empty");
	be_err_clear(&e);
	tap_ok(gw_auth_api_key(&cfg, NULL, &who, &e) == BE_E_UNAUTH, "/auth/apikey/lookup: NULL");
	be_err_clear(&e);
	tap_ok(gw_auth_api_key(&cfg, "sha256$nothex", &who, &e) == BE_E_UNAUTH,
	       "/auth/apikey/lookup: the stored string itself is no key");
	free(k1);
	free(k2);
}

/* ---------------------------------------------------------------- HTTP Basic */

static void
test_basic(void)
{
	struct gw_principal p[3];
	struct gw_config cfg;
	const struct gw_principal *who = NULL;
	struct be_err e = { 0, "" };
	char *ha = NULL, *hc = NULL, big[5200];
	int rc;

	if (gw_auth_hash_password("secret-pass", 1000, &ha) != 0 ||
	    gw_auth_hash_password("a:b::c:", 1000, &hc) != 0)
		abort();
	memset(p, 0, sizeof(p));
	memset(&cfg, 0, sizeof(cfg));
	p[0].name = (char *)"alice";
	p[0].password_hash = ha;
	p[1].name = (char *)"carol";
	p[1].password_hash = hc;
	p[2].name = (char *)"dev1";		/* no password: certificate only */
	cfg.principals = p;
	cfg.n_principals = 3;

#define BASIC_OK(hdr, want, name) do { \
		be_err_clear(&e); \
		who = NULL; \
		rc = gw_auth_basic(&cfg, (hdr), &who, &e); \
		tap_ok(rc == 0 && who == (want), "/auth/basic/%s (%s)", name, e.msg); \
	} while (0)
#define BASIC_NO(hdr, name) do { \
		be_err_clear(&e); \
		who = &p[0]; \
		rc = gw_auth_basic(&cfg, (hdr), &who, &e); \
		tap_ok(rc == BE_E_UNAUTH && who == NULL && strstr(e.msg, "secret") == NULL, \
		       "/auth/basic/%s: refused (%s)", name, e.msg); \
	} while (0)

	BASIC_OK(basic("alice:secret-pass", 17), &p[0], "good");
	BASIC_OK("Basic YWxpY2U6c2VjcmV0LXBhc3M=", &p[0], "good, literal");
	BASIC_OK("basic YWxpY2U6c2VjcmV0LXBhc3M=", &p[0], "scheme is case-insensitive");
	BASIC_OK("BASIC   YWxpY2U6c2VjcmV0LXBhc3M=  ", &p[0], "extra spaces around the token");
	BASIC_OK(basic("carol:a:b::c:", 13), &p[1], "password with colons");
	BASIC_OK(basic("alice:secret-pass", 17), &p[0], "again (cached)");

	BASIC_NO(NULL, "absent");
	BASIC_NO("", "empty");
	BASIC_NO("Basic", "scheme only");
	BASIC_NO("Basic ", "scheme and space only");
	BASIC_NO("BasicYWxpY2U6c2VjcmV0LXBhc3M=", "no space after the scheme");
	BASIC_NO("Bearer YWxpY2U6c2VjcmV0LXBhc3M=", "other scheme");
	BASIC_NO(basic("alicesecret-pass", 16), "no colon");
	BASIC_NO(basic(":secret-pass", 12), "empty user-id");
	BASIC_NO(basic("alice:", 6), "empty password");
	BASIC_NO(basic("alice:wrong", 11), "wrong password");
	BASIC_NO(basic("alice:secret-pas", 16), "password prefix");
	BASIC_NO(basic("alice:secret-pass\0x", 19), "NUL after the password");
	BASIC_NO(basic("ali\0ce:secret-pass", 18), "NUL in the user-id");
	BASIC_NO(basic("alice:secret\npass", 17), "control character in the password");
	BASIC_NO(basic("Alice:secret-pass", 17), "user-id is case-sensitive");
	BASIC_NO(basic("bob:secret-pass", 15), "unknown user");
	BASIC_NO(basic("dev1:secret-pass", 16), "user without a password");
	BASIC_NO(basic("carol:a", 7), "password cut at the second colon");
	BASIC_NO("Basic YWxpY2U6c2VjcmV0LXBhc3M", "missing padding");
	BASIC_NO("Basic YWxpY2U6c2VjcmV0LXBhc3M==", "too much padding");
	BASIC_NO("Basic YWxpY2U6c2Vj*mV0LXBhc3M=", "non-base64 character");
	BASIC_NO("Basic YWxpY2U6c2VjcmV0 LXBhc3M=", "space inside the token");
	BASIC_NO("Basic YWxpY2U6c2VjcmV0LXBhc3M= x", "second token");
	BASIC_NO("Basic YWxpY2U6c2VjcmV0LXBhc3N=", "non-canonical base64 (stray low bits)");
	memset(big, 'A', sizeof(big) - 1);
	memcpy(big, "Basic ", 6);
	big[sizeof(big) - 1] = '\0';
	BASIC_NO(big, "over-long header");
#undef BASIC_OK
#undef BASIC_NO
	free(ha);
	free(hc);
}

/* ---------------------------------------------------------------- client certificates */

struct pki_key {
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	gnutls_datum_t der;
};

static void
pki_key_free(struct pki_key *k)
{
	if (k->crt != NULL)
		gnutls_x509_crt_deinit(k->crt);
	if (k->key != NULL)
		gnutls_x509_privkey_deinit(k->key);
	gnutls_free(k->der.data);
	memset(k, 0, sizeof(*k));
}

/* A certificate for dn signed by issuer (self-signed when NULL).  eku may be NULL; ku 0
 * leaves key usage out. */
static void
pki_make(struct pki_key *k, const char *dn, const struct pki_key *issuer, bool ca,
	 const char *eku, unsigned ku, time_t from, time_t to)
{
	static unsigned serial = 1;
	unsigned char sn[4];
	const char *err = NULL;

	memset(k, 0, sizeof(*k));
	if (gnutls_x509_privkey_init(&k->key) < 0 ||
	    gnutls_x509_privkey_generate(k->key, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
	    gnutls_x509_crt_init(&k->crt) < 0)
		abort();
	serial++;
	sn[0] = 0x10;
	sn[1] = (unsigned char)(serial >> 16);
	sn[2] = (unsigned char)(serial >> 8);
	sn[3] = (unsigned char)serial;
	if (gnutls_x509_crt_set_version(k->crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(k->crt, sn, sizeof(sn)) < 0 ||
	    gnutls_x509_crt_set_dn(k->crt, dn, &err) < 0 ||
	    gnutls_x509_crt_set_key(k->crt, k->key) < 0 ||
	    gnutls_x509_crt_set_activation_time(k->crt, from) < 0 ||
	    gnutls_x509_crt_set_expiration_time(k->crt, to) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(k->crt, ca ? 1 : 0, -1) < 0)
		abort();
	if (ku != 0 && gnutls_x509_crt_set_key_usage(k->crt, ku) < 0)
		abort();
	if (eku != NULL && gnutls_x509_crt_set_key_purpose_oid(k->crt, eku, 0) < 0)
		abort();
	if (gnutls_x509_crt_sign2(k->crt, issuer != NULL ? issuer->crt : k->crt,
				  issuer != NULL ? issuer->key : k->key, GNUTLS_DIG_SHA256, 0) < 0 ||
	    gnutls_x509_crt_export2(k->crt, GNUTLS_X509_FMT_DER, &k->der) < 0)
		abort();
}

static void
write_pem(const struct pki_key *k, const char *path)
{
	gnutls_datum_t pem = { NULL, 0 };
	FILE *f;

	if (gnutls_x509_crt_export2(k->crt, GNUTLS_X509_FMT_PEM, &pem) < 0)
		abort();
	f = fopen(path, "w");
	if (f == NULL || fwrite(pem.data, 1, pem.size, f) != pem.size || fclose(f) != 0)
		abort();
	gnutls_free(pem.data);
}

static void
test_client_cert(void)
{
	const unsigned ku_sig = GNUTLS_KEY_DIGITAL_SIGNATURE;
	time_t now = time(NULL), day = 24 * 3600;
	struct pki_key ca, other_ca, good, chain_leaf, expired, eku_server, ku_enc, no_ext, unbound,
		       multi, other;
	struct gw_principal p[2];
	struct gw_config cfg;
	struct gw_client_trust *t = NULL, *bad = NULL;
	const struct gw_principal *who = NULL;
	struct be_err e = { 0, "" };
	char dir[] = "/tmp/test-gw-auth.XXXXXX", path[64], *subj = NULL;
	char *subjects0[2] = { (char *)"CN=dev1", (char *)"cn=dev3, o=Acme Corp, c=DE" };
	char *subjects1[1] = { (char *)"CN=nodes" };
	char *bad_subjects[1] = { (char *)"CN" }, *empty_subjects[1] = { (char *)"" };
	gnutls_datum_t list[GW_MAX_PEER_CERTS + 1], junk = { (unsigned char *)"junk", 4 };
	int rc;
	size_t i;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	pki_make(&ca, "CN=test client CA", NULL, true, NULL,
		 GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN, now - day, now + 30 * day);
	pki_make(&other_ca, "CN=test client CA", NULL, true, NULL,
		 GNUTLS_KEY_KEY_CERT_SIGN, now - day, now + 30 * day);
	pki_make(&good, "CN=dev1", &ca, false, GNUTLS_KP_TLS_WWW_CLIENT, ku_sig, now - day,
		 now + day);
	pki_make(&chain_leaf, "CN=dev1", &ca, false, NULL, 0, now - day, now + day);
	pki_make(&expired, "CN=dev1", &ca, false, GNUTLS_KP_TLS_WWW_CLIENT, ku_sig,
		 now - 10 * day, now - day);
	pki_make(&eku_server, "CN=dev1", &ca, false, GNUTLS_KP_TLS_WWW_SERVER, ku_sig,
		 now - day, now + day);
	pki_make(&ku_enc, "CN=dev1", &ca, false, GNUTLS_KP_TLS_WWW_CLIENT,
		 GNUTLS_KEY_KEY_ENCIPHERMENT, now - day, now + day);
	pki_make(&no_ext, "CN=dev1", &ca, false, NULL, 0, now - day, now + day);
	pki_make(&unbound, "CN=dev9", &ca, false, GNUTLS_KP_TLS_WWW_CLIENT, ku_sig, now - day,
		 now + day);
	pki_make(&multi, "CN=dev3,O=Acme Corp,C=DE", &ca, false, NULL, ku_sig, now - day,
		 now + day);
	pki_make(&other, "CN=dev1", &other_ca, false, GNUTLS_KP_TLS_WWW_CLIENT, ku_sig,
		 now - day, now + day);
	write_pem(&ca, path);

	memset(p, 0, sizeof(p));
	memset(&cfg, 0, sizeof(cfg));
	p[0].name = (char *)"dev1";
	p[0].cert_subjects = subjects0;
	p[0].n_cert_subjects = 2;
	p[1].name = (char *)"nodes";
	p[1].cert_subjects = subjects1;
	p[1].n_cert_subjects = 1;
	cfg.principals = p;
	cfg.n_principals = 2;

	rc = gw_client_trust_new(&cfg, path, &t, &e);
	tap_ok(rc == 0 && t != NULL, "/auth/cert/trust: loads the CA file (%s)", e.msg);
	if (t == NULL)
		goto out;

#define CERT_OK(certs, n, want, name) do { \
		be_err_clear(&e); \
		who = NULL; \
		rc = gw_auth_client_cert(t, (certs), (n), &who, NULL, &e); \
		tap_ok(rc == 0 && who == (want), "/auth/cert/%s (%s)", name, e.msg); \
	} while (0)
#define CERT_NO(tr, certs, n, name) do { \
		be_err_clear(&e); \
		who = &p[1]; \
		rc = gw_auth_client_cert((tr), (certs), (n), &who, NULL, &e); \
		tap_ok(rc == BE_E_UNAUTH && who == NULL, "/auth/cert/%s: refused (%s)", name, \
		       e.msg); \
	} while (0)

	CERT_OK(&good.der, 1, &p[0], "leaf from the trusted CA maps to dev1");
	list[0] = chain_leaf.der;
	list[1] = ca.der;
	CERT_OK(list, 2, &p[0], "leaf plus CA chain; no key usage or EKU is fine");
	CERT_OK(&no_ext.der, 1, &p[0], "no extensions at all");
	CERT_OK(&multi.der, 1, &p[0],
		"subject matches the configured RFC 4514 form after normalisation");
	CERT_NO(t, &other.der, 1, "same subject, signed by an untrusted CA");
	CERT_NO(t, &expired.der, 1, "expired");
	CERT_NO(t, &eku_server.der, 1, "EKU serverAuth only");
	CERT_NO(t, &ku_enc.der, 1, "key usage without digitalSignature");
	CERT_NO(t, &unbound.der, 1, "verified but bound to no principal");
	CERT_NO(t, &junk, 1, "not DER");
	CERT_NO(t, &good.der, 0, "no certificate");
	CERT_NO(NULL, &good.der, 1, "no trust configured");
	CERT_NO(t, &ca.der, 1, "the CA itself, bound to no principal");
	for (i = 0; i <= GW_MAX_PEER_CERTS; i++)
		list[i] = good.der;
	CERT_NO(t, list, GW_MAX_PEER_CERTS + 1, "chain longer than GW_MAX_PEER_CERTS");

	be_err_clear(&e);
	rc = gw_auth_client_cert(t, &unbound.der, 1, NULL, &subj, &e);
	tap_ok(rc == 0 && subj != NULL && strcmp(subj, "CN=dev9") == 0,
	       "/auth/cert/verify-only: no principal asked, subject returned (%s)",
	       subj != NULL ? subj : e.msg);
	free(subj);
	subj = NULL;
	be_err_clear(&e);
	rc = gw_auth_client_cert(t, &good.der, 1, &who, &subj, &e);
	tap_ok(rc == 0 && who == &p[0] && subj != NULL && strcmp(subj, "CN=dev1") == 0,
	       "/auth/cert/subject: principal and subject together");
	free(subj);
	subj = NULL;
	be_err_clear(&e);
	rc = gw_auth_client_cert(t, &expired.der, 1, NULL, &subj, &e);
	tap_ok(rc == BE_E_UNAUTH && subj == NULL, "/auth/cert/verify-only: expired still refused");

	be_err_clear(&e);
	p[1].cert_subjects = bad_subjects;
	rc = gw_client_trust_new(&cfg, path, &bad, &e);
	tap_ok(rc == BE_E_CONFIG && bad == NULL && strstr(e.msg, "principals.nodes") != NULL,
	       "/auth/cert/trust: unparsable subject is a config error (%s)", e.msg);
	be_err_clear(&e);
	p[1].cert_subjects = empty_subjects;
	rc = gw_client_trust_new(&cfg, path, &bad, &e);
	tap_ok(rc == BE_E_CONFIG && bad == NULL,
	       "/auth/cert/trust: empty subject is a config error (%s)", e.msg);
	p[1].cert_subjects = subjects1;
	be_err_clear(&e);
	rc = gw_client_trust_new(&cfg, "/nonexistent/ca.pem", &bad, &e);
	tap_ok(rc == BE_E_CONFIG && bad == NULL, "/auth/cert/trust: missing CA file (%s)", e.msg);
#undef CERT_OK
#undef CERT_NO
out:
	gw_client_trust_free(t);
	gw_client_trust_free(NULL);
	pki_key_free(&ca);
	pki_key_free(&other_ca);
	pki_key_free(&good);
	pki_key_free(&chain_leaf);
	pki_key_free(&expired);
	pki_key_free(&eku_server);
	pki_key_free(&ku_enc);
	pki_key_free(&no_ext);
	pki_key_free(&unbound);
	pki_key_free(&multi);
	pki_key_free(&other);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	if (gnutls_global_init() < 0)
		return 99;
	test_roles();
	test_password_roundtrip();
	test_password_malformed();
	test_password_cache();
	test_password_cache_threads();
	test_api_keys();
	test_basic();
	test_client_cert();
	gnutls_global_deinit();
	return tap_done();
}
