/*
 * The request lifecycle (be_request.h) and the presented-certificate check (be_presented.h)
 * against a real demo configuration: retries matched on meaning (an ECDSA CSR signed again
 * is the same request), one normalised record without secrets, approve / reject / cancel /
 * expire under one rule with one audit entry naming who acted (also for the losers of a
 * race), issue-once, and "is this presented certificate ours and valid".
 */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "be_ca.h"
#include "be_issue.h"
#include "be_presented.h"
#include "be_request.h"
#include "gw.h"
#include "gw_cli.h"
#include "tap.h"

#define APPROVAL "Approval-Template-2022"
#define RACERS 4

static char dir[64];
static struct gw_config *cfg;

/* e, cleared: the first error set in a be_err wins. */
static struct be_err *
E(struct be_err *e)
{
	be_err_clear(e);
	return e;
}

/* A CSR for key (NULL: a new P-256 key, returned in *keyout when not NULL) over dn and
 * dns (comma-separated, may be NULL), freshly signed. */
static struct be_csr *
make_csr(gnutls_x509_privkey_t key, const char *dn, const char *dns)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t der = { NULL, 0 };
	struct be_csr *csr = NULL;
	struct be_err e = { 0, "" };
	char buf[256], *p, *tok;

	gnutls_x509_crq_init(&crq);
	if (gnutls_x509_crq_set_dn(crq, dn, NULL) < 0)
		goto out;
	gnutls_x509_crq_set_version(crq, 1);
	gnutls_x509_crq_set_key(crq, key);
	if (dns != NULL) {
		snprintf(buf, sizeof(buf), "%s", dns);
		for (p = buf; (tok = strsep(&p, ",")) != NULL;)
			gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_DNSNAME, tok,
							     strlen(tok), GNUTLS_FSAN_APPEND);
	}
	if (gnutls_x509_crq_sign2(crq, key, GNUTLS_DIG_SHA256, 0) < 0 ||
	    gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &der) < 0)
		goto out;
	if (be_csr_parse(der.data, der.size, 0, &csr, E(&e)) != BE_OK)
		tap_diag("csr parse: %s", e.msg);
out:
	gnutls_free(der.data);
	gnutls_x509_crq_deinit(crq);
	return csr;
}

static gnutls_x509_privkey_t
ec_key(void)
{
	gnutls_x509_privkey_t key = NULL;
	struct be_keyspec spec;

	if (be_keyspec_parse("p256", &spec) != BE_OK || be_key_generate(&spec, &key, NULL) != BE_OK)
		return NULL;
	return key;
}

static int64_t
cert_count(void)
{
	int64_t n = -1;

	be_store_cert_count(cfg->be->store, &n, NULL);
	return n;
}

/* ---------------------------------------------------------------- audit since a mark */

struct audit_log {
	size_t n;
	char line[16][BE_ERR_MSG_MAX + 128];
	int64_t last;
};

static int
audit_cb(const struct be_audit_rec *a, void *arg)
{
	struct audit_log *l = arg;

	if (l->n < 16)
		snprintf(l->line[l->n], sizeof(l->line[0]), "%s %s %s principal=%s: %s",
			 a->adapter ? a->adapter : "-", a->operation ? a->operation : "-",
			 a->outcome ? a->outcome : "-", a->principal ? a->principal : "-",
			 a->reason ? a->reason : "");
	l->n++;
	l->last = a->id;
	return 0;
}

static int64_t
audit_mark(void)
{
	struct audit_log l;

	memset(&l, 0, sizeof(l));
	be_store_audit_scan(cfg->be->store, 0, 1000000, audit_cb, &l, NULL);
	return l.last;
}

static struct audit_log
audit_since(int64_t mark)
{
	struct audit_log l;

	memset(&l, 0, sizeof(l));
	be_store_audit_scan(cfg->be->store, mark, 1000, audit_cb, &l, NULL);
	return l;
}

/* True when exactly one entry was written since mark and it holds needle. */
static bool
one_entry(int64_t mark, const char *needle)
{
	struct audit_log l = audit_since(mark);

	if (l.n != 1 || strstr(l.line[0], needle) == NULL) {
		size_t i;

		tap_diag("%zu audit entries, want one with \"%s\"", l.n, needle);
		for (i = 0; i < l.n && i < 16; i++)
			tap_diag("  %s", l.line[i]);
		return false;
	}
	return true;
}

static void
req_init(struct be_request *r, const char *profile, const char *who)
{
	memset(r, 0, sizeof(*r));
	r->adapter = "est";
	r->operation = "simpleenroll";
	r->profile = be_ctx_profile(cfg->be, profile);
	r->principal.name = who;
	r->principal.roles = BE_ROLE_CLIENT;
}

static void
op_init(struct be_op_ctx *op, const char *adapter, const char *who, unsigned roles)
{
	memset(op, 0, sizeof(*op));
	op->adapter = adapter;
	op->operation = "approve";
	op->principal.name = who;
	op->principal.roles = roles;
}

static int64_t
pending_request(const char *cn, struct be_csr *csr)
{
	struct be_request r;
	struct be_result res;
	int64_t id;

	(void)cn;
	req_init(&r, APPROVAL, "client");
	r.csr = csr;
	memset(&res, 0, sizeof(res));
	if (be_issue(cfg->be, &r, &res, NULL) != BE_OK || !res.pending)
		return 0;
	id = res.request_id;
	be_result_clear(&res);
	return id;
}

static enum be_req_status
status_of(int64_t id)
{
	struct be_req_rec *rec = NULL;
	enum be_req_status st = BE_REQ_FAILED;

	if (be_store_req_get(cfg->be->store, id, &rec, NULL) == BE_OK)
		st = rec->status;
	be_req_rec_free(rec);
	return st;
}

/* ---------------------------------------------------------------- matching */

static void
test_match(void)
{
	gnutls_x509_privkey_t k1 = ec_key(), k2 = ec_key();
	struct be_csr *a = make_csr(k1, "CN=m1", "a.example.com,b.example.com");
	struct be_csr *b = make_csr(k1, "CN=m1", "a.example.com,b.example.com");
	struct be_csr *c = make_csr(k1, "CN=m1", "b.example.com,a.example.com");
	struct be_csr *d = make_csr(k2, "CN=m1", "a.example.com,b.example.com");
	struct be_csr *f = make_csr(k1, "CN=m2", "a.example.com,b.example.com");
	struct be_request r;
	char ka[65], kb[65], kc[65], kd[65], kf[65], kp[65];

	req_init(&r, APPROVAL, "client");
	r.csr = a;
	be_request_match_key(&r, ka, sizeof(ka), NULL);
	r.csr = b;
	be_request_match_key(&r, kb, sizeof(kb), NULL);
	r.csr = c;
	be_request_match_key(&r, kc, sizeof(kc), NULL);
	r.csr = d;
	be_request_match_key(&r, kd, sizeof(kd), NULL);
	r.csr = f;
	be_request_match_key(&r, kf, sizeof(kf), NULL);
	r.csr = a;
	r.principal.name = "sesam-client";
	be_request_match_key(&r, kp, sizeof(kp), NULL);
	tap_ok(a->der.size != b->der.size || memcmp(a->der.data, b->der.data, a->der.size) != 0,
	       "/request/match/resign: the two CSRs differ in their bytes (ECDSA)");
	tap_ok(strcmp(ka, kb) == 0, "/request/match/resign: same key, names: same request");
	tap_ok(strcmp(ka, kc) == 0, "/request/match/san-order: SAN order does not matter");
	tap_ok(strcmp(ka, kd) != 0, "/request/match/key: another key is another request");
	tap_ok(strcmp(ka, kf) != 0, "/request/match/subject: another subject is another request");
	tap_ok(strcmp(ka, kp) != 0, "/request/match/principal: another principal is another "
	       "request");
	be_csr_free(a);
	be_csr_free(b);
	be_csr_free(c);
	be_csr_free(d);
	be_csr_free(f);
	gnutls_x509_privkey_deinit(k1);
	gnutls_x509_privkey_deinit(k2);
}

/* ---------------------------------------------------------------- the record */

static void
test_record(void)
{
	struct be_request r;
	struct be_name subj = { NULL, 0 };
	struct be_request_stored st;
	struct be_result res;
	struct be_err e = { 0, "" };
	char *text = NULL;

	req_init(&r, APPROVAL, "client");
	r.adapter = "sesam";
	r.operation = "gencert";
	be_name_add(&subj, BE_DN_CN, "rec-1", 5, NULL);
	r.subject = &subj;
	r.key_fmt = BE_KEYFMT_PKCS12;
	r.p12_password = "Secret-Pass-123";
	r.data = "{\"name\":\"shown\"}";
	tap_ok(be_request_record(&r, &text, E(&e)) == BE_OK && text != NULL &&
	       strstr(text, "\"v\":2") != NULL && strstr(text, "\"key\":\"server\"") != NULL &&
	       strstr(text, "\"key_type\":\"p256\"") != NULL &&
	       strstr(text, "[\"CN\",\"rec-1\"]") != NULL &&
	       strstr(text, "\"adapter_data\":{\"name\":\"shown\"}") != NULL,
	       "/request/record: the normalised record (%s)", text ? text : e.msg);
	tap_ok(text != NULL && strstr(text, "Secret-Pass") == NULL,
	       "/request/record: never holds the PKCS#12 password");
	free(text);

	/* Stored through be_issue, loaded back for any front end. */
	r.p12_password = NULL;
	r.idem_key = "record-test";
	memset(&res, 0, sizeof(res));
	tap_ok(be_issue(cfg->be, &r, &res, E(&e)) == BE_OK && res.pending,
	       "/request/record/store: held for approval (%s)", e.msg);
	memset(&st, 0, sizeof(st));
	tap_ok(be_request_load(cfg->be, res.request_id, &st, E(&e)) == BE_OK &&
	       st.req.csr == NULL && st.req.pubkey == NULL && st.req.keygen.alg == BE_KEY_EC &&
	       st.req.subject != NULL && strcmp(be_name_get(st.req.subject, BE_DN_CN),
						"rec-1") == 0 &&
	       st.req.key_fmt == BE_KEYFMT_PKCS12 && strcmp(st.operation, "gencert") == 0 &&
	       st.req.approved_request == res.request_id,
	       "/request/record/load: what was asked comes back (%s)", e.msg);
	tap_ok(!be_request_may_collect(st.rec, "est") && be_request_may_collect(st.rec, "sesam"),
	       "/request/record/collect: a server key goes only to the front end asked for it");
	be_request_stored_clear(&st);
	be_result_clear(&res);
	be_name_clear(&subj);
}

/* ---------------------------------------------------------------- decisions */

static void
test_decisions(void)
{
	gnutls_x509_privkey_t k = ec_key();
	struct be_csr *csr = make_csr(k, "CN=decide-1", NULL), *again = NULL;
	struct be_request_stored st;
	struct be_request r;
	struct be_result res;
	struct be_op_ctx op;
	struct be_err e = { 0, "" };
	int64_t id = pending_request("decide-1", csr), mark, before = cert_count();
	bool approved = true;
	char big[260];

	tap_ok(id > 0, "/request/decide: a pending request %lld", (long long)id);
	op_init(&op, "cli", "client", BE_ROLE_CLIENT);
	mark = audit_mark();
	tap_ok(be_request_approve(cfg->be, &op, id, &approved, E(&e)) == BE_E_FORBIDDEN &&
	       !approved && strstr(e.msg, "client may not approve") != NULL,
	       "/request/approve/not-admin: refused (%s)", e.msg);
	tap_ok(one_entry(mark, "cli approve refused principal=client"),
	       "/request/approve/not-admin: one audit entry naming who acted");
	op_init(&op, "cli", NULL, BE_ROLE_RO_ADMIN);
	mark = audit_mark();
	tap_ok(be_request_approve(cfg->be, &op, id, NULL, E(&e)) == BE_E_FORBIDDEN &&
	       one_entry(mark, "refused principal=-"),
	       "/request/approve/anonymous: refused and audited");
	op_init(&op, "sesam", "ro-admin", BE_ROLE_RO_ADMIN);
	mark = audit_mark();
	tap_ok(be_request_approve(cfg->be, &op, id, &approved, E(&e)) == BE_OK && approved &&
	       status_of(id) == BE_REQ_APPROVED, "/request/approve: approved (%s)", e.msg);
	tap_ok(one_entry(mark, "sesam approve approved principal=ro-admin: request"),
	       "/request/approve: audited under the approver");
	op_init(&op, "cli", "admin", BE_ROLE_CA_ADMIN);
	mark = audit_mark();
	tap_ok(be_request_approve(cfg->be, &op, id, &approved, E(&e)) == BE_E_STATE &&
	       strstr(e.msg, "is APPROVED") != NULL,
	       "/request/approve/late: a second approval is refused (%s)", e.msg);
	tap_ok(one_entry(mark, "cli approve refused principal=admin"),
	       "/request/approve/late: audited under the late approver, not the requester");

	/* Retry with a CSR signed again: issued, once. */
	again = make_csr(k, "CN=decide-1", NULL);
	req_init(&r, APPROVAL, "client");
	r.csr = again;
	memset(&res, 0, sizeof(res));
	tap_ok(be_issue(cfg->be, &r, &res, E(&e)) == BE_OK && !res.pending && res.cert.size > 0 &&
	       res.request_id == id && cert_count() == before + 1,
	       "/request/issue/ec-retry: the re-signed CSR gets the certificate (%s)", e.msg);
	be_result_clear(&res);

	/* Issue-once: an administrator issuing the same approved request again loses, and the
	 * audit names the administrator. */
	memset(&st, 0, sizeof(st));
	tap_ok(be_request_load(cfg->be, id, &st, E(&e)) == BE_OK, "/request/load: %s", e.msg);
	st.req.adapter = "sesam";
	st.req.operation = "signrequest";
	st.req.actor = "late-admin";
	st.req.principal.roles = BE_ROLE_CLIENT;
	mark = audit_mark();
	memset(&res, 0, sizeof(res));
	tap_ok(be_issue(cfg->be, &st.req, &res, E(&e)) == BE_E_STATE && cert_count() == before + 1,
	       "/request/issue-once: a second issuance is refused (%s)", e.msg);
	tap_ok(one_entry(mark, "sesam signrequest error principal=late-admin") ||
	       one_entry(mark, "sesam signrequest refused principal=late-admin"),
	       "/request/issue-once: audited under the administrator who acted");
	be_result_clear(&res);
	be_request_stored_clear(&st);

	/* Reject: the same rules from every front end. */
	be_csr_free(csr);
	csr = make_csr(k, "CN=decide-2", NULL);
	id = pending_request("decide-2", csr);
	op_init(&op, "sesam", "ro-admin", BE_ROLE_RO_ADMIN);
	be_request_approve(cfg->be, &op, id, NULL, NULL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	op_init(&op, "cli", "admin", BE_ROLE_CA_ADMIN);
	mark = audit_mark();
	tap_ok(be_request_reject(cfg->be, &op, id, big, E(&e)) == BE_E_MALFORMED &&
	       one_entry(mark, "cli approve refused principal=admin: reason: at most 200"),
	       "/request/reject/long-reason: refused and audited (%s)", e.msg);
	tap_ok(be_request_reject(cfg->be, &op, id, "bad\ttab", E(&e)) == BE_E_MALFORMED,
	       "/request/reject/control-character: refused");
	op_init(&op, "cli", "client", BE_ROLE_CLIENT);
	tap_ok(be_request_reject(cfg->be, &op, id, NULL, E(&e)) == BE_E_FORBIDDEN,
	       "/request/reject/not-admin: refused");
	op_init(&op, "cli", "admin", BE_ROLE_CA_ADMIN);
	tap_ok(be_request_reject(cfg->be, &op, id, "no longer needed", E(&e)) == BE_OK &&
	       status_of(id) == BE_REQ_REJECTED,
	       "/request/reject/approved: an APPROVED request can be rejected (%s)", e.msg);
	mark = audit_mark();
	tap_ok(be_request_reject(cfg->be, &op, id, NULL, E(&e)) == BE_E_STATE &&
	       one_entry(mark, "refused principal=admin: request"),
	       "/request/reject/twice: refused and audited (%s)", e.msg);

	/* Cancel: the requester or an administrator. */
	be_csr_free(csr);
	csr = make_csr(k, "CN=decide-3", NULL);
	id = pending_request("decide-3", csr);
	op_init(&op, "iot", "sesam-client", BE_ROLE_CLIENT);
	tap_ok(be_request_cancel(cfg->be, &op, id, E(&e)) == BE_E_FORBIDDEN,
	       "/request/cancel/stranger: another client may not cancel (%s)", e.msg);
	op_init(&op, "iot", "client", BE_ROLE_CLIENT);
	tap_ok(be_request_cancel(cfg->be, &op, id, E(&e)) == BE_OK &&
	       status_of(id) == BE_REQ_CANCELLED, "/request/cancel: its requester withdraws it");
	op_init(&op, "cli", "ro-admin", BE_ROLE_RO_ADMIN);
	tap_ok(be_request_approve(cfg->be, &op, id, NULL, E(&e)) == BE_E_STATE,
	       "/request/cancel: a cancelled request cannot be approved");
	tap_ok(be_request_approve(cfg->be, &op, 987654, NULL, E(&e)) == BE_E_NOTFOUND &&
	       strstr(e.msg, "no request 987654") != NULL, "/request/approve/unknown: %s", e.msg);

	be_csr_free(csr);
	be_csr_free(again);
	gnutls_x509_privkey_deinit(k);
}

/* ---------------------------------------------------------------- a race of approvers */

struct racer {
	int64_t id;
	char name[16];
	int rc;
};

static pthread_barrier_t gate;

static void *
race(void *arg)
{
	struct racer *me = arg;
	struct be_op_ctx op;

	op_init(&op, "sesam", me->name, BE_ROLE_RO_ADMIN);
	pthread_barrier_wait(&gate);
	me->rc = be_request_approve(cfg->be, &op, me->id, NULL, NULL);
	return NULL;
}

static void
test_race(void)
{
	gnutls_x509_privkey_t k = ec_key();
	struct be_csr *csr = make_csr(k, "CN=race-1", NULL);
	struct racer rs[RACERS];
	pthread_t th[RACERS];
	struct audit_log l;
	int64_t id = pending_request("race-1", csr), mark = audit_mark();
	size_t i, j, won = 0, refused_each = 0;

	pthread_barrier_init(&gate, NULL, RACERS);
	for (i = 0; i < RACERS; i++) {
		rs[i].id = id;
		snprintf(rs[i].name, sizeof(rs[i].name), "racer-%zu", i);
		pthread_create(&th[i], NULL, race, &rs[i]);
	}
	for (i = 0; i < RACERS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&gate);
	l = audit_since(mark);
	for (i = 0; i < RACERS; i++) {
		size_t mine = 0;
		char want[64];

		if (rs[i].rc == BE_OK)
			won++;
		snprintf(want, sizeof(want), "%s principal=%s:", rs[i].rc == BE_OK ? "approved" :
			 "refused", rs[i].name);
		for (j = 0; j < l.n && j < 16; j++)
			if (strstr(l.line[j], want) != NULL)
				mine++;
		if (mine == 1)
			refused_each++;
	}
	tap_ok(won == 1 && status_of(id) == BE_REQ_APPROVED,
	       "/request/approve/race: %d approvers at once, exactly one approval counts",
	       RACERS);
	tap_ok(l.n == RACERS && refused_each == RACERS,
	       "/request/approve/race: one audit entry per approver, each under its own name "
	       "(%zu entries)", l.n);
	be_csr_free(csr);
	gnutls_x509_privkey_deinit(k);
}

/* ---------------------------------------------------------------- expiry */

static void
test_expire(void)
{
	gnutls_x509_privkey_t k = ec_key();
	struct be_csr *csr = make_csr(k, "CN=expire-1", NULL);
	struct be_op_ctx op;
	struct be_err e = { 0, "" };
	int64_t id = pending_request("expire-1", csr), id2, mark;
	size_t n = 0;

	cfg->be->request_ttl = 1;
	sleep(2);
	op_init(&op, "cli", "ro-admin", BE_ROLE_RO_ADMIN);
	mark = audit_mark();
	tap_ok(be_request_approve(cfg->be, &op, id, NULL, E(&e)) == BE_E_STATE &&
	       strstr(e.msg, "EXPIRED") != NULL && status_of(id) == BE_REQ_EXPIRED,
	       "/request/expire/approve: an outlived request expires instead (%s)", e.msg);
	tap_ok(audit_since(mark).n == 2,
	       "/request/expire/approve: audited as expired, and the refusal");
	id2 = pending_request("expire-1", csr);
	tap_ok(id2 > 0 && id2 != id, "/request/expire/retry: the retry starts a new request");
	sleep(2);
	tap_ok(be_request_expire(cfg->be, &op, &n, E(&e)) == BE_OK && n >= 1 &&
	       status_of(id2) == BE_REQ_EXPIRED, "/request/expire/sweep: %zu expired", n);
	cfg->be->request_ttl = 0;
	be_csr_free(csr);
	gnutls_x509_privkey_deinit(k);
}

/* ---------------------------------------------------------------- presented certificates */

static void
test_presented(void)
{
	gnutls_x509_privkey_t k = ec_key();
	struct be_csr *csr = make_csr(k, "CN=presented-1", NULL);
	const struct be_ca *ca = NULL;
	struct be_cert_rec *rec = NULL;
	struct be_request r;
	struct be_result res;
	struct be_op_ctx op;
	struct be_err e = { 0, "" };
	struct be_name subj = { NULL, 0 };
	struct be_sans sans = { NULL, 0 };
	struct be_tbs tbs;
	gnutls_datum_t rogue = { NULL, 0 };
	gnutls_pubkey_t pub = NULL;
	const struct be_profile *p = be_ctx_profile(cfg->be, "est-device");
	time_t now = time(NULL);

	req_init(&r, "est-device", "client");
	r.csr = csr;
	memset(&res, 0, sizeof(res));
	be_issue(cfg->be, &r, &res, NULL);
	tap_ok(be_presented_check(cfg->be, NULL, &res.cert, now, &rec, &ca, E(&e)) == BE_OK &&
	       ca == p->ca && rec != NULL && strcmp(rec->serial, res.serial_hex) == 0,
	       "/presented/ours: found, valid, issued by %s (%s)", ca ? ca->name : "?", e.msg);
	be_cert_rec_free(rec);
	rec = NULL;
	tap_ok(be_presented_check(cfg->be, p->ca, &res.cert, now + 400 * 86400, NULL, NULL,
				  &e) == BE_E_FORBIDDEN && strstr(e.msg, "expired") != NULL,
	       "/presented/expired: %s", e.msg);
	memset(&op, 0, sizeof(op));
	op.adapter = "test";
	op.operation = "revoke";
	op.principal.name = "admin";
	be_cert_revoke(cfg->be, &op, res.serial_hex, 6, NULL);
	tap_ok(be_presented_check(cfg->be, NULL, &res.cert, now, NULL, NULL, E(&e)) ==
	       BE_E_FORBIDDEN && strstr(e.msg, "on hold") != NULL, "/presented/hold: %s", e.msg);
	be_cert_revoke(cfg->be, &op, res.serial_hex, 1, NULL);
	tap_ok(be_presented_check(cfg->be, NULL, &res.cert, now, NULL, NULL, E(&e)) ==
	       BE_E_FORBIDDEN && strstr(e.msg, "revoked") != NULL, "/presented/revoked: %s", e.msg);
	be_result_clear(&res);

	memset(&res, 0, sizeof(res));
	be_issue(cfg->be, &r, &res, NULL);
	if (be_store_cert_get(cfg->be->store, p->ca->id, res.serial_hex, &rec, NULL) == BE_OK)
		be_store_cert_delete(cfg->be->store, rec->id, NULL, NULL);
	be_cert_rec_free(rec);
	rec = NULL;
	tap_ok(be_presented_check(cfg->be, NULL, &res.cert, now, NULL, NULL, E(&e)) ==
	       BE_E_FORBIDDEN && strstr(e.msg, "deleted") != NULL, "/presented/deleted: %s", e.msg);

	/* Signed by our CA but never recorded: not one certgate issued. */
	memset(&tbs, 0, sizeof(tbs));
	be_name_add(&subj, BE_DN_CN, "unrecorded", 10, NULL);
	be_key_pubkey(k, &pub, NULL);
	tbs.subject = &subj;
	tbs.sans = &sans;
	tbs.pubkey = pub;
	tbs.not_before = now - 60;
	tbs.not_after = now + 86400;
	tbs.key_usage = GNUTLS_KEY_DIGITAL_SIGNATURE;
	be_serial_new(tbs.serial, &tbs.serial_len, NULL);
	tap_ok(be_ca_sign(p->ca, &tbs, &rogue, E(&e)) == BE_OK &&
	       be_presented_check(cfg->be, NULL, &rogue, now, NULL, NULL, E(&e)) == BE_E_FORBIDDEN &&
	       strstr(e.msg, "not in its store") != NULL, "/presented/unrecorded: %s", e.msg);
	/* The root CA's own certificate: not issued by the issuing CA. */
	tap_ok(be_presented_check(cfg->be, p->ca, &p->ca->chain[p->ca->n_chain - 1], now, NULL,
				  NULL, E(&e)) == BE_E_NOTFOUND,
	       "/presented/foreign: another CA's certificate is not ours (%s)", e.msg);
	tap_ok(be_presented_check(cfg->be, NULL, &(gnutls_datum_t){ (unsigned char *)"xx", 2 },
				  now, NULL, NULL, E(&e)) == BE_E_MALFORMED,
	       "/presented/garbage: %s", e.msg);
	be_datum_free(&rogue);
	gnutls_pubkey_deinit(pub);
	be_name_clear(&subj);
	be_result_clear(&res);
	be_csr_free(csr);
	gnutls_x509_privkey_deinit(k);
}

int
main(void)
{
	char conf[128];
	char *argv[4];
	struct be_err e = { 0, "" };
	int saved, rc, devnull;

	gnutls_global_init();
	snprintf(dir, sizeof(dir), "/tmp/certgate-test-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 99;
	argv[0] = "init";
	argv[1] = dir;
	argv[2] = NULL;
	fflush(stdout);
	saved = dup(1);
	devnull = open("/dev/null", O_WRONLY);
	dup2(devnull, 1);
	close(devnull);
	rmdir(dir);
	rc = gw_cmd_init(2, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	tap_ok(rc == 0, "/init: demo written in %s", dir);
	snprintf(conf, sizeof(conf), "%s/certgate.json", dir);
	if (!tap_ok(gw_config_load(conf, &cfg, E(&e)) == BE_OK, "/config: demo loads (%s)", e.msg))
		return tap_done();

	test_match();
	test_record();
	test_decisions();
	test_race();
	test_expire();
	test_presented();

	gw_config_free(cfg);
	snprintf(conf, sizeof(conf), "rm -rf %s", dir);
	if (system(conf) != 0)
		tap_diag("could not remove %s", dir);
	gnutls_global_deinit();
	return tap_done();
}
