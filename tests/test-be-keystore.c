/*
 * Tests for backend/be_keystore.c and backend/be_policy.c: the master key file and its
 * checks, encryption at rest (the raw catalogue never holds a key in clear), passwords,
 * extractable / sensitive / destroyable rules, CSRs openssl-style valid, policies parsed
 * strictly, the quorum logic (groups AND, tokens OR, rejections, timeouts, timelocks),
 * approver signatures (RSA, EC, Ed25519; forged, foreign), and the certificate flows:
 * approvals completing a quorum issue exactly one certificate however many race.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "be_csr.h"
#include "be_issue.h"
#include "be_json.h"
#include "be_key.h"
#include "be_keystore.h"
#include "be_policy.h"
#include "be_profile.h"
#include "tap.h"

#define RACES		4

static char tmpdir[256];

static char *
tpath(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
	return buf;
}

static bool
file_has(const char *path, const void *needle, size_t n)
{
	unsigned char *buf = NULL;
	size_t len = 0, i;
	bool found = false;

	if (be_file_read(path, 256 << 20, &buf, &len, NULL) != BE_OK)
		return false;
	for (i = 0; i + n <= len && !found; i++)
		found = memcmp(buf + i, needle, n) == 0;
	free(buf);
	return found;
}

/* ---------------------------------------------------------------- approvers */

struct approver {
	gnutls_privkey_t key;
	char *spki;
	gnutls_digest_algorithm_t dig;
};

static int
approver_new(const struct be_keyspec *spec, struct approver *a)
{
	gnutls_x509_privkey_t x = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t der = { NULL, 0 };
	int rc = -1;

	memset(a, 0, sizeof(*a));
	if (be_key_generate(spec, &x, NULL) != BE_OK || be_key_pubkey(x, &pub, NULL) != BE_OK ||
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der) < 0 ||
	    be_base64_encode(der.data, der.size, 0, &a->spki) != BE_OK ||
	    gnutls_privkey_init(&a->key) < 0 ||
	    gnutls_privkey_import_x509(a->key, x, GNUTLS_PRIVKEY_IMPORT_COPY) < 0)
		goto out;
	a->dig = spec->alg == BE_KEY_ED25519 ? GNUTLS_DIG_UNKNOWN : GNUTLS_DIG_SHA256;
	rc = 0;
out:
	be_datum_free(&der);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	if (x != NULL)
		gnutls_x509_privkey_deinit(x);
	return rc;
}

static void
approver_free(struct approver *a)
{
	if (a->key != NULL)
		gnutls_privkey_deinit(a->key);
	free(a->spki);
}

/* A policy text: one token, one group of quorum q over approvers a[0..n). */
static char *
policy_text(const struct approver *a, size_t n, unsigned q, unsigned timelock, unsigned timeout)
{
	json_t *apps = json_array(), *j;
	struct be_policy *p = NULL;
	char *text = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(apps, json_pack("{s:s, s:s}", "type", "public_key", "value",
						      a[i].spki));
	j = json_pack("{s:{s:[{s:s, s:i, s:i, s:[{s:s, s:i, s:o}]}]}}", "ruleUse", "tokens",
		      "name", "main", "timelock", (int)timelock, "timeout", (int)timeout,
		      "groups", "name", "g", "quorum", (int)q, "approvals", apps);
	if (j != NULL && be_policy_parse(j, "policy", &p, NULL) == BE_OK) {
		json_t *c = be_policy_json(p);

		text = json_dumps(c, JSON_COMPACT);
		json_decref(c);
	}
	be_policy_free(p);
	json_decref(j);
	return text;
}

/* ---------------------------------------------------------------- PKI helpers */

/* A self-signed root, and a CA certificate for the key store's key k signed by it. */
static int
make_ca_cert(struct be_keystore *ks, const struct be_ks_key *k, unsigned pathlen,
	     char **b64)
{
	const struct be_keyspec ec = { BE_KEY_EC, 256 };
	struct be_name subj = { NULL, 0 };
	struct be_ks_csr_req r;
	gnutls_x509_privkey_t rk = NULL;
	gnutls_x509_crt_t root = NULL, crt = NULL;
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t pem = { NULL, 0 }, der = { NULL, 0 };
	unsigned char kid[64], serial[16] = { 0x11, 2, 3, 4 };
	size_t kidlen = sizeof(kid);
	time_t now = time(NULL);
	int rc = -1;

	memset(&r, 0, sizeof(r));
	if (be_name_add(&subj, BE_DN_CN, "Test Intermediate CA", 20, NULL) != BE_OK)
		goto out;
	r.subject = &subj;
	r.key_usage = GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN;
	if (be_keystore_csr(ks, k, &r, &pem, NULL) != BE_OK)
		goto out;
	if (be_key_generate(&ec, &rk, NULL) != BE_OK || gnutls_x509_crt_init(&root) < 0 ||
	    gnutls_x509_crt_set_version(root, 3) < 0 ||
	    gnutls_x509_crt_set_serial(root, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_dn(root, "CN=Test Root", NULL) < 0 ||
	    gnutls_x509_crt_set_key(root, rk) < 0 ||
	    gnutls_x509_crt_set_activation_time(root, now - 3600) < 0 ||
	    gnutls_x509_crt_set_expiration_time(root, now + 86400 * 400) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(root, 1, -1) < 0 ||
	    gnutls_x509_crt_set_key_usage(root, GNUTLS_KEY_KEY_CERT_SIGN) < 0 ||
	    gnutls_x509_crt_get_key_id(root, GNUTLS_KEYID_USE_SHA1, kid, &kidlen) < 0 ||
	    gnutls_x509_crt_set_subject_key_id(root, kid, kidlen) < 0 ||
	    gnutls_x509_crt_sign2(root, root, rk, GNUTLS_DIG_SHA256, 0) < 0)
		goto out;
	serial[0] = 0x22;
	if (gnutls_x509_crq_init(&crq) < 0 ||
	    gnutls_x509_crq_import(crq, &pem, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_x509_crt_init(&crt) < 0 || gnutls_x509_crt_set_crq(crt, crq) < 0 ||
	    gnutls_x509_crt_set_version(crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, now - 3600) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, now + 86400 * 300) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(crt, 1, (int)pathlen) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN) < 0 ||
	    gnutls_x509_crt_set_authority_key_id(crt, kid, kidlen) < 0 ||
	    gnutls_x509_crt_sign2(crt, root, rk, GNUTLS_DIG_SHA256, 0) < 0 ||
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) < 0 ||
	    be_base64_encode(der.data, der.size, 76, b64) != BE_OK)
		goto out;
	rc = 0;
out:
	be_name_clear(&subj);
	be_datum_free(&pem);
	be_datum_free(&der);
	if (crq != NULL)
		gnutls_x509_crq_deinit(crq);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	if (root != NULL)
		gnutls_x509_crt_deinit(root);
	if (rk != NULL)
		gnutls_x509_privkey_deinit(rk);
	return rc;
}

/* A PEM CSR from a fresh P-256 key. */
static char *
leaf_csr(const char *cn)
{
	const struct be_keyspec ec = { BE_KEY_EC, 256 };
	gnutls_x509_privkey_t k = NULL;
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t pem = { NULL, 0 };
	char *out = NULL;

	if (be_key_generate(&ec, &k, NULL) == BE_OK && gnutls_x509_crq_init(&crq) >= 0 &&
	    gnutls_x509_crq_set_version(crq, 1) >= 0 &&
	    gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
					  (unsigned)strlen(cn)) >= 0 &&
	    gnutls_x509_crq_set_key(crq, k) >= 0 &&
	    gnutls_x509_crq_sign2(crq, k, GNUTLS_DIG_SHA256, 0) >= 0 &&
	    gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &pem) >= 0 &&
	    (out = malloc((size_t)pem.size + 1)) != NULL) {
		memcpy(out, pem.data, pem.size);
		out[pem.size] = '\0';
	}
	be_datum_free(&pem);
	if (crq != NULL)
		gnutls_x509_crq_deinit(crq);
	if (k != NULL)
		gnutls_x509_privkey_deinit(k);
	return out;
}

/* ---------------------------------------------------------------- key store */

static void
test_master_key(void)
{
	struct be_keystore *ks = NULL;
	struct be_err e = { 0, "" };
	struct be_ks_new_key nk;
	char db[512], mk[512], mk2[512];
	struct stat st;
	int fd;

	tpath("m.db", db, sizeof(db));
	tpath("m.key", mk, sizeof(mk));
	tap_ok(be_keystore_open(db, mk, &ks, &e) == BE_OK, "/keystore/open/creates (%s)", e.msg);
	tap_ok(stat(mk, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 32,
	       "/keystore/master-key/created-0600-32-bytes");
	memset(&nk, 0, sizeof(nk));
	nk.label = "m1";
	nk.spec.alg = BE_KEY_EC;
	nk.spec.bits = 256;
	nk.attrs = BE_KS_SIGN;
	tap_ok(be_keystore_key_create(ks, &nk, NULL, NULL) == BE_OK, "/keystore/master-key/key");
	be_keystore_close(ks);
	ks = NULL;

	tap_ok(be_keystore_open(db, mk, &ks, NULL) == BE_OK, "/keystore/open/reopens");
	be_keystore_close(ks);
	ks = NULL;

	tpath("other.key", mk2, sizeof(mk2));
	be_err_clear(&e);
	tap_ok(be_keystore_open(db, mk2, &ks, &e) == BE_E_CONFIG && strstr(e.msg, "missing"),
	       "/keystore/master-key/missing-for-used-store-refused (%s)", e.msg);
	fd = open(mk2, O_WRONLY | O_CREAT | O_EXCL, 0600);
	tap_ok(fd >= 0 && write(fd, "0123456789abcdef0123456789abcdef", 32) == 32,
	       "/keystore/master-key/other-written");
	if (fd >= 0)
		close(fd);
	be_err_clear(&e);
	tap_ok(be_keystore_open(db, mk2, &ks, &e) == BE_E_CONFIG && strstr(e.msg, "does not open"),
	       "/keystore/master-key/wrong-key-refused (%s)", e.msg);
	chmod(mk, 0644);
	be_err_clear(&e);
	tap_ok(be_keystore_open(db, mk, &ks, &e) == BE_E_CONFIG && strstr(e.msg, "chmod"),
	       "/keystore/master-key/group-readable-refused (%s)", e.msg);
	chmod(mk, 0600);
	be_keystore_close(ks);
}

static void
test_keys(struct be_keystore *ks)
{
	struct be_ks_new_key nk;
	struct be_ks_key *k = NULL, *k2 = NULL;
	struct be_err e = { 0, "" };
	gnutls_datum_t der = { NULL, 0 }, raw_k = { NULL, 0 }, x = { NULL, 0 }, y = { NULL, 0 };
	gnutls_x509_privkey_t xk = NULL;
	gnutls_ecc_curve_t curve;
	char db[512], wal[512], **labels = NULL;
	size_t n = 0;
	int rc;

	memset(&nk, 0, sizeof(nk));
	nk.label = "exportable";
	nk.password = "correct horse";
	nk.spec.alg = BE_KEY_EC;
	nk.spec.bits = 256;
	nk.attrs = BE_KS_SIGN | BE_KS_EXTRACTABLE | BE_KS_DESTROYABLE;
	tap_ok(be_keystore_key_create(ks, &nk, &k, &e) == BE_OK && k != NULL &&
	       k->has_password && k->spki.size > 0,
	       "/keystore/key/create-ec (%s)", e.msg);
	be_err_clear(&e);
	tap_ok(be_keystore_key_create(ks, &nk, NULL, &e) == BE_E_CONFLICT,
	       "/keystore/key/duplicate-label-conflict (%s)", e.msg);

	/* Passwords: slow hash, exact match. */
	be_err_clear(&e);
	tap_ok(be_keystore_key_auth(ks, k, "correct horsE", &e) == BE_E_FORBIDDEN &&
	       strstr(e.msg, "wrong password"), "/keystore/password/wrong-refused (%s)", e.msg);
	be_err_clear(&e);
	tap_ok(be_keystore_key_auth(ks, k, NULL, &e) == BE_E_FORBIDDEN,
	       "/keystore/password/missing-refused (%s)", e.msg);
	tap_ok(be_keystore_key_auth(ks, k, "correct horse", NULL) == BE_OK,
	       "/keystore/password/right-accepted");

	/* Extractable and not sensitive: exports; the value appears nowhere on disk. */
	rc = be_keystore_key_export(ks, k, &der, &e);
	tap_ok(rc == BE_OK && der.size > 0, "/keystore/export/extractable-exports (%s)", e.msg);
	if (gnutls_x509_privkey_init(&xk) >= 0 &&
	    gnutls_x509_privkey_import2(xk, &der, GNUTLS_X509_FMT_DER, NULL, 0) >= 0 &&
	    gnutls_x509_privkey_export_ecc_raw(xk, &curve, &x, &y, &raw_k) >= 0) {
		tpath("ks.db", db, sizeof(db));
		tpath("ks.db-wal", wal, sizeof(wal));
		tap_ok(raw_k.size >= 32, "/keystore/at-rest/private-scalar-known");
		tap_ok(!file_has(db, raw_k.data + raw_k.size - 32, 32) &&
		       !file_has(wal, raw_k.data + raw_k.size - 32, 32) &&
		       !file_has(db, der.data, der.size) && !file_has(wal, der.data, der.size),
		       "/keystore/at-rest/raw-database-never-holds-the-key");
		tap_ok(file_has(db, k->spki.data, k->spki.size) ||
		       file_has(wal, k->spki.data, k->spki.size),
		       "/keystore/at-rest/the-search-finds-what-is-there (public key)");
	} else {
		tap_ok(0, "/keystore/at-rest/private-scalar-known");
	}
	be_datum_wipe(&der);

	/* Not extractable, or sensitive: refused. */
	nk.label = "locked";
	nk.password = NULL;
	nk.attrs = BE_KS_SIGN | BE_KS_DESTROYABLE;
	tap_ok(be_keystore_key_create(ks, &nk, &k2, NULL) == BE_OK, "/keystore/key/create-plain");
	be_err_clear(&e);
	tap_ok(k2 != NULL && be_keystore_key_export(ks, k2, &der, &e) == BE_E_FORBIDDEN &&
	       strstr(e.msg, "not extractable") && der.size == 0,
	       "/keystore/export/non-extractable-refused (%s)", e.msg);
	be_ks_key_free(k2);
	k2 = NULL;
	nk.label = "sensitive";
	nk.attrs = BE_KS_SIGN | BE_KS_EXTRACTABLE | BE_KS_SENSITIVE;
	be_err_clear(&e);
	tap_ok(be_keystore_key_create(ks, &nk, &k2, NULL) == BE_OK &&
	       be_keystore_key_export(ks, k2, &der, &e) == BE_E_FORBIDDEN &&
	       strstr(e.msg, "sensitive"), "/keystore/export/sensitive-refused (%s)", e.msg);
	be_err_clear(&e);
	tap_ok(be_keystore_key_delete(ks, "sensitive", (int64_t)time(NULL), NULL, &e) ==
	       BE_E_FORBIDDEN && strstr(e.msg, "destroyable"),
	       "/keystore/delete/non-destroyable-refused (%s)", e.msg);
	be_ks_key_free(k2);
	k2 = NULL;

	nk.label = "bad\"label";
	be_err_clear(&e);
	tap_ok(be_keystore_key_create(ks, &nk, NULL, &e) == BE_E_MALFORMED,
	       "/keystore/key/bad-label-refused (%s)", e.msg);
	nk.label = "ska-extractable";
	nk.policy = "{}";
	nk.attrs = BE_KS_SIGN | BE_KS_EXTRACTABLE;
	be_err_clear(&e);
	tap_ok(be_keystore_key_create(ks, &nk, NULL, &e) == BE_E_POLICY,
	       "/keystore/key/policy-and-extractable-refused (%s)", e.msg);
	nk.policy = NULL;

	tap_ok(be_keystore_key_list(ks, &labels, &n, NULL) == BE_OK && n == 3 &&
	       strcmp(labels[0], "exportable") == 0, "/keystore/key/list");
	be_strv_free(labels, n);

	tap_ok(be_keystore_key_delete(ks, "exportable", (int64_t)time(NULL), NULL, NULL) ==
	       BE_OK && be_keystore_key_get(ks, "exportable", &k2, NULL) == BE_E_NOTFOUND,
	       "/keystore/delete/gone");
	tap_ok(raw_k.size >= 32 && !file_has(db, raw_k.data + raw_k.size - 32, 32),
	       "/keystore/delete/still-nothing-in-clear");
	be_ks_key_free(k2);
	be_ks_key_free(k);
	be_datum_wipe(&raw_k);
	be_datum_free(&x);
	be_datum_free(&y);
	if (xk != NULL)
		gnutls_x509_privkey_deinit(xk);
}

static void
test_csr(struct be_keystore *ks)
{
	struct be_ks_new_key nk;
	struct be_ks_key *k = NULL;
	struct be_ks_csr_req r;
	struct be_name subj = { NULL, 0 };
	struct be_csr *csr = NULL;
	struct be_err e = { 0, "" };
	gnutls_datum_t pem = { NULL, 0 };
	char *eku[] = { "1.3.6.1.5.5.7.3.2" };

	memset(&nk, 0, sizeof(nk));
	memset(&r, 0, sizeof(r));
	nk.label = "csr-key";
	nk.spec.alg = BE_KEY_RSA;
	nk.spec.bits = 2048;
	nk.attrs = BE_KS_SIGN;
	be_name_add(&subj, BE_DN_C, "CH", 2, NULL);
	be_name_add(&subj, BE_DN_ORGID, "CHE-464.234.583 MWST", 20, NULL);
	be_name_add(&subj, BE_DN_CN, "SUB-Securosys-001", 17, NULL);
	r.subject = &subj;
	r.key_usage = GNUTLS_KEY_DIGITAL_SIGNATURE;
	r.eku = eku;
	r.n_eku = 1;
	tap_ok(be_keystore_key_create(ks, &nk, &k, NULL) == BE_OK &&
	       be_keystore_csr(ks, k, &r, &pem, &e) == BE_OK,
	       "/keystore/csr/made (%s)", e.msg);
	tap_ok(pem.data != NULL && strstr((char *)pem.data, "BEGIN NEW CERTIFICATE REQUEST"),
	       "/keystore/csr/pem");
	be_err_clear(&e);
	tap_ok(pem.data != NULL && be_csr_parse(pem.data, pem.size, 0, &csr, &e) == BE_OK &&
	       csr->signature_ok && csr->has_key_usage &&
	       csr->key_usage == GNUTLS_KEY_DIGITAL_SIGNATURE && csr->n_eku == 1 &&
	       be_name_equal(&csr->subject, &subj),
	       "/keystore/csr/verifies-with-subject-and-usages (%s)", e.msg);
	be_datum_free(&pem);
	r.sig_alg = BE_KEY_EC;
	be_err_clear(&e);
	tap_ok(be_keystore_csr(ks, k, &r, &pem, &e) == BE_E_POLICY,
	       "/keystore/csr/signature-algorithm-of-other-type-refused (%s)", e.msg);
	r.sig_alg = BE_KEY_NONE;
	r.key_usage = GNUTLS_KEY_KEY_AGREEMENT;
	be_err_clear(&e);
	tap_ok(be_keystore_csr(ks, k, &r, &pem, &e) == BE_E_POLICY,
	       "/keystore/csr/key-agreement-on-rsa-refused (%s)", e.msg);
	be_csr_free(csr);
	be_name_clear(&subj);
	be_ks_key_free(k);
}

/* ---------------------------------------------------------------- policies */

static void
test_policy_parse(const struct approver *a)
{
	struct be_policy *p = NULL;
	struct be_err e = { 0, "" };
	json_t *j;

	j = json_pack("{s:{s:[{s:[{s:i, s:[{s:s, s:s}]}]}]}}", "ruleUse", "tokens", "groups",
		      "quorum", 2, "approvals", "type", "public_key", "value", a[0].spki);
	tap_ok(be_policy_parse(j, "policy", &p, &e) == BE_E_MALFORMED && strstr(e.msg, "quorum"),
	       "/policy/parse/quorum-over-approvers-refused (%s)", e.msg);
	json_decref(j);
	j = json_pack("{s:{s:[{s:[{s:i, s:[{s:s, s:s}]}]}]}}", "ruleUse", "tokens", "groups",
		      "quorum", 1, "approvals", "type", "onboarded_approver_certificate", "value",
		      "x");
	be_err_clear(&e);
	tap_ok(be_policy_parse(j, "policy", &p, &e) == BE_E_MALFORMED,
	       "/policy/parse/onboarded-refused (%s)", e.msg);
	json_decref(j);
	j = json_pack("{s:{s:[{s:[{s:i, s:[{s:s, s:s}]}]}]}}", "ruleUse", "tokens", "groups",
		      "quorum", 1, "approvals", "type", "public_key", "value", "bm90IGEga2V5");
	be_err_clear(&e);
	tap_ok(be_policy_parse(j, "policy", &p, &e) != BE_OK &&
	       strstr(e.msg, "policy.ruleUse.tokens[0].groups[0].approvals[0].value"),
	       "/policy/parse/bad-key-named-by-path (%s)", e.msg);
	json_decref(j);
	j = json_pack("{s:{s:[]}, s:i}", "ruleUse", "tokens", "surprise", 1);
	be_err_clear(&e);
	tap_ok(be_policy_parse(j, "policy", &p, &e) == BE_E_MALFORMED &&
	       strstr(e.msg, "surprise: unknown key"), "/policy/parse/unknown-key (%s)", e.msg);
	json_decref(j);
	j = json_pack("{s:{s:[{s:s, s:i, s:i, s:n}]}, s:{s:b}}", "ruleUse", "tokens", "name",
		      "open", "timelock", 0, "timeout", 0, "groups", "keyStatus", "blocked", 0);
	tap_ok(be_policy_parse(j, "policy", &p, NULL) == BE_OK && !be_policy_needs_approval(p),
	       "/policy/parse/token-without-groups-needs-no-approval");
	be_policy_free(p);
	json_decref(j);
}

static void
test_quorum(const struct approver *a)
{
	struct be_policy *p = NULL, *p2 = NULL;
	struct be_ks_decision d[4];
	char *t;
	int64_t ready = 0, c0 = 1000000;
	const char *why = NULL;
	json_t *j;

	t = policy_text(a, 3, 2, 60, 3600);
	tap_ok(t != NULL && be_policy_decode(t, &p, NULL) == BE_OK, "/quorum/policy-2-of-3");
	free(t);
	if (p == NULL)
		return;
	memset(d, 0, sizeof(d));
	d[0].approver = a[0].spki;
	d[0].approve = true;
	d[0].at = c0 + 10;
	d[1].approver = a[1].spki;
	d[1].approve = true;
	d[1].at = c0 + 20;
	d[2].approver = a[2].spki;
	d[2].approve = false;
	d[2].at = c0 + 30;
	d[3].approver = a[3].spki;	/* not in the policy */
	d[3].approve = true;
	d[3].at = c0 + 5;
	TAP_IS_INT(be_policy_eval(p, d, 0, c0, c0 + 1, &ready, &why), BE_KS_PENDING,
		   "/quorum/none-pending");
	TAP_IS_INT(be_policy_eval(p, d, 1, c0, c0 + 11, &ready, &why), BE_KS_PENDING,
		   "/quorum/one-of-two-pending");
	TAP_IS_INT(be_policy_eval(p, &d[3], 1, c0, c0 + 11, &ready, &why), BE_KS_PENDING,
		   "/quorum/foreign-approver-counts-nothing");
	TAP_IS_INT(be_policy_eval(p, d, 2, c0, c0 + 21, &ready, &why), BE_KS_APPROVED,
		   "/quorum/two-of-three-approved");
	TAP_IS_INT(ready, c0 + 60, "/quorum/ready-after-timelock");
	d[1].approve = false;
	TAP_IS_INT(be_policy_eval(p, d, 2, c0, c0 + 21, &ready, &why), BE_KS_PENDING,
		   "/quorum/one-rejection-still-reachable");
	TAP_IS_INT(be_policy_eval(p, d, 3, c0, c0 + 31, &ready, &why), BE_KS_REJECTED,
		   "/quorum/two-rejections-rejected");
	d[1].approve = true;
	TAP_IS_INT(be_policy_eval(p, d, 1, c0, c0 + 3601, &ready, &why), BE_KS_EXPIRED,
		   "/quorum/timeout-expired");
	d[1].at = c0 + 3700;
	TAP_IS_INT(be_policy_eval(p, d, 2, c0, c0 + 3701, &ready, &why), BE_KS_EXPIRED,
		   "/quorum/approval-after-timeout-does-not-count");
	d[1].at = c0 + 20;

	/* Two groups (AND) in one token, a second token (OR) with a single approver. */
	j = json_pack("{s:{s:[{s:[{s:i, s:[{s:s, s:s}]}, {s:i, s:[{s:s, s:s}]}]},"
		      " {s:i, s:[{s:i, s:[{s:s, s:s}]}]}]}}", "ruleUse", "tokens",
		      "groups", "quorum", 1, "approvals", "type", "public_key", "value", a[0].spki,
		      "quorum", 1, "approvals", "type", "public_key", "value", a[1].spki,
		      "timelock", 5, "groups", "quorum", 1, "approvals", "type", "public_key",
		      "value", a[2].spki);
	tap_ok(be_policy_parse(j, "policy", &p2, NULL) == BE_OK, "/quorum/two-tokens-parse");
	json_decref(j);
	if (p2 != NULL) {
		d[2].approve = true;
		TAP_IS_INT(be_policy_eval(p2, d, 1, c0, c0 + 11, &ready, &why), BE_KS_PENDING,
			   "/quorum/groups-and: one group is not enough");
		TAP_IS_INT(be_policy_eval(p2, d, 2, c0, c0 + 21, &ready, &why), BE_KS_APPROVED,
			   "/quorum/groups-and: both groups approve");
		TAP_IS_INT(be_policy_eval(p2, &d[2], 1, c0, c0 + 31, &ready, &why), BE_KS_APPROVED,
			   "/quorum/tokens-or: the other token alone");
		TAP_IS_INT(ready, c0 + 5, "/quorum/tokens-or: its own timelock");
	}
	be_policy_free(p2);
	be_policy_free(p);
}

static void
test_signatures(const struct approver *a)
{
	static const char msg[] = "certgate TSB approval v1\ndecision: APPROVE\n";
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t sig = { NULL, 0 };
	struct be_err e = { 0, "" };
	char *spki = NULL;
	size_t i;

	for (i = 0; i < 3; i++) {
		tap_ok(be_approver_parse(a[i].spki, NULL, &pub, &spki, &e) == BE_OK &&
		       strcmp(spki, a[i].spki) == 0, "/signature/%zu/parse-canonical (%s)", i,
		       e.msg);
		tap_ok(be_approver_sign(a[i].key, a[i].dig, msg, sizeof(msg) - 1, &sig, NULL) ==
		       BE_OK && be_approver_verify(pub, a[i].dig, msg, sizeof(msg) - 1, sig.data,
						   sig.size, NULL) == BE_OK,
		       "/signature/%zu/verifies", i);
		tap_ok(be_approver_verify(pub, a[i].dig, msg, sizeof(msg) - 2, sig.data, sig.size,
					  NULL) == BE_E_FORBIDDEN,
		       "/signature/%zu/other-data-refused", i);
		if (sig.size > 8)
			sig.data[sig.size / 2] ^= 0x01;
		tap_ok(be_approver_verify(pub, a[i].dig, msg, sizeof(msg) - 1, sig.data, sig.size,
					  NULL) == BE_E_FORBIDDEN,
		       "/signature/%zu/forged-refused", i);
		be_datum_free(&sig);
		if (pub != NULL)
			gnutls_pubkey_deinit(pub);
		pub = NULL;
		free(spki);
		spki = NULL;
	}
	tap_ok(be_approver_parse(a[0].spki, NULL, &pub, NULL, NULL) == BE_OK &&
	       be_approver_sign(a[1].key, a[1].dig, msg, sizeof(msg) - 1, &sig, NULL) == BE_OK &&
	       be_approver_verify(pub, a[0].dig, msg, sizeof(msg) - 1, sig.data, sig.size,
				  NULL) == BE_E_FORBIDDEN, "/signature/other-key-refused");
	be_datum_free(&sig);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
}

static void
test_time(void)
{
	int64_t t = 0;

	tap_ok(be_time_parse("2024-01-23T11:43:43Z", &t, NULL) == BE_OK && t == 1706010223,
	       "/time/parse-z");
	tap_ok(be_time_parse("2023-10-30T17:30:24+00:00", &t, NULL) == BE_OK && t == 1698687024,
	       "/time/parse-offset");
	tap_ok(be_time_parse("2024-12-04T10:00:00.123+01:00", &t, NULL) == BE_OK &&
	       t == 1733302800, "/time/parse-fraction-and-offset");
	tap_ok(be_time_parse("2024-02-30T00:00:00Z", &t, NULL) == BE_E_MALFORMED &&
	       be_time_parse("2024-01-23 11:43:43Z", &t, NULL) == BE_E_MALFORMED &&
	       be_time_parse("2024-01-23T11:43:43", &t, NULL) == BE_E_MALFORMED,
	       "/time/parse-refuses-malformed");
}

/* ---------------------------------------------------------------- the flows */

struct race {
	const struct be_tsb_env *env;
	const struct approver *a;
	const char *id;
	pthread_barrier_t *go;
	int rc;
};

static int
decide(const struct be_tsb_env *env, const struct approver *a, const char *id, bool approve,
       bool forge, enum be_ks_status *status, struct be_err *e)
{
	struct be_ks_req *r = NULL, *after = NULL;
	struct be_tsb_decision d;
	struct be_op_ctx op;
	gnutls_datum_t tok = { NULL, 0 }, sig = { NULL, 0 };
	gnutls_pubkey_t pub = NULL;
	int rc;

	memset(&op, 0, sizeof(op));
	op.adapter = "test";
	op.operation = "approval";
	op.principal.name = "approver";
	memset(&d, 0, sizeof(d));
	if ((rc = be_keystore_req_get(env->ks, id, &r, e)) != BE_OK ||
	    (rc = be_policy_token(r, approve, &tok, e)) != BE_OK ||
	    (rc = be_approver_sign(a->key, a->dig, tok.data, tok.size, &sig, e)) != BE_OK ||
	    (rc = be_approver_parse(a->spki, NULL, &pub, NULL, e)) != BE_OK)
		goto out;
	if (forge)
		sig.data[sig.size / 2] ^= 0x40;
	d.id = id;
	d.approve = approve;
	d.approver = pub;
	d.spki = a->spki;
	d.token = tok.data;
	d.token_len = tok.size;
	d.sig = sig.data;
	d.sig_len = sig.size;
	d.dig = a->dig;
	rc = be_policy_decide(env, &op, &d, &after, e);
	if (rc == BE_OK && status != NULL)
		*status = after->status;
out:
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	be_datum_free(&tok);
	be_datum_free(&sig);
	be_ks_req_free(after);
	be_ks_req_free(r);
	return rc;
}

static void *
race_run(void *arg)
{
	struct race *r = arg;

	pthread_barrier_wait(r->go);
	r->rc = decide(r->env, r->a, r->id, true, false, NULL, NULL);
	return NULL;
}

static int64_t
cert_count(struct be_ctx *ctx)
{
	int64_t n = -1;

	(void)be_store_cert_count(ctx->store, &n, NULL);
	return n;
}

/* The key-store profiles: "tsb" as the TSB demo's (end-entity only) and "tsb-ca", which
 * also lets a request ask for a CA certificate (pathLen at most 0). */
static const char profiles_json[] =
	"{\"tsb\": {\"issuer\": \"keystore\", \"extensions\": \"request\","
	" \"validity_days\": 90, \"max_validity_days\": 825, \"max_ca_validity_days\": 1825,"
	" \"key_types\": [\"p256\", \"p384\", \"rsa2048\", \"ed25519\"],"
	" \"key_usage\": [\"digitalSignature\", \"keyEncipherment\", \"keyAgreement\"],"
	" \"extended_key_usage\": [\"clientAuth\", \"anyExtendedKeyUsage\"],"
	" \"subject\": {\"CN\": \"optional\", \"O\": \"optional\"},"
	" \"san\": {\"types\": [\"dns\"]}, \"allow\": [\"role:key_operation\"]},"
	" \"tsb-ca\": {\"issuer\": \"keystore\", \"extensions\": \"request\","
	" \"validity_days\": 90, \"max_validity_days\": 825, \"max_ca_validity_days\": 1825,"
	" \"key_types\": [\"p256\"], \"key_usage\": [\"digitalSignature\", \"keyCertSign\","
	" \"cRLSign\"], \"ca_certificate\": true, \"path_len\": 0,"
	" \"subject\": {\"CN\": \"optional\"}, \"allow\": [\"role:key_operation\"]}}";

static int
load_profiles(struct be_ctx *ctx)
{
	json_t *j = NULL;
	struct be_err e = { 0, "" };
	int rc;

	rc = be_json_parse(profiles_json, strlen(profiles_json), "profiles", BE_E_CONFIG, &j, &e);
	if (rc == BE_OK)
		rc = be_profiles_parse(j, NULL, 0, &ctx->profiles, &ctx->n_profiles, &e);
	if (rc != BE_OK)
		printf("# profiles: %s\n", e.msg);
	json_decref(j);
	return rc;
}

/* The certificate in der as openssl prints its extensions, into buf. */
static void
cert_text(const gnutls_datum_t *der, char *buf, size_t len)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t t = { NULL, 0 };

	buf[0] = '\0';
	if (gnutls_x509_crt_init(&crt) >= 0 &&
	    gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) >= 0 &&
	    gnutls_x509_crt_print(crt, GNUTLS_CRT_PRINT_FULL, &t) >= 0)
		snprintf(buf, len, "%.*s", (int)t.size, (const char *)t.data);
	gnutls_free(t.data);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
}

/* Key usage, CA flag, EKU and validity as a key operator asks, bounded by the profile. */
static void
test_profile_bounds(struct be_keystore *ks, struct be_ctx *ctx)
{
	struct be_tsb_env env = { ctx, ks, be_ctx_profile(ctx, "tsb") };
	struct be_ks_new_key nk;
	struct be_ks_key *k = NULL;
	struct be_tsb_sign r;
	struct be_op_ctx op;
	struct be_err e = { 0, "" };
	gnutls_datum_t der = { NULL, 0 };
	char *b64 = NULL, *csr = NULL, text[8192];
	char *client[1] = { (char *)"1.3.6.1.5.5.7.3.2" }, *server[1] = { (char *)"1.3.6.1.5.5.7.3.1" };
	int64_t before;

	memset(&op, 0, sizeof(op));
	op.adapter = "test";
	op.operation = "certificate-sign";
	op.principal.name = "operator";
	memset(&nk, 0, sizeof(nk));
	nk.label = "bounds-ca";
	nk.spec.alg = BE_KEY_EC;
	nk.spec.bits = 256;
	nk.attrs = BE_KS_SIGN | BE_KS_DESTROYABLE;
	tap_ok(be_keystore_key_create(ks, &nk, &k, NULL) == BE_OK &&
	       make_ca_cert(ks, k, 1, &b64) == 0 &&
	       be_keystore_cert_import(ks, nk.label, b64, strlen(b64), NULL, NULL) == BE_OK,
	       "/bounds/key-with-pathlen-1");
	csr = leaf_csr("bounds");
	memset(&r, 0, sizeof(r));
	r.key_label = nk.label;
	r.csr = (const unsigned char *)csr;
	r.csr_len = csr != NULL ? strlen(csr) : 0;
	r.key_usage = GNUTLS_KEY_DIGITAL_SIGNATURE;
	r.eku = client;
	r.n_eku = 1;

	before = cert_count(ctx);
	r.ca = true;
	be_err_clear(&e);
	tap_ok(be_policy_sign_now(&env, &op, &r, &der, &e) == BE_E_MALFORMED &&
	       strstr(e.msg, "certificateAuthority: profile tsb does not issue CA") != NULL,
	       "/bounds/ca-refused-by-profile (%s)", e.msg);
	r.ca = false;
	r.key_usage = GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_NON_REPUDIATION;
	be_err_clear(&e);
	tap_ok(be_policy_sign_now(&env, &op, &r, &der, &e) == BE_E_MALFORMED &&
	       strstr(e.msg, "keyUsage: nonRepudiation is outside what profile tsb allows"),
	       "/bounds/key-usage-outside-set (%s)", e.msg);
	r.key_usage = GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT;
	be_err_clear(&e);
	tap_ok(be_policy_sign_now(&env, &op, &r, &der, &e) == BE_E_MALFORMED &&
	       strstr(e.msg, "keyUsage: keyEncipherment needs an RSA subject key"),
	       "/bounds/key-encipherment-for-ec-key (%s)", e.msg);
	r.key_usage = GNUTLS_KEY_DIGITAL_SIGNATURE;
	r.eku = server;
	be_err_clear(&e);
	tap_ok(be_policy_sign_now(&env, &op, &r, &der, &e) == BE_E_MALFORMED &&
	       strstr(e.msg, "extendedKeyUsage: serverAuth is outside what profile tsb allows"),
	       "/bounds/eku-outside-set (%s)", e.msg);
	r.eku = client;
	r.validity_days = 826;
	be_err_clear(&e);
	tap_ok(be_policy_sign_now(&env, &op, &r, &der, &e) == BE_E_MALFORMED &&
	       strstr(e.msg, "validity: 826 days exceeds the 825 days profile tsb allows"),
	       "/bounds/validity-over-cap (%s)", e.msg);
	TAP_IS_INT(cert_count(ctx), before, "/bounds/refusals-store-nothing");

	r.validity_days = 825;
	be_err_clear(&e);
	tap_ok(be_policy_sign_now(&env, &op, &r, &der, &e) == BE_OK &&
	       cert_count(ctx) == before + 1, "/bounds/end-entity-within-bounds (%s)", e.msg);
	cert_text(&der, text, sizeof(text));
	tap_ok(strstr(text, "Certificate Authority (CA): FALSE") != NULL &&
	       strstr(text, "Digital signature.") != NULL &&
	       strstr(text, "TLS WWW Client.") != NULL &&
	       strstr(text, "Certificate signing.") == NULL,
	       "/bounds/end-entity-has-what-was-asked");
	be_datum_free(&der);

	/* A profile that allows CA certificates: pathLen 0 (its path_len, below the issuer's
	 * 1), keyCertSign and cRLSign added, the CA validity cap. */
	env.profile = be_ctx_profile(ctx, "tsb-ca");
	r.ca = true;
	r.eku = NULL;
	r.n_eku = 0;
	r.validity_days = 1826;
	be_err_clear(&e);
	tap_ok(be_policy_sign_now(&env, &op, &r, &der, &e) == BE_E_MALFORMED &&
	       strstr(e.msg, "1825 days profile tsb-ca allows for CA certificates"),
	       "/bounds/ca-validity-over-cap (%s)", e.msg);
	r.validity_days = 1000;
	be_err_clear(&e);
	tap_ok(be_policy_sign_now(&env, &op, &r, &der, &e) == BE_OK,
	       "/bounds/ca-allowed-by-profile (%s)", e.msg);
	cert_text(&der, text, sizeof(text));
	tap_ok(strstr(text, "Certificate Authority (CA): TRUE") != NULL &&
	       strstr(text, "Path Length Constraint: 0") != NULL &&
	       strstr(text, "Certificate signing.") != NULL && strstr(text, "CRL signing.") != NULL,
	       "/bounds/ca-certificate-pathlen-0-with-cert-sign");
	be_datum_free(&der);
	free(b64);
	free(csr);
	be_ks_key_free(k);
}

static void
test_flows(struct be_keystore *ks, struct be_ctx *ctx, const struct approver *a)
{
	struct be_tsb_env env = { ctx, ks, be_ctx_profile(ctx, "tsb") };
	struct be_ks_new_key nk;
	struct be_ks_key *ca = NULL, *free_key = NULL;
	struct be_tsb_sign r;
	struct be_op_ctx op;
	struct be_ks_req *req = NULL;
	struct be_err e = { 0, "" };
	gnutls_datum_t der = { NULL, 0 };
	char *policy = NULL, *b64 = NULL, *csr = NULL, id[BE_KS_ID_LEN];
	enum be_ks_status st = BE_KS_FAILED;
	int64_t before;
	size_t round, i, ok, state;
	int rc;

	memset(&op, 0, sizeof(op));
	op.adapter = "test";
	op.operation = "certificate-sign";
	op.principal.name = "operator";
	memset(&nk, 0, sizeof(nk));
	policy = policy_text(a, 3, 2, 0, 0);
	nk.label = "CA.approver.securosys.com";
	nk.password = "secret";
	nk.spec.alg = BE_KEY_EC;
	nk.spec.bits = 256;
	nk.attrs = BE_KS_SIGN | BE_KS_DESTROYABLE;
	nk.policy = policy;
	tap_ok(policy != NULL && be_keystore_key_create(ks, &nk, &ca, &e) == BE_OK,
	       "/flow/ska-key-created (%s)", e.msg);
	tap_ok(ca != NULL && make_ca_cert(ks, ca, 1, &b64) == 0, "/flow/ca-certificate-made");
	be_err_clear(&e);
	tap_ok(b64 != NULL && be_keystore_cert_import(ks, nk.label, b64, strlen(b64), NULL, &e) ==
	       BE_OK, "/flow/ca-certificate-imported (%s)", e.msg);

	csr = leaf_csr("ignored in favour of commonName");
	memset(&r, 0, sizeof(r));
	r.key_label = nk.label;
	r.key_password = "secret";
	r.common_name = "Approver-Intermediate-SUB";
	r.csr = (const unsigned char *)csr;
	r.csr_len = csr != NULL ? strlen(csr) : 0;
	r.key_usage = GNUTLS_KEY_DIGITAL_SIGNATURE;

	be_err_clear(&e);
	tap_ok(be_policy_sign_now(&env, &op, &r, &der, &e) == BE_E_STATE,
	       "/flow/sync-sign-with-policy-key-refused (%s)", e.msg);
	r.key_password = "Secret";
	be_err_clear(&e);
	tap_ok(be_policy_request_new(&env, &op, &r, id, &e) == BE_E_FORBIDDEN &&
	       strstr(e.msg, "wrong password"), "/flow/wrong-key-password-refused (%s)", e.msg);
	r.key_password = "secret";
	r.ca = false;
	r.key_usage = GNUTLS_KEY_KEY_CERT_SIGN;
	be_err_clear(&e);
	tap_ok(be_policy_request_new(&env, &op, &r, id, &e) == BE_E_MALFORMED &&
	       strstr(e.msg, "keyUsage: keyCertSign only in a CA certificate"),
	       "/flow/keycertsign-without-ca-refused (%s)", e.msg);
	r.key_usage = GNUTLS_KEY_DIGITAL_SIGNATURE;

	/* One approval at a time: forged, foreign, good, then the quorum. */
	before = cert_count(ctx);
	be_err_clear(&e);
	tap_ok(be_policy_request_new(&env, &op, &r, id, &e) == BE_OK,
	       "/flow/request-recorded (%s)", e.msg);
	tap_ok(be_keystore_req_get(ks, id, &req, NULL) == BE_OK && req->status == BE_KS_PENDING,
	       "/flow/request-pending");
	be_ks_req_free(req);
	req = NULL;
	be_err_clear(&e);
	tap_ok(decide(&env, &a[0], id, true, true, NULL, &e) == BE_E_FORBIDDEN,
	       "/flow/forged-approval-refused (%s)", e.msg);
	be_err_clear(&e);
	tap_ok(decide(&env, &a[3], id, true, false, NULL, &e) == BE_E_FORBIDDEN &&
	       strstr(e.msg, "not in the policy"),
	       "/flow/approver-outside-policy-refused (%s)", e.msg);
	tap_ok(decide(&env, &a[0], id, true, false, &st, NULL) == BE_OK && st == BE_KS_PENDING,
	       "/flow/first-approval-pending");
	be_err_clear(&e);
	tap_ok(decide(&env, &a[0], id, true, false, NULL, &e) == BE_E_CONFLICT,
	       "/flow/second-approval-by-same-key-conflict (%s)", e.msg);
	TAP_IS_INT(cert_count(ctx), before, "/flow/nothing-issued-before-quorum");
	tap_ok(decide(&env, &a[1], id, true, false, &st, NULL) == BE_OK && st == BE_KS_EXECUTED,
	       "/flow/quorum-executes");
	TAP_IS_INT(cert_count(ctx), before + 1, "/flow/one-certificate-recorded");
	tap_ok(be_policy_request_get(&env, &op, id, &req, NULL) == BE_OK && req->result != NULL &&
	       strstr(req->result, "BEGIN CERTIFICATE") && req->executed_at > 0,
	       "/flow/result-holds-the-certificate");
	be_ks_req_free(req);
	req = NULL;
	be_err_clear(&e);
	tap_ok(decide(&env, &a[2], id, true, false, NULL, &e) == BE_E_STATE,
	       "/flow/late-approval-state (%s)", e.msg);

	/* Rejections that leave no quorum. */
	tap_ok(be_policy_request_new(&env, &op, &r, id, NULL) == BE_OK &&
	       decide(&env, &a[0], id, false, false, &st, NULL) == BE_OK && st == BE_KS_PENDING &&
	       decide(&env, &a[1], id, false, false, &st, NULL) == BE_OK && st == BE_KS_REJECTED,
	       "/flow/two-rejections-reject");

	/* Cancelled, then no decision is taken. */
	be_err_clear(&e);
	tap_ok(be_policy_request_new(&env, &op, &r, id, NULL) == BE_OK &&
	       be_policy_request_cancel(&env, &op, id, NULL) == BE_OK &&
	       decide(&env, &a[0], id, true, false, NULL, &e) == BE_E_STATE,
	       "/flow/cancelled-takes-no-approval (%s)", e.msg);

	/* Racing approvals: all three at once, one certificate each round. */
	for (round = 0; round < RACES; round++) {
		pthread_t th[3];
		pthread_barrier_t go;
		struct race rr[3];

		before = cert_count(ctx);
		if (be_policy_request_new(&env, &op, &r, id, NULL) != BE_OK) {
			tap_ok(0, "/flow/race/%zu/request", round);
			continue;
		}
		pthread_barrier_init(&go, NULL, 3);
		for (i = 0; i < 3; i++) {
			rr[i].env = &env;
			rr[i].a = &a[i];
			rr[i].id = id;
			rr[i].go = &go;
			rr[i].rc = -100;
			pthread_create(&th[i], NULL, race_run, &rr[i]);
		}
		for (i = 0; i < 3; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&go);
		ok = state = 0;
		for (i = 0; i < 3; i++) {
			ok += rr[i].rc == BE_OK;
			state += rr[i].rc == BE_E_STATE;
		}
		tap_ok(cert_count(ctx) == before + 1 && ok >= 2 && ok + state == 3,
		       "/flow/race/%zu/three-approvals-at-once-one-certificate (ok %zu, late %zu)",
		       round, ok, state);
	}
	tap_ok(be_policy_request_get(&env, &op, id, &req, NULL) == BE_OK &&
	       req->status == BE_KS_EXECUTED, "/flow/race/executed");
	be_ks_req_free(req);
	req = NULL;

	/* Deleting the key cancels what waits for it. */
	tap_ok(be_policy_request_new(&env, &op, &r, id, NULL) == BE_OK, "/flow/delete/request");
	{
		size_t cancelled = 0;

		tap_ok(be_keystore_key_delete(ks, nk.label, (int64_t)time(NULL), &cancelled,
					      NULL) == BE_OK && cancelled == 1 &&
		       be_keystore_req_get(ks, id, &req, NULL) == BE_OK &&
		       req->status == BE_KS_CANCELLED, "/flow/delete/pending-request-cancelled");
	}
	be_ks_req_free(req);
	req = NULL;

	/* A key without a policy signs at once, also through a request. */
	free(b64);
	b64 = NULL;
	nk.label = "plain-ca";
	nk.policy = NULL;
	nk.password = NULL;
	tap_ok(be_keystore_key_create(ks, &nk, &free_key, NULL) == BE_OK &&
	       make_ca_cert(ks, free_key, 0, &b64) == 0 &&
	       be_keystore_cert_import(ks, nk.label, b64, strlen(b64), NULL, NULL) == BE_OK,
	       "/flow/plain/key-and-certificate");
	r.key_label = nk.label;
	r.key_password = NULL;
	before = cert_count(ctx);
	be_err_clear(&e);
	tap_ok(be_policy_sign_now(&env, &op, &r, &der, &e) == BE_OK && der.size > 0 &&
	       cert_count(ctx) == before + 1, "/flow/plain/sync-sign (%s)", e.msg);
	be_datum_free(&der);
	tap_ok(be_policy_request_new(&env, &op, &r, id, NULL) == BE_OK &&
	       be_keystore_req_get(ks, id, &req, NULL) == BE_OK && req->status == BE_KS_EXECUTED,
	       "/flow/plain/request-executes-at-once");
	/* Executed again, as after a crash between the certificate and EXECUTED: the
	 * certificate issued for it is the one; no second is signed. */
	{
		char *first = req->result != NULL ? strdup(req->result) : NULL;

		be_ks_req_free(req);
		req = NULL;
		before = cert_count(ctx);
		tap_ok(first != NULL && be_keystore_req_finish(ks, id, BE_KS_EXECUTED,
							       BE_KS_APPROVED, NULL, NULL,
							       (int64_t)time(NULL), NULL) == BE_OK &&
		       be_policy_request_get(&env, &op, id, &req, NULL) == BE_OK &&
		       req->status == BE_KS_EXECUTED && req->result != NULL &&
		       strcmp(req->result, first) == 0 && cert_count(ctx) == before,
		       "/flow/plain/executed-again-takes-its-own-certificate");
		free(first);
	}
	be_ks_req_free(req);
	req = NULL;
	r.ca = true;
	env.profile = be_ctx_profile(ctx, "tsb-ca");
	be_err_clear(&e);
	tap_ok(be_policy_sign_now(&env, &op, &r, &der, &e) == BE_E_POLICY &&
	       strstr(e.msg, "pathLenConstraint"),
	       "/flow/plain/sub-ca-under-pathlen-0-refused (%s)", e.msg);
	r.ca = false;
	env.profile = be_ctx_profile(ctx, "tsb");
	r.validity_days = 900;
	be_err_clear(&e);
	tap_ok(be_policy_sign_now(&env, &op, &r, &der, &e) == BE_E_MALFORMED,
	       "/flow/plain/validity-over-cap-refused (%s)", e.msg);
	r.validity_days = 0;
	rc = be_keystore_cert_import(ks, nk.label, "-----BEGIN CERTIFICATE-----", 27, NULL, &e);
	tap_ok(rc == BE_E_MALFORMED, "/flow/import/pem-armour-refused");
	be_err_clear(&e);
	tap_ok(be_keystore_cert_import(ks, "csr-key", b64, strlen(b64), NULL, &e) == BE_E_POLICY &&
	       strstr(e.msg, "does not match"), "/flow/import/other-key-refused (%s)", e.msg);
	be_datum_free(&der);
	be_ks_key_free(free_key);
	be_ks_key_free(ca);
	free(policy);
	free(b64);
	free(csr);
}

int
main(void)
{
	const struct be_keyspec specs[4] = {
		{ BE_KEY_RSA, 2048 }, { BE_KEY_EC, 256 }, { BE_KEY_ED25519, 256 },
		{ BE_KEY_ED25519, 256 },
	};
	struct approver a[4];
	struct be_keystore *ks = NULL;
	struct be_ctx *ctx = NULL;
	char db[512], mk[512], st[512];
	size_t i;

	if (gnutls_global_init() < 0)
		return 1;
	snprintf(tmpdir, sizeof(tmpdir), "%s/certgate-ks.XXXXXX",
		 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < 4; i++)
		if (approver_new(&specs[i], &a[i]) != 0) {
			printf("Bail out! approver keys\n");
			return 1;
		}
	test_master_key();
	tpath("ks.db", db, sizeof(db));
	tpath("ks.key", mk, sizeof(mk));
	tpath("store.db", st, sizeof(st));
	if (be_keystore_open(db, mk, &ks, NULL) != BE_OK || (ctx = calloc(1, sizeof(*ctx))) == NULL ||
	    be_store_open(st, &ctx->store, NULL) != BE_OK || load_profiles(ctx) != BE_OK) {
		printf("Bail out! open\n");
		return 1;
	}
	test_keys(ks);
	test_csr(ks);
	test_policy_parse(a);
	test_quorum(a);
	test_signatures(a);
	test_time();
	test_flows(ks, ctx, a);
	test_profile_bounds(ks, ctx);
	be_keystore_close(ks);
	be_ctx_free(ctx);
	for (i = 0; i < 4; i++)
		approver_free(&a[i]);
	if (getenv("LIB_KEEP") == NULL) {
		const char *names[] = { "m.db", "m.db-wal", "m.db-shm", "m.key", "other.key",
					"ks.db", "ks.db-wal", "ks.db-shm", "ks.key", "store.db",
					"store.db-wal", "store.db-shm" };
		char p[512];

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			unlink(tpath(names[i], p, sizeof(p)));
		rmdir(tmpdir);
	}
	gnutls_global_deinit();
	return tap_done();
}
