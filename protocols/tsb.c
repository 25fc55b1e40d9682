/*
 * The TSB-style adapter: configuration section "tsb", demo, routing under /v1/, X-API-KEY
 * authentication with the TSB roles, request bodies and the error replies.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "be_crlpub.h"
#include "be_hex.h"
#include "be_json.h"
#include "be_utf8.h"
#include "tsb.h"
#include "tsb_body.h"

#define TSB_SEGMENTS	6
#define TSB_SEGMENT_MAX	256

/* ---------------------------------------------------------------- errors */

/* The one table from backend code to HTTP status and TSB errorCode / reason.  631 and 650
 * are the codes TSB itself answers for an unknown API key and an unknown key. */
static void
error_kind(int code, enum tsb_obj obj, unsigned *status, int *ec, const char **reason)
{
	switch (code) {
	case BE_E_MALFORMED:
		*status = 400, *ec = 400, *reason = "res.error.bad.request";
		break;
	case BE_E_POLICY:
		*status = 403, *ec = 603, *reason = "res.error.request.not.permitted";
		break;
	case BE_E_FORBIDDEN:
		*status = 403, *ec = 641, *reason = "res.error.operation.not.permitted";
		break;
	case BE_E_NOTFOUND:
		*status = 404;
		if (obj == TSB_OBJ_KEY)
			*ec = 650, *reason = "res.error.key.not.existent";
		else if (obj == TSB_OBJ_REQUEST)
			*ec = 651, *reason = "res.error.request.not.existent";
		else if (obj == TSB_OBJ_CERT)
			*ec = 652, *reason = "res.error.certificate.not.existent";
		else
			*ec = 404, *reason = "res.error.not.found";
		break;
	case BE_E_CONFLICT:
		*status = 409, *ec = 660, *reason = "res.error.conflict";
		break;
	case BE_E_STATE:
		*status = 409, *ec = 661, *reason = "res.error.wrong.state";
		break;
	case BE_E_TOOBIG:
		*status = 413, *ec = 413, *reason = "res.error.payload.too.large";
		break;
	case BE_E_UNAUTH:
		*status = 401, *ec = 631, *reason = "res.error.invalid.api.key";
		break;
	case BE_E_UNAVAILABLE:
		*status = 503, *ec = 503, *reason = "res.error.service.unavailable";
		break;
	default:
		*status = 500, *ec = 500, *reason = "res.error.internal";
		break;
	}
}

/* The backend code of the error_kind() entry closest to an HTTP status the server answers
 * itself (tsb_error). */
static int
code_of_status(unsigned status)
{
	switch (status) {
	case 400:
		return BE_E_MALFORMED;
	case 401:
		return BE_E_UNAUTH;
	case 403:
		return BE_E_FORBIDDEN;
	case 404:
		return BE_E_NOTFOUND;
	case 413:
		return BE_E_TOOBIG;
	case 503:
		return BE_E_UNAVAILABLE;
	default:
		return status < 500 ? BE_E_MALFORMED : BE_E_INTERNAL;
	}
}

/* Writes status and j (taken) as the JSON reply into resp. */
static int
json_reply(struct gw_response *resp, unsigned status, json_t *j)
{
	int rc;

	if (j == NULL)
		return gw_response_text(resp, 500, "out of memory");
	rc = gw_response_json(resp, status, j);
	json_decref(j);
	return rc;
}

/* The TSB error body {errorCode, reason, message} with status into resp; a 503 (the store
 * or the crypto library unusable for now) says when to try again (RFC 9110 10.2.3). */
static int
error_body(struct gw_response *resp, unsigned status, int ec, const char *reason,
	   const char *msg)
{
	int rc;

	if (status == 503 && (rc = gw_response_header(resp, "Retry-After", "30")) != BE_OK)
		return rc;
	return json_reply(resp, status, json_pack("{s:i, s:s, s:s}", "errorCode", ec, "reason",
						  reason, "message", msg));
}

static int
error_reply(struct tsb_call *c, unsigned status, int ec, const char *reason, const char *msg)
{
	return error_body(c->resp, status, ec, reason, msg);
}

int
tsb_reply(struct tsb_call *c, unsigned status, json_t *j)
{
	return json_reply(c->resp, status, j);
}

static void
refusal(struct tsb_call *c, const char *label, const char *message)
{
	char profile[BE_KS_LABEL_MAX + 8];

	snprintf(profile, sizeof(profile), "tsb:%s", label != NULL ? label : "");
	if (c->req->cfg->be != NULL)
		be_audit_refusal(c->req->cfg->be, &c->op, label != NULL ? profile : NULL, message);
}

int
tsb_fail(struct tsb_call *c, int code, const char *message, bool audited)
{
	unsigned status;
	int ec;
	const char *reason;

	error_kind(code, c->obj, &status, &ec, &reason);
	if (!audited)
		refusal(c, c->label, message);
	return error_reply(c, status, ec, reason, message);
}

void
tsb_label(struct tsb_call *c, const char *label)
{
	char profile[BE_KS_LABEL_MAX + 8];

	if (label == NULL || be_ks_label_check(label, NULL) != BE_OK)
		return;		/* never log what is not a valid label */
	c->label = label;
	snprintf(profile, sizeof(profile), "tsb:%s", label);
	free(c->resp->profile);
	c->resp->profile = strdup(profile);
}

void
tsb_audit(struct tsb_call *c, const char *label, const char *outcome, const char *reason)
{
	struct be_audit_rec a;
	char profile[BE_KS_LABEL_MAX + 8];

	if (c->req->cfg->be == NULL || c->req->cfg->be->store == NULL)
		return;
	memset(&a, 0, sizeof(a));
	snprintf(profile, sizeof(profile), "tsb:%s", label != NULL ? label : "");
	a.request_id = c->op.request_id;
	a.adapter = c->op.adapter;
	a.operation = c->op.operation;
	a.principal = c->op.principal.name;
	a.profile = label != NULL ? profile : NULL;
	a.peer = c->op.peer;
	a.outcome = outcome;
	a.reason = reason;
	(void)be_store_audit(c->req->cfg->be->store, &a, NULL);
}

/* ---------------------------------------------------------------- bodies */

/* Copies text dropping each comma that (outside strings) is followed, after whitespace, by
 * '}' or ']'.  TSB's clients send such bodies (the seed's curl example, tsb-client-go's
 * import), and its Jackson parser takes them. */
static char *
drop_trailing_commas(const unsigned char *in, size_t len, size_t *outlen)
{
	char *out = malloc(len + 1);
	bool str = false, esc = false;
	size_t i, j, o = 0;

	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char ch = in[i];

		if (str) {
			if (esc)
				esc = false;
			else if (ch == '\\')
				esc = true;
			else if (ch == '"')
				str = false;
		} else if (ch == '"') {
			str = true;
		} else if (ch == ',') {
			for (j = i + 1; j < len && strchr(" \t\r\n", in[j]) != NULL &&
			     in[j] != '\0'; j++)
				;
			if (j < len && (in[j] == '}' || in[j] == ']'))
				continue;
		}
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

int
tsb_body(struct tsb_call *c, json_t **out)
{
	struct be_err e = { 0, "" };
	int rc;

	*out = NULL;
	if (!gw_request_media_is(c->req, "application/json")) {
		refusal(c, c->label, "Content-Type is not application/json");
		error_reply(c, 415, 415, "res.error.unsupported.media.type",
			    "Content-Type must be application/json");
		return BE_E_MALFORMED;
	}
	if (c->req->body_len == 0) {
		tsb_fail(c, BE_E_MALFORMED, "the request body is empty; a JSON object is expected",
			 false);
		return BE_E_MALFORMED;
	}
	if ((rc = tsb_body_parse(c->req->body, c->req->body_len, out, &e)) != BE_OK)
		tsb_fail(c, rc, e.msg, rc == BE_E_NOMEM);
	return rc;
}

int
tsb_body_parse(const unsigned char *body, size_t len, json_t **out, struct be_err *e)
{
	char *text = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	if ((text = drop_trailing_commas(body, len, &n)) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	rc = be_json_parse(text, n, "request body", BE_E_MALFORMED, out, e);
	if (rc == BE_OK && !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		rc = be_err_set(e, BE_E_MALFORMED, "request body: must be a JSON object");
	}
	be_memzero(text, n);
	free(text);
	return rc;
}

#define TSB_JSON_MODE	(BE_JSON_NULL_ABSENT | BE_JSON_EMPTY_ABSENT)

const json_t *
tsb_json_get(const json_t *o, const char *key)
{
	return be_json_get(o, key, TSB_JSON_MODE);
}

int
tsb_json_str(const json_t *o, const char *path, const char *key, bool required,
	     const char **out, struct be_err *e)
{
	return be_json_str_m(o, path, key, required, TSB_JSON_MODE, out, BE_E_MALFORMED, e);
}

int
tsb_json_uint(const json_t *o, const char *path, const char *key, bool required,
	      unsigned long long min, unsigned long long max, unsigned long long *out,
	      struct be_err *e)
{
	return be_json_uint_m(o, path, key, required, TSB_JSON_MODE, min, max, out,
			      BE_E_MALFORMED, e);
}

int
tsb_json_bool(const json_t *o, const char *path, const char *key, bool *out, struct be_err *e)
{
	return be_json_bool_m(o, path, key, false, TSB_JSON_MODE, out, BE_E_MALFORMED, e);
}

int
tsb_json_obj(const json_t *o, const char *path, const char *key, bool required,
	     const json_t **out, struct be_err *e)
{
	return be_json_obj_m(o, path, key, required, TSB_JSON_MODE, out, BE_E_MALFORMED, e);
}

int
tsb_password(const json_t *o, const char *path, const char *key, char **out, struct be_err *e)
{
	const json_t *v = tsb_json_get(o, key), *it;
	char *pw = NULL;
	size_t i, used = 0, cap;
	int rc = BE_OK;

	*out = NULL;
	if (v == NULL)
		goto out;
	if (json_is_string(v)) {
		if (json_string_length(v) > BE_KS_PASSWORD_MAX ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			rc = be_err_set(e, BE_E_MALFORMED, "%s.%s: longer than %d bytes or holds NUL",
					path, key, BE_KS_PASSWORD_MAX);
			goto out;
		}
		if (json_string_length(v) > 0 && (pw = strdup(json_string_value(v))) == NULL)
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (!json_is_array(v)) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s.%s: must be an array of one-character "
				"strings", path, key);
		goto out;
	}
	if (json_array_size(v) == 0)
		goto out;
	cap = json_array_size(v) * 4 + 1;
	/* zeroed, so that a refusal part-way wipes (strlen) only what was copied */
	if (json_array_size(v) > BE_KS_PASSWORD_MAX || (pw = calloc(1, cap)) == NULL) {
		rc = be_err_set(e, json_array_size(v) > BE_KS_PASSWORD_MAX ? BE_E_MALFORMED :
				BE_E_NOMEM, "%s.%s: more than %d characters", path, key,
				BE_KS_PASSWORD_MAX);
		goto out;
	}
	json_array_foreach(v, i, it) {
		size_t n;

		if (!json_is_string(it) || json_string_length(it) == 0 ||
		    (n = be_utf8_next((const unsigned char *)json_string_value(it),
				      json_string_length(it), NULL)) != json_string_length(it) ||
		    json_string_value(it)[0] == '\0') {
			rc = be_err_set(e, BE_E_MALFORMED, "%s.%s[%zu]: must be a string of one "
					"character", path, key, i);
			goto out;
		}
		memcpy(pw + used, json_string_value(it), n);
		used += n;
	}
	pw[used] = '\0';
out:
	if (rc == BE_OK) {
		*out = pw;
		pw = NULL;
	}
	if (pw != NULL) {
		be_memzero(pw, strlen(pw));
		free(pw);
	}
	return rc;
}

/* ---------------------------------------------------------------- configuration and demo */

static int
tsb_init(const struct gw_config *cfg, const json_t *section, void **state, struct be_err *e)
{
	static const char *const keys[] = { "vault", "keystore", "master_key", "profile",
					    "timestamp_window", NULL };
	struct tsb_state *st = NULL;
	const char *db = "keystore.db", *mk = "keystore.key", *vault = NULL, *prof = NULL;
	char *dbp = NULL, *mkp = NULL;
	unsigned long long v;
	int rc;

	*state = NULL;
	if (section == NULL)
		return BE_OK;	/* not configured: /v1/ answers 404 */
	if ((rc = be_json_keys(section, "tsb", keys, BE_E_CONFIG, e)) != BE_OK ||
	    (rc = be_json_str(section, "tsb", "keystore", false, &db, BE_E_CONFIG, e)) != BE_OK ||
	    (rc = be_json_str(section, "tsb", "master_key", false, &mk, BE_E_CONFIG, e)) != BE_OK ||
	    (rc = be_json_str(section, "tsb", "vault", false, &vault, BE_E_CONFIG, e)) != BE_OK ||
	    (rc = be_json_str(section, "tsb", "profile", false, &prof, BE_E_CONFIG, e)) != BE_OK)
		goto out;
	/* The key material's home: the sealed-file vault; a PKCS#11 token is the planned
	 * other (struct be_vault_ops). */
	if (vault != NULL && strcmp(vault, "file") != 0) {
		rc = be_err_set(e, BE_E_CONFIG, "tsb.vault: only \"file\" is supported yet");
		goto out;
	}
	if (db == NULL)
		db = "keystore.db";
	if (mk == NULL)
		mk = "keystore.key";
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	/* The certificates stored keys sign are issued under this profile (be_issuer.h). */
	if (prof != NULL) {
		if ((st->profile = be_ctx_profile(cfg->be, prof)) == NULL) {
			rc = be_err_set(e, BE_E_CONFIG, "tsb.profile: no profile named \"%.64s\" "
					"in profiles", prof);
			goto out;
		}
		if (!st->profile->keystore_issuer || !st->profile->ext_from_request) {
			rc = be_err_set(e, BE_E_CONFIG, "tsb.profile: profile %s needs \"issuer\": "
					"\"keystore\" and \"extensions\": \"request\"", prof);
			goto out;
		}
	}
	v = 300;
	if ((rc = be_json_uint(section, "tsb", "timestamp_window", false, 10, 86400, &v,
			       BE_E_CONFIG, e)) != BE_OK)
		goto out;
	st->timestamp_window = (unsigned)v;
	if ((dbp = be_path_join(cfg->state_dir, db)) == NULL ||
	    (mkp = be_path_join(cfg->state_dir, mk)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = be_keystore_open(dbp, mkp, &st->ks, e)) != BE_OK)
		goto out;
	/* Stored keys that act as a CA publish their CRLs (be_crlpub.h); gw_config_free stops
	 * the publisher before tsb_fini closes the key store. */
	if (cfg->be->crlpub != NULL)
		be_crlpub_set_keystore(cfg->be->crlpub, st->ks);
	*state = st;
	st = NULL;
out:
	if (st != NULL) {
		be_keystore_close(st->ks);
		free(st);
	}
	free(dbp);
	free(mkp);
	return rc;
}

static void
tsb_fini(void *state)
{
	struct tsb_state *st = state;

	if (st == NULL)
		return;
	be_keystore_close(st->ks);
	free(st);
}

/* The demo's profile of what stored keys sign (tsb.profile): the seed's end-entity
 * certificates, with the key usages and extended key usages a TSB client names but the
 * CA's own and IPsec's (RFC 4945 5.1.3.12 deprecates those purposes), and the validity
 * TSB's defaults give; no CA certificates (set ca_certificate, keyCertSign and a path_len
 * to let key operators make sub-CAs). */
static json_t *
demo_keys_profile(void)
{
	return json_pack(
		"{s:s, s:s, s:s, s:i, s:i, s:i, s:[s,s,s,s,s,s,s,s],"
		" s:[s,s,s,s,s], s:[s,s,s,s,s,s,s], s:b,"
		" s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s},"
		" s:{s:[s,s,s,s], s:i}, s:[s]}",
		"description", "certificates that keys of the TSB key store sign "
		"(/v1/certificate/sign): key usages and the CA flag as the key operator asks, "
		"within this profile",
		"issuer", "keystore", "extensions", "request",
		"validity_days", 90, "max_validity_days", 825, "max_ca_validity_days", 1825,
		"key_types", "rsa2048", "rsa3072", "rsa4096", "p256", "p384", "p521", "ed25519",
		"rsa8192",
		"key_usage", "digitalSignature", "nonRepudiation", "keyEncipherment",
		"dataEncipherment", "keyAgreement",
		"extended_key_usage", "serverAuth", "clientAuth", "codeSigning", "emailProtection",
		"timeStamping", "OCSPSigning", "anyExtendedKeyUsage",
		"ca_certificate", 0,
		"subject", "CN", "optional", "C", "optional", "ST", "optional", "L", "optional",
		"O", "optional", "OU", "optional", "organizationIdentifier", "optional",
		"title", "optional", "SN", "optional", "GN", "optional", "initials", "optional",
		"generationQualifier", "optional", "pseudonym", "optional", "E", "optional",
		"san", "types", "dns", "email", "ip", "uri", "max", 64,
		"allow", "role:key_operation");
}

/* The demo: the section, a principal per TSB role with an API key, the profile of what
 * stored keys sign, and what the seed's CA flow needs: the demo root as a CA and a profile
 * "tsb-sub-ca" with which `certgate issue` makes a stored key's CSR into an intermediate CA
 * certificate (the issuing CA's pathLen 0 forbids that). */
static int
tsb_demo(json_t *conf, json_t *creds, struct be_err *e)
{
	json_t *cas = json_object_get(conf, "cas"), *profiles = json_object_get(conf, "profiles");
	json_t *section, *profile, *keys, *root;
	int rc = BE_OK;

	if (!json_is_object(cas) || !json_is_object(profiles))
		return be_err_set(e, BE_E_INTERNAL, "demo has no cas or profiles object");
	section = json_pack("{s:s}", "profile", "tsb-keys");
	keys = demo_keys_profile();
	root = json_pack("{s:s, s:s}", "certificate", "ca/root.pem", "key", "ca/root.key");
	profile = json_pack(
		"{s:s, s:s, s:i, s:i, s:[s,s,s,s,s,s], s:[s,s,s], s:b, s:i,"
		" s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s}, s:[s]}",
		"description", "intermediate CA certificates for keys in the TSB key store "
		"(certgate issue --profile tsb-sub-ca --csr FILE)",
		"ca", "root", "validity_days", 1825, "max_validity_days", 1825,
		"key_types", "rsa2048", "rsa3072", "rsa4096", "p256", "p384", "ed25519",
		"key_usage", "keyCertSign", "cRLSign", "digitalSignature",
		"ca_certificate", 1, "path_len", 0,
		"subject", "CN", "required", "O", "optional", "OU", "optional", "C", "optional",
		"ST", "optional", "L", "optional", "organizationIdentifier", "optional",
		"allow", "role:ca_admin");
	if (section == NULL || keys == NULL || root == NULL || profile == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		json_decref(section);
		json_decref(keys);
		json_decref(root);
		json_decref(profile);
		goto out;
	}
	json_object_set_new(conf, "tsb", section);
	if (json_object_get(cas, "root") == NULL)
		json_object_set_new(cas, "root", root);
	else
		json_decref(root);
	json_object_set_new(profiles, "tsb-sub-ca", profile);
	json_object_set_new(profiles, "tsb-keys", keys);
	if ((rc = gw_demo_principal(conf, creds, "tsb-keymgmt", "key_management", false, true,
				    NULL, e)) != BE_OK ||
	    (rc = gw_demo_principal(conf, creds, "tsb-keyop", "key_operation", false, true, NULL,
				    e)) != BE_OK ||
	    (rc = gw_demo_principal(conf, creds, "tsb-approver", "approver", false, true, NULL,
				    e)) != BE_OK ||
	    (rc = gw_demo_principal(conf, creds, "tsb-service", "service", false, true, NULL,
				    e)) != BE_OK)
		goto out;
out:
	return rc;
}

/* ---------------------------------------------------------------- routing */

/* Splits path (after "/v1/") into percent-decoded segments.  0, or -1 for a path that can
 * name nothing (empty segment, bad escape, NUL, control characters, too long). */
static int
split_path(const char *path, char seg[TSB_SEGMENTS][TSB_SEGMENT_MAX], size_t *n)
{
	const char *p = path;
	size_t k = 0, o;

	*n = 0;
	for (;;) {
		if (k == TSB_SEGMENTS)
			return -1;
		o = 0;
		while (*p != '\0' && *p != '/') {
			unsigned char ch = (unsigned char)*p;

			if (ch == '%') {	/* RFC 3986 2.1 */
				int hi = be_hex_digit((unsigned char)p[1]);
				int lo = hi < 0 ? -1 : be_hex_digit((unsigned char)p[2]);

				if (hi < 0 || lo < 0)
					return -1;
				ch = (unsigned char)(hi * 16 + lo);
				p += 3;
			} else {
				p++;
			}
			if (ch < 0x20 || ch == 0x7f || o + 1 >= TSB_SEGMENT_MAX)
				return -1;
			seg[k][o++] = (char)ch;
		}
		if (o == 0)
			return -1;
		seg[k][o] = '\0';
		k++;
		if (*p == '\0')
			break;
		p++;
	}
	*n = k;
	return 0;
}

enum route_id {
	R_NONE = 0,
	R_VERSION,
	R_KEY,			/* /key: GET list, POST create */
	R_KEY_ATTRS_POST,
	R_KEY_DELETE_POST,
	R_KEY_EXPORT,
	R_KEY_LABEL_ATTRS,
	R_KEY_LABEL,
	R_CSR,
	R_SIGN_SYNC,
	R_SIGN,
	R_IMPORT,
	R_CERT_LABEL,
	R_REQUEST,
	R_TASKS,
	R_APPROVAL,
	R_REJECTION,
};

struct route {
	enum route_id id;
	const char *pattern[4];		/* segments; "*" matches any one */
	size_t n;
	const char *methods;		/* for Allow */
	unsigned role;			/* GW_ROLE_* */
	const char *operation;
};

static const struct route routes[] = {
	{ R_VERSION, { "versionInfo" }, 1, "GET", GW_ROLE_SERVICE, "version-info" },
	{ R_KEY, { "key" }, 1, "GET, POST", GW_ROLE_KEY_MGMT, "key" },
	{ R_KEY_ATTRS_POST, { "key", "attributes" }, 2, "POST", GW_ROLE_KEY_MGMT,
	  "key-attributes" },
	{ R_KEY_DELETE_POST, { "key", "deleteKey" }, 2, "POST", GW_ROLE_KEY_MGMT, "key-delete" },
	{ R_KEY_EXPORT, { "key", "export", "plain" }, 3, "POST", GW_ROLE_KEY_MGMT, "key-export" },
	{ R_KEY_LABEL_ATTRS, { "key", "*", "attributes" }, 3, "GET", GW_ROLE_KEY_MGMT,
	  "key-attributes" },
	{ R_KEY_LABEL, { "key", "*" }, 2, "DELETE", GW_ROLE_KEY_MGMT, "key-delete" },
	{ R_CSR, { "certificate", "synchronous", "request" }, 3, "POST", GW_ROLE_KEY_OP,
	  "certificate-request" },
	{ R_SIGN_SYNC, { "certificate", "synchronous", "sign" }, 3, "POST", GW_ROLE_KEY_OP,
	  "certificate-sign-sync" },
	{ R_SIGN, { "certificate", "sign" }, 2, "POST", GW_ROLE_KEY_OP, "certificate-sign" },
	{ R_IMPORT, { "certificate", "import", "plain" }, 3, "POST", GW_ROLE_KEY_OP,
	  "certificate-import" },
	{ R_CERT_LABEL, { "certificate", "*" }, 2, "GET, DELETE", GW_ROLE_KEY_OP, "certificate" },
	{ R_REQUEST, { "request", "*" }, 2, "GET, DELETE", GW_ROLE_KEY_OP, "request" },
	{ R_TASKS, { "filteredSignApprovalTask" }, 1, "POST", GW_ROLE_APPROVER, "approval-tasks" },
	{ R_APPROVAL, { "approval" }, 1, "POST", GW_ROLE_APPROVER, "approval" },
	{ R_REJECTION, { "rejection" }, 1, "POST", GW_ROLE_APPROVER, "rejection" },
};

static bool
method_in(const char *method, const char *list)
{
	size_t n = strlen(method);
	const char *p = list;

	while ((p = strstr(p, method)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ','))
			return true;
		p += n;
	}
	return false;
}

static bool
pattern_match(const struct route *r, char seg[TSB_SEGMENTS][TSB_SEGMENT_MAX], size_t n)
{
	size_t i;

	if (r->n != n)
		return false;
	for (i = 0; i < n; i++)
		if (strcmp(r->pattern[i], "*") != 0 && strcmp(r->pattern[i], seg[i]) != 0)
			return false;
	return true;
}

/* The route for method and segments: an exact match with the method first, then any whose
 * pattern matches (for 405). */
static const struct route *
route_find(const char *method, char seg[TSB_SEGMENTS][TSB_SEGMENT_MAX], size_t n,
	   const struct route **path_only)
{
	size_t i;

	*path_only = NULL;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!pattern_match(&routes[i], seg, n))
			continue;
		if (method_in(method, routes[i].methods))
			return &routes[i];
		if (*path_only == NULL)
			*path_only = &routes[i];
	}
	return NULL;
}

static const char *
role_name(unsigned role)
{
	switch (role) {
	case GW_ROLE_KEY_MGMT:
		return "key management";
	case GW_ROLE_KEY_OP:
		return "key operation";
	case GW_ROLE_APPROVER:
		return "approver";
	case GW_ROLE_SERVICE:
		return "service";
	default:
		return "other";
	}
}

static int
dispatch(struct tsb_call *c, const struct route *r, char seg[TSB_SEGMENTS][TSB_SEGMENT_MAX])
{
	const char *m = c->req->method;

	switch (r->id) {
	case R_VERSION:
		return tsb_version(c);
	case R_KEY:
		return strcmp(m, "POST") == 0 ? tsb_key_create(c) : tsb_key_list(c);
	case R_KEY_ATTRS_POST:
		return tsb_key_attributes(c, NULL);
	case R_KEY_DELETE_POST:
		return tsb_key_delete(c, NULL);
	case R_KEY_EXPORT:
		return tsb_key_export(c);
	case R_KEY_LABEL_ATTRS:
		return tsb_key_attributes(c, seg[1]);
	case R_KEY_LABEL:
		return tsb_key_delete(c, seg[1]);
	case R_CSR:
		return tsb_csr(c);
	case R_SIGN_SYNC:
		return tsb_sign_sync(c);
	case R_SIGN:
		return tsb_sign_async(c);
	case R_IMPORT:
		return tsb_cert_import(c);
	case R_CERT_LABEL:
		return strcmp(m, "GET") == 0 ? tsb_cert_get(c, seg[1]) : tsb_cert_delete(c, seg[1]);
	case R_REQUEST:
		return strcmp(m, "GET") == 0 ? tsb_request_get(c, seg[1]) :
		       tsb_request_delete(c, seg[1]);
	case R_TASKS:
		return tsb_tasks(c);
	case R_APPROVAL:
		return tsb_decide(c, true);
	case R_REJECTION:
		return tsb_decide(c, false);
	default:
		return tsb_fail(c, BE_E_INTERNAL, "no handler", true);
	}
}

static int
tsb_handle(struct gw_request *req, struct gw_response *resp)
{
	char segs[TSB_SEGMENTS][TSB_SEGMENT_MAX];
	const struct route *r, *path_only = NULL;
	struct tsb_call c;
	struct be_err e = { 0, "" };
	char msg[160];
	size_t n = 0;

	memset(&c, 0, sizeof(c));
	c.req = req;
	c.resp = resp;
	c.st = gw_config_adapter(req->cfg, "tsb");
	c.op.adapter = "tsb";
	c.op.operation = "unknown";
	c.op.request_id = req->id;
	c.op.peer = req->peer;
	resp->adapter = "tsb";
	resp->operation = "unknown";
	if (strncmp(req->path, "/v1/", 4) != 0 || split_path(req->path + 4, segs, &n) != 0 ||
	    (r = route_find(req->method, segs, n, &path_only)) == NULL) {
		if (path_only != NULL) {
			gw_response_header(resp, "Allow", path_only->methods);
			snprintf(msg, sizeof(msg), "use %s", path_only->methods);
			return error_reply(&c, 405, 405, "res.error.method.not.allowed", msg);
		}
		return error_reply(&c, 404, 404, "res.error.not.found", "no such endpoint");
	}
	c.op.operation = r->operation;
	resp->operation = r->operation;
	if (c.st == NULL)
		return error_reply(&c, 404, 404, "res.error.not.found",
				   "the TSB API is not configured (no \"tsb\" section)");
	if (gw_auth_api_key(req->cfg, gw_request_header(req, "X-API-KEY"), &c.who, &e) != BE_OK)
		return tsb_fail(&c, BE_E_UNAUTH, e.msg, false);
	c.op.principal.name = c.who->name;
	c.op.principal.roles = c.who->roles;
	free(resp->principal);
	resp->principal = c.who->name != NULL ? strdup(c.who->name) : NULL;
	if (!(c.who->roles & r->role)) {
		snprintf(msg, sizeof(msg), "this API key has no %s role", role_name(r->role));
		refusal(&c, NULL, msg);
		return error_reply(&c, 403, 632, "res.error.api.key.not.authorized", msg);
	}
	c.env.ctx = req->cfg->be;
	c.env.ks = c.st->ks;
	c.env.profile = c.st->profile;
	return dispatch(&c, r, segs);
}

/* The server's own refusals of a request under /v1/ (gw_error_fn): the TSB error body, with
 * the errorCode and reason error_kind() gives the nearest backend code (413:
 * res.error.payload.too.large, 500: res.error.internal) and the server's status kept. */
static int
tsb_error(struct gw_request *req, struct gw_response *resp, unsigned status,
	  const char *reason)
{
	unsigned kind_status;
	int ec;
	const char *kind;

	(void)req;
	resp->adapter = "tsb";
	resp->operation = "unknown";
	error_kind(code_of_status(status), TSB_OBJ_NONE, &kind_status, &ec, &kind);
	return error_body(resp, status, ec, kind, reason);
}

static const struct gw_route tsb_routes[] = {
	{ "/v1/", tsb_handle, tsb_error },
};

const struct gw_adapter proto_tsb_adapter = {
	.name = "tsb",
	.init = tsb_init,
	.fini = tsb_fini,
	.demo = tsb_demo,
	.routes = tsb_routes,
	.n_routes = sizeof(tsb_routes) / sizeof(tsb_routes[0]),
};
