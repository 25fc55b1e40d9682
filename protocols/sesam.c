/*
 * The se.SAM N200 PKI-style command API (PROTOCOLS.md section 2): routing, HTTP Basic
 * authentication (RFC 7617), the command dispatch and the one reply shape.
 *
 * Every reply is a JSON object whose first key, "command", echoes the request's command
 * (empty when there was none), so a script's json.loads(response.text) never fails:
 *   200 {"command", "result": <serial> | "ST_OK" | "ST_PENDING", ...}  success
 *   200 {"command", "result": "ST_FF", "error": <sentence>}           refused
 *   400 / 413 / 415 the same shape: the body could not be read as a command
 *   401 the same shape, with WWW-Authenticate: bad or missing credentials
 *   403 the same shape: the request came over plain HTTP (Basic needs TLS)
 *   500 / 503 the same shape: certgate failed (the sentence gives the request id)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be_json.h"
#include "proto.h"
#include "sesam.h"

#define ECHO_MAX 64		/* bytes of `command` echoed back */
#define REALM_MAX 64

struct sesam_state {
	char *realm;
};

/* ---------------------------------------------------------------- configuration */

static bool
realm_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > REALM_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			return false;
	return true;
}

/* The "sesam" section: {"realm": "..."} (optional; the HTTP Basic realm, RFC 7617). */
static int
sesam_init(const struct gw_config *cfg, const json_t *section, void **state, struct be_err *e)
{
	static const char *const keys[] = { "realm", NULL };
	struct sesam_state *st = NULL;
	const char *realm = NULL;
	int rc = BE_OK;

	(void)cfg;
	if (section != NULL &&
	    ((rc = be_json_keys(section, "sesam", keys, BE_E_CONFIG, e)) != BE_OK ||
	     (rc = be_json_str(section, "sesam", "realm", false, &realm, BE_E_CONFIG, e)) != BE_OK))
		goto out;
	if (realm != NULL && !realm_valid(realm)) {
		rc = be_err_set(e, BE_E_CONFIG, "sesam.realm: 1 to %d printable ASCII characters "
				"without '\"' or '\\'", REALM_MAX);
		goto out;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->realm = strdup(realm != NULL ? realm : "certgate se.SAM PKI")) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	*state = st;
	st = NULL;
out:
	if (st != NULL)
		free(st->realm);
	free(st);
	return rc;
}

static void
sesam_fini(void *state)
{
	struct sesam_state *st = state;

	if (st == NULL)
		return;
	free(st->realm);
	free(st);
}

/* ---------------------------------------------------------------- demo */

static json_t *
demo_subject(bool ignore_c)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
			 "CN", "required", "GN", "optional", "SN", "optional", "O", "optional",
			 "OU", "optional", "C", ignore_c ? "ignore" : "optional", "ST", "optional",
			 "L", "optional", "E", "optional");
}

/* A se.SAM-style template: server key p256 by default, client keys allowed. */
static json_t *
demo_template(const char *description, bool ignore_c)
{
	return json_pack("{s:s, s:s, s:i, s:[s,s,s,s], s:s, s:b, s:[s,s], s:[s,s], s:o,"
			 " s:{s:[s,s], s:i}, s:[s,s]}",
			 "description", description, "ca", "issuing", "validity_days", 365,
			 "key_types", "p256", "p384", "rsa2048", "rsa3072",
			 "server_key_type", "p256", "server_keygen", 1,
			 "key_usage", "digitalSignature", "keyEncipherment",
			 "extended_key_usage", "clientAuth", "emailProtection",
			 "subject", demo_subject(ignore_c),
			 "san", "types", "dns", "email", "max", 10,
			 "allow", "role:client", "role:ro_admin");
}

/* Adds the "sesam" section, three templates beside the ones `certgate init` mirrors from the
 * vendor document, and a second client. */
static int
sesam_demo(json_t *conf, json_t *creds, struct be_err *e)
{
	json_t *profiles = json_object_get(conf, "profiles");
	json_t *dl = NULL, *pw = NULL, *ign = NULL;
	int rc = BE_OK;

	if (!json_is_object(profiles)) {
		rc = be_err_set(e, BE_E_INTERNAL, "demo has no profiles object");
		goto out;
	}
	dl = demo_template("se.SAM template: the PKCS#12 is kept for download (getcert)", false);
	pw = demo_template("se.SAM template: the client must give the PKCS#12 password", false);
	ign = demo_template("se.SAM template: a country (C) given is dropped, not checked", true);
	if (dl == NULL || pw == NULL || ign == NULL ||
	    json_object_set_new(dl, "distribution", json_string("download")) != 0 ||
	    json_object_set_new(pw, "pkcs12", json_pack("{s:s, s:i}", "password", "required",
							 "min_length", 8)) != 0 ||
	    json_object_set(profiles, "IoT-Download-2022", dl) != 0 ||
	    json_object_set(profiles, "P12-Password-Template-2022", pw) != 0 ||
	    json_object_set(profiles, "Device-Template-2022", ign) != 0 ||
	    json_object_set_new(conf, "sesam", json_pack("{s:s}", "realm",
							 "certgate se.SAM PKI")) != 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	rc = gw_demo_principal(conf, creds, "sesam-client", "client", true, false, NULL, e);
out:
	json_decref(dl);
	json_decref(pw);
	json_decref(ign);
	return rc;
}

/* ---------------------------------------------------------------- replies */

static unsigned
status_of(int code)
{
	switch (code) {
	case BE_E_MALFORMED:
		return 400;
	case BE_E_UNAUTH:
		return 401;
	case BE_E_TOOBIG:
		return 413;
	case BE_E_POLICY:
	case BE_E_FORBIDDEN:
	case BE_E_NOTFOUND:
	case BE_E_CONFLICT:
	case BE_E_STATE:
		return 200;	/* a refusal of a well-formed, authenticated request: ST_FF */
	case BE_E_UNAVAILABLE:
		return 503;
	default:
		return 500;
	}
}

/* A copy of s fit for a JSON string: control characters and, when s is not valid UTF-8,
 * every non-ASCII byte become '?'. */
static json_t *
json_text(const char *s)
{
	json_t *j = json_string(s);
	char *copy;
	size_t i;

	if (j != NULL)
		return j;
	if ((copy = strdup(s)) == NULL)
		return NULL;
	for (i = 0; copy[i] != '\0'; i++)
		if ((unsigned char)copy[i] < 0x20 || (unsigned char)copy[i] >= 0x7f)
			copy[i] = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

/* Replaces the reply with {"command", "result": "ST_FF", "error": msg}. */
static int
reply_refusal(json_t **reply, const char *command, const char *msg)
{
	json_t *r = json_object();

	if (r == NULL || json_object_set_new(r, "command", json_text(command)) != 0 ||
	    json_object_set_new(r, "result", json_string("ST_FF")) != 0 ||
	    json_object_set_new(r, "error", json_text(msg)) != 0) {
		json_decref(r);
		return BE_E_NOMEM;
	}
	json_decref(*reply);
	*reply = r;
	return BE_OK;
}

/* Answers status with the refusal shape {"command": echo, "result": "ST_FF", "error": msg};
 * a 5xx other than 503 shows only the request id, a 503 adds Retry-After.  Shared by the
 * handler and the server's own refusals (sesam_error). */
static int
refusal_respond(const struct gw_request *req, struct gw_response *resp, unsigned status,
		const char *echo, const char *msg)
{
	json_t *r = NULL;
	char internal[96];
	int rc;

	if (status >= 500 && status != 503) {
		snprintf(internal, sizeof(internal), "internal error; request id %s", req->id);
		msg = internal;
	}
	if ((rc = reply_refusal(&r, echo, msg)) != BE_OK)
		goto out;
	if (status == 503 && (rc = gw_response_header(resp, "Retry-After", "30")) != BE_OK)
		goto out;
	rc = gw_response_json(resp, status, r);
out:
	json_decref(r);
	return rc;
}

/* Overwrites the "p12_pass" string of the reply before it is freed. */
static void
reply_wipe(json_t *reply)
{
	json_t *pw = json_object_get(reply, "p12_pass");

	if (json_is_string(pw))
		be_memzero((char *)(uintptr_t)json_string_value(pw), json_string_length(pw));
}

/* Sentences may quote client values: for the log and the audit trail, control characters
 * become '?' so that a value cannot forge lines. */
static void
clean_copy(const char *in, char *out, size_t len)
{
	size_t i;

	snprintf(out, len, "%s", in);
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '?';
}

/* ---------------------------------------------------------------- the handler */

unsigned
sesam_roles_of(const struct gw_principal *p)
{
	static const struct {
		unsigned gw, be;
	} map[] = {
		{ GW_ROLE_CLIENT, BE_ROLE_CLIENT }, { GW_ROLE_RO_ADMIN, BE_ROLE_RO_ADMIN },
		{ GW_ROLE_CA_ADMIN, BE_ROLE_CA_ADMIN }, { GW_ROLE_KEY_MGMT, BE_ROLE_KEY_MGMT },
		{ GW_ROLE_KEY_OP, BE_ROLE_KEY_OP }, { GW_ROLE_APPROVER, BE_ROLE_APPROVER },
		{ GW_ROLE_SERVICE, BE_ROLE_SERVICE },
	};
	unsigned r = 0;
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (p->roles & map[i].gw)
			r |= map[i].be;
	return r;
}

static const char *
roles_needed(unsigned roles)
{
	if (roles == BE_ROLE_CA_ADMIN)
		return "the CA administrator role";
	if (roles == (BE_ROLE_RO_ADMIN | BE_ROLE_CA_ADMIN))
		return "an RO or CA administrator role";
	return "a se.SAM role (client, ro_admin or ca_admin)";
}

/* Every field but "command" must be one the command reads: a misspelt field name would
 * otherwise be dropped in silence. */
static int
fields_check(const struct sesam_op *op, const struct sesam_form *f, struct be_err *e)
{
	size_t i, k;

	for (i = 0; i < f->n; i++) {
		bool known = strcmp(f->v[i].name, "command") == 0;

		for (k = 0; op->fields[k] != NULL && !known; k++)
			known = strcmp(op->fields[k], f->v[i].name) == 0;
		if (!known)
			return be_err_set(e, BE_E_MALFORMED, "%s: not a field of command %s", f->v[i].name,
					  op->name);
	}
	return BE_OK;
}

/* POST /sesam/api (also with a trailing '/'). */
static int
sesam_handle(struct gw_request *req, struct gw_response *resp)
{
	const struct sesam_state *st = gw_config_adapter(req->cfg, "sesam");
	struct sesam_form form;
	struct sesam_call call;
	struct be_err perr = { 0, "" }, e = { 0, "" };
	const struct gw_principal *who = NULL;
	const struct sesam_field *cmdf;
	const struct sesam_op *op = NULL;
	struct be_op_ctx octx;
	char realm[REALM_MAX + 48];
	const char *echo = "";
	unsigned status = 200;
	int prc = BE_OK, rc = BE_OK, fail = BE_OK;

	memset(&form, 0, sizeof(form));
	memset(&call, 0, sizeof(call));
	resp->adapter = "sesam";
	resp->operation = "request";
	call.req = req;
	call.be = req->cfg->be;
	call.form = &form;
	if ((call.reply = json_object()) == NULL) {
		rc = BE_E_NOMEM;
		goto out;
	}
	if (strcmp(req->path, SESAM_PATH) != 0 && strcmp(req->path, SESAM_PATH "/") != 0) {
		status = 404;
		fail = be_err_set(&e, BE_E_NOTFOUND, "no such resource: the se.SAM command API is "
				  "POST %s", SESAM_PATH);
		goto reply;
	}
	if (strcmp(req->method, "POST") != 0) {
		status = 405;
		fail = be_err_set(&e, BE_E_MALFORMED, "method %.16s: the se.SAM command API takes "
				  "POST", req->method);
		if ((rc = gw_response_header(resp, "Allow", "POST")) != BE_OK)
			goto out;
		goto reply;
	}

	prc = sesam_form_parse(gw_request_header(req, "Content-Type"), req->body, req->body_len,
			       &form, &perr);
	cmdf = sesam_form_get(&form, "command");
	if (cmdf != NULL && cmdf->len <= ECHO_MAX)
		echo = cmdf->value;
	if (json_object_set_new(call.reply, "command", json_text(echo)) != 0) {
		rc = BE_E_NOMEM;
		goto out;
	}

	if (!req->secure) {
		/* The password would cross the network in clear (RFC 7617 section 4): not even
		 * checked. */
		status = 403;
		fail = be_err_set(&e, BE_E_FORBIDDEN, "the se.SAM API takes HTTP Basic credentials "
				  "over HTTPS only (RFC 7617 section 4)");
		goto reply;
	}
	rc = gw_auth_basic(req->cfg, gw_request_header(req, "Authorization"), &who, &e);
	if (rc == BE_E_NOMEM)
		goto out;
	if (rc != BE_OK) {
		char msg[BE_ERR_MSG_MAX];

		rc = BE_OK;
		snprintf(msg, sizeof(msg), "%s", e.msg);
		be_err_clear(&e);
		status = 401;
		fail = be_err_set(&e, BE_E_UNAUTH, "authentication failed: %s (HTTP Basic, RFC 7617)",
				  msg);
		snprintf(realm, sizeof(realm), "Basic realm=\"%s\", charset=\"UTF-8\"",
			 st != NULL ? st->realm : "certgate se.SAM PKI");
		if ((rc = gw_response_header(resp, "WWW-Authenticate", realm)) != BE_OK)
			goto out;
		goto reply;
	}
	call.principal.name = who->name;
	call.principal.roles = sesam_roles_of(who);
	if (who->name != NULL && (resp->principal = strdup(who->name)) == NULL) {
		rc = BE_E_NOMEM;
		goto out;
	}

	if (prc != BE_OK) {
		status = prc == BE_E_POLICY ? 415 : status_of(prc);
		fail = be_err_set(&e, prc == BE_E_POLICY ? BE_E_MALFORMED : prc, "%s", perr.msg);
		goto reply;
	}
	if (cmdf == NULL || cmdf->len == 0) {
		status = 400;
		fail = be_err_set(&e, BE_E_MALFORMED, "command: missing; one of %s",
				  sesam_op_names());
		goto reply;
	}
	if (cmdf->count > 1) {
		status = 400;
		fail = be_err_set(&e, BE_E_MALFORMED, "command: given %u times", cmdf->count);
		goto reply;
	}
	if ((op = sesam_op_find(cmdf->value)) == NULL) {
		status = 400;
		fail = be_err_set(&e, BE_E_MALFORMED, "command: unknown command \"%.32s\"; the "
				  "commands are %s", cmdf->value, sesam_op_names());
		goto reply;
	}
	resp->operation = op->name;
	call.command = op->name;
	if ((fail = fields_check(op, &form, &e)) != BE_OK) {
		status = status_of(fail);
		goto reply;
	}
	if (!(call.principal.roles & op->roles)) {
		fail = be_err_set(&e, BE_E_FORBIDDEN, "%s may not use command %s: it needs %s",
				  who->name, op->name, roles_needed(op->roles));
		goto reply;
	}
	fail = op->fn(&call, &e);
	status = fail != BE_OK ? status_of(fail) : 200;

reply:
	if (call.profile != NULL && (resp->profile = strdup(call.profile)) == NULL) {
		rc = BE_E_NOMEM;
		goto out;
	}
	resp->secret = call.secret;
	if (fail != BE_OK) {
		char clean[BE_ERR_MSG_MAX];

		clean_copy(e.msg, clean, sizeof(clean));
		gw_log(status >= 500 ? GW_LOG_ERROR : GW_LOG_INFO, "sesam: id=%s peer=%s "
		       "principal=%s command=%s: %s: %s", req->id, req->peer != NULL ? req->peer : "-",
		       who != NULL && who->name != NULL ? who->name : "-",
		       op != NULL ? op->name : "-", be_err_name(fail), clean);
		if (!call.audited && call.be != NULL && status != 404 && status != 405) {
			memset(&octx, 0, sizeof(octx));
			octx.adapter = "sesam";
			octx.operation = op != NULL ? op->name : "request";
			octx.request_id = req->id;
			octx.peer = req->peer;
			octx.principal = call.principal;
			be_audit_refusal(call.be, &octx, call.profile, clean);
		}
		rc = refusal_respond(req, resp, status, echo, e.msg);
		goto out;
	}
	rc = gw_response_json(resp, status, call.reply);
out:
	if (call.reply != NULL) {
		reply_wipe(call.reply);
		json_decref(call.reply);
	}
	free(call.profile);
	sesam_form_clear(&form);
	return rc;
}

/* The server's own refusals of a request to /sesam/ (gw_error_fn): the one reply shape, with
 * no command echoed (the body was not read, or the handler failed). */
static int
sesam_error(struct gw_request *req, struct gw_response *resp, unsigned status,
	    const char *reason)
{
	resp->adapter = "sesam";
	resp->operation = "request";
	return refusal_respond(req, resp, status, "", reason);
}

static const struct gw_route sesam_routes[] = {
	{ "/sesam/", sesam_handle, sesam_error },
};

const struct gw_adapter proto_sesam_adapter = {
	.name = "sesam",
	.init = sesam_init,
	.fini = sesam_fini,
	.demo = sesam_demo,
	.routes = sesam_routes,
	.n_routes = sizeof(sesam_routes) / sizeof(sesam_routes[0]),
};
