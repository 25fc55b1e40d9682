/*
 * EST (RFC 7030, updated by RFC 8951 and RFC 8996): the adapter.  Configuration section
 * "est", its part of the demo, routing of /.well-known/est/[<label>/]<operation>,
 * authentication, and the plain-text / base64 replies every operation shares.
 *
 * Configuration (certgate.json(5)):
 *   "est": {
 *     "default_profile": "est-device",          profile of /.well-known/est/<op>
 *     "labels": { "devices": "est-device" },    /.well-known/est/<label>/<op>
 *     "realm": "certgate EST",                  WWW-Authenticate realm
 *     "retry_after": 60,                        seconds, on 202 and 503 replies
 *     "decrypt_keys": [                         RFC 7030 4.4.1.1 / 4.4.1.2
 *       { "id": "<hex KEKIdentifier>", "key_file": "<16, 24 or 32 raw octets>" },
 *       { "certificate": "<PEM recipient; named by its subjectKeyIdentifier>",
 *         "key_transport": "oaep" | "pkcs1" }
 *     ],
 *     "keygen_signer": { "certificate": FILE, "key": FILE }   RFC 7030 4.4.2 signer;
 *                                               default: the HTTPS listener's own pair
 *   }
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "be_json.h"
#include "est.h"
#include "est_path.h"

#define EST_PREFIX "/.well-known/est/"
#define C BE_E_CONFIG
#define REALM_MAX 64
#define KEK_FILE_MAX 64
#define RECIPIENT_FILE_MAX (64 * 1024)
#define B64_LINE 64

static const struct {
	const char *name;
	bool post;		/* POST; else GET (and HEAD) */
} ops[EST_OP__COUNT] = {
	[EST_OP_CACERTS] = { "cacerts", false },		/* RFC 7030 4.1 */
	[EST_OP_SIMPLEENROLL] = { "simpleenroll", true },	/* 4.2 */
	[EST_OP_SIMPLEREENROLL] = { "simplereenroll", true },	/* 4.2.2 */
	[EST_OP_SERVERKEYGEN] = { "serverkeygen", true },	/* 4.4 */
	[EST_OP_CSRATTRS] = { "csrattrs", false },		/* 4.5 */
	[EST_OP_FULLCMC] = { "fullcmc", true },			/* 4.3 */
};

/* ---------------------------------------------------------------- configuration */

static void
state_free(struct est_state *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < st->n_labels; i++)
		free(st->labels[i].name);
	free(st->labels);
	for (i = 0; i < st->n_keys; i++) {
		be_memzero(st->keys[i].kek, sizeof(st->keys[i].kek));
		be_cms_recipient_free(st->keys[i].recipient);
	}
	free(st->keys);
	free(st->realm);
	be_est_signer_free(st->signer);
	free(st);
}

static void
est_fini(void *state)
{
	state_free(state);
}

/* A path segment EST accepts as a label or operation: [A-Za-z0-9._-]{1,64}. */
static bool
segment_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > EST_LABEL_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

static int
op_lookup(const char *s, size_t len)
{
	int i;

	for (i = 0; i < EST_OP__COUNT; i++)
		if (strlen(ops[i].name) == len && memcmp(ops[i].name, s, len) == 0)
			return i;
	return -1;
}

static int
profile_ref(const struct gw_config *cfg, const char *path, const char *name,
	    const struct be_profile **out, struct be_err *e)
{
	*out = be_ctx_profile(cfg->be, name);
	if (*out == NULL)
		return be_err_set(e, C, "%s: no profile named \"%.64s\" in profiles", path, name);
	/* RFC 7030 4.1: /cacerts names the profile's CA; a key-store profile has none. */
	if ((*out)->ca == NULL)
		return be_err_set(e, C, "%s: profile %s signs with key-store keys; EST needs a "
				  "profile with a ca", path, name);
	return BE_OK;
}

static int
parse_labels(const struct gw_config *cfg, const json_t *sec, struct est_state *st,
	     struct be_err *e)
{
	const json_t *labels = NULL;
	const char *name;
	json_t *v;
	char path[160];
	size_t len;
	int rc;

	if ((rc = be_json_obj(sec, "est", "labels", false, &labels, C, e)) != BE_OK ||
	    labels == NULL)
		return rc;
	if ((st->labels = calloc(json_object_size(labels) + 1, sizeof(*st->labels))) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	json_object_foreach((json_t *)labels, name, v) {
		len = strlen(name);
		snprintf(path, sizeof(path), "est.labels.%.64s", name);
		/* RFC 7030 3.2.2: a label is one path segment; certgate allows only names that
		 * need no escaping and that cannot be mistaken for a path step or operation. */
		if (!segment_ok(name, len) || strspn(name, ".") == len)
			return be_err_set(e, C, "%s: a label is 1 to %d characters of A-Z a-z 0-9 "
					  ". _ - and not only dots", path, EST_LABEL_MAX);
		if (op_lookup(name, len) >= 0)
			return be_err_set(e, C, "%s: a label may not be an operation name", path);
		if (!json_is_string(v))
			return be_err_set(e, C, "%s: must be the name of a profile", path);
		st->labels[st->n_labels].name = strdup(name);
		if (st->labels[st->n_labels].name == NULL)
			return be_err_set(e, BE_E_NOMEM, "out of memory");
		st->n_labels++;
		if ((rc = profile_ref(cfg, path, json_string_value(v),
				      &st->labels[st->n_labels - 1].profile, e)) != BE_OK)
			return rc;
	}
	return BE_OK;
}

static int
hex_parse(const char *s, unsigned char *out, size_t cap, size_t *len)
{
	size_t i, n = strlen(s);
	int hi, lo;

	if (n == 0 || n % 2 != 0 || n / 2 > cap)
		return -1;
	for (i = 0; i < n; i += 2) {
		hi = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' :
		     s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10 :
		     s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 10 : -1;
		lo = s[i + 1] >= '0' && s[i + 1] <= '9' ? s[i + 1] - '0' :
		     s[i + 1] >= 'a' && s[i + 1] <= 'f' ? s[i + 1] - 'a' + 10 :
		     s[i + 1] >= 'A' && s[i + 1] <= 'F' ? s[i + 1] - 'A' + 10 : -1;
		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	*len = n / 2;
	return 0;
}

static int
parse_key(const struct gw_config *cfg, const json_t *o, const char *path,
	  struct est_decrypt_key *k, struct be_err *e)
{
	static const char *const keys[] = { "id", "key_file", "certificate", "key_transport",
					    NULL };
	const char *id = NULL, *kf = NULL, *cf = NULL, *kt = NULL;
	unsigned char *buf = NULL;
	char *file = NULL;
	size_t len = 0;
	unsigned critical = 0;
	struct be_err le = { 0, "" };
	int rc;

	if (!json_is_object(o)) {
		rc = be_err_set(e, C, "%s: must be an object", path);
		goto out;
	}
	if ((rc = be_json_keys(o, path, keys, C, e)) != BE_OK ||
	    (rc = be_json_str(o, path, "id", false, &id, C, e)) != BE_OK ||
	    (rc = be_json_str(o, path, "key_file", false, &kf, C, e)) != BE_OK ||
	    (rc = be_json_str(o, path, "certificate", false, &cf, C, e)) != BE_OK ||
	    (rc = be_json_str(o, path, "key_transport", false, &kt, C, e)) != BE_OK)
		goto out;
	if ((kf == NULL) == (cf == NULL)) {
		rc = be_err_set(e, C, "%s: give either key_file (a symmetric key, RFC 7030 "
				"4.4.1.1) or certificate (RFC 7030 4.4.1.2)", path);
		goto out;
	}
	if ((file = be_path_join(cfg->dir, kf != NULL ? kf : cf)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (kf != NULL) {
		if (kt != NULL) {
			rc = be_err_set(e, C, "%s.key_transport: only for a certificate", path);
			goto out;
		}
		if (id == NULL || hex_parse(id, k->id, sizeof(k->id), &k->id_len) != 0) {
			rc = be_err_set(e, C, "%s.id: required: the KEKIdentifier as 2 to 128 hex "
					"digits", path);
			goto out;
		}
		if ((rc = be_file_read(file, KEK_FILE_MAX, &buf, &len, &le)) != BE_OK) {
			rc = be_err_set(e, C, "%s.key_file: %s", path, le.msg);
			goto out;
		}
		if (len != 16 && len != 24 && len != 32) {
			rc = be_err_set(e, C, "%s.key_file: %s holds %zu octets; an AES key-wrap "
					"key is 16, 24 or 32 raw octets", path, file, len);
			goto out;
		}
		memcpy(k->kek, buf, len);
		k->kek_len = len;
		rc = BE_OK;
		goto out;
	}
	if (id != NULL) {
		rc = be_err_set(e, C, "%s.id: a certificate is named by its subjectKeyIdentifier "
				"(RFC 7030 4.4.1.2)", path);
		goto out;
	}
	if (kt == NULL || strcmp(kt, "oaep") == 0) {
		k->kt = BE_CMS_KT_OAEP;
	} else if (strcmp(kt, "pkcs1") == 0) {
		k->kt = BE_CMS_KT_PKCS1;
	} else {
		rc = be_err_set(e, C, "%s.key_transport: must be oaep or pkcs1", path);
		goto out;
	}
	if ((rc = be_file_read(file, RECIPIENT_FILE_MAX, &buf, &len, &le)) != BE_OK ||
	    (rc = be_cms_recipient_parse(buf, len, &k->recipient, &le)) != BE_OK) {
		rc = be_err_set(e, C, "%s.certificate: %s", path, le.msg);
		goto out;
	}
	k->id_len = sizeof(k->id);
	if (gnutls_x509_crt_get_subject_key_id(k->recipient->crt, k->id, &k->id_len,
					       &critical) < 0) {
		/* RFC 5280 4.2.1.2 method (1), what a client computes without the extension */
		if ((rc = be_pubkey_key_id(k->recipient->pubkey, k->id, &le)) != BE_OK) {
			rc = be_err_set(e, C, "%s.certificate: %s", path, le.msg);
			goto out;
		}
		k->id_len = 20;
	}
	rc = BE_OK;
out:
	if (buf != NULL) {
		be_memzero(buf, len);
		free(buf);
	}
	free(file);
	return rc;
}

static int
parse_keys(const struct gw_config *cfg, const json_t *sec, struct est_state *st,
	   struct be_err *e)
{
	const json_t *arr = json_object_get(sec, "decrypt_keys");
	const json_t *signer = NULL;
	const char *cf = NULL, *kf = NULL;
	char *cpath = NULL, *kpath = NULL;
	char path[64];
	size_t i, j;
	int rc = BE_OK;

	if (arr != NULL && !json_is_array(arr)) {
		rc = be_err_set(e, C, "est.decrypt_keys: must be an array");
		goto out;
	}
	if (arr != NULL && json_array_size(arr) > 0) {
		st->keys = calloc(json_array_size(arr), sizeof(*st->keys));
		if (st->keys == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		for (i = 0; i < json_array_size(arr); i++) {
			snprintf(path, sizeof(path), "est.decrypt_keys[%zu]", i);
			st->n_keys = i + 1;
			if ((rc = parse_key(cfg, json_array_get(arr, i), path, &st->keys[i], e)) !=
			    BE_OK)
				goto out;
			for (j = 0; j < i; j++) {
				if ((st->keys[j].recipient == NULL) ==
				    (st->keys[i].recipient == NULL) &&
				    be_ct_equal(st->keys[j].id, st->keys[j].id_len, st->keys[i].id,
						st->keys[i].id_len)) {
					rc = be_err_set(e, C, "%s: the same key identifier as "
							"est.decrypt_keys[%zu]", path, j);
					goto out;
				}
			}
		}
	}
	if ((rc = be_json_obj(sec, "est", "keygen_signer", false, &signer, C, e)) != BE_OK)
		goto out;
	if (signer != NULL) {
		static const char *const keys[] = { "certificate", "key", NULL };

		if ((rc = be_json_keys(signer, "est.keygen_signer", keys, C, e)) != BE_OK ||
		    (rc = be_json_str(signer, "est.keygen_signer", "certificate", true, &cf, C,
				      e)) != BE_OK ||
		    (rc = be_json_str(signer, "est.keygen_signer", "key", true, &kf, C, e)) !=
		    BE_OK)
			goto out;
		cpath = be_path_join(cfg->dir, cf);
		kpath = be_path_join(cfg->dir, kf);
	} else if (st->n_keys > 0) {
		/* RFC 7030 4.4.2: the generator signs; certgate's identity towards EST clients
		 * is its TLS server certificate (RFC 7030 3.3.1). */
		if (cfg->tls_cert_file == NULL || cfg->tls_key_file == NULL) {
			rc = be_err_set(e, C, "est.keygen_signer: required with decrypt_keys when "
					"certgate has no TLS certificate of its own");
			goto out;
		}
		cpath = strdup(cfg->tls_cert_file);
		kpath = strdup(cfg->tls_key_file);
	} else {
		goto out;
	}
	if (cpath == NULL || kpath == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	rc = be_est_signer_load(cpath, kpath, "est.keygen_signer", &st->signer, e);
out:
	free(cpath);
	free(kpath);
	return rc;
}

static int
est_init(const struct gw_config *cfg, const json_t *sec, void **state, struct be_err *e)
{
	static const char *const keys[] = {
		"default_profile", "labels", "realm", "retry_after", "decrypt_keys",
		"keygen_signer", NULL
	};
	struct est_state *st = NULL;
	const char *s = NULL;
	unsigned long long ra = 60;
	size_t i;
	int rc;

	*state = NULL;
	if (sec == NULL)
		return BE_OK;		/* no "est" section: EST answers 404 */
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = be_json_keys(sec, "est", keys, C, e)) != BE_OK ||
	    (rc = be_json_str(sec, "est", "default_profile", false, &s, C, e)) != BE_OK)
		goto out;
	if (s != NULL &&
	    (rc = profile_ref(cfg, "est.default_profile", s, &st->default_profile, e)) != BE_OK)
		goto out;
	if ((rc = parse_labels(cfg, sec, st, e)) != BE_OK)
		goto out;
	s = NULL;
	if ((rc = be_json_str(sec, "est", "realm", false, &s, C, e)) != BE_OK)
		goto out;
	if (s == NULL)
		s = "certgate EST";
	/* RFC 7235 2.2 quoted-string, kept to printable ASCII without '"' and '\\'. */
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\' || i >= REALM_MAX) {
			rc = be_err_set(e, C, "est.realm: at most %d printable ASCII characters "
					"without '\"' or '\\'", REALM_MAX);
			goto out;
		}
	}
	if ((st->realm = strdup(s)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = be_json_uint(sec, "est", "retry_after", false, 1, 86400, &ra, C, e)) != BE_OK)
		goto out;
	st->retry_after = (unsigned)ra;
	if ((rc = parse_keys(cfg, sec, st, e)) != BE_OK)
		goto out;
	*state = st;
	st = NULL;
out:
	state_free(st);
	return rc;
}

/* ---------------------------------------------------------------- demo */

static int
est_demo(json_t *conf, json_t *creds, struct be_err *e)
{
	json_t *profiles = json_object_get(conf, "profiles");
	json_t *base = json_object_get(profiles, "est-device");
	json_t *pop = NULL, *sec = NULL;
	int rc = BE_OK;

	(void)creds;
	if (base == NULL || json_object_get(profiles, "Approval-Template-2022") == NULL) {
		rc = be_err_set(e, BE_E_INTERNAL, "the demo lacks the est-device or "
				"Approval-Template-2022 profile");
		goto out;
	}
	/* RFC 7030 3.5: a profile whose CSRs carry the TLS channel binding. */
	if ((pop = json_deep_copy(base)) == NULL ||
	    json_object_set_new(pop, "description",
				json_string("EST device enrollment with proof-of-possession "
					    "linked to the TLS session (RFC 7030 3.5)")) != 0 ||
	    json_object_set_new(pop, "pop_linking", json_true()) != 0 ||
	    json_object_set(profiles, "est-device-pop", pop) != 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	sec = json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:i}",
			"default_profile", "est-device",
			"labels", "devices", "est-device", "approval", "Approval-Template-2022",
			"pop", "est-device-pop",
			"realm", "certgate EST", "retry_after", 60);
	if (sec == NULL || json_object_set(conf, "est", sec) != 0)
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
out:
	json_decref(pop);
	json_decref(sec);
	return rc;
}

/* ---------------------------------------------------------------- helpers for the operations */

bool
est_channel_secure(const struct gw_request *req)
{
	/* Our own TLS listener, or a trusted proxy that terminated TLS. */
	return req->secure;
}

const gnutls_datum_t *
est_client_chain(const struct gw_request *req, size_t *n)
{
	*n = req->n_peer_certs;
	return req->n_peer_certs > 0 ? req->peer_certs : NULL;
}

/* The one table from backend error code to HTTP status (STYLE.md). */
static unsigned
est_status(int code)
{
	switch (code) {
	case BE_E_MALFORMED:	return 400;
	case BE_E_UNAUTH:	return 401;
	case BE_E_POLICY:
	case BE_E_FORBIDDEN:	return 403;
	case BE_E_NOTFOUND:	return 404;
	case BE_E_CONFLICT:
	case BE_E_STATE:	return 409;
	case BE_E_TOOBIG:	return 413;
	case BE_E_UNAVAILABLE:	return 503;
	default:		return 500;
	}
}

/* Answers status with msg as text, audits the refusal when asked. */
static int
reply_error(struct est_call *c, unsigned status, const char *msg, const char *principal,
	    bool audit)
{
	struct gw_response *resp = c->resp;
	char hdr[REALM_MAX + 32], ra[16];
	int rc;

	if (audit) {
		struct be_op_ctx op;

		memset(&op, 0, sizeof(op));
		op.adapter = "est";
		op.operation = c->op_name != NULL ? c->op_name : "unknown";
		op.request_id = c->req->id;
		op.peer = c->req->peer;
		op.principal.name = principal;
		be_audit_refusal(c->req->cfg->be, &op,
				 c->profile != NULL ? c->profile->name : NULL, msg);
	}
	if (status == 500) {
		/* The detail goes to the log, not to the client. */
		gw_log(GW_LOG_ERROR, "est: id=%s peer=%s op=%s: %s", c->req->id,
		       c->req->peer != NULL ? c->req->peer : "-",
		       c->op_name != NULL ? c->op_name : "-", msg);
		msg = "internal error";
	}
	gw_response_clear(resp);
	resp->adapter = "est";
	resp->operation = c->op_name;
	if (principal != NULL && (resp->principal = strdup(principal)) == NULL)
		return BE_E_NOMEM;
	if (c->profile != NULL && (resp->profile = strdup(c->profile->name)) == NULL)
		return BE_E_NOMEM;
	if ((rc = gw_response_text(resp, status, "%s", msg)) != 0)
		return rc;
	if (status == 401) {
		/* RFC 7235 4.1, RFC 7617 2 */
		snprintf(hdr, sizeof(hdr), "Basic realm=\"%s\"", c->st->realm);
		rc = gw_response_header(resp, "WWW-Authenticate", hdr);
	} else if (status == 503) {
		snprintf(ra, sizeof(ra), "%u", c->st->retry_after);
		rc = gw_response_header(resp, "Retry-After", ra);
	}
	return rc;
}

int
est_fail(struct est_call *c, const struct be_err *e, const char *principal, bool audit)
{
	return reply_error(c, est_status(e->code), e->msg[0] != '\0' ? e->msg :
			   be_err_name(e->code), principal, audit);
}

int
est_fail_msg(struct est_call *c, int code, const char *principal, bool audit,
	     const char *fmt, ...)
{
	char msg[BE_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return reply_error(c, est_status(code), msg, principal, audit);
}

int
est_fail_status(struct est_call *c, unsigned status, const char *principal, bool audit,
		const char *fmt, ...)
{
	char msg[BE_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return reply_error(c, status, msg, principal, audit);
}

int
est_base64_lines(const unsigned char *der, size_t len, char **out, size_t *outlen)
{
	int rc;

	*outlen = 0;
	/* LF-ended lines: what `base64 -d` and every MIME decoder read (CRs trip the former) */
	if ((rc = be_base64_encode(der, len, B64_LINE, out)) == BE_OK)
		*outlen = strlen(*out);
	return rc;
}

int
est_reply_base64(struct est_call *c, const char *ct, const unsigned char *der, size_t len,
		 bool secret)
{
	char *text = NULL;
	size_t tlen = 0;
	int rc;

	if ((rc = est_base64_lines(der, len, &text, &tlen)) != BE_OK)
		return rc;
	c->resp->secret = secret;
	if ((rc = gw_response_take(c->resp, 200, ct, (unsigned char *)text, tlen)) != 0)
		return rc;
	/* RFC 8951 section 3: the body is base64; deployed clients look for the header. */
	return gw_response_header(c->resp, "Content-Transfer-Encoding", "base64");
}

int
est_authenticate(struct est_call *c, struct be_principal *who, struct be_err *e)
{
	const struct gw_request *req = c->req;
	const struct gw_principal *p = NULL;
	const gnutls_datum_t *chain;
	const char *authz;
	struct be_err ce = { 0, "" }, be = { 0, "" };
	size_t n;
	int rc;

	who->name = NULL;
	who->roles = 0;
	if (!est_channel_secure(req)) {
		/* RFC 7030 3.2.3: EST runs over HTTPS; no password crosses plain HTTP. */
		rc = be_err_set(e, BE_E_FORBIDDEN, "RFC 7030 3.2.3: %s needs TLS (HTTPS); "
				"credentials are not accepted over plain HTTP", c->op_name);
		goto out;
	}
	chain = est_client_chain(req, &n);
	if (n > 0) {
		/* RFC 7030 3.3.2: certificate-based client authentication */
		rc = gw_auth_client_cert(req->client_trust, chain, n, &p, NULL, &ce);
		if (rc == 0) {
			who->name = p->name;
			who->roles = p->roles;
			goto out;
		}
	}
	authz = gw_request_header(req, "Authorization");
	if (authz != NULL) {
		/* RFC 7030 3.2.3 / RFC 7617: HTTP Basic inside TLS */
		rc = gw_auth_basic(req->cfg, authz, &p, &be);
		if (rc == 0) {
			who->name = p->name;
			who->roles = p->roles;
			goto out;
		}
		rc = be_err_set(e, BE_E_UNAUTH, "HTTP Basic authentication failed: %s", be.msg);
		goto out;
	}
	if (n > 0)
		rc = be_err_set(e, BE_E_UNAUTH, "the TLS client certificate was not accepted (%s) "
				"and no HTTP Basic credentials were sent", ce.msg);
	else
		rc = be_err_set(e, BE_E_UNAUTH, "no credentials: send HTTP Basic credentials or "
				"a TLS client certificate bound to a principal");
out:
	if (rc != 0)
		est_fail(c, e, NULL, true);
	return rc;
}

/* ---------------------------------------------------------------- routing */

int
est_path_split(const char *path, const char **label, size_t *label_len, int *op)
{
	const char *rest, *slash, *opname;
	size_t oplen;

	*label = NULL;
	*label_len = 0;
	*op = -1;
	if (strncmp(path, EST_PREFIX, strlen(EST_PREFIX)) != 0)
		return EST_PATH_NOT_EST;
	rest = path + strlen(EST_PREFIX);
	slash = strchr(rest, '/');
	if (slash == NULL) {
		opname = rest;
	} else {
		opname = slash + 1;
		if (strchr(opname, '/') != NULL || !segment_ok(rest, (size_t)(slash - rest)))
			return EST_PATH_BAD_SHAPE;
		*label = rest;
		*label_len = (size_t)(slash - rest);
	}
	oplen = strlen(opname);
	*op = segment_ok(opname, oplen) ? op_lookup(opname, oplen) : -1;
	return *op < 0 ? EST_PATH_BAD_OP : EST_PATH_OK;
}

/* RFC 7030 3.2.2: /.well-known/est/[<label>/]<operation> (est_path_split). */
static int
est_handle(struct gw_request *req, struct gw_response *resp)
{
	struct est_call c;
	const char *label;
	size_t label_len, i;
	int op, r;

	memset(&c, 0, sizeof(c));
	c.req = req;
	c.resp = resp;
	c.st = gw_config_adapter(req->cfg, "est");
	resp->adapter = "est";
	if (c.st == NULL)
		return gw_response_text(resp, 404, "EST is not configured (no \"est\" section)");
	r = est_path_split(req->path, &label, &label_len, &op);
	if (r == EST_PATH_NOT_EST)
		return gw_response_text(resp, 404, "no such EST resource");
	if (r == EST_PATH_BAD_SHAPE)
		return gw_response_text(resp, 404, "no such EST resource: "
					"/.well-known/est/[<label>/]<operation>");
	if (label == NULL) {
		c.profile = c.st->default_profile;
	} else {
		for (i = 0; i < c.st->n_labels && c.label == NULL; i++) {
			if (strlen(c.st->labels[i].name) == label_len &&
			    memcmp(c.st->labels[i].name, label, label_len) == 0) {
				c.label = c.st->labels[i].name;
				c.profile = c.st->labels[i].profile;
			}
		}
		if (c.label == NULL)
			return gw_response_text(resp, 404, "no such EST label (RFC 7030 3.2.2)");
	}
	if (r == EST_PATH_BAD_OP)
		return gw_response_text(resp, 404, "no such EST operation: cacerts, simpleenroll, "
					"simplereenroll, serverkeygen, csrattrs or fullcmc");
	c.op = (enum est_op)op;
	c.op_name = ops[op].name;
	resp->operation = c.op_name;
	if (c.profile == NULL)
		return gw_response_text(resp, 404, "no default EST profile is configured: use "
					"/.well-known/est/<label>/%s", c.op_name);
	if ((resp->profile = strdup(c.profile->name)) == NULL)
		return BE_E_NOMEM;
	if (ops[op].post ? strcmp(req->method, "POST") != 0 :
	    strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		int rc = gw_response_header(resp, "Allow", ops[op].post ? "POST" : "GET, HEAD");

		if (rc != 0)
			return rc;
		return gw_response_text(resp, 405, "RFC 7030 3.2.2: %s takes %s", c.op_name,
					ops[op].post ? "POST" : "GET");
	}
	switch (c.op) {
	case EST_OP_CACERTS:
		return est_op_cacerts(&c);
	case EST_OP_CSRATTRS:
		return est_op_csrattrs(&c);
	case EST_OP_FULLCMC:
		return gw_response_text(resp, 501, "RFC 7030 4.3: fullcmc is not implemented");
	default:
		return est_op_enroll(&c);
	}
}

/* No error hook: RFC 7030 errors are plain text, as the server's own refusals are. */
static const struct gw_route est_routes[] = {
	{ EST_PREFIX, est_handle, NULL },
};

const struct gw_adapter proto_est_adapter = {
	.name = "est",
	.init = est_init,
	.fini = est_fini,
	.demo = est_demo,
	.routes = est_routes,
	.n_routes = sizeof(est_routes) / sizeof(est_routes[0]),
};
