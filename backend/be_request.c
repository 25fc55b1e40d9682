/*
 * The request lifecycle: the normalised record, retry matching, and the decisions any front
 * end takes on a stored request (be_request.h).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "be_json.h"
#include "be_request.h"

#define RECORD_VERSION 2
#define REASON_MAX 200

/* ---------------------------------------------------------------- what a request means */

static const struct be_name *
req_subject(const struct be_request *req)
{
	if (req->subject != NULL)
		return req->subject;
	return req->csr != NULL ? &req->csr->subject : NULL;
}

static const struct be_sans *
req_sans(const struct be_request *req)
{
	if (req->sans != NULL)
		return req->sans;
	return req->csr != NULL ? &req->csr->sans : NULL;
}

static gnutls_pubkey_t
req_pubkey(const struct be_request *req)
{
	if (req->csr != NULL)
		return req->csr->pubkey;
	if (req->pubkey != NULL)
		return req->pubkey;
	return req->match_pubkey;
}

static const char *
req_key_kind(const struct be_request *req)
{
	if (req->csr != NULL)
		return "csr";
	return req->pubkey != NULL ? "public_key" : "server";
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Each SAN as "type\0value" with DNS names folded to lower case, sorted. */
static int
sans_sorted(const struct be_sans *s, char ***out, size_t *n)
{
	char **v = NULL;
	size_t i, j, len;

	*out = NULL;
	*n = 0;
	if (s == NULL || s->n == 0)
		return BE_OK;
	if ((v = calloc(s->n, sizeof(*v))) == NULL)
		return BE_E_NOMEM;
	for (i = 0; i < s->n; i++) {
		const char *t = be_san_type_name(s->v[i].type);

		len = strlen(t) + 1 + strlen(s->v[i].value) + 1;
		if ((v[i] = malloc(len)) == NULL) {
			while (i > 0)
				free(v[--i]);
			free(v);
			return BE_E_NOMEM;
		}
		snprintf(v[i], len, "%s:%s", t, s->v[i].value);
		if (s->v[i].type == BE_SAN_DNS)
			for (j = strlen(t) + 1; v[i][j] != '\0'; j++)
				if (v[i][j] >= 'A' && v[i][j] <= 'Z')
					v[i][j] = (char)(v[i][j] - 'A' + 'a');
	}
	qsort(v, s->n, sizeof(*v), cmp_str);
	*out = v;
	*n = s->n;
	return BE_OK;
}

static void
hash_str(gnutls_hash_hd_t h, const char *s)
{
	gnutls_hash(h, s != NULL ? s : "", s != NULL ? strlen(s) + 1 : 1);
}

int
be_request_match_key(const struct be_request *req, char *out, size_t outlen,
		     struct be_err *e)
{
	gnutls_hash_hd_t h = NULL;
	gnutls_datum_t spki = { NULL, 0 };
	const struct be_name *subj = req_subject(req);
	gnutls_pubkey_t pub = req_pubkey(req);
	unsigned char md[32];
	char **sans = NULL, num[32], kt[24];
	size_t n_sans = 0, i;
	int rc;

	if (outlen < 65)
		return be_err_set(e, BE_E_INTERNAL, "match key buffer too small");
	if (pub != NULL && gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot encode the request's public key");
		goto out;
	}
	if ((rc = sans_sorted(req_sans(req), &sans, &n_sans)) != BE_OK) {
		rc = be_err_set(e, rc, "out of memory");
		goto out;
	}
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot digest the request");
		goto out;
	}
	hash_str(h, "certgate request v2");
	hash_str(h, req->profile->name);
	hash_str(h, req->principal.name);
	hash_str(h, req_key_kind(req));
	snprintf(num, sizeof(num), "%u", spki.size);
	hash_str(h, num);
	if (spki.size > 0)
		gnutls_hash(h, spki.data, spki.size);
	hash_str(h, req->csr == NULL && req->pubkey == NULL && req->keygen.alg != BE_KEY_NONE ?
		 be_keyspec_name(&req->keygen, kt, sizeof(kt)) : "");
	snprintf(num, sizeof(num), "%zu", subj != NULL ? subj->n : 0);
	hash_str(h, num);
	for (i = 0; subj != NULL && i < subj->n; i++) {
		hash_str(h, be_dn_info(subj->v[i].attr)->key);
		hash_str(h, subj->v[i].value);
	}
	snprintf(num, sizeof(num), "%zu", n_sans);
	hash_str(h, num);
	for (i = 0; i < n_sans; i++)
		hash_str(h, sans[i]);
	snprintf(num, sizeof(num), "%u", req->validity_days);
	hash_str(h, num);
	gnutls_hash_deinit(h, md);
	h = NULL;
	be_serial_hex(md, sizeof(md), out, outlen);
	rc = BE_OK;
out:
	if (h != NULL)
		gnutls_hash_deinit(h, NULL);
	for (i = 0; i < n_sans; i++)
		free(sans[i]);
	free(sans);
	gnutls_free(spki.data);
	return rc;
}

/* ---------------------------------------------------------------- the record */

static const char *
key_fmt_name(enum be_key_fmt f)
{
	switch (f) {
	case BE_KEYFMT_PEM: return "pem";
	case BE_KEYFMT_DER: return "der";
	case BE_KEYFMT_PKCS12: return "pkcs12";
	case BE_KEYFMT_CMS: return "cms";
	default: return "none";
	}
}

static enum be_key_fmt
key_fmt_parse(const char *s)
{
	if (s == NULL)
		return BE_KEYFMT_NONE;
	if (strcmp(s, "pem") == 0)
		return BE_KEYFMT_PEM;
	if (strcmp(s, "der") == 0)
		return BE_KEYFMT_DER;
	if (strcmp(s, "pkcs12") == 0)
		return BE_KEYFMT_PKCS12;
	if (strcmp(s, "cms") == 0)
		return BE_KEYFMT_CMS;
	return BE_KEYFMT_NONE;
}

static json_t *
names_json(const struct be_name *subj)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && subj != NULL && i < subj->n; i++) {
		if (json_array_append_new(a, json_pack("[s,s]", be_dn_info(subj->v[i].attr)->key,
						       subj->v[i].value)) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *
sans_json(const struct be_sans *s)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && s != NULL && i < s->n; i++) {
		if (json_array_append_new(a, json_pack("[s,s]", be_san_type_name(s->v[i].type),
						       s->v[i].value)) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

int
be_request_record(const struct be_request *req, char **out, struct be_err *e)
{
	json_t *j = NULL, *ad = NULL;
	gnutls_datum_t pem = { NULL, 0 };
	char kt[24];
	int rc = BE_E_NOMEM;

	*out = NULL;
	j = json_pack("{s:i, s:s, s:s, s:i, s:{s:s, s:s, s:b}}", "v", RECORD_VERSION,
		      "operation", req->operation != NULL ? req->operation : "",
		      "key", req_key_kind(req), "validity_days", (int)req->validity_days,
		      "output", "key_format", key_fmt_name(req->key_fmt),
		      "key_syntax", req->key_syntax == BE_KEY_PKCS1 ? "pkcs1" : "pkcs8",
		      "chain", !req->p12_without_chain);
	if (j == NULL)
		goto out;
	if (req->csr == NULL && req->pubkey != NULL) {
		if (gnutls_pubkey_export2(req->pubkey, GNUTLS_X509_FMT_PEM, &pem) < 0) {
			rc = be_err_set(e, BE_E_CRYPTO, "cannot encode the request's public key");
			goto out;
		}
		if (json_object_set_new(j, "public_key", json_stringn((const char *)pem.data,
								     pem.size)) != 0)
			goto out;
	}
	if (req->csr == NULL && req->pubkey == NULL) {
		const struct be_keyspec *k = req->keygen.alg != BE_KEY_NONE ? &req->keygen :
					     &req->profile->server_key;

		if (json_object_set_new(j, "key_type", json_string(be_keyspec_name(k, kt,
								       sizeof(kt)))) != 0)
			goto out;
	}
	if (req->subject != NULL &&
	    json_object_set_new(j, "subject", names_json(req->subject)) != 0)
		goto out;
	if (req->sans != NULL && json_object_set_new(j, "san", sans_json(req->sans)) != 0)
		goto out;
	if (req->data != NULL) {
		/* What the front end shows with the request; kept only when it is an object. */
		ad = json_loads(req->data, JSON_REJECT_DUPLICATES, NULL);
		if (json_is_object(ad) && json_object_set(j, "adapter_data", ad) != 0)
			goto out;
	}
	if ((*out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		goto out;
	rc = BE_OK;
out:
	if (rc == BE_E_NOMEM)
		be_err_set(e, rc, "out of memory");
	gnutls_free(pem.data);
	json_decref(ad);
	json_decref(j);
	return rc;
}

/* ---------------------------------------------------------------- loading */

void
be_request_stored_clear(struct be_request_stored *s)
{
	if (s == NULL)
		return;
	be_req_rec_free(s->rec);
	be_csr_free(s->csr);
	if (s->pubkey != NULL)
		gnutls_pubkey_deinit(s->pubkey);
	be_name_clear(&s->subject);
	be_sans_clear(&s->sans);
	free(s->operation);
	json_decref(s->adapter_data);
	memset(s, 0, sizeof(*s));
}

static int
load_names(const json_t *j, struct be_request_stored *s, struct be_err *e)
{
	const json_t *subj = json_object_get(j, "subject"), *san = json_object_get(j, "san");
	json_t *it;
	size_t i;
	int rc;

	if (subj != NULL) {
		json_array_foreach((json_t *)subj, i, it) {
			const char *k = json_string_value(json_array_get(it, 0));
			const char *v = json_string_value(json_array_get(it, 1));
			enum be_dn_attr a;

			if (k == NULL || v == NULL || be_dn_lookup(k, &a) != BE_OK)
				return be_err_set(e, BE_E_STATE, "request %" PRId64 ": stored "
						  "subject[%zu] unreadable", s->rec->id, i);
			if ((rc = be_name_add(&s->subject, a, v, strlen(v), e)) != BE_OK)
				return rc;
		}
		s->req.subject = &s->subject;
	}
	if (san != NULL) {
		json_array_foreach((json_t *)san, i, it) {
			const char *k = json_string_value(json_array_get(it, 0));
			const char *v = json_string_value(json_array_get(it, 1));
			enum be_san_type t;

			for (t = 0; k != NULL && t < BE_SAN__COUNT; t++)
				if (strcmp(k, be_san_type_name(t)) == 0)
					break;
			if (k == NULL || v == NULL || t == BE_SAN__COUNT)
				return be_err_set(e, BE_E_STATE, "request %" PRId64 ": stored "
						  "san[%zu] unreadable", s->rec->id, i);
			if ((rc = be_sans_add(&s->sans, t, v, strlen(v), e)) != BE_OK)
				return rc;
		}
		s->req.sans = &s->sans;
	}
	return BE_OK;
}

int
be_request_load(struct be_ctx *ctx, int64_t id, struct be_request_stored *s,
		struct be_err *e)
{
	json_t *j = NULL;
	const json_t *outp;
	const char *kind = NULL, *op = NULL, *pk = NULL, *kt = NULL, *fmt = NULL, *syn = NULL;
	unsigned long long v = 0, days = 0;
	struct be_keyspec spec;
	bool chain = true;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = be_store_req_get(ctx->store, id, &s->rec, e);
	if (rc == BE_E_NOTFOUND) {
		be_err_clear(e);
		rc = be_err_set(e, BE_E_NOTFOUND, "no request %" PRId64, id);
	}
	if (rc != BE_OK)
		goto out;
	if (s->rec->data == NULL ||
	    be_json_parse(s->rec->data, strlen(s->rec->data), "request", BE_E_STATE, &j,
			  NULL) != BE_OK ||
	    be_json_uint(j, "request", "v", true, 0, 1000, &v, BE_E_STATE, NULL) != BE_OK ||
	    v != RECORD_VERSION) {
		rc = be_err_set(e, BE_E_STATE, "request %" PRId64 " was stored by an older "
				"certgate and cannot be issued; reject it and ask again", id);
		goto out;
	}
	if ((rc = be_json_str(j, "request", "operation", false, &op, BE_E_STATE, e)) != BE_OK ||
	    (rc = be_json_str(j, "request", "key", true, &kind, BE_E_STATE, e)) != BE_OK ||
	    (rc = be_json_str(j, "request", "public_key", false, &pk, BE_E_STATE, e)) != BE_OK ||
	    (rc = be_json_str(j, "request", "key_type", false, &kt, BE_E_STATE, e)) != BE_OK ||
	    (rc = be_json_uint(j, "request", "validity_days", false, 0, 100000, &days,
			       BE_E_STATE, e)) != BE_OK)
		goto out;
	if ((outp = json_object_get(j, "output")) != NULL &&
	    ((rc = be_json_str(outp, "request.output", "key_format", false, &fmt, BE_E_STATE,
			       e)) != BE_OK ||
	     (rc = be_json_str(outp, "request.output", "key_syntax", false, &syn, BE_E_STATE,
			       e)) != BE_OK ||
	     (rc = be_json_bool(outp, "request.output", "chain", false, &chain, BE_E_STATE,
				e)) != BE_OK))
		goto out;
	if ((s->operation = be_strdup(op != NULL ? op : "")) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	s->adapter_data = json_incref(json_object_get(j, "adapter_data"));
	if ((s->req.profile = be_ctx_profile(ctx, s->rec->profile)) == NULL) {
		rc = be_err_set(e, BE_E_STATE, "request %" PRId64 " names profile %s, which no "
				"longer exists", id, s->rec->profile);
		goto out;
	}
	if (strcmp(kind, "csr") == 0) {
		if (s->rec->csr_der.size == 0) {
			rc = be_err_set(e, BE_E_STATE, "request %" PRId64 " lost its CSR", id);
			goto out;
		}
		if ((rc = be_csr_parse(s->rec->csr_der.data, s->rec->csr_der.size, 0, &s->csr,
				       e)) != BE_OK)
			goto out;
		s->req.csr = s->csr;
	} else if (strcmp(kind, "public_key") == 0 && pk != NULL) {
		if ((rc = be_pubkey_parse((const unsigned char *)pk, strlen(pk), &s->pubkey, &spec,
					  e)) != BE_OK)
			goto out;
		s->req.pubkey = s->pubkey;
	} else if (strcmp(kind, "server") == 0 && kt != NULL &&
		   be_keyspec_parse(kt, &s->req.keygen) == BE_OK) {
		s->req.key_fmt = key_fmt_parse(fmt);
		s->req.key_syntax = syn != NULL && strcmp(syn, "pkcs1") == 0 ? BE_KEY_PKCS1 :
				    BE_KEY_PKCS8;
		s->req.p12_without_chain = !chain;
	} else {
		rc = be_err_set(e, BE_E_STATE, "request %" PRId64 ": stored key source \"%s\" "
				"unreadable", id, kind);
		goto out;
	}
	if ((rc = load_names(j, s, e)) != BE_OK)
		goto out;
	s->req.operation = s->operation;
	s->req.adapter = s->rec->adapter;
	s->req.principal.name = s->rec->principal;
	s->req.validity_days = (unsigned)days;
	s->req.approved_request = id;
	rc = BE_OK;
out:
	json_decref(j);
	return rc;
}

bool
be_request_may_collect(const struct be_req_rec *rec, const char *adapter)
{
	json_t *j;
	bool server;

	if (rec->data == NULL ||
	    (j = json_loads(rec->data, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return false;
	server = json_is_string(json_object_get(j, "key")) &&
		 strcmp(json_string_value(json_object_get(j, "key")), "server") == 0;
	json_decref(j);
	if (!server)
		return true;
	return adapter != NULL && rec->adapter != NULL && strcmp(adapter, rec->adapter) == 0;
}

/* ---------------------------------------------------------------- decisions */

static void
audit_of(struct be_audit_rec *a, const struct be_op_ctx *op, const char *profile,
	 const char *outcome, const char *reason)
{
	memset(a, 0, sizeof(*a));
	if (op != NULL) {
		a->request_id = op->request_id;
		a->adapter = op->adapter;
		a->operation = op->operation;
		a->principal = op->principal.name;
		a->peer = op->peer;
	} else {
		a->adapter = "backend";
		a->operation = "expire";
	}
	a->profile = profile;
	a->outcome = outcome;
	a->reason = reason;
}

static int64_t
ttl_of(const struct be_ctx *ctx)
{
	return ctx->request_ttl != 0 ? ctx->request_ttl : BE_REQUEST_TTL_DEFAULT;
}

bool
be_request_expire_one(struct be_ctx *ctx, const struct be_op_ctx *op,
		      const struct be_req_rec *rec, time_t now)
{
	struct be_audit_rec a;
	char why[128];

	if ((rec->status != BE_REQ_PENDING && rec->status != BE_REQ_APPROVED) ||
	    (int64_t)now - rec->created_at <= ttl_of(ctx))
		return false;
	snprintf(why, sizeof(why), "request %" PRId64 " waited longer than %" PRId64
		 " seconds for its decision", rec->id, ttl_of(ctx));
	audit_of(&a, op, rec->profile, "expired", why);
	/* Whoever moves it, it is expired: a lost race leaves it EXPIRED or decided. */
	(void)be_store_req_transition(ctx->store, rec->id, rec->status, BE_REQ_EXPIRED, why, &a,
				      NULL);
	return true;
}

/* Refusal audit: one entry under the principal who acted. */
static int
refuse(struct be_ctx *ctx, const struct be_op_ctx *op, const char *profile, int rc,
       struct be_err *e)
{
	struct be_audit_rec a;

	audit_of(&a, op, profile, rc == BE_E_STORE || rc == BE_E_NOMEM ||
		 rc == BE_E_UNAVAILABLE ? "error" : "refused", e->msg);
	be_store_audit(ctx->store, &a, NULL);
	return rc;
}

static bool
may_decide(const struct be_op_ctx *op)
{
	return op->principal.name != NULL && (op->principal.roles & BE_REQUEST_DECIDERS) != 0;
}

/* The request id for a decision: found, open and not expired.  Refusals are not audited
 * here. */
static int
open_request(struct be_ctx *ctx, const struct be_op_ctx *op, int64_t id, const char *verb,
	     bool approved_ok, struct be_req_rec **out, struct be_err *e)
{
	struct be_req_rec *rec = NULL;
	int rc;

	*out = NULL;
	rc = be_store_req_get(ctx->store, id, &rec, e);
	if (rc == BE_E_NOTFOUND) {
		be_err_clear(e);
		rc = be_err_set(e, BE_E_NOTFOUND, "no request %" PRId64, id);
	}
	if (rc != BE_OK)
		goto out;
	if (be_request_expire_one(ctx, op, rec, time(NULL))) {
		rc = be_err_set(e, BE_E_STATE, "request %" PRId64 " has EXPIRED; it cannot be "
				"%s", id, verb);
		goto out;
	}
	if (rec->status != BE_REQ_PENDING && !(approved_ok && rec->status == BE_REQ_APPROVED)) {
		rc = be_err_set(e, BE_E_STATE, "request %" PRId64 " is %s; only %s request can "
				"be %s", id, be_req_status_name(rec->status),
				approved_ok ? "an open (PENDING or APPROVED)" : "a PENDING", verb);
		goto out;
	}
	*out = rec;
	rec = NULL;
out:
	be_req_rec_free(rec);
	return rc;
}

int
be_request_approve(struct be_ctx *ctx, const struct be_op_ctx *op, int64_t id,
		   bool *approved, struct be_err *e)
{
	struct be_req_rec *rec = NULL;
	struct be_audit_rec a;
	struct be_err local = { 0, "" };
	char why[200];
	bool done = false;
	int rc;

	if (e == NULL)
		e = &local;
	if (approved != NULL)
		*approved = false;
	if (!may_decide(op)) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "%s may not approve requests: it needs the "
				"ro_admin or ca_admin role", op->principal.name != NULL ?
				op->principal.name : "an anonymous caller");
		goto out;
	}
	if ((rc = open_request(ctx, op, id, "approved", false, &rec, e)) != BE_OK)
		goto out;
	snprintf(why, sizeof(why), "request %" PRId64 " approved by %.64s (%u of %u)", id,
		 op->principal.name, rec->approvals + 1, rec->approvals_needed);
	audit_of(&a, op, rec->profile, "approved", why);
	rc = be_store_req_approve(ctx->store, id, op->principal.name, &a, &done, e);
	if (rc == BE_E_STATE) {
		/* Another approver completed it (or it was decided) since it was read. */
		be_err_clear(e);
		rc = be_err_set(e, BE_E_STATE, "request %" PRId64 " was decided by someone else "
				"first; %s's approval is not recorded", id, op->principal.name);
	}
	if (rc != BE_OK)
		goto out;
	if (approved != NULL)
		*approved = done;
out:
	if (rc != BE_OK)
		refuse(ctx, op, rec != NULL ? rec->profile : NULL, rc, e);
	be_req_rec_free(rec);
	return rc;
}

static int
close_request(struct be_ctx *ctx, const struct be_op_ctx *op, int64_t id,
	      enum be_req_status to, const char *reason, struct be_err *e)
{
	struct be_req_rec *rec = NULL;
	struct be_audit_rec a;
	const char *verb = to == BE_REQ_REJECTED ? "rejected" : "cancelled";
	struct be_err local = { 0, "" };
	char why[256];
	size_t i;
	int rc;

	if (e == NULL)
		e = &local;
	for (i = 0; reason != NULL && reason[i] != '\0'; i++) {
		if ((unsigned char)reason[i] < 0x20 || reason[i] == 0x7f || i >= REASON_MAX) {
			rc = be_err_set(e, BE_E_MALFORMED, "reason: at most %d characters, no "
					"control characters", REASON_MAX);
			goto out;
		}
	}
	if (to == BE_REQ_REJECTED && !may_decide(op)) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "%s may not reject requests: it needs the "
				"ro_admin or ca_admin role", op->principal.name != NULL ?
				op->principal.name : "an anonymous caller");
		goto out;
	}
	if ((rc = open_request(ctx, op, id, verb, true, &rec, e)) != BE_OK)
		goto out;
	if (to == BE_REQ_CANCELLED && !may_decide(op) &&
	    (op->principal.name == NULL || rec->principal == NULL ||
	     strcmp(op->principal.name, rec->principal) != 0)) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "%s may not cancel request %" PRId64 ": only "
				"its requester or an administrator may", op->principal.name != NULL ?
				op->principal.name : "an anonymous caller", id);
		goto out;
	}
	if (reason == NULL)
		snprintf(why, sizeof(why), "request %" PRId64 " %s by %.64s", id, verb,
			 op->principal.name);
	else
		snprintf(why, sizeof(why), "%s", reason);
	audit_of(&a, op, rec->profile, verb, why);
	rc = be_store_req_transition(ctx->store, id, rec->status, to, why, &a, e);
out:
	if (rc != BE_OK)
		refuse(ctx, op, rec != NULL ? rec->profile : NULL, rc, e);
	be_req_rec_free(rec);
	return rc;
}

int
be_request_reject(struct be_ctx *ctx, const struct be_op_ctx *op, int64_t id,
		  const char *reason, struct be_err *e)
{
	return close_request(ctx, op, id, BE_REQ_REJECTED, reason, e);
}

int
be_request_cancel(struct be_ctx *ctx, const struct be_op_ctx *op, int64_t id,
		  struct be_err *e)
{
	return close_request(ctx, op, id, BE_REQ_CANCELLED, NULL, e);
}

int
be_request_expire(struct be_ctx *ctx, const struct be_op_ctx *op, size_t *n,
		  struct be_err *e)
{
	struct be_req_rec *recs = NULL;
	size_t got = 0, i, count = 0, offset = 0;
	time_t now = time(NULL);
	int st, rc = BE_OK;

	for (st = BE_REQ_PENDING; st <= BE_REQ_APPROVED && rc == BE_OK; st++) {
		offset = 0;
		do {
			if ((rc = be_store_req_list(ctx->store, st, offset, 1000, &recs, &got,
						    e)) != BE_OK)
				break;
			for (i = 0; i < got; i++)
				if (be_request_expire_one(ctx, op, &recs[i], now))
					count++;
				else
					offset++;
			be_req_recs_free(recs, got);
			recs = NULL;
		} while (got == 1000);
	}
	if (n != NULL)
		*n = count;
	return rc;
}
