/*
 * Enrollment-profile API certificate operations (PROTOCOLS.md section 4, seed 002):
 * enroll, renew, get, search, revoke.
 *
 * Every request is validated in full — body shape, enrollment profile, key source and type,
 * output format and its parameters (PKCS#12 password, encryption certificate), names and
 * device attributes — before be_issue() is called, so a refused request generates no key
 * and stores nothing but its audit entry.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "be_cert.h"
#include "be_cms.h"
#include "be_json.h"
#include "iot.h"
#include "iot_body.h"

#define M BE_E_MALFORMED
#define DEVATTR_VALUE_MAX 256
#define ATTRS_MAX 64
#define SEARCH_LIMIT_DEFAULT 20
#define SEARCH_LIMIT_MAX 1000

enum key_out {
	OUT_PEM = 0,		/* PEM text */
	OUT_DER,		/* base64 DER */
	OUT_PKCS12,		/* base64 PFX */
	OUT_ENC,		/* base64 P7M of a ZIP bundle: certificate, chain, key */
	OUT_ENC_KEY,		/* base64 P7M of the PEM key */
};

static const char *const out_names[] = {
	[OUT_PEM] = "pem", [OUT_DER] = "der", [OUT_PKCS12] = "pkcs_12",
	[OUT_ENC] = "cert_encrypted", [OUT_ENC_KEY] = "cert_encrypted_key_only",
};

/* The request body, borrowed from root. */
struct body {
	json_t *root;
	const char *ep_id;
	const char *csr;
	size_t csr_len;
	bool ssk;
	const json_t *attrs, *devattrs;
	const char *key_type, *fmt, *syntax, *p12pw, *enc_cert;
	size_t enc_cert_len;
	bool chain;
};

/* What will be asked of the backend and how the reply is encoded. */
struct plan {
	bool server;
	struct be_keyspec spec;
	enum key_out out;
	enum be_key_syntax syntax;
	const char *p12pw;		/* borrowed from the body */
	struct be_cms_recipient *rcpt;	/* owned */
	struct be_csr *csr;		/* owned */
	bool chain;
	struct be_name subject;		/* owned */
	struct be_sans sans;		/* owned */
};

static void
plan_clear(struct plan *p)
{
	be_cms_recipient_free(p->rcpt);
	be_csr_free(p->csr);
	be_name_clear(&p->subject);
	be_sans_clear(&p->sans);
	memset(p, 0, sizeof(*p));
}

/* Wipes the PKCS#12 password inside the parsed body before the body is freed. */
static void
body_free(struct body *b)
{
	json_t *pw;

	if (b->root == NULL)
		return;
	pw = json_object_get(b->root, "pkcs12_password");
	if (json_is_string(pw))
		be_memzero((char *)json_string_value(pw), json_string_length(pw));
	json_decref(b->root);
	memset(b, 0, sizeof(*b));
}

/* ---------------------------------------------------------------- request body */

/* An array of {id, value} objects with string members, at most ATTRS_MAX. */
static int
idvalue_array(const json_t *root, const char *key, const json_t **out, struct be_err *e)
{
	static const char *const keys[] = { "id", "value", NULL };
	const json_t *a = json_object_get(root, key), *o;
	const char *s;
	char path[96];
	size_t i;
	int rc;

	*out = NULL;
	if (a == NULL)
		return BE_OK;
	if (!json_is_array(a))
		return be_err_set(e, M, "%s: must be an array of {\"id\", \"value\"} objects", key);
	if (json_array_size(a) > ATTRS_MAX)
		return be_err_set(e, M, "%s: at most %d entries", key, ATTRS_MAX);
	json_array_foreach(a, i, o) {
		snprintf(path, sizeof(path), "%s[%zu]", key, i);
		if ((rc = be_json_keys(o, path, keys, M, e)) != BE_OK ||
		    (rc = be_json_str(o, path, "id", true, &s, M, e)) != BE_OK ||
		    (rc = be_json_str(o, path, "value", true, &s, M, e)) != BE_OK)
			return rc;
	}
	*out = a;
	return BE_OK;
}

static int
body_parse(const struct gw_request *req, bool renew, struct body *b, struct be_err *e)
{
	static const char *const keys[] = {
		"enrollment_profile_id", "csr", "server_side_key_gen",
		"certificate_profile_attributes", "device_attributes", "key_type",
		"private_key_format", "private_key_syntax", "pkcs12_password",
		"include_certificate_chain", "encryption_certificate", NULL
	};
	const json_t *v;
	int rc;

	memset(b, 0, sizeof(*b));
	b->chain = true;
	if (req->body_len == 0)
		return be_err_set(e, M, "request body: a JSON object is required");
	if ((rc = be_json_parse((const char *)req->body, req->body_len, "request body", M,
				&b->root, e)) != BE_OK ||
	    (rc = be_json_keys(b->root, "", keys, M, e)) != BE_OK ||
	    (rc = be_json_str(b->root, "", "enrollment_profile_id", !renew, &b->ep_id, M,
			      e)) != BE_OK ||
	    (rc = be_json_str(b->root, "", "csr", false, &b->csr, M, e)) != BE_OK ||
	    (rc = be_json_bool(b->root, "", "server_side_key_gen", false, &b->ssk, M,
			       e)) != BE_OK ||
	    (rc = idvalue_array(b->root, "certificate_profile_attributes", &b->attrs,
				e)) != BE_OK ||
	    (rc = idvalue_array(b->root, "device_attributes", &b->devattrs, e)) != BE_OK ||
	    (rc = be_json_str(b->root, "", "key_type", false, &b->key_type, M, e)) != BE_OK ||
	    (rc = be_json_str(b->root, "", "private_key_format", false, &b->fmt, M,
			      e)) != BE_OK ||
	    (rc = be_json_str(b->root, "", "private_key_syntax", false, &b->syntax, M,
			      e)) != BE_OK ||
	    (rc = be_json_str(b->root, "", "pkcs12_password", false, &b->p12pw, M,
			      e)) != BE_OK ||
	    (rc = be_json_bool(b->root, "", "include_certificate_chain", false, &b->chain,
			       M, e)) != BE_OK ||
	    (rc = be_json_str(b->root, "", "encryption_certificate", false, &b->enc_cert, M,
			      e)) != BE_OK)
		return rc;
	if (b->csr != NULL)
		b->csr_len = json_string_length(json_object_get(b->root, "csr"));
	if (b->enc_cert != NULL) {
		v = json_object_get(b->root, "encryption_certificate");
		b->enc_cert_len = json_string_length(v);
	}
	return BE_OK;
}

/* ---------------------------------------------------------------- key source and output */

/* 6-20 characters of A-Z a-z 0-9 (seed: the PKCS12 password rule). */
static bool
p12_password_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 6 || n > 20)
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9')))
			return false;
	}
	return true;
}

static int
plan_server(const struct iot_eprofile *ep, const struct body *b, struct plan *p,
	    struct be_err *e)
{
	struct be_err local = { 0, "" };
	char list[160];
	size_t i;
	int rc;

	if (ep->keygen == IOT_KEYGEN_CLIENT)
		return be_err_set(e, BE_E_POLICY, "enrollment profile %s (key_generation_option "
				  "client_side) does not allow server_side_key_gen", ep->id);
	p->server = true;
	if (b->key_type != NULL) {
		if (!iot_keytype_parse(b->key_type, &p->spec))
			return be_err_set(e, M, "key_type: unknown key type \"%.32s\"; one of "
					  "rsa_2048, rsa_3072, rsa_4096, p_256, p_384, p_521, "
					  "ed_25519", b->key_type);
		if (!iot_key_allowed(ep, &p->spec)) {
			iot_key_list(ep, list, sizeof(list));
			return be_err_set(e, BE_E_POLICY, "key_type %s is not allowed by "
					  "enrollment profile %s (allowed: %s)", b->key_type,
					  ep->id, list);
		}
	} else {
		p->spec = ep->default_key;
	}

	p->out = OUT_PEM;
	if (b->fmt != NULL) {
		for (i = 0; i < sizeof(out_names) / sizeof(out_names[0]); i++)
			if (strcmp(b->fmt, out_names[i]) == 0)
				break;
		if (i == sizeof(out_names) / sizeof(out_names[0]))
			return be_err_set(e, M, "private_key_format: must be pem, der, pkcs_12, "
					  "cert_encrypted or cert_encrypted_key_only");
		p->out = (enum key_out)i;
	}
	p->syntax = BE_KEY_PKCS8;
	if (b->syntax != NULL) {
		if (p->out == OUT_PKCS12)
			return be_err_set(e, M, "private_key_syntax: does not apply to "
					  "private_key_format pkcs_12");
		if (strcmp(b->syntax, "pkcs1") == 0)
			p->syntax = BE_KEY_PKCS1;
		else if (strcmp(b->syntax, "pkcs8") != 0)
			return be_err_set(e, M, "private_key_syntax: must be pkcs1 or pkcs8");
		if (p->syntax == BE_KEY_PKCS1 && p->spec.alg == BE_KEY_ED25519)
			return be_err_set(e, M, "private_key_syntax: Ed25519 keys have no PKCS#1 "
					  "form; use pkcs8");
	}
	if (p->out == OUT_PKCS12) {
		if (b->p12pw == NULL)
			return be_err_set(e, M, "pkcs12_password: required for private_key_format "
					  "pkcs_12");
		if (!p12_password_ok(b->p12pw))
			return be_err_set(e, M, "pkcs12_password: must be 6 to 20 characters of "
					  "A-Z, a-z and 0-9");
		p->p12pw = b->p12pw;
	} else if (b->p12pw != NULL) {
		return be_err_set(e, M, "pkcs12_password: applies to private_key_format pkcs_12 "
				  "only");
	}
	if (p->out == OUT_ENC || p->out == OUT_ENC_KEY) {
		if (b->enc_cert == NULL)
			return be_err_set(e, M, "encryption_certificate: required for "
					  "private_key_format %s", out_names[p->out]);
		if (!(ep->cprof->outputs & BE_OUT_CMS))
			return be_err_set(e, BE_E_POLICY, "certificate profile %s does not return "
					  "certificate-encrypted keys", ep->cprof->name);
		rc = be_cms_recipient_parse((const unsigned char *)b->enc_cert, b->enc_cert_len,
					    &p->rcpt, &local);
		if (rc != BE_OK)
			return be_err_set(e, rc == BE_E_NOMEM ? rc : M,
					  "encryption_certificate: %s", local.msg);
	} else if (b->enc_cert != NULL) {
		return be_err_set(e, M, "encryption_certificate: applies to private_key_format "
				  "cert_encrypted and cert_encrypted_key_only only");
	}
	return BE_OK;
}

static int
plan_client(const struct iot_eprofile *ep, const struct body *b, struct plan *p,
	    struct be_err *e)
{
	struct be_err local = { 0, "" };
	struct be_keyspec want;
	char have[24], list[160];
	int rc;

	if (ep->keygen == IOT_KEYGEN_SERVER)
		return be_err_set(e, BE_E_POLICY, "enrollment profile %s (key_generation_option "
				  "server_side) takes no CSR; use server_side_key_gen", ep->id);
	if (b->fmt != NULL || b->syntax != NULL || b->p12pw != NULL || b->enc_cert != NULL)
		return be_err_set(e, M, "%s: applies to server_side_key_gen only",
				  b->fmt != NULL ? "private_key_format" :
				  b->syntax != NULL ? "private_key_syntax" :
				  b->p12pw != NULL ? "pkcs12_password" : "encryption_certificate");
	if (b->key_type != NULL && !iot_keytype_parse(b->key_type, &want))
		return be_err_set(e, M, "key_type: unknown key type \"%.32s\"; one of rsa_2048, "
				  "rsa_3072, rsa_4096, p_256, p_384, p_521, ed_25519", b->key_type);
	rc = be_csr_parse((const unsigned char *)b->csr, b->csr_len, 0, &p->csr, &local);
	if (rc != BE_OK)
		return be_err_set(e, rc == BE_E_TOOBIG || rc == BE_E_NOMEM ? rc : M, "csr: %s",
				  local.msg);
	p->spec = p->csr->key;
	if (b->key_type != NULL && !be_keyspec_equal(&want, &p->spec))
		return be_err_set(e, M, "key_type: %s does not match the CSR's %s key",
				  b->key_type, be_keyspec_name(&p->spec, have, sizeof(have)));
	if (!iot_key_allowed(ep, &p->spec)) {
		iot_key_list(ep, list, sizeof(list));
		return be_err_set(e, BE_E_POLICY, "the CSR's key (%s) is not allowed by "
				  "enrollment profile %s (allowed: %s)",
				  iot_keytype_name(&p->spec) != NULL ? iot_keytype_name(&p->spec) :
				  be_keyspec_name(&p->spec, have, sizeof(have)), ep->id, list);
	}
	return BE_OK;
}

static int
plan_key(const struct iot_eprofile *ep, const struct body *b, struct plan *p,
	 struct be_err *e)
{
	p->chain = b->chain;
	if (b->csr != NULL && b->ssk)
		return be_err_set(e, M, "csr and server_side_key_gen: true exclude each other");
	if (b->ssk)
		return plan_server(ep, b, p, e);
	if (b->csr == NULL)
		return be_err_set(e, M, "csr: required unless server_side_key_gen is true");
	return plan_client(ep, b, p, e);
}

/* ---------------------------------------------------------------- names and attributes */

static bool
attr_taken(const struct be_profile *p, const struct iot_attr *a)
{
	if (a->san)
		return (p->san_types & (1u << a->san_type)) != 0;
	return p->subject[a->dn] != BE_FIELD_FORBIDDEN;
}

/* Subject and SANs: those of base (CSR or certificate being renewed) with every attribute
 * the request names replaced by the request's values; then the enrollment profile's
 * required attributes must be present. */
static int
plan_names(const struct iot_eprofile *ep, const json_t *attrs, const struct be_name *bn,
	   const struct be_sans *bs, struct plan *p, struct be_err *e)
{
	const struct iot_attr *a;
	const json_t *o;
	unsigned dn_mask = 0, san_mask = 0;
	struct be_err local = { 0, "" };
	const char *id, *val;
	size_t i, j;
	int rc;

	json_array_foreach(attrs, i, o) {
		id = json_string_value(json_object_get(o, "id"));
		if ((a = iot_attr_find(id)) == NULL)
			return be_err_set(e, M, "certificate_profile_attributes[%zu].id: unknown "
					  "attribute \"%.64s\"", i, id);
		if (!attr_taken(ep->cprof, a))
			return be_err_set(e, BE_E_POLICY, "certificate_profile_attributes[%zu]: "
					  "enrollment profile %s does not take %s", i, ep->id,
					  a->id);
		if (a->san)
			san_mask |= 1u << a->san_type;
		else
			dn_mask |= 1u << a->dn;
	}
	for (i = 0; bn != NULL && i < bn->n; i++) {
		if (dn_mask & (1u << bn->v[i].attr))
			continue;
		rc = be_name_add(&p->subject, bn->v[i].attr, bn->v[i].value,
				 strlen(bn->v[i].value), e);
		if (rc != BE_OK)
			return rc;
	}
	for (i = 0; bs != NULL && i < bs->n; i++) {
		const struct be_san *s = &bs->v[i];

		if (san_mask & (1u << s->type))
			continue;
		rc = s->type == BE_SAN_IP ? be_sans_add_ip_raw(&p->sans, s->ip, s->iplen, e) :
		     be_sans_add(&p->sans, s->type, s->value, strlen(s->value), e);
		if (rc != BE_OK)
			return rc;
	}
	json_array_foreach(attrs, i, o) {
		id = json_string_value(json_object_get(o, "id"));
		val = json_string_value(json_object_get(o, "value"));
		a = iot_attr_find(id);
		be_err_clear(&local);
		rc = a->san ? be_sans_add(&p->sans, a->san_type, val, strlen(val), &local) :
		     be_name_add(&p->subject, a->dn, val, strlen(val), &local);
		if (rc != BE_OK)
			return be_err_set(e, rc == BE_E_NOMEM ? rc : M,
					  "certificate_profile_attributes[%zu] (%s): %s", i, id,
					  local.msg);
	}
	for (i = 0; i < ep->n_required; i++) {
		bool have = false;

		a = iot_attr_find(ep->required[i]);
		if (a == NULL)
			continue;
		if (!a->san)
			have = be_name_get(&p->subject, a->dn) != NULL;
		for (j = 0; a->san && j < p->sans.n && !have; j++)
			have = p->sans.v[j].type == a->san_type;
		if (!have)
			return be_err_set(e, M, "certificate_profile_attributes: %s is required by "
					  "enrollment profile %s", a->id, ep->id);
	}
	return BE_OK;
}

static bool
text_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* device_attributes: known to the enrollment profile, each once, printable text; on enroll
 * every required one present. */
static int
check_devattrs(const struct iot_eprofile *ep, const json_t *da, bool enroll, struct be_err *e)
{
	const json_t *o;
	const char *id, *val;
	size_t i, j, k;

	json_array_foreach(da, i, o) {
		id = json_string_value(json_object_get(o, "id"));
		val = json_string_value(json_object_get(o, "value"));
		for (j = 0; j < ep->n_devattrs; j++)
			if (strcmp(ep->devattrs[j].id, id) == 0)
				break;
		if (j == ep->n_devattrs)
			return be_err_set(e, M, "device_attributes[%zu].id: enrollment profile %s "
					  "has no device attribute \"%.64s\"", i, ep->id, id);
		for (k = 0; k < i; k++)
			if (strcmp(json_string_value(json_object_get(json_array_get(da, k), "id")),
				   id) == 0)
				return be_err_set(e, M, "device_attributes[%zu].id: \"%.64s\" given "
						  "twice", i, id);
		if (strlen(val) > DEVATTR_VALUE_MAX || !text_ok(val))
			return be_err_set(e, M, "device_attributes[%zu].value: at most %d "
					  "characters, no control characters", i,
					  DEVATTR_VALUE_MAX);
	}
	for (j = 0; enroll && j < ep->n_devattrs; j++) {
		bool have = false;

		if (!ep->devattrs[j].required)
			continue;
		json_array_foreach(da, i, o)
			if (strcmp(json_string_value(json_object_get(o, "id")),
				   ep->devattrs[j].id) == 0)
				have = true;
		if (!have)
			return be_err_set(e, M, "device_attributes: %s is required by enrollment "
					  "profile %s", ep->devattrs[j].id, ep->id);
	}
	return BE_OK;
}

int
iot_enroll_check(const struct iot_eprofile *ep, const unsigned char *body, size_t len,
		 struct be_err *e)
{
	struct gw_request req;
	struct body b;
	struct plan p;
	int rc;

	memset(&req, 0, sizeof(req));
	memset(&p, 0, sizeof(p));
	req.body = body;
	req.body_len = len;
	if ((rc = body_parse(&req, false, &b, e)) != BE_OK ||
	    (rc = plan_key(ep, &b, &p, e)) != BE_OK ||
	    (rc = plan_names(ep, b.attrs, p.csr != NULL ? &p.csr->subject : NULL,
			     p.csr != NULL ? &p.csr->sans : NULL, &p, e)) != BE_OK)
		goto out;
	rc = check_devattrs(ep, b.devattrs, true, e);
out:
	plan_clear(&p);
	body_free(&b);
	return rc;
}

/* ---------------------------------------------------------------- replies */

/* Serialises obj with "key": "<val escaped>" appended, into resp as a secret body, so that
 * key material never sits in jansson's (unwiped) memory. */
static int
reply_secret(struct gw_response *resp, const json_t *obj, const char *key, const char *val,
	     size_t vlen)
{
	const size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER;
	unsigned char *buf = NULL;
	size_t need, esc = 0, i, o, klen = strlen(key);
	int rc;

	resp->secret = true;
	need = json_dumpb(obj, NULL, 0, flags);
	if (need < 2)
		return BE_E_INTERNAL;
	for (i = 0; i < vlen; i++) {
		unsigned char ch = (unsigned char)val[i];

		esc += ch == '"' || ch == '\\' || ch == '\n' || ch == '\r' || ch == '\t' ? 2 :
		       ch < 0x20 ? 6 : 1;
	}
	/* prefix without '}', ',', "key":", value, "} */
	if ((buf = malloc(need + 1 + klen + 4 + esc + 3)) == NULL)
		return BE_E_NOMEM;
	if (json_dumpb(obj, (char *)buf, need, flags) != need) {
		free(buf);
		return BE_E_INTERNAL;
	}
	o = need - 1;
	if (need > 2)
		buf[o++] = ',';
	buf[o++] = '"';
	memcpy(buf + o, key, klen);
	o += klen;
	memcpy(buf + o, "\":\"", 3);
	o += 3;
	for (i = 0; i < vlen; i++) {
		unsigned char ch = (unsigned char)val[i];

		if (ch == '"' || ch == '\\') {
			buf[o++] = '\\';
			buf[o++] = ch;
		} else if (ch == '\n' || ch == '\r' || ch == '\t') {
			buf[o++] = '\\';
			buf[o++] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't';
		} else if (ch < 0x20) {
			char u[8];

			snprintf(u, sizeof(u), "\\u%04x", ch);
			memcpy(buf + o, u, 6);
			o += 6;
		} else {
			buf[o++] = ch;
		}
	}
	buf[o++] = '"';
	buf[o++] = '}';
	rc = gw_response_take(resp, 200, "application/json", buf, o);
	return rc;
}

/* base64 of d (one line) into *out, malloc()ed; the caller wipes it. */
static int
b64(const unsigned char *d, size_t len, char **out, struct be_err *e)
{
	if (be_base64_encode(d, len, 0, out) != BE_OK)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	return BE_OK;
}

static void
str_wipe_free(char *s)
{
	if (s != NULL) {
		be_memzero(s, strlen(s));
		free(s);
	}
}

/* The private_key value for the plan's format, as text (*out malloc()ed, secret).
 * RSA recipients get RSAES-PKCS1-v1_5 key transport: the seed tells users to open the P7M
 * with `openssl smime -decrypt`, whose PKCS#7 code cannot undo RSAES-OAEP (OpenSSL 3.0).
 * EC recipients get ECDH key agreement, which only `openssl cms -decrypt` opens. */
static int
encode_key(const struct plan *p, const struct be_result *res, const gnutls_datum_t *certs_pem,
	   const gnutls_datum_t *ee_pem, const struct iot_eprofile *ep, char **out,
	   struct be_err *e)
{
	gnutls_datum_t p7m = { NULL, 0 }, content;
	struct be_zip_entry ent[3];
	unsigned char *zip = NULL;
	size_t zlen = 0, n = 0;
	int rc;

	*out = NULL;
	switch (p->out) {
	case OUT_PEM:
		if ((*out = malloc(res->key_out.size + 1)) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			break;
		}
		memcpy(*out, res->key_out.data, res->key_out.size);
		(*out)[res->key_out.size] = '\0';
		rc = BE_OK;
		break;
	case OUT_DER:
		rc = b64(res->key_out.data, res->key_out.size, out, e);
		break;
	case OUT_PKCS12:
		/* be_issue left the chain out when include_certificate_chain was false. */
		rc = b64(res->key_out.data, res->key_out.size, out, e);
		break;
	case OUT_ENC:
		ent[n].name = "certificate.pem";
		ent[n].data = ee_pem->data;
		ent[n++].len = ee_pem->size;
		if (p->chain && certs_pem->size > ee_pem->size) {
			ent[n].name = "chain.pem";
			ent[n].data = certs_pem->data + ee_pem->size;
			ent[n++].len = certs_pem->size - ee_pem->size;
		}
		ent[n].name = "private_key.pem";
		ent[n].data = res->key_out.data;
		ent[n++].len = res->key_out.size;
		if ((rc = be_zip_bundle(ent, n, &zip, &zlen, e)) != BE_OK)
			break;
		content.data = zip;
		content.size = (unsigned)zlen;
		if ((rc = be_cms_envelope(&content, BE_OID_DATA, p->rcpt, BE_CMS_KT_PKCS1, &p7m,
					  e)) == BE_OK)
			rc = b64(p7m.data, p7m.size, out, e);
		break;
	case OUT_ENC_KEY:
		if ((rc = be_cms_envelope(&res->key_out, BE_OID_DATA, p->rcpt, BE_CMS_KT_PKCS1,
					  &p7m, e)) == BE_OK)
			rc = b64(p7m.data, p7m.size, out, e);
		break;
	default:
		rc = be_err_set(e, BE_E_INTERNAL, "unknown key format");
		break;
	}
	if (zip != NULL) {
		be_memzero(zip, zlen);
		free(zip);
	}
	be_datum_free(&p7m);
	return rc;
}

static void
serial_upper(const char *hex, char *buf, size_t len)
{
	size_t i;

	for (i = 0; hex[i] != '\0' && i + 1 < len; i++)
		buf[i] = hex[i] >= 'a' && hex[i] <= 'f' ? (char)(hex[i] - 'a' + 'A') : hex[i];
	buf[i] = '\0';
}

/* {certificate_request_id, status, result, certificate_id, serial_number, pem, private_key} */
static int
reply_issued(struct iot_call *c, const struct iot_eprofile *ep, const struct plan *p,
	     const struct be_result *res, struct be_err *e)
{
	gnutls_datum_t ders[17], certs_pem = { NULL, 0 }, ee_pem = { NULL, 0 };
	json_t *j = NULL;
	char *key = NULL, id[24], serial[41];
	size_t i, n = 1;
	int rc;

	if (res->pending) {
		/* The stored request's id: what any front end or the CLI approves it by. */
		snprintf(id, sizeof(id), "%lld", (long long)res->request_id);
		j = json_pack("{s:s, s:s, s:s}", "certificate_request_id", id,
			      "status", "PENDING", "result", "SUCCESS");
		if (j == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		rc = gw_response_json(c->resp, 200, j);
		goto out;
	}
	ders[0] = res->cert;
	for (i = 0; p->chain && i < res->n_chain && n < 16; i++)
		ders[n++] = res->chain[i];
	if ((rc = be_encode_pem_certs(ders, n, &certs_pem, e)) != BE_OK ||
	    (rc = be_encode_pem_certs(ders, 1, &ee_pem, e)) != BE_OK)
		goto out;
	snprintf(id, sizeof(id), "%lld", (long long)res->cert_id);
	serial_upper(res->serial_hex, serial, sizeof(serial));
	j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "certificate_request_id", c->req->id,
		      "status", "AUTO_APPROVED", "result", "SUCCESS", "certificate_id", id,
		      "serial_number", serial);
	if (j == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	/* cert_encrypted carries the certificate inside the bundle (seed); every other
	 * reply carries it in pem. */
	if (!(p->server && p->out == OUT_ENC) &&
	    json_object_set_new(j, "pem", json_stringn((const char *)certs_pem.data,
						       certs_pem.size)) != 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (!p->server) {
		rc = gw_response_json(c->resp, 200, j);
		goto out;
	}
	if ((rc = encode_key(p, res, &certs_pem, &ee_pem, ep, &key, e)) != BE_OK)
		goto out;
	rc = reply_secret(c->resp, j, "private_key", key, strlen(key));
	if (rc != BE_OK)
		be_err_set(e, rc, "cannot encode the reply");
out:
	str_wipe_free(key);
	be_datum_free(&certs_pem);
	be_datum_free(&ee_pem);
	json_decref(j);
	return rc;
}

/* ---------------------------------------------------------------- issuing */

/* What the IoT API shows with a request that waits for approval (be_request.data): the
 * enrollment profile.  The backend keeps the normalised request itself. */
static char *
plan_data(const struct iot_eprofile *ep)
{
	json_t *j = json_pack("{s:s}", "enrollment_profile_id", ep->id);
	char *s = NULL;

	if (j != NULL)
		s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

static int
issue(struct iot_call *c, const struct iot_eprofile *ep, struct plan *p, struct be_err *e)
{
	struct be_request br;
	struct be_result res;
	char *data = NULL;
	int rc;

	memset(&br, 0, sizeof(br));
	memset(&res, 0, sizeof(res));
	br.adapter = "iot";
	br.operation = c->operation;
	br.request_id = c->req->id;
	br.peer = c->req->peer;
	br.profile = ep->cprof;
	br.principal = c->auth.principal;
	br.csr = p->csr;
	br.subject = &p->subject;
	br.sans = &p->sans;
	if (p->server) {
		br.keygen = p->spec;
		br.key_syntax = p->syntax;
		br.key_fmt = p->out == OUT_DER ? BE_KEYFMT_DER :
			     p->out == OUT_PKCS12 ? BE_KEYFMT_PKCS12 : BE_KEYFMT_PEM;
		br.p12_password = p->p12pw;
		br.p12_without_chain = !p->chain;
	}
	if ((data = plan_data(ep)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	br.data = data;
	c->audited = true;
	if ((rc = be_issue(c->req->cfg->be, &br, &res, e)) != BE_OK)
		goto out;
	/* From here the certificate is recorded: a failure to encode is an error of ours,
	 * audited as such. */
	c->audited = false;
	rc = reply_issued(c, ep, p, &res, e);
out:
	be_result_clear(&res);
	free(data);
	return rc;
}

/* POST /iot/api/v1/certificate */
int
iot_op_enroll(struct iot_call *c, struct be_err *e)
{
	const struct iot_eprofile *ep;
	struct body b;
	struct plan p;
	int rc;

	memset(&p, 0, sizeof(p));
	if ((rc = body_parse(c->req, false, &b, e)) != BE_OK)
		goto out;
	if ((ep = iot_eprofile_find(c->st, b.ep_id)) == NULL) {
		rc = be_err_set(e, BE_E_NOTFOUND, "enrollment_profile_id: enrollment profile "
				"with id %.64s does not exist", b.ep_id);
		goto out;
	}
	c->profile = ep->cprof->name;
	if (c->auth.cred == IOT_CRED_PASSCODE && c->auth.passcode_ep != ep) {
		rc = be_err_set(e, BE_E_UNAUTH, "the enrollment passcode is not valid for "
				"enrollment profile %s", ep->id);
		goto out;
	}
	if (c->auth.cred == IOT_CRED_CERT_SELF) {
		rc = be_err_set(e, BE_E_UNAUTH, "client certificate \"%.128s\" is bound to no "
				"principal; it may only renew itself", c->auth.name);
		goto out;
	}
	if (!(ep->methods & IOT_METHOD_API)) {
		rc = be_err_set(e, BE_E_POLICY, "enrollment profile %s does not allow the API "
				"enrollment method", ep->id);
		goto out;
	}
	if ((rc = plan_key(ep, &b, &p, e)) != BE_OK ||
	    (rc = plan_names(ep, b.attrs, p.csr != NULL ? &p.csr->subject : NULL,
			     p.csr != NULL ? &p.csr->sans : NULL, &p, e)) != BE_OK ||
	    (rc = check_devattrs(ep, b.devattrs, true, e)) != BE_OK)
		goto out;
	rc = issue(c, ep, &p, e);
out:
	plan_clear(&p);
	body_free(&b);
	return rc;
}

/* ---------------------------------------------------------------- looking certificates up */

/* A certificate by store id (decimal, as certificate_id) or by serial (hex), not deleted. */
static int
find_cert(struct iot_call *c, const char *ref, struct be_cert_rec **out, struct be_err *e)
{
	struct be_store *st = c->req->cfg->be->store;
	size_t i, n = strlen(ref);
	bool digits = n > 0 && n <= 18;
	long long id = 0;
	int rc;

	*out = NULL;
	for (i = 0; i < n && digits; i++) {
		digits = ref[i] >= '0' && ref[i] <= '9';
		id = id * 10 + (ref[i] - '0');
	}
	if (digits)
		rc = be_store_cert_get_id(st, id, out, NULL);
	else
		rc = be_store_cert_get_serial(st, ref, out, NULL);
	if (rc == BE_E_NOTFOUND || rc == BE_E_MALFORMED || (rc == BE_OK && (*out)->deleted)) {
		be_cert_rec_free(*out);
		*out = NULL;
		return be_err_set(e, BE_E_NOTFOUND, "certificate with id %.64s does not exist",
				  ref);
	}
	if (rc != BE_OK)
		return be_err_set(e, rc, "the store failed to look certificate %.64s up", ref);
	return BE_OK;
}

/* The configured profile's name (it outlives the request), or NULL. */
static const char *
profile_name(const struct iot_call *c, const char *name)
{
	const struct be_profile *p = be_ctx_profile(c->req->cfg->be, name);

	return p != NULL ? p->name : NULL;
}

static bool
is_admin(const struct iot_call *c)
{
	return (c->auth.principal.roles & (BE_ROLE_CA_ADMIN | BE_ROLE_RO_ADMIN)) != 0;
}

static bool
is_own(const struct iot_call *c, const struct be_cert_rec *rec)
{
	return rec->principal != NULL && strcmp(rec->principal, c->auth.principal.name) == 0;
}

/* Administrators see every certificate, anyone else the ones issued to them. */
static int
find_visible(struct iot_call *c, const char *ref, struct be_cert_rec **out, struct be_err *e)
{
	int rc = find_cert(c, ref, out, e);

	if (rc != BE_OK)
		return rc;
	c->profile = profile_name(c, (*out)->profile);
	if (!is_admin(c) && !is_own(c, *out)) {
		be_cert_rec_free(*out);
		*out = NULL;
		c->profile = NULL;
		return be_err_set(e, BE_E_NOTFOUND, "certificate with id %.64s does not exist",
				  ref);
	}
	return BE_OK;
}

static const char *
reason_name(int r)
{
	static const char *const names[] = {
		"unspecified", "key_compromise", "ca_compromise", "affiliation_changed",
		"superseded", "cessation_of_operation", "certificate_hold", "unknown",
		"remove_from_crl", "privilege_withdrawn", "aa_compromise",
	};

	return r >= 0 && r <= 10 ? names[r] : "unknown";
}

static const char *
status_name(const struct be_cert_rec *rec, time_t now)
{
	if (rec->status == BE_CERT_REVOKED)
		return "REVOKED";
	if (rec->status == BE_CERT_HOLD)
		return "SUSPENDED";
	return rec->not_after < (int64_t)now ? "EXPIRED" : "ISSUED";
}

static void
iso_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
}

/* A certificate record as the API shows it; pem only when asked. */
static json_t *
record_json(const struct iot_state *st, const struct be_cert_rec *rec, bool pem)
{
	const struct iot_eprofile *ep = iot_eprofile_of(st, rec->profile);
	struct be_name subj = { NULL, 0 };
	struct be_sans sans = { NULL, 0 };
	gnutls_datum_t text = { NULL, 0 };
	json_t *o = NULL, *dns = NULL;
	char id[24], serial[41], nb[32], na[32], at[32], rv[32];
	time_t now = time(NULL);
	size_t i;

	snprintf(id, sizeof(id), "%lld", (long long)rec->id);
	serial_upper(rec->serial, serial, sizeof(serial));
	iso_time(rec->not_before, nb, sizeof(nb));
	iso_time(rec->not_after, na, sizeof(na));
	iso_time(rec->issued_at, at, sizeof(at));
	/* Our own certificates; a record that no longer parses still lists, without names. */
	(void)be_cert_names(&rec->der, &subj, &sans, NULL, NULL);
	if ((dns = json_array()) == NULL)
		goto out;
	for (i = 0; i < sans.n; i++)
		if (sans.v[i].type == BE_SAN_DNS)
			json_array_append_new(dns, json_string(sans.v[i].value));
	o = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:o, s:s?, s:s, s:s, s:s, s:O}",
		      "id", id, "serial_number", serial, "status", status_name(rec, now),
		      "common_name", be_name_get(&subj, BE_DN_CN), "subject", rec->subject,
		      "enrollment_profile", ep != NULL ?
		      json_pack("{s:s, s:s}", "id", ep->id, "name", ep->name) : json_null(),
		      "certificate_profile", rec->profile,
		      "valid_from", nb, "valid_to", na, "created_at", at, "dns_names", dns);
	if (o == NULL)
		goto out;
	if (rec->status != BE_CERT_VALID) {
		iso_time(rec->revoked_at, rv, sizeof(rv));
		json_object_set_new(o, "revocation_date", json_string(rv));
		json_object_set_new(o, "revocation_reason", json_string(reason_name(rec->reason)));
	}
	if (pem && be_encode_pem_certs(&rec->der, 1, &text, NULL) == BE_OK)
		json_object_set_new(o, "pem", json_stringn((const char *)text.data, text.size));
out:
	json_decref(dns);
	be_datum_free(&text);
	be_name_clear(&subj);
	be_sans_clear(&sans);
	return o;
}

/* GET /iot/api/v1/certificate/{id or serial} */
int
iot_op_get(struct iot_call *c, const char *ref, struct be_err *e)
{
	struct be_cert_rec *rec = NULL;
	json_t *j = NULL;
	int rc;

	if ((rc = find_visible(c, ref, &rec, e)) != BE_OK)
		goto out;
	if ((j = record_json(c->st, rec, true)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	rc = gw_response_json(c->resp, 200, j);
out:
	json_decref(j);
	be_cert_rec_free(rec);
	return rc;
}

/* A query argument as a decimal number within [0, max]. */
static int
arg_uint(const struct gw_request *req, const char *name, size_t def, size_t min, size_t max,
	 size_t *out, struct be_err *e)
{
	const char *s = gw_request_arg(req, name);
	size_t v = 0, i, n;

	*out = def;
	if (s == NULL)
		return BE_OK;
	n = strlen(s);
	if (n == 0 || n > 9)
		return be_err_set(e, M, "%s: must be a number from %zu to %zu", name, min, max);
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return be_err_set(e, M, "%s: must be a number from %zu to %zu", name, min,
					  max);
		v = v * 10 + (size_t)(s[i] - '0');
	}
	if (v < min || v > max)
		return be_err_set(e, M, "%s: must be a number from %zu to %zu", name, min, max);
	*out = v;
	return BE_OK;
}

/* GET /iot/api/v1/certificate?serial_number=&enrollment_profile_id=&status=&offset=&limit= */
int
iot_op_search(struct iot_call *c, struct be_err *e)
{
	const char *serial = gw_request_arg(c->req, "serial_number");
	const char *epid = gw_request_arg(c->req, "enrollment_profile_id");
	const char *status = gw_request_arg(c->req, "status");
	const struct iot_eprofile *ep;
	struct be_cert_filter f;
	struct be_cert_rec *recs = NULL;
	struct be_err local = { 0, "" };
	size_t n = 0, total = 0, i;
	json_t *j = NULL, *arr = NULL;
	time_t now = time(NULL);
	int rc;

	memset(&f, 0, sizeof(f));
	f.status = -1;
	if ((rc = arg_uint(c->req, "offset", 0, 0, 100000000, &f.offset, e)) != BE_OK ||
	    (rc = arg_uint(c->req, "limit", SEARCH_LIMIT_DEFAULT, 1, SEARCH_LIMIT_MAX, &f.limit,
			   e)) != BE_OK)
		goto out;
	if (serial != NULL && serial[0] != '\0')
		f.serial = serial;
	if (epid != NULL && epid[0] != '\0') {
		if ((ep = iot_eprofile_find(c->st, epid)) == NULL) {
			rc = be_err_set(e, M, "enrollment_profile_id: enrollment profile with id "
					"%.64s does not exist", epid);
			goto out;
		}
		f.profile = ep->cprof->name;
		c->profile = f.profile;
	}
	if (status != NULL && status[0] != '\0') {
		if (strcmp(status, "ISSUED") == 0) {
			f.status = BE_CERT_VALID;
			f.valid_after = now;
		} else if (strcmp(status, "EXPIRED") == 0) {
			f.status = BE_CERT_VALID;
			f.expired_before = now;
		} else if (strcmp(status, "REVOKED") == 0) {
			f.status = BE_CERT_REVOKED;
		} else if (strcmp(status, "SUSPENDED") == 0) {
			f.status = BE_CERT_HOLD;
		} else {
			rc = be_err_set(e, M, "status: must be ISSUED, REVOKED, EXPIRED or "
					"SUSPENDED");
			goto out;
		}
	}
	if (!is_admin(c))
		f.principal = c->auth.principal.name;
	rc = be_store_cert_list(c->req->cfg->be->store, &f, &recs, &n, &total, &local);
	if (rc != BE_OK) {
		rc = be_err_set(e, rc, "%s%s", rc == BE_E_MALFORMED ? "serial_number: " : "",
				local.msg);
		goto out;
	}
	if ((arr = json_array()) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (json_array_append_new(arr, record_json(c->st, &recs[i], false)) != 0) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
	}
	j = json_pack("{s:I, s:I, s:I, s:O}", "total", (json_int_t)total,
		      "offset", (json_int_t)f.offset, "limit", (json_int_t)f.limit,
		      "records", arr);
	if (j == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	rc = gw_response_json(c->resp, 200, j);
out:
	json_decref(arr);
	json_decref(j);
	be_cert_recs_free(recs, n);
	return rc;
}

/* ---------------------------------------------------------------- renew and revoke */

/* Who may renew rec: an administrator (CA) or the principal it was issued to (API key or
 * certificate), the holder of its enrollment profile's passcode, or the certificate itself
 * presented as the TLS client certificate. */
static int
renew_allowed(struct iot_call *c, const struct be_cert_rec *rec, const struct iot_eprofile *ep,
	      struct be_err *e)
{
	bool self = c->auth.leaf_serial[0] != '\0' &&
		    strcmp(c->auth.leaf_serial, rec->serial) == 0 &&
		    c->req->peer_certs[0].size == rec->der.size &&
		    memcmp(c->req->peer_certs[0].data, rec->der.data, rec->der.size) == 0;

	switch (c->auth.cred) {
	case IOT_CRED_PASSCODE:
		if (c->auth.passcode_ep != ep)
			return be_err_set(e, BE_E_UNAUTH, "the enrollment passcode is not valid "
					  "for enrollment profile %s", ep->id);
		return BE_OK;
	case IOT_CRED_CERT_SELF:
		if (!self)
			return be_err_set(e, BE_E_FORBIDDEN, "a client certificate bound to no "
					  "principal renews only itself");
		return BE_OK;
	case IOT_CRED_CERT:
		if (!self && !is_own(c, rec))
			return be_err_set(e, BE_E_FORBIDDEN, "%s may not renew certificate %lld",
					  c->auth.name, (long long)rec->id);
		return BE_OK;
	case IOT_CRED_API_KEY:
	default:
		if ((c->auth.principal.roles & BE_ROLE_CA_ADMIN) || is_own(c, rec))
			return BE_OK;
		if (is_admin(c))
			return be_err_set(e, BE_E_FORBIDDEN, "%s may not renew certificate %lld",
					  c->auth.name, (long long)rec->id);
		return be_err_set(e, BE_E_NOTFOUND, "certificate with id %lld does not exist",
				  (long long)rec->id);
	}
}

/* POST or PUT /iot/api/v1/certificate/{id or serial}/renew: a new certificate with the
 * subject and SANs of the old one (attributes the request names replaced), for a new CSR
 * or a server-generated key. */
int
iot_op_renew(struct iot_call *c, const char *ref, struct be_err *e)
{
	const struct iot_eprofile *ep;
	struct be_cert_rec *rec = NULL;
	struct be_name old_n = { NULL, 0 };
	struct be_sans old_s = { NULL, 0 };
	struct be_err local = { 0, "" };
	struct body b;
	struct plan p;
	int rc;

	memset(&p, 0, sizeof(p));
	memset(&b, 0, sizeof(b));
	if ((rc = find_cert(c, ref, &rec, e)) != BE_OK)
		goto out;
	c->profile = profile_name(c, rec->profile);
	if ((ep = iot_eprofile_of(c->st, rec->profile)) == NULL) {
		rc = be_err_set(e, BE_E_STATE, "certificate %lld was issued under profile %s, "
				"which no enrollment profile uses", (long long)rec->id,
				rec->profile);
		goto out;
	}
	if ((rc = renew_allowed(c, rec, ep, e)) != BE_OK ||
	    (rc = body_parse(c->req, true, &b, e)) != BE_OK)
		goto out;
	if (b.ep_id != NULL && strcmp(b.ep_id, ep->id) != 0) {
		rc = be_err_set(e, M, "enrollment_profile_id: certificate %lld belongs to "
				"enrollment profile %s", (long long)rec->id, ep->id);
		goto out;
	}
	if (rec->status != BE_CERT_VALID) {
		rc = be_err_set(e, BE_E_STATE, "certificate %lld is %s and cannot be renewed",
				(long long)rec->id, be_cert_status_name(rec->status));
		goto out;
	}
	if (rec->not_after < (int64_t)time(NULL)) {
		rc = be_err_set(e, BE_E_STATE, "certificate %lld has expired and cannot be "
				"renewed; enroll anew", (long long)rec->id);
		goto out;
	}
	if (!(ep->methods & IOT_METHOD_API)) {
		rc = be_err_set(e, BE_E_POLICY, "enrollment profile %s does not allow the API "
				"enrollment method", ep->id);
		goto out;
	}
	if ((rc = be_cert_names(&rec->der, &old_n, &old_s, NULL, &local)) != BE_OK) {
		rc = be_err_set(e, BE_E_STATE, "certificate %lld: %s", (long long)rec->id,
				local.msg);
		goto out;
	}
	if ((rc = plan_key(ep, &b, &p, e)) != BE_OK ||
	    (rc = plan_names(ep, b.attrs, &old_n, &old_s, &p, e)) != BE_OK ||
	    (rc = check_devattrs(ep, b.devattrs, false, e)) != BE_OK)
		goto out;
	rc = issue(c, ep, &p, e);
out:
	be_name_clear(&old_n);
	be_sans_clear(&old_s);
	plan_clear(&p);
	body_free(&b);
	be_cert_rec_free(rec);
	return rc;
}

/* PUT /iot/api/v1/certificate/{id or serial}/revoke {reason, comments}: 204. */
int
iot_op_revoke(struct iot_call *c, const char *ref, struct be_err *e)
{
	static const char *const keys[] = { "reason", "comments", "revocation_date", NULL };
	static const struct {
		const char *name;
		int code;
	} reasons[] = {
		{ "unspecified", 0 }, { "key_compromise", 1 }, { "ca_compromise", 2 },
		{ "affiliation_changed", 3 }, { "superseded", 4 },
		{ "cessation_of_operation", 5 }, { "certificate_hold", 6 },
		{ "privilege_withdrawn", 9 }, { "aa_compromise", 10 },
	};
	struct be_cert_rec *rec = NULL;
	struct be_op_ctx op;
	json_t *root = NULL;
	const char *reason = NULL, *comments = NULL;
	size_t i;
	int rc, code = -1;

	if ((rc = find_visible(c, ref, &rec, e)) != BE_OK)
		goto out;
	if (!(c->auth.principal.roles & BE_ROLE_CA_ADMIN) && !is_own(c, rec)) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "%s may not revoke certificate %lld",
				c->auth.name, (long long)rec->id);
		goto out;
	}
	if (c->req->body_len == 0) {
		rc = be_err_set(e, M, "request body: a JSON object with reason is required");
		goto out;
	}
	if ((rc = be_json_parse((const char *)c->req->body, c->req->body_len, "request body",
				M, &root, e)) != BE_OK ||
	    (rc = be_json_keys(root, "", keys, M, e)) != BE_OK ||
	    (rc = be_json_str(root, "", "reason", true, &reason, M, e)) != BE_OK ||
	    (rc = be_json_str(root, "", "comments", false, &comments, M, e)) != BE_OK)
		goto out;
	if (json_object_get(root, "revocation_date") != NULL) {
		rc = be_err_set(e, M, "revocation_date: not supported; certificates are revoked "
				"as of the request");
		goto out;
	}
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(reason, reasons[i].name) == 0)
			code = reasons[i].code;
	if (code < 0) {
		rc = be_err_set(e, M, "reason: must be unspecified, key_compromise, "
				"ca_compromise, affiliation_changed, superseded, "
				"cessation_of_operation, certificate_hold, privilege_withdrawn or "
				"aa_compromise");
		goto out;
	}
	iot_op_ctx(c, &op);
	c->audited = true;
	if ((rc = be_cert_revoke(c->req->cfg->be, &op, rec->serial, code, e)) != BE_OK)
		goto out;
	rc = gw_response_set(c->resp, 204, NULL, NULL, 0);
out:
	json_decref(root);
	be_cert_rec_free(rec);
	return rc;
}
