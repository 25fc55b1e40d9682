/*
 * be_issue against a real demo configuration (made by `certgate init` in a temporary
 * directory): profile policy, refusals that store nothing but an audit entry, approvals,
 * revocation, and openssl verifying everything we emit.
 */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "be_ca.h"
#include "be_issue.h"
#include "gw.h"
#include "gw_cli.h"
#include "tap.h"

static char dir[64];
static struct gw_config *cfg;

struct csr_opts {
	const char *dn;
	const char *key;	/* keyspec name */
	const char *dns;
	bool ca;
	unsigned ku;
	const char *eku;
};

static struct be_csr *
make_csr(const struct csr_opts *o)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t der = { NULL, 0 };
	struct be_keyspec spec;
	struct be_csr *csr = NULL;
	struct be_err e = { 0, "" };

	if (be_keyspec_parse(o->key ? o->key : "p256", &spec) != BE_OK ||
	    be_key_generate(&spec, &key, NULL) != BE_OK)
		goto out;
	gnutls_x509_crq_init(&crq);
	if (gnutls_x509_crq_set_dn(crq, o->dn, NULL) < 0)
		goto out;
	gnutls_x509_crq_set_version(crq, 1);
	gnutls_x509_crq_set_key(crq, key);
	if (o->dns)
		gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_DNSNAME, o->dns,
						     strlen(o->dns), GNUTLS_FSAN_APPEND);
	if (o->ca)
		gnutls_x509_crq_set_basic_constraints(crq, 1, -1);
	if (o->ku)
		gnutls_x509_crq_set_key_usage(crq, o->ku);
	if (o->eku)
		gnutls_x509_crq_set_key_purpose_oid(crq, o->eku, 0);
	if (gnutls_x509_crq_sign2(crq, key, spec.alg == BE_KEY_ED25519 ? GNUTLS_DIG_UNKNOWN :
				  GNUTLS_DIG_SHA256, 0) < 0 ||
	    gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &der) < 0)
		goto out;
	if (be_csr_parse(der.data, der.size, 0, &csr, &e) != BE_OK)
		tap_diag("csr parse: %s", e.msg);
out:
	gnutls_free(der.data);
	if (crq)
		gnutls_x509_crq_deinit(crq);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return csr;
}

static int64_t
cert_count(void)
{
	int64_t n = -1;

	be_store_cert_count(cfg->be->store, &n, NULL);
	return n;
}

struct audit_last {
	int64_t n;
	char outcome[32];
	char reason[BE_ERR_MSG_MAX];
};

static int
audit_cb(const struct be_audit_rec *a, void *arg)
{
	struct audit_last *l = arg;

	l->n++;
	snprintf(l->outcome, sizeof(l->outcome), "%s", a->outcome ? a->outcome : "");
	snprintf(l->reason, sizeof(l->reason), "%s", a->reason ? a->reason : "");
	return 0;
}

static struct audit_last
audit_last(void)
{
	struct audit_last l;

	memset(&l, 0, sizeof(l));
	be_store_audit_scan(cfg->be->store, 0, 1000000, audit_cb, &l, NULL);
	return l;
}

static int
write_file(const char *name, const void *data, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	fwrite(data, 1, len, f);
	fclose(f);
	return 0;
}

static int
sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static bool
openssl_verifies(const gnutls_datum_t *der)
{
	gnutls_datum_t pem = { NULL, 0 };
	bool ok;

	be_encode_pem_certs(der, 1, &pem, NULL);
	write_file("leaf.pem", pem.data, pem.size);
	be_datum_free(&pem);
	ok = sh("openssl verify -CAfile %s/ca/chain.pem %s/leaf.pem >/dev/null 2>&1", dir,
		dir) == 0;
	return ok;
}

static void
req_init(struct be_request *r, const char *profile, const char *who, unsigned roles)
{
	memset(r, 0, sizeof(*r));
	r->adapter = "test";
	r->operation = "issue";
	r->profile = be_ctx_profile(cfg->be, profile);
	r->principal.name = who;
	r->principal.roles = roles;
}

/* A request that must be refused with code, storing no certificate and one audit entry
 * whose reason is the error sentence. */
static void
expect_refusal(const char *name, const struct be_request *r, int code, const char *needle)
{
	struct be_result res;
	struct be_err e = { 0, "" };
	int64_t before = cert_count();
	struct audit_last a0 = audit_last(), a1;
	int rc;

	memset(&res, 0, sizeof(res));
	rc = be_issue(cfg->be, r, &res, &e);
	a1 = audit_last();
	tap_ok(rc == code && strstr(e.msg, needle) != NULL, "%s: refused (%s: %s)", name,
	       be_err_name(rc), e.msg);
	tap_ok(cert_count() == before && res.cert.data == NULL && res.key == NULL,
	       "%s: nothing stored or returned", name);
	tap_ok(a1.n == a0.n + 1 && strcmp(a1.reason, e.msg) == 0 &&
	       (strcmp(a1.outcome, "refused") == 0 || strcmp(a1.outcome, "error") == 0),
	       "%s: audited with its reason", name);
	be_result_clear(&res);
}

static void
test_csr_enroll(void)
{
	struct csr_opts o = { .dn = "CN=device-1,O=Acme", .dns = "device-1.example.com" };
	struct be_csr *csr = make_csr(&o);
	struct be_request r;
	struct be_result res;
	struct be_err e = { 0, "" };
	gnutls_x509_crt_t crt = NULL;
	unsigned char serial[32];
	size_t slen = sizeof(serial);
	unsigned ku = 0, crit = 0;
	int64_t before = cert_count();
	struct be_cert_rec *rec = NULL;

	req_init(&r, "est-device", "client", BE_ROLE_CLIENT);
	r.csr = csr;
	memset(&res, 0, sizeof(res));
	tap_ok(be_issue(cfg->be, &r, &res, &e) == BE_OK, "/issue/csr/p256: issued (%s)", e.msg);
	tap_ok(openssl_verifies(&res.cert), "/issue/csr/p256: openssl verify against the chain");
	tap_ok(cert_count() == before + 1, "/issue/csr/p256: one certificate row");
	gnutls_x509_crt_init(&crt);
	gnutls_x509_crt_import(crt, &res.cert, GNUTLS_X509_FMT_DER);
	gnutls_x509_crt_get_serial(crt, serial, &slen);
	tap_ok(slen == 16 && (serial[0] & 0x80) == 0 && serial[0] != 0,
	       "/issue/serial: 16 octets, positive, minimal (RFC 5280 4.1.2.2)");
	gnutls_x509_crt_get_key_usage(crt, &ku, &crit);
	tap_ok(ku == GNUTLS_KEY_DIGITAL_SIGNATURE && crit,
	       "/issue/csr/p256: keyUsage from the profile, critical");
	tap_ok(be_store_cert_get(cfg->be->store, r.profile->ca->id, res.serial_hex, &rec,
				 NULL) == BE_OK && rec->der.size == res.cert.size &&
	       memcmp(rec->der.data, res.cert.data, res.cert.size) == 0,
	       "/issue/durable: the store holds exactly the returned certificate");
	tap_ok(strlen(res.serial_dec) > 30, "/issue/serial: decimal form %s", res.serial_dec);
	be_cert_rec_free(rec);
	gnutls_x509_crt_deinit(crt);
	be_result_clear(&res);
	be_csr_free(csr);
}

static void
test_serial_unique(void)
{
	struct csr_opts o = { .dn = "CN=many" };
	struct be_csr *csr = make_csr(&o);
	struct be_request r;
	char seen[40][41];
	int i, j, ok = 1;

	req_init(&r, "est-device", "client", BE_ROLE_CLIENT);
	r.csr = csr;
	for (i = 0; i < 40; i++) {
		struct be_result res;

		memset(&res, 0, sizeof(res));
		if (be_issue(cfg->be, &r, &res, NULL) != BE_OK)
			ok = 0;
		snprintf(seen[i], sizeof(seen[i]), "%s", res.serial_hex);
		for (j = 0; j < i; j++)
			if (strcmp(seen[i], seen[j]) == 0)
				ok = 0;
		be_result_clear(&res);
	}
	tap_ok(ok, "/issue/serial: 40 issuances, 40 distinct serials");
	be_csr_free(csr);
}

/* be_serial_new: 0x40, 6 octets of milliseconds, 9 random octets; serials made later sort
 * after earlier ones (the store's indexes rely on it) and the random part always differs. */
static void
test_serial_layout(void)
{
	unsigned char a[16], b[16];
	size_t alen = 0, blen = 0;
	uint64_t ms = 0;
	time_t now = time(NULL);
	int i, ascending = 1, random_differs = 1;

	for (i = 0; i < 200; i++) {
		if (be_serial_new(a, &alen, NULL) != BE_OK || be_serial_new(b, &blen, NULL) != BE_OK)
			break;
		if (memcmp(a, b, 7) > 0)
			ascending = 0;
		if (memcmp(a + 7, b + 7, 9) == 0)
			random_differs = 0;
	}
	tap_ok(i == 200 && alen == 16 && blen == 16 && a[0] == 0x40,
	       "/serial/layout: 16 octets, first 0x40 (positive, minimal DER)");
	for (i = 1; i <= 6; i++)
		ms = ms << 8 | b[i];
	tap_ok(ms / 1000 + 5 >= (uint64_t)now && ms / 1000 <= (uint64_t)now + 5,
	       "/serial/layout: octets 2-7 are the time in ms (%llu, now %lld)",
	       (unsigned long long)ms, (long long)now);
	tap_ok(ascending, "/serial/layout: a later serial never sorts before an earlier one");
	tap_ok(random_differs, "/serial/layout: the 72 random bits differ between serials");
}

static void
test_keygen(void)
{
	struct be_request r;
	struct be_result res;
	struct be_err e = { 0, "" };
	struct be_name subj = { NULL, 0 };
	static const char *const types[] = { "rsa2048", "p256", "p384", "ed25519" };
	size_t i;

	be_name_add(&subj, BE_DN_CN, "Arnie S.", 8, NULL);
	be_name_add(&subj, BE_DN_L, "Munich", 6, NULL);
	req_init(&r, "Email-Template-2022", "client", BE_ROLE_CLIENT);
	r.subject = &subj;
	r.key_fmt = BE_KEYFMT_PKCS12;
	r.p12_password = "passphrase!";
	memset(&res, 0, sizeof(res));
	tap_ok(be_issue(cfg->be, &r, &res, &e) == BE_OK && res.key_out.size > 0,
	       "/issue/keygen/pkcs12: issued (%s)", e.msg);
	write_file("k.p12", res.key_out.data, res.key_out.size);
	tap_ok(sh("openssl pkcs12 -in %s/k.p12 -passin pass:passphrase! -nodes -out %s/k.out "
		  ">/dev/null 2>&1", dir, dir) == 0,
	       "/issue/keygen/pkcs12: openssl opens it with the client's password");
	tap_ok(sh("openssl pkcs12 -in %s/k.p12 -passin pass:wrong -nodes >/dev/null 2>&1", dir,
		  dir) != 0, "/issue/keygen/pkcs12: and not with another");
	tap_ok(res.p12_password[0] == '\0', "/issue/keygen/pkcs12: no random password made");
	be_result_clear(&res);

	r.p12_password = NULL;
	memset(&res, 0, sizeof(res));
	tap_ok(be_issue(cfg->be, &r, &res, &e) == BE_OK && strlen(res.p12_password) == 20,
	       "/issue/keygen/pkcs12-random-password: 20-character password returned");
	write_file("r.p12", res.key_out.data, res.key_out.size);
	tap_ok(sh("openssl pkcs12 -in %s/r.p12 -passin pass:%s -nodes >/dev/null 2>&1", dir,
		  res.p12_password) == 0, "/issue/keygen/pkcs12-random-password: opens with it");
	be_result_clear(&res);

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		req_init(&r, "iot-device", "client", BE_ROLE_CLIENT);
		be_name_clear(&subj);
		be_name_add(&subj, BE_DN_CN, "sensor-7", 8, NULL);
		r.subject = &subj;
		be_keyspec_parse(types[i], &r.keygen);
		r.key_fmt = BE_KEYFMT_PEM;
		r.key_syntax = BE_KEY_PKCS8;
		memset(&res, 0, sizeof(res));
		e.code = 0;
		tap_ok(be_issue(cfg->be, &r, &res, &e) == BE_OK,
		       "/issue/keygen/%s: issued (%s)", types[i], e.msg);
		write_file("g.key", res.key_out.data, res.key_out.size);
		tap_ok(openssl_verifies(&res.cert) &&
		       sh("openssl pkey -in %s/g.key -pubout -out %s/a.pub 2>/dev/null && "
			  "openssl x509 -in %s/leaf.pem -pubkey -noout -out %s/b.pub && "
			  "cmp -s %s/a.pub %s/b.pub", dir, dir, dir, dir, dir, dir) == 0,
		       "/issue/keygen/%s: verifies, and the key matches the certificate",
		       types[i]);
		if (strcmp(types[i], "p256") == 0) {
			gnutls_x509_crt_t crt = NULL;
			unsigned ku = 0, crit;

			gnutls_x509_crt_init(&crt);
			gnutls_x509_crt_import(crt, &res.cert, GNUTLS_X509_FMT_DER);
			gnutls_x509_crt_get_key_usage(crt, &ku, &crit);
			tap_ok(!(ku & GNUTLS_KEY_KEY_ENCIPHERMENT),
			       "/issue/keygen/p256: no keyEncipherment on an EC key (RFC 5480 3)");
			gnutls_x509_crt_deinit(crt);
		}
		be_result_clear(&res);
	}
	be_name_clear(&subj);
}

static void
test_refusals(void)
{
	struct be_request r;
	struct be_name subj = { NULL, 0 };
	struct csr_opts o;
	struct be_csr *csr;

	memset(&o, 0, sizeof(o));
	o.dn = "CN=evil";
	o.ca = true;
	csr = make_csr(&o);
	req_init(&r, "est-device", "client", BE_ROLE_CLIENT);
	r.csr = csr;
	expect_refusal("/issue/refuse/csr-asks-ca", &r, BE_E_POLICY, "basicConstraints");
	be_csr_free(csr);

	o.ca = false;
	o.ku = GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_DIGITAL_SIGNATURE;
	csr = make_csr(&o);
	r.csr = csr;
	expect_refusal("/issue/refuse/csr-asks-keycertsign", &r, BE_E_POLICY, "keyCertSign");
	be_csr_free(csr);

	o.ku = 0;
	o.eku = "1.3.6.1.5.5.7.3.1";
	csr = make_csr(&o);
	r.csr = csr;
	expect_refusal("/issue/refuse/csr-asks-extra-eku", &r, BE_E_POLICY, "serverAuth");
	be_csr_free(csr);

	o.eku = NULL;
	o.key = "p521";
	csr = make_csr(&o);
	req_init(&r, "Email-Template-2022", "client", BE_ROLE_CLIENT);
	r.csr = csr;
	expect_refusal("/issue/refuse/key-type-outside-profile", &r, BE_E_POLICY, "p521");
	be_csr_free(csr);

	o.key = NULL;
	o.dn = "CN=x,L=Somewhere";
	csr = make_csr(&o);
	req_init(&r, "est-device", "client", BE_ROLE_CLIENT);
	r.csr = csr;
	expect_refusal("/issue/refuse/subject-attribute-not-allowed", &r, BE_E_POLICY,
		       "subject L");
	be_csr_free(csr);

	o.dn = "O=No Common Name";
	csr = make_csr(&o);
	r.csr = csr;
	expect_refusal("/issue/refuse/subject-cn-missing", &r, BE_E_POLICY, "subject CN is required");
	be_csr_free(csr);

	o.dn = "CN=x";
	csr = make_csr(&o);
	r.csr = csr;
	r.validity_days = 5000;
	expect_refusal("/issue/refuse/validity-over-cap", &r, BE_E_POLICY, "5000 days");
	r.validity_days = 0;
	req_init(&r, "tls-server", "client", BE_ROLE_CLIENT);
	r.csr = csr;
	expect_refusal("/issue/refuse/principal-not-allowed", &r, BE_E_FORBIDDEN, "may not use");
	be_csr_free(csr);

	be_name_add(&subj, BE_DN_CN, "k", 1, NULL);
	req_init(&r, "iot-device", "client", BE_ROLE_CLIENT);
	r.subject = &subj;
	be_keyspec_parse("ed25519", &r.keygen);
	r.key_fmt = BE_KEYFMT_PEM;
	r.key_syntax = BE_KEY_PKCS1;
	expect_refusal("/issue/refuse/ed25519-pkcs1", &r, BE_E_POLICY, "PKCS#1");
	be_keyspec_parse("rsa1024", &r.keygen);
	r.key_syntax = BE_KEY_PKCS8;
	expect_refusal("/issue/refuse/keygen-type-outside-profile", &r, BE_E_POLICY, "rsa1024");
	be_name_clear(&subj);
}

static void
test_approval(void)
{
	struct csr_opts o = { .dn = "CN=needs-approval" };
	struct be_csr *csr = make_csr(&o);
	struct be_request r;
	struct be_result res, res2;
	struct be_err e = { 0, "" };
	bool approved = false;
	int64_t before = cert_count();

	req_init(&r, "Approval-Template-2022", "client", BE_ROLE_CLIENT);
	r.csr = csr;
	memset(&res, 0, sizeof(res));
	tap_ok(be_issue(cfg->be, &r, &res, &e) == BE_OK && res.pending && res.request_id > 0,
	       "/issue/approval/pending: stored as request %lld", (long long)res.request_id);
	tap_ok(cert_count() == before, "/issue/approval/pending: nothing issued");
	memset(&res2, 0, sizeof(res2));
	tap_ok(be_issue(cfg->be, &r, &res2, &e) == BE_OK && res2.pending &&
	       res2.request_id == res.request_id,
	       "/issue/approval/repeat: the same CSR finds the same pending request");
	be_result_clear(&res2);
	tap_ok(be_store_req_approve(cfg->be->store, res.request_id, "ro-admin", NULL, &approved,
				    &e) == BE_OK && approved, "/issue/approval/approve: approved");
	memset(&res2, 0, sizeof(res2));
	tap_ok(be_issue(cfg->be, &r, &res2, &e) == BE_OK && !res2.pending && res2.cert.size > 0 &&
	       openssl_verifies(&res2.cert),
	       "/issue/approval/after: the same CSR now gets its certificate (%s)", e.msg);
	be_result_clear(&res);
	memset(&res, 0, sizeof(res));
	tap_ok(be_issue(cfg->be, &r, &res, &e) == BE_OK && res.cert.size == res2.cert.size &&
	       memcmp(res.cert.data, res2.cert.data, res.cert.size) == 0 &&
	       cert_count() == before + 1,
	       "/issue/approval/once: asking again returns the same certificate, not a new one");
	tap_ok(res.serial_dec[0] != '\0' && strcmp(res.serial_dec, res2.serial_dec) == 0 &&
	       res.n_chain == res2.n_chain && res.n_chain > 0,
	       "/issue/approval/once: with the same decimal serial and the chain");
	be_result_clear(&res);
	be_result_clear(&res2);
	be_csr_free(csr);
}

static void
test_revoke(void)
{
	struct csr_opts o = { .dn = "CN=to-revoke" };
	struct be_csr *csr = make_csr(&o);
	struct be_request r;
	struct be_result res;
	struct be_op_ctx op;
	struct be_err e = { 0, "" };

	req_init(&r, "est-device", "client", BE_ROLE_CLIENT);
	r.csr = csr;
	memset(&res, 0, sizeof(res));
	be_issue(cfg->be, &r, &res, NULL);
	memset(&op, 0, sizeof(op));
	op.adapter = "test";
	op.operation = "revoke";
	op.principal.name = "admin";
	tap_ok(be_cert_revoke(cfg->be, &op, res.serial_hex, 6, &e) == BE_OK,
	       "/revoke/hold: certificateHold");
	tap_ok(be_cert_reactivate(cfg->be, &op, res.serial_hex, &e) == BE_OK,
	       "/revoke/reactivate: from hold back to valid");
	tap_ok(be_cert_revoke(cfg->be, &op, res.serial_hex, 1, &e) == BE_OK,
	       "/revoke/key-compromise: revoked");
	be_err_clear(&e);
	tap_ok(be_cert_reactivate(cfg->be, &op, res.serial_hex, &e) == BE_E_STATE,
	       "/revoke/final: a revoked certificate cannot be reactivated (%s)", e.msg);
	be_err_clear(&e);
	tap_ok(be_cert_revoke(cfg->be, &op, res.serial_hex, 7, &e) == BE_E_MALFORMED,
	       "/revoke/reason-7: not a CRLReason");
	be_err_clear(&e);
	tap_ok(be_cert_revoke(cfg->be, &op, "00ff00ff", 1, &e) == BE_E_NOTFOUND,
	       "/revoke/unknown-serial: not found (%s)", e.msg);
	be_result_clear(&res);
	be_csr_free(csr);
}

/* be_ca_sign with a subject attribute GnuTLS has no name for (organizationIdentifier). */
static void
test_unknown_attribute(void)
{
	struct be_name n = { NULL, 0 };
	struct be_tbs tbs;
	struct be_keyspec spec = { BE_KEY_EC, 256 };
	gnutls_x509_privkey_t key = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t der = { NULL, 0 }, pem = { NULL, 0 };
	struct be_err e = { 0, "" };
	FILE *f;
	char cmd[256], line[512] = "";

	memset(&tbs, 0, sizeof(tbs));
	be_name_add(&n, BE_DN_ORGID, "VATDE-123456789", 15, NULL);
	be_name_add(&n, BE_DN_CN, "orgid", 5, NULL);
	be_key_generate(&spec, &key, NULL);
	be_key_pubkey(key, &pub, NULL);
	be_serial_new(tbs.serial, &tbs.serial_len, NULL);
	tbs.subject = &n;
	tbs.pubkey = pub;
	tbs.not_before = time(NULL) - 60;
	tbs.not_after = time(NULL) + 86400;
	tbs.path_len = -1;
	tap_ok(be_ca_sign(cfg->be->cas[0], &tbs, &der, &e) == BE_OK,
	       "/ca/sign/organizationIdentifier: signed (%s)", e.msg);
	be_encode_pem_certs(&der, 1, &pem, NULL);
	write_file("orgid.pem", pem.data, pem.size);
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s/orgid.pem -noout -subject -nameopt "
		 "RFC2253 2>&1", dir);
	if ((f = popen(cmd, "r")) != NULL) {
		if (fgets(line, sizeof(line), f) == NULL)
			line[0] = '\0';
		pclose(f);
	}
	tap_ok(strstr(line, "organizationIdentifier=VATDE-123456789") != NULL &&
	       strstr(line, "CN=orgid") != NULL,
	       "/ca/sign/organizationIdentifier: openssl reads it: %s", line);
	be_datum_free(&der);
	be_datum_free(&pem);
	gnutls_pubkey_deinit(pub);
	gnutls_x509_privkey_deinit(key);
	be_name_clear(&n);
}

/* The issuer and the extension mode are the profile's: a key-store profile needs the key the
 * request names, a CA profile takes none, and only a request-driven profile takes the
 * request's extensions, each bounded by it; every certificate certgate init made is in the
 * store. */
static void
test_issuer(void)
{
	struct be_request r;
	struct be_ext_request ext;
	struct be_csr *csr;
	struct csr_opts o;
	struct be_cert_filter f;
	struct be_cert_rec *recs = NULL;
	size_t n = 0, i, init = 0, n_ks = 0;
	struct be_profile *ks = NULL;
	json_t *j = json_pack("{s:{s:s, s:s, s:[s], s:[s], s:{s:s}, s:[s]}}", "ks", "issuer",
			      "keystore", "extensions", "request", "key_types", "p256",
			      "key_usage", "digitalSignature", "subject", "CN", "optional",
			      "allow", "*");

	tap_ok(j != NULL && be_profiles_parse(j, NULL, 0, &ks, &n_ks, NULL) == BE_OK,
	       "/issue/issuer/keystore-profile-parsed");
	json_decref(j);
	memset(&o, 0, sizeof(o));
	o.dn = "CN=issuer-test";
	csr = make_csr(&o);
	memset(&ext, 0, sizeof(ext));
	ext.key_usage = GNUTLS_KEY_DIGITAL_SIGNATURE;
	req_init(&r, "est-device", "tsb-keyop", BE_ROLE_KEY_OP);
	r.profile = ks;
	r.csr = csr;
	r.ext = &ext;
	expect_refusal("/issue/issuer/keystore-profile-without-key", &r, BE_E_POLICY,
		       "signs with a key of the key store, and this request names none");
	req_init(&r, "est-device", "client", BE_ROLE_CLIENT);
	r.csr = csr;
	r.ext = &ext;
	expect_refusal("/issue/issuer/profile-decides-extensions", &r, BE_E_POLICY,
		       "profile est-device decides the certificate's extensions");
	r.ext = NULL;
	r.issuer = cfg->be->cas[0];
	expect_refusal("/issue/issuer/ca-profile-takes-no-other-issuer", &r, BE_E_INTERNAL,
		       "not with the request's");
	be_csr_free(csr);
	be_profiles_free(ks, n_ks);

	memset(&f, 0, sizeof(f));
	f.status = -1;
	f.principal = "init";
	tap_ok(be_store_cert_list(cfg->be->store, &f, &recs, &n, NULL, NULL) == BE_OK,
	       "/issue/init/listed");
	for (i = 0; i < n; i++)
		init += strcmp(recs[i].profile, "init-issuing-ca") == 0 ||
			strcmp(recs[i].profile, "init-tls-server") == 0;
	TAP_IS_INT((int)init, 2, "/issue/init/issuing-ca-and-tls-server-recorded");
	be_cert_recs_free(recs, n);
}

int
main(void)
{
	char conf[128];
	char *argv[4];
	struct be_err e = { 0, "" };
	int saved, rc;

	gnutls_global_init();
	snprintf(dir, sizeof(dir), "/tmp/certgate-test-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 99;
	argv[0] = "init";
	argv[1] = dir;
	argv[2] = NULL;
	/* The demo prints its credentials; keep them out of the TAP stream. */
	fflush(stdout);
	saved = dup(1);
	dup2(open("/dev/null", O_WRONLY), 1);
	rmdir(dir);
	rc = gw_cmd_init(2, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	tap_ok(rc == 0, "/init: demo written in %s", dir);
	snprintf(conf, sizeof(conf), "%s/certgate.json", dir);
	if (!tap_ok(gw_config_load(conf, &cfg, &e) == BE_OK, "/config: demo loads (%s)", e.msg))
		return tap_done();

	test_csr_enroll();
	test_serial_unique();
	test_serial_layout();
	test_keygen();
	test_refusals();
	test_approval();
	test_revoke();
	test_unknown_attribute();
	test_issuer();

	gw_config_free(cfg);
	sh("rm -rf %s", dir);
	gnutls_global_deinit();
	return tap_done();
}
