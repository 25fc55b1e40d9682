/*
 * be_issue: profile policy, key generation, signing, durable recording, key encoding.
 *
 * Order matters: everything that can refuse a request is checked before a key is generated
 * or a serial drawn, and the certificate is committed (with its audit entry) before any of
 * it is handed back to the adapter.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "be_crlpub.h"
#include "be_goodkey.h"
#include "be_issue.h"
#include "be_json.h"
#include "be_keypool.h"
#include "be_namepolicy.h"
#include "be_request.h"
#include "be_stats.h"

/* Canonical order of subject attributes in issued certificates (most significant first). */
static const enum be_dn_attr dn_order[] = {
	BE_DN_DC, BE_DN_C, BE_DN_ST, BE_DN_L, BE_DN_STREET, BE_DN_O, BE_DN_OU, BE_DN_ORGID,
	BE_DN_TITLE, BE_DN_SN, BE_DN_GN, BE_DN_INITIALS, BE_DN_GENQ, BE_DN_PSEUDONYM,
	BE_DN_SERIALNUMBER, BE_DN_UID, BE_DN_CN, BE_DN_E,
};

/* ---------------------------------------------------------------- context */

int
be_ctx_new(const json_t *cas, const json_t *profiles, const char *store_path,
	   const char *basedir, struct be_ctx **out, struct be_err *e)
{
	struct be_ctx *ctx = NULL;
	const char *name;
	json_t *v;
	char path[128];
	int rc = BE_OK;

	*out = NULL;
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (!json_is_object(cas) || json_object_size(cas) == 0) {
		rc = be_err_set(e, BE_E_CONFIG, "cas: must be an object naming at least one CA");
		goto out;
	}
	if ((ctx->cas = calloc(json_object_size(cas), sizeof(*ctx->cas))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	json_object_foreach((json_t *)cas, name, v) {
		snprintf(path, sizeof(path), "cas.%.64s", name);
		if (!json_is_object(v)) {
			rc = be_err_set(e, BE_E_CONFIG, "%s: must be an object", path);
			goto out;
		}
		if ((rc = be_ca_load(name, v, path, basedir, &ctx->cas[ctx->n_cas], e)) != BE_OK)
			goto out;
		ctx->n_cas++;
	}
	if ((rc = be_profiles_parse(profiles, ctx->cas, ctx->n_cas, &ctx->profiles,
				    &ctx->n_profiles, e)) != BE_OK)
		goto out;
	if (store_path != NULL && (rc = be_store_open(store_path, &ctx->store, e)) != BE_OK)
		goto out;
	*out = ctx;
	ctx = NULL;
out:
	be_ctx_free(ctx);
	return rc;
}

void
be_ctx_free(struct be_ctx *ctx)
{
	size_t i;

	if (ctx == NULL)
		return;
	be_crlpub_free(ctx->crlpub);
	be_keypool_free(ctx->keypool);
	be_goodkey_free(ctx->goodkey);
	be_store_close(ctx->store);
	be_profiles_free(ctx->profiles, ctx->n_profiles);
	for (i = 0; i < ctx->n_cas; i++)
		be_ca_free(ctx->cas[i]);
	free(ctx->cas);
	free(ctx);
}

const struct be_profile *
be_ctx_profile(const struct be_ctx *ctx, const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < ctx->n_profiles; i++)
		if (strcmp(ctx->profiles[i].name, name) == 0)
			return &ctx->profiles[i];
	return NULL;
}

const struct be_ca *
be_ctx_ca(const struct be_ctx *ctx, const char *name_or_id)
{
	size_t i;

	for (i = 0; i < ctx->n_cas; i++)
		if (strcmp(ctx->cas[i]->name, name_or_id) == 0 ||
		    strcmp(ctx->cas[i]->id, name_or_id) == 0)
			return ctx->cas[i];
	return NULL;
}

void
be_result_clear(struct be_result *res)
{
	if (res == NULL)
		return;
	be_datum_free(&res->cert);
	be_datum_wipe(&res->key_out);
	if (res->key != NULL)
		gnutls_x509_privkey_deinit(res->key);
	be_memzero(res->p12_password, sizeof(res->p12_password));
	memset(res, 0, sizeof(*res));
}

/* ---------------------------------------------------------------- policy */

static int
build_subject(const struct be_profile *p, const struct be_name *in, struct be_name *out,
	      struct be_err *e)
{
	size_t i, j;
	int rc;

	for (i = 0; in != NULL && i < in->n; i++) {
		const struct be_rdn *r = &in->v[i];
		const char *key = be_dn_info(r->attr)->key;

		switch (p->subject[r->attr]) {
		case BE_FIELD_FORBIDDEN:
			return be_err_set(e, BE_E_POLICY, "subject %s is not allowed by profile %s",
					  key, p->name);
		case BE_FIELD_FIXED:
			if (strcmp(r->value, p->subject_fixed[r->attr]) != 0)
				return be_err_set(e, BE_E_POLICY, "subject %s must be \"%s\" in "
						  "profile %s", key, p->subject_fixed[r->attr],
						  p->name);
			break;
		default:
			break;
		}
	}
	for (j = 0; j < sizeof(dn_order) / sizeof(dn_order[0]); j++) {
		enum be_dn_attr a = dn_order[j];
		bool seen = false;

		if (p->subject[a] == BE_FIELD_FIXED) {
			rc = be_name_add(out, a, p->subject_fixed[a], strlen(p->subject_fixed[a]), e);
			if (rc != BE_OK)
				return rc;
			continue;
		}
		if (p->subject[a] == BE_FIELD_IGNORE || p->subject[a] == BE_FIELD_FORBIDDEN)
			continue;
		for (i = 0; in != NULL && i < in->n; i++) {
			if (in->v[i].attr != a)
				continue;
			seen = true;
			rc = be_name_add(out, a, in->v[i].value, strlen(in->v[i].value), e);
			if (rc != BE_OK)
				return rc;
		}
		if (!seen && p->subject[a] == BE_FIELD_REQUIRED)
			return be_err_set(e, BE_E_POLICY, "subject %s is required by profile %s",
					  be_dn_info(a)->key, p->name);
	}
	return BE_OK;
}

/* RFC 5280 4.2.1.3, 4.2.1.9, 4.2.1.12: a request may ask for less than the profile gives,
 * never for more; what it asks is never copied. */
static int
check_csr_extensions(const struct be_profile *p, const struct be_csr *csr, struct be_err *e)
{
	size_t i, j;
	char names[160];

	if (csr->asks_ca && !p->is_ca)
		return be_err_set(e, BE_E_POLICY, "CSR asks for a CA certificate (basicConstraints "
				  "cA TRUE); profile %s issues end-entity certificates only",
				  p->name);
	if (csr->has_key_usage && (csr->key_usage & ~p->key_usage)) {
		be_ku_names(csr->key_usage & ~p->key_usage, names, sizeof(names));
		return be_err_set(e, BE_E_POLICY, "CSR asks for key usage %s, which profile %s does "
				  "not grant", names, p->name);
	}
	for (i = 0; i < csr->n_eku; i++) {
		bool ok = false;

		for (j = 0; j < p->n_eku && !ok; j++)
			ok = strcmp(csr->eku[i], p->eku[j]) == 0;
		if (!ok)
			return be_err_set(e, BE_E_POLICY, "CSR asks for extended key usage %s, which "
					  "profile %s does not grant", be_eku_name(csr->eku[i]),
					  p->name);
	}
	return BE_OK;
}

static int
check_key(const struct be_profile *p, const struct be_keyspec *k, bool server,
	  struct be_err *e)
{
	char have[24], list[160];

	if (server && !p->server_keygen)
		return be_err_set(e, BE_E_POLICY, "profile %s does not allow server-side key "
				  "generation", p->name);
	if (!server && !p->client_keys)
		return be_err_set(e, BE_E_POLICY, "profile %s only issues for server-generated "
				  "keys", p->name);
	if (!be_profile_key_allowed(p, k)) {
		be_profile_key_list(p, list, sizeof(list));
		return be_err_set(e, BE_E_POLICY, "key type %s is not allowed by profile %s "
				  "(allowed: %s)", be_keyspec_name(k, have, sizeof(have)), p->name,
				  list);
	}
	return BE_OK;
}

static int
check_output(const struct be_profile *p, const struct be_request *req,
	     const struct be_keyspec *k, struct be_err *e)
{
	size_t n;

	switch (req->key_fmt) {
	case BE_KEYFMT_NONE:
		return be_err_set(e, BE_E_INTERNAL, "no format for the generated key");
	case BE_KEYFMT_PEM:
	case BE_KEYFMT_DER:
		if (!(p->outputs & (req->key_fmt == BE_KEYFMT_PEM ? BE_OUT_PEM : BE_OUT_DER)))
			return be_err_set(e, BE_E_POLICY, "profile %s does not return keys as %s",
					  p->name, req->key_fmt == BE_KEYFMT_PEM ? "PEM" : "DER");
		if (req->key_syntax == BE_KEY_PKCS1 && k->alg == BE_KEY_ED25519)
			return be_err_set(e, BE_E_POLICY, "Ed25519 keys have no PKCS#1 form; ask "
					  "for PKCS#8");
		return BE_OK;
	case BE_KEYFMT_CMS:
		if (!(p->outputs & BE_OUT_CMS))
			return be_err_set(e, BE_E_POLICY, "profile %s does not return keys in CMS "
					  "EnvelopedData", p->name);
		return BE_OK;
	case BE_KEYFMT_PKCS12:
		if (!(p->outputs & BE_OUT_PKCS12))
			return be_err_set(e, BE_E_POLICY, "profile %s does not return PKCS#12",
					  p->name);
		if (req->p12_password == NULL) {
			if (p->p12_password == BE_P12PW_REQUIRED)
				return be_err_set(e, BE_E_POLICY, "profile %s requires a PKCS#12 "
						  "password from the client", p->name);
			return BE_OK;
		}
		n = strlen(req->p12_password);
		if (n < p->p12_min_len)
			return be_err_set(e, BE_E_POLICY, "PKCS#12 password shorter than the %u "
					  "characters profile %s requires", p->p12_min_len, p->name);
		if (n > 128)
			return be_err_set(e, BE_E_POLICY, "PKCS#12 password longer than 128 "
					  "characters");
		return BE_OK;
	}
	return be_err_set(e, BE_E_INTERNAL, "unknown key format");
}

static int
validity(const struct be_profile *p, const struct be_ca *ca, const struct be_request *req,
	 unsigned max, bool is_ca, time_t now, time_t *nb, time_t *na, struct be_err *e)
{
	unsigned days = req->validity_days ? req->validity_days : p->validity_days;

	if (p->validity_seconds != 0)	/* internal profiles (be_profile.h) */
		days = max = 0;
	if (days > max && p->ext_from_request)
		return be_err_set(e, BE_E_MALFORMED, "validity: %u days exceeds the %u days "
				  "profile %s allows for %s certificates", days, max, p->name,
				  is_ca ? "CA" : "end-entity");
	if (days > max)
		return be_err_set(e, BE_E_POLICY, "validity of %u days exceeds the %u days profile "
				  "%s allows", days, max, p->name);
	/* A minute of backdating absorbs clock skew between CA and relying parties. */
	*nb = now - 60;
	*na = now + (p->validity_seconds != 0 ? (time_t)p->validity_seconds :
		     (time_t)days * 86400);
	if (*na > ca->not_after)
		*na = ca->not_after;
	if (*na <= now)
		return be_err_set(e, BE_E_UNAVAILABLE, "CA %s has expired", ca->name);
	return BE_OK;
}

/* ---------------------------------------------------------------- approvals */

static void
audit_fill(struct be_audit_rec *a, const struct be_request *req, const char *outcome,
	   const char *reason, const char *serial)
{
	memset(a, 0, sizeof(*a));
	a->request_id = req->request_id;
	a->adapter = req->adapter;
	a->operation = req->operation;
	a->principal = req->actor != NULL ? req->actor : req->principal.name;
	a->profile = req->profile != NULL ? req->profile->name : NULL;
	a->peer = req->peer;
	a->outcome = outcome;
	a->reason = reason;
	a->serial = serial;
}

/* True when the request will be stored for approval rather than issued now. */
static bool
will_hold(const struct be_request *req)
{
	return req->approved_request == 0 && (req->hold || req->profile->approvals > 0);
}

/* Decimal form of a stored (hex) serial, for the adapters that show serials in decimal. */
static void
serial_dec_from_hex(const char *hex, char *out, size_t len)
{
	unsigned char raw[32];
	size_t hl = strlen(hex), odd = hl % 2, i;

	out[0] = '\0';
	if (hl == 0 || (hl + 1) / 2 > sizeof(raw))
		return;
	memset(raw, 0, sizeof(raw));
	for (i = 0; i < hl; i++) {
		char c = hex[i];
		size_t nib = i + odd;	/* nibble position once left-padded to even length */
		unsigned v;

		if (c >= '0' && c <= '9')
			v = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = (unsigned)(c - 'a' + 10);
		else
			return;
		raw[nib / 2] |= (unsigned char)(nib % 2 ? v : v << 4);
	}
	be_serial_dec(raw, (hl + 1) / 2, out, len);
}

/* Returns 1 when the request was handled by the approval flow (pending or already issued),
 * 0 when issuance should go on (with *request_id set for an approved request). */
static int
approval_flow(struct be_ctx *ctx, const struct be_request *req, const struct be_ca *ca,
	      struct be_result *res, int64_t *request_id, struct be_err *e)
{
	struct be_req_rec *found = NULL, rec;
	struct be_cert_rec *cert = NULL;
	struct be_audit_rec a;
	struct be_op_ctx op;
	char idem[65], *record = NULL;
	const char *key = req->idem_key;
	int rc, tries = 0;

	*request_id = 0;
	if (req->approved_request != 0) {
		*request_id = req->approved_request;
		return 0;
	}
	if (req->profile->approvals == 0 && !req->hold)
		return 0;
	if (key == NULL) {
		if ((rc = be_request_match_key(req, idem, sizeof(idem), e)) != BE_OK)
			return rc;
		key = idem;
	}
	memset(&op, 0, sizeof(op));
	op.adapter = req->adapter;
	op.operation = req->operation;
	op.request_id = req->request_id;
	op.peer = req->peer;
	op.principal = req->principal;
again:
	rc = be_store_req_find(ctx->store, req->profile->name, key, &found, NULL);
	if (rc == BE_OK && be_request_expire_one(ctx, &op, found, time(NULL))) {
		/* Outlived its decision: the retry starts a new request. */
		be_req_rec_free(found);
		found = NULL;
		rc = BE_E_NOTFOUND;
	}
	if (rc == BE_OK) {
		switch (found->status) {
		case BE_REQ_PENDING:
			res->pending = true;
			res->request_id = found->id;
			rc = 1;
			break;
		case BE_REQ_APPROVED:
			*request_id = found->id;
			rc = 0;
			break;
		case BE_REQ_ISSUED:
			rc = be_store_cert_get_id(ctx->store, found->cert_id, &cert, e);
			if (rc != BE_OK)
				break;
			if (cert->status != BE_CERT_VALID || cert->deleted) {
				rc = be_err_set(e, BE_E_STATE, "the certificate issued for this "
						"request is %s", cert->deleted ? "deleted" :
						be_cert_status_name(cert->status));
				break;
			}
			res->cert = cert->der;
			cert->der.data = NULL;
			cert->der.size = 0;
			res->cert_id = cert->id;
			res->request_id = found->id;
			snprintf(res->serial_hex, sizeof(res->serial_hex), "%s", cert->serial);
			serial_dec_from_hex(cert->serial, res->serial_dec,
					    sizeof(res->serial_dec));
			res->chain = ca->chain;
			res->n_chain = ca->n_chain;
			res->not_before = (time_t)cert->not_before;
			res->not_after = (time_t)cert->not_after;
			rc = 1;
			break;
		default:
			rc = be_err_set(e, BE_E_STATE, "request %lld is %s", (long long)found->id,
					be_req_status_name(found->status));
			break;
		}
		goto out;
	}
	memset(&rec, 0, sizeof(rec));
	rec.profile = req->profile->name;
	rec.principal = (char *)req->principal.name;
	rec.adapter = (char *)req->adapter;
	rec.idem_key = (char *)key;
	rec.status = BE_REQ_PENDING;
	rec.approvals_needed = req->profile->approvals > 0 ? req->profile->approvals : 1;
	if (req->csr != NULL)
		rec.csr_der = req->csr->der;
	if ((rc = be_request_record(req, &record, e)) != BE_OK)
		goto out;
	rec.data = record;
	audit_fill(&a, req, "pending", "waiting for approval", NULL);
	rc = be_store_req_insert(ctx->store, &rec, &a, NULL);
	free(record);
	record = NULL;
	if (rc == BE_E_CONFLICT && tries++ == 0)
		goto again;	/* the same request arrived at once from elsewhere */
	if (rc != BE_OK) {
		rc = be_err_set(e, rc, "the request could not be stored");
		goto out;
	}
	res->pending = true;
	res->request_id = rec.id;
	rc = 1;
out:
	free(record);
	be_cert_rec_free(cert);
	be_req_rec_free(found);
	return rc;
}

/* ---------------------------------------------------------------- distribution */

static int
drop_file(const char *dir, const char *serial, const char *ext, const void *data, size_t len,
	  struct be_err *e)
{
	char tmp[4096], fin[4096];
	int fd = -1, rc = BE_OK;

	snprintf(fin, sizeof(fin), "%s/%s.%s", dir, serial, ext);
	snprintf(tmp, sizeof(tmp), "%s/.%s.%s.tmp", dir, serial, ext);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = be_err_set(e, BE_E_IO, "drop directory: %s", strerror(errno));
		goto out;
	}
	if (write(fd, data, len) != (ssize_t)len || fsync(fd) != 0) {
		rc = be_err_set(e, BE_E_IO, "drop directory: %s", strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, fin) != 0) {
		rc = be_err_set(e, BE_E_IO, "drop directory: %s", strerror(errno));
		unlink(tmp);
	}
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---------------------------------------------------------------- issuance */

int
be_issue(struct be_ctx *ctx, const struct be_request *req, struct be_result *res,
	 struct be_err *e)
{
	const struct be_profile *p = req->profile;
	const struct be_ca *ca = NULL;
	struct be_name subject = { NULL, 0 };
	struct be_sans sans = { NULL, 0 };
	struct be_keyspec spec = { BE_KEY_NONE, 0 };
	struct be_tbs tbs;
	struct be_cert_rec rec;
	struct be_audit_rec a;
	gnutls_pubkey_t genpub = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t p12 = { NULL, 0 };
	struct be_p12_params pp;
	struct be_err local = { 0, "" };
	char *subj_str = NULL;
	int64_t request_id = 0;
	bool server_key = false;
	time_t now = time(NULL);
	uint64_t t0 = be_stats_clock();
	unsigned max_days = 0;
	int rc, attempt;

	if (e == NULL)
		e = &local;
	memset(&tbs, 0, sizeof(tbs));
	memset(&rec, 0, sizeof(rec));
	if (p == NULL) {
		rc = be_err_set(e, BE_E_NOTFOUND, "no such profile");
		goto out;
	}
	if (!be_profile_allows(p, &req->principal)) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "%s may not use profile %s",
				req->principal.name ? req->principal.name : "an anonymous caller",
				p->name);
		goto out;
	}
	/* Nothing is signed by a crypto library in its error state; its key pool stops. */
	if ((rc = be_crypto_check(e)) != BE_OK) {
		be_keypool_halt(ctx->keypool);
		goto out;
	}
	if ((rc = be_issuer_of(p, req->issuer, &ca, e)) != BE_OK)
		goto out;

	/* The key: from the CSR, a bare public key, or generated here. */
	if (req->csr != NULL && req->pubkey != NULL) {
		rc = be_err_set(e, BE_E_INTERNAL, "both a CSR and a public key");
		goto out;
	}
	if (req->csr != NULL) {
		if (!req->csr->signature_ok) {
			rc = be_err_set(e, BE_E_INTERNAL, "CSR signature was not verified");
			goto out;
		}
		spec = req->csr->key;
		pub = req->csr->pubkey;
		/* With request-driven extensions the request's own fields are what it asks. */
		if (!p->ext_from_request && (rc = check_csr_extensions(p, req->csr, e)) != BE_OK)
			goto out;
	} else if (req->pubkey != NULL) {
		if ((rc = be_keyspec_of_pubkey(req->pubkey, &spec, e)) != BE_OK)
			goto out;
		pub = req->pubkey;
	} else {
		server_key = true;
		spec = req->keygen.alg != BE_KEY_NONE ? req->keygen : p->server_key;
	}
	/* Known-weak client keys are refused before anything else is looked at. */
	if (pub != NULL && (rc = be_goodkey_check(ctx->goodkey, pub, req->csr != NULL ?
						  "CSR key" : "public key", e)) != BE_OK)
		goto out;
	if ((rc = check_key(p, &spec, server_key, e)) != BE_OK)
		goto out;
	/* A request held for approval carries no password: its output is checked when it is
	 * signed (approved_request). */
	if (server_key && !will_hold(req) && (rc = check_output(p, req, &spec, e)) != BE_OK)
		goto out;

	if ((rc = build_subject(p, req->subject != NULL ? req->subject :
				req->csr != NULL ? &req->csr->subject : NULL, &subject, e)) != BE_OK)
		goto out;
	/* The names policy applies to the final list, after cn_as_dns (be_namepolicy.h). */
	if ((rc = be_namepolicy_sans(p, req->sans != NULL ? req->sans :
				     req->csr != NULL ? &req->csr->sans : NULL, &subject, &sans,
				     e)) != BE_OK)
		goto out;
	if ((rc = be_issuer_extensions(p, ca, req->ext, spec.alg, &tbs, &max_days, e)) != BE_OK ||
	    (rc = validity(p, ca, req, max_days, tbs.is_ca, now, &tbs.not_before,
			   &tbs.not_after, e)) != BE_OK)
		goto out;

	if (ctx->store == NULL) {
		rc = be_err_set(e, BE_E_UNAVAILABLE, "no store: certificates cannot be recorded");
		goto out;
	}
	if (req->check_only) {
		rc = BE_OK;
		goto out;
	}
	rc = approval_flow(ctx, req, ca, res, &request_id, e);
	if (rc < 0)
		goto out;
	if (rc == 1) {
		rc = BE_OK;
		goto out;
	}

	if (server_key) {
		/* A ready key from the pool when there is one, else made here. */
		if ((be_keypool_take(ctx->keypool, &spec, &res->key) != BE_OK &&
		     (rc = be_key_generate(&spec, &res->key, e)) != BE_OK) ||
		    (rc = be_key_pubkey(res->key, &genpub, e)) != BE_OK)
			goto out;
		pub = genpub;
	}

	tbs.subject = &subject;
	tbs.sans = &sans;
	tbs.pubkey = pub;
	tbs.ocsp_nocheck = p->ocsp_nocheck;
	tbs.crl_url = p->crl_url;
	tbs.ocsp_url = p->ocsp_url;
	tbs.ca_issuers_url = p->ca_issuers_url;
	if ((subj_str = be_name_to_string(&subject)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}

	/* A serial collision is astronomically unlikely, but the store's constraint is the
	 * authority: draw again and re-sign. */
	for (attempt = 0; attempt < 3; attempt++) {
		be_datum_free(&res->cert);
		if ((rc = be_serial_new(tbs.serial, &tbs.serial_len, e)) != BE_OK ||
		    (rc = be_ca_sign(ca, &tbs, &res->cert, e)) != BE_OK)
			goto out;
		be_serial_hex(tbs.serial, tbs.serial_len, res->serial_hex, sizeof(res->serial_hex));

		if (server_key && (req->key_fmt == BE_KEYFMT_PKCS12 || p->keep_key)) {
			const char *pw = req->p12_password;

			be_datum_free(&p12);
			if (pw == NULL) {
				if (res->p12_password[0] == '\0' &&
				    (rc = be_random_password(res->p12_password,
							     sizeof(res->p12_password), 20)) != BE_OK) {
					rc = be_err_set(e, rc, "cannot make a password");
					goto out;
				}
				pw = res->p12_password;
			}
			pp.password = pw;
			pp.friendly_name = be_name_get(&subject, BE_DN_CN);
			pp.iterations = p->p12_iterations;
			if (pp.iterations == 0 && pw == res->p12_password)
				pp.iterations = BE_P12_ITERATIONS_RANDOM_PW;
			if ((rc = be_encode_pkcs12(res->key, &res->cert, ca->chain,
						   req->p12_without_chain ? 0 : ca->n_chain,
						   &pp, &p12, e)) != BE_OK)
				goto out;
		}

		memset(&rec, 0, sizeof(rec));
		snprintf(rec.issuer, sizeof(rec.issuer), "%s", ca->id);
		snprintf(rec.serial, sizeof(rec.serial), "%s", res->serial_hex);
		rec.subject = subj_str;
		rec.profile = p->name;
		rec.principal = (char *)req->principal.name;
		rec.not_before = tbs.not_before;
		rec.not_after = tbs.not_after;
		rec.status = BE_CERT_VALID;
		rec.reason = -1;
		rec.request_id = request_id;
		rec.der = res->cert;
		if (p->keep_key && p12.data != NULL)
			rec.key_blob = p12;
		audit_fill(&a, req, "issued", subj_str, res->serial_hex);
		rc = be_store_cert_insert(ctx->store, &rec, &a, e);
		if (rc != BE_E_CONFLICT)
			break;
		be_err_clear(e);
	}
	if (rc == BE_E_CONFLICT) {
		/* Three 64-bit random serials taken in a row: the random generator is not
		 * random.  Nothing was stored; try later (503), as for a crypto failure. */
		rc = be_err_set(e, BE_E_UNAVAILABLE, "no unused serial number after %d random "
				"draws; nothing was issued", attempt);
		goto out;
	}
	if (rc != BE_OK)
		goto out;
	res->cert_id = rec.id;
	res->request_id = request_id;
	res->not_before = tbs.not_before;
	res->not_after = tbs.not_after;
	res->chain = ca->chain;
	res->n_chain = ca->n_chain;
	be_serial_dec(tbs.serial, tbs.serial_len, res->serial_dec, sizeof(res->serial_dec));

	if (server_key) {
		switch (req->key_fmt) {
		case BE_KEYFMT_PKCS12:
			res->key_out = p12;
			p12.data = NULL;
			p12.size = 0;
			break;
		case BE_KEYFMT_PEM:
		case BE_KEYFMT_DER:
			rc = be_key_export(res->key, req->key_syntax, req->key_fmt == BE_KEYFMT_PEM,
					   &res->key_out, e);
			if (rc != BE_OK)
				goto out;
			break;
		default:
			break;
		}
	}
	if (p->distribution == BE_DIST_DROP && p->drop_dir != NULL) {
		gnutls_datum_t pem = { NULL, 0 };

		if (be_encode_pem_certs(&res->cert, 1, &pem, NULL) == BE_OK) {
			struct be_err de = { 0, "" };

			/* The certificate is already recorded; a failed drop is logged in the
			 * audit, not a failed issuance. */
			if (drop_file(p->drop_dir, res->serial_hex, "pem", pem.data, pem.size,
				      &de) != BE_OK ||
			    (p12.data != NULL &&
			     drop_file(p->drop_dir, res->serial_hex, "p12", p12.data, p12.size,
				       &de) != BE_OK)) {
				audit_fill(&a, req, "error", de.msg, res->serial_hex);
				be_store_audit(ctx->store, &a, NULL);
			}
			be_datum_free(&pem);
		}
	}
	be_stats_issue_observe(t0);
	rc = BE_OK;
out:
	if (rc == BE_E_CRYPTO && be_crypto_check(NULL) != BE_OK) {
		/* A random draw failed on the way (a serial, a password): the library is gone. */
		be_err_clear(e);
		rc = be_crypto_check(e);
		be_keypool_halt(ctx->keypool);
	}
	if (rc != BE_OK) {
		if (ctx->store != NULL && e->code != BE_E_CONFLICT) {
			audit_fill(&a, req, e->code == BE_E_POLICY || e->code == BE_E_FORBIDDEN ||
				   e->code == BE_E_MALFORMED ? "refused" : "error", e->msg, NULL);
			be_store_audit(ctx->store, &a, NULL);
		}
		be_result_clear(res);
	}
	if (genpub != NULL)
		gnutls_pubkey_deinit(genpub);
	be_datum_wipe(&p12);
	free(subj_str);
	be_name_clear(&subject);
	be_sans_clear(&sans);
	return rc;
}

/* ---------------------------------------------------------------- management */

static int
find_cert(struct be_ctx *ctx, const char *serial, struct be_cert_rec **out, struct be_err *e)
{
	return be_store_cert_get_serial(ctx->store, serial, out, e);
}

static void
op_audit(struct be_audit_rec *a, const struct be_op_ctx *op, const char *profile,
	 const char *outcome, const char *reason, const char *serial)
{
	memset(a, 0, sizeof(*a));
	a->request_id = op->request_id;
	a->adapter = op->adapter;
	a->operation = op->operation;
	a->principal = op->principal.name;
	a->profile = profile;
	a->peer = op->peer;
	a->outcome = outcome;
	a->reason = reason;
	a->serial = serial;
}

static int
set_status(struct be_ctx *ctx, const struct be_op_ctx *op, const char *serial,
	   enum be_cert_status to, int reason, struct be_err *e)
{
	struct be_cert_rec *rec = NULL;
	struct be_audit_rec a;
	char why[96];
	int rc;

	if ((rc = find_cert(ctx, serial, &rec, e)) != BE_OK)
		goto out;
	if (rec->deleted) {
		rc = be_err_set(e, BE_E_NOTFOUND, "certificate %s not found", rec->serial);
		goto out;
	}
	if (to == BE_CERT_VALID)
		snprintf(why, sizeof(why), "reactivated from certificateHold");
	else
		snprintf(why, sizeof(why), "CRLReason %d", reason);
	op_audit(&a, op, rec->profile, to == BE_CERT_VALID ? "reactivated" :
		 to == BE_CERT_HOLD ? "hold" : "revoked", why, rec->serial);
	rc = be_store_cert_set_status(ctx->store, rec->id, to, reason, &a, e);
out:
	if (rc != BE_OK) {
		op_audit(&a, op, rec != NULL ? rec->profile : NULL, "refused", e->msg,
			 rec != NULL ? rec->serial : NULL);
		be_store_audit(ctx->store, &a, NULL);
	}
	be_cert_rec_free(rec);
	return rc;
}

int
be_cert_revoke(struct be_ctx *ctx, const struct be_op_ctx *op, const char *serial,
	       int reason, struct be_err *e)
{
	/* RFC 5280 5.3.1: 0-6, 8-10; 7 is unused. */
	if (reason < 0 || reason > 10 || reason == 7)
		return be_err_set(e, BE_E_MALFORMED, "revocation reason %d is not an RFC 5280 "
				  "CRLReason", reason);
	return set_status(ctx, op, serial, reason == 6 ? BE_CERT_HOLD : BE_CERT_REVOKED, reason,
			  e);
}

int
be_cert_reactivate(struct be_ctx *ctx, const struct be_op_ctx *op, const char *serial,
		   struct be_err *e)
{
	return set_status(ctx, op, serial, BE_CERT_VALID, -1, e);
}

void
be_audit_refusal(struct be_ctx *ctx, const struct be_op_ctx *op, const char *profile,
		 const char *reason)
{
	struct be_audit_rec a;

	if (ctx == NULL || ctx->store == NULL)
		return;
	op_audit(&a, op, profile, "refused", reason, NULL);
	be_store_audit(ctx->store, &a, NULL);
}
