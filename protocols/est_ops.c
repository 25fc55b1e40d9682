/*
 * EST operations (RFC 7030 section 4, RFC 8951): each authenticates, parses the body once
 * with the backend, fills one be_request, calls be_issue() and encodes the reply.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "be_buf.h"
#include "be_cert.h"
#include "be_presented.h"
#include "est.h"

#define CT_CERTS_ONLY "application/pkcs7-mime; smime-type=certs-only"	/* RFC 7030 4.2.3 */
#define CT_SERVER_KEY "application/pkcs7-mime; smime-type=server-generated-key" /* 4.4.2 */

/* ---------------------------------------------------------------- cacerts, csrattrs */

/* RFC 7030 4.1: the issuing CA of the profile and its chain, certs-only, no auth. */
int
est_op_cacerts(struct est_call *c)
{
	const struct be_ca *ca = c->profile->ca;
	gnutls_datum_t p7 = { NULL, 0 };
	struct be_err e = { 0, "" };
	int rc;

	if ((rc = be_encode_pkcs7_certs(ca->chain, ca->n_chain, &p7, &e)) != BE_OK) {
		rc = est_fail(c, &e, NULL, false);
		goto out;
	}
	/* RFC 7030 4.1.3: "application/pkcs7-mime" */
	rc = est_reply_base64(c, "application/pkcs7-mime", p7.data, p7.size, false);
out:
	be_datum_free(&p7);
	return rc;
}

/* RFC 7030 4.5: what the profile wants in a CSR, no auth; 204 when it wants nothing. */
int
est_op_csrattrs(struct est_call *c)
{
	gnutls_datum_t der = { NULL, 0 };
	struct be_err e = { 0, "" };
	int rc;

	if ((rc = be_csrattrs_encode(c->profile, &der, &e)) != BE_OK) {
		rc = est_fail(c, &e, NULL, false);
		goto out;
	}
	if (der.size == 0) {
		rc = gw_response_set(c->resp, 204, NULL, NULL, 0);
		goto out;
	}
	rc = est_reply_base64(c, "application/csrattrs", der.data, der.size, false);
out:
	be_datum_free(&der);
	return rc;
}

/* ---------------------------------------------------------------- request checks */

/* True when the Content-Type value's media type (before any parameter) is want,
 * compared case-insensitively (RFC 9110 8.3.1). */
static bool
media_type_is(const char *v, const char *want)
{
	size_t len;

	if (v == NULL)
		return false;
	while (*v == ' ' || *v == '\t')
		v++;
	len = strcspn(v, ";");
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	return len == strlen(want) && strncasecmp(v, want, len) == 0;
}

/* RFC 7030 4.2.2: the TLS client certificate is the certificate being renewed.  It must be
 * one the profile's CA issued, within its validity, recorded in the store, valid there
 * (not revoked, not on hold, not deleted) and issued under this profile; the principal
 * who enrolled it renews it.  Fills *who (borrowed from the configuration), *subject and
 * *sans (the certificate's names).  Answers and returns a negative code on refusal. */
static int
reenroll_authenticate(struct est_call *c, struct be_principal *who, struct be_name *subject,
		      struct be_sans *sans)
{
	const struct gw_request *req = c->req;
	const struct be_ca *ca = c->profile->ca;
	const struct gw_principal *owner = NULL;
	const gnutls_datum_t *chain;
	struct be_cert_rec *rec = NULL;
	struct be_err e = { 0, "" }, le = { 0, "" };
	char serial[41];
	size_t n;
	int rc;

	who->name = NULL;
	who->roles = 0;
	if (!est_channel_secure(req)) {
		rc = be_err_set(&e, BE_E_FORBIDDEN, "RFC 7030 3.2.3: simplereenroll needs TLS "
				"(HTTPS)");
		goto out;
	}
	chain = est_client_chain(req, &n);
	if (n == 0) {
		rc = be_err_set(&e, gw_request_header(req, "Authorization") != NULL ?
				BE_E_FORBIDDEN : BE_E_UNAUTH,
				"RFC 7030 4.2.2: simplereenroll authenticates with the TLS client "
				"certificate being renewed; none was presented");
		goto out;
	}
	/* Ours, valid now, recorded, not revoked, on hold or deleted (be_presented.h). */
	rc = be_presented_check(req->cfg->be, ca, &chain[0], time(NULL), &rec, NULL, &e);
	if (rc == BE_E_NOTFOUND || rc == BE_E_MALFORMED) {
		snprintf(le.msg, sizeof(le.msg), "%s", e.msg);
		be_err_clear(&e);
		rc = be_err_set(&e, BE_E_FORBIDDEN, "%s", le.msg);
	}
	if (rc != BE_OK)
		goto out;
	snprintf(serial, sizeof(serial), "%s", rec->serial);
	if (rec->profile == NULL || strcmp(rec->profile, c->profile->name) != 0) {
		rc = be_err_set(&e, BE_E_FORBIDDEN, "client certificate %s was issued under "
				"profile %s, not %s", serial,
				rec->profile != NULL ? rec->profile : "(none)", c->profile->name);
		goto out;
	}
	if (rec->principal != NULL)
		owner = gw_config_principal(req->cfg, rec->principal);
	if (owner == NULL) {
		rc = be_err_set(&e, BE_E_FORBIDDEN, "client certificate %s was enrolled by %s, "
				"which is not a configured principal", serial,
				rec->principal != NULL ? rec->principal : "nobody");
		goto out;
	}
	if ((rc = be_cert_names(&chain[0], subject, sans, NULL, &le)) != BE_OK) {
		rc = be_err_set(&e, BE_E_FORBIDDEN, "client certificate: %s", le.msg);
		goto out;
	}
	who->name = owner->name;
	who->roles = owner->roles;
	rc = BE_OK;
out:
	if (rc != BE_OK)
		est_fail(c, &e, NULL, true);
	be_cert_rec_free(rec);
	return rc;
}

/* RFC 7030 3.5: the CSR's challengePassword must be the base64 (RFC 4648) of the TLS
 * channel binding of this connection: tls-unique (RFC 5929) on TLS 1.2, tls-exporter
 * (RFC 9266) on TLS 1.3.  Type is checked by be_csr_parse (a DirectoryString), then the
 * length, then the bytes in constant time. */
static int
pop_check(const struct est_call *c, const struct be_csr *csr, struct be_err *e)
{
	const struct gw_request *req = c->req;
	char *want = NULL;
	size_t wlen;
	int rc;

	if (req->binding_len == 0) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "RFC 7030 3.5: profile %s links the CSR to the "
				"TLS session, and this connection has no channel binding (not "
				"certgate's own TLS, e.g. behind a TLS-terminating proxy)",
				c->profile->name);
		goto out;
	}
	if (!csr->has_challenge) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "RFC 7030 3.5: profile %s needs the base64 "
				"TLS channel binding (tls-unique on TLS 1.2, tls-exporter on "
				"TLS 1.3) in the CSR's challengePassword; it has none",
				c->profile->name);
		goto out;
	}
	if ((rc = be_base64_encode(req->binding, req->binding_len, 0, &want)) != BE_OK) {
		rc = be_err_set(e, rc, "out of memory");
		goto out;
	}
	wlen = strlen(want);
	if (csr->challenge_len != wlen) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "RFC 7030 3.5: challengePassword is %zu "
				"octets; the base64 channel binding of this TLS connection is %zu",
				csr->challenge_len, wlen);
		goto out;
	}
	if (!be_ct_equal(csr->challenge, csr->challenge_len, want, wlen)) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "RFC 7030 3.5: challengePassword is not the "
				"channel binding of this TLS connection");
		goto out;
	}
	rc = BE_OK;
out:
	if (want != NULL) {
		be_memzero(want, strlen(want));
		free(want);
	}
	return rc;
}

static void
hex_text(const unsigned char *p, size_t n, char *out, size_t cap)
{
	static const char hx[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < n && o + 3 < cap; i++) {
		out[o++] = hx[p[i] >> 4];
		out[o++] = hx[p[i] & 15];
	}
	if (i < n && o + 3 < cap)
		out[o++] = '.';
	out[o] = '\0';
}

/* RFC 7030 4.4.1.1 / 4.4.1.2: the key a DecryptKeyIdentifier or
 * AsymmetricDecryptKeyIdentifier names; *out NULL when the CSR names none.  An unknown
 * identifier is refused here, before any key is generated. */
static int
decrypt_key_find(const struct est_call *c, const struct be_csr *csr,
		 const struct est_decrypt_key **out, struct be_err *e)
{
	const unsigned char *id;
	size_t i, len;
	bool asym;
	char hex[80];

	*out = NULL;
	if (csr->decrypt_key_id != NULL && csr->asym_decrypt_key_id != NULL)
		return be_err_set(e, BE_E_MALFORMED, "RFC 7030 4.4.1: the CSR carries both a "
				  "DecryptKeyIdentifier and an AsymmetricDecryptKeyIdentifier");
	if (csr->decrypt_key_id == NULL && csr->asym_decrypt_key_id == NULL)
		return BE_OK;
	asym = csr->asym_decrypt_key_id != NULL;
	id = asym ? csr->asym_decrypt_key_id : csr->decrypt_key_id;
	len = asym ? csr->asym_decrypt_key_id_len : csr->decrypt_key_id_len;
	for (i = 0; i < c->st->n_keys; i++) {
		const struct est_decrypt_key *k = &c->st->keys[i];

		if ((k->recipient != NULL) == asym && be_ct_equal(k->id, k->id_len, id, len)) {
			*out = k;
			break;
		}
	}
	if (*out == NULL) {
		hex_text(id, len, hex, sizeof(hex));
		return be_err_set(e, BE_E_MALFORMED, "RFC 7030 %s: %s %s names no key this "
				  "server holds; no key was generated", asym ? "4.4.1.2" : "4.4.1.1",
				  asym ? "AsymmetricDecryptKeyIdentifier" : "DecryptKeyIdentifier",
				  hex);
	}
	if (!(c->profile->outputs & BE_OUT_CMS))
		return be_err_set(e, BE_E_POLICY, "profile %s does not return keys in CMS",
				  c->profile->name);
	return BE_OK;
}

/* What EST shows with a pending request (be_request.data): the label it came through.  The
 * backend keeps the normalised request itself and matches retries on its meaning. */
static char *
request_data(const struct est_call *c)
{
	json_t *j = json_pack("{s:s?}", "label", c->label);
	char *text = NULL;

	if (j != NULL)
		text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return text;
}

/* ---------------------------------------------------------------- replies */

/* One body part (RFC 2046 5.1.1): its headers (CRLF), the base64 of der (LF lines, as in
 * single-part replies), then the CRLF that belongs to the next delimiter. */
static int
buf_part(struct be_buf *b, const char *boundary, const char *ct, const gnutls_datum_t *der)
{
	char *text = NULL;
	size_t tlen = 0;
	int rc;

	if ((rc = est_base64_lines(der->data, der->size, &text, &tlen)) != BE_OK)
		goto out;
	if ((rc = be_buf_str(b, "--")) != BE_OK || (rc = be_buf_str(b, boundary)) != BE_OK ||
	    (rc = be_buf_str(b, "\r\nContent-Type: ")) != BE_OK ||
	    (rc = be_buf_str(b, ct)) != BE_OK ||
	    (rc = be_buf_str(b, "\r\nContent-Transfer-Encoding: base64\r\n\r\n")) != BE_OK ||
	    (rc = be_buf_add(b, text, tlen)) != BE_OK || (rc = be_buf_str(b, "\r\n")) != BE_OK)
		goto out;
out:
	if (text != NULL) {
		be_memzero(text, tlen);
		free(text);
	}
	return rc;
}

/* RFC 7030 4.4.2: the key as RFC 5958 AsymmetricKeyPackage in SignedData (signed by the
 * generator: certgate's signer, see est.c) in EnvelopedData to the named key. */
static int
key_cms(const struct est_call *c, const struct est_decrypt_key *k, gnutls_x509_privkey_t key,
	gnutls_datum_t *out, struct be_err *e)
{
	gnutls_datum_t kp = { NULL, 0 }, sd = { NULL, 0 };
	int rc;

	if ((rc = be_cms_key_package(key, &kp, e)) != BE_OK ||
	    (rc = be_cms_sign(&kp, BE_OID_KEY_PACKAGE, &c->st->signer->cert, c->st->signer->key,
			      &sd, e)) != BE_OK)
		goto out;
	if (k->recipient != NULL)
		rc = be_cms_envelope(&sd, BE_OID_SIGNED_DATA, k->recipient, k->kt, out, e);
	else
		rc = be_cms_envelope_kek(&sd, BE_OID_SIGNED_DATA, k->kek, k->kek_len, k->id,
					 k->id_len, out, e);
out:
	be_datum_wipe(&kp);
	be_datum_wipe(&sd);
	return rc;
}

/* RFC 7030 4.4.2: multipart/mixed, the key first, then the certificate. */
static int
reply_keygen(struct est_call *c, const struct est_decrypt_key *k, const struct be_result *res,
	     struct be_err *e)
{
	struct be_buf b = { NULL, 0, 0, 0, true };
	gnutls_datum_t keyder = { NULL, 0 }, p7 = { NULL, 0 };
	unsigned char rnd[12];
	char boundary[48], ct[96];
	size_t i;
	int rc;

	if (k != NULL) {
		if ((rc = key_cms(c, k, res->key, &keyder, e)) != BE_OK)
			goto out;
	}
	if ((rc = be_encode_pkcs7_certs(&res->cert, 1, &p7, e)) != BE_OK)
		goto out;
	if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "no random boundary");
		goto out;
	}
	memcpy(boundary, "certgate-est-", 13);
	hex_text(rnd, sizeof(rnd), boundary + 13, sizeof(boundary) - 13);
	if ((rc = buf_part(&b, boundary, k != NULL ? CT_SERVER_KEY : "application/pkcs8",
			   k != NULL ? &keyder : &res->key_out)) != BE_OK ||
	    (rc = buf_part(&b, boundary, CT_CERTS_ONLY, &p7)) != BE_OK ||
	    (rc = be_buf_str(&b, "--")) != BE_OK || (rc = be_buf_str(&b, boundary)) != BE_OK ||
	    (rc = be_buf_str(&b, "--\r\n")) != BE_OK) {
		rc = be_err_set(e, rc, "out of memory");
		goto out;
	}
	snprintf(ct, sizeof(ct), "multipart/mixed; boundary=%s", boundary);
	c->resp->secret = true;
	rc = gw_response_take(c->resp, 200, ct, b.p, b.len);
	b.p = NULL;
	if (rc != 0)
		rc = be_err_set(e, rc, "out of memory");
out:
	be_buf_free(&b);
	for (i = 0; i < sizeof(rnd); i++)
		rnd[i] = 0;
	be_datum_free(&keyder);
	be_datum_free(&p7);
	return rc;
}

/* ---------------------------------------------------------------- simpleenroll & co */

/* RFC 7030 4.2 simpleenroll, 4.2.2 simplereenroll, 4.4 serverkeygen. */
int
est_op_enroll(struct est_call *c)
{
	struct gw_request *req = c->req;
	struct be_principal who = { NULL, 0 };
	struct be_name cert_subject = { NULL, 0 };
	struct be_sans cert_sans = { NULL, 0 };
	struct be_csr *csr = NULL;
	const struct est_decrypt_key *dk = NULL;
	struct be_request breq;
	struct be_result res;
	struct be_err e = { 0, "" };
	gnutls_datum_t p7 = { NULL, 0 };
	char *data = NULL, *s1 = NULL, *s2 = NULL;
	char ra[16];
	bool keygen = c->op == EST_OP_SERVERKEYGEN;
	int rc;

	memset(&breq, 0, sizeof(breq));
	memset(&res, 0, sizeof(res));
	if (c->op == EST_OP_SIMPLEREENROLL)
		rc = reenroll_authenticate(c, &who, &cert_subject, &cert_sans);
	else
		rc = est_authenticate(c, &who, &e);
	if (rc != 0) {
		rc = 0;			/* answered */
		goto out;
	}
	if ((c->resp->principal = strdup(who.name)) == NULL) {
		rc = BE_E_NOMEM;
		goto out;
	}

	/* RFC 7030 4.2.1: application/pkcs10, parameters allowed (RFC 9110 8.3.1). */
	if (!media_type_is(gw_request_header(req, "Content-Type"), "application/pkcs10")) {
		rc = est_fail_status(c, 415, who.name, true, "RFC 7030 4.2.1: the request must be "
				     "application/pkcs10 (a base64 PKCS#10 CSR)");
		goto out;
	}
	if (req->body_len == 0) {
		rc = est_fail_msg(c, BE_E_MALFORMED, who.name, true, "RFC 7030 4.2.1: the body "
				  "must be a base64-encoded PKCS#10 CSR; it is empty");
		goto out;
	}
	/* RFC 8951 3: base64 with or without line breaks; Content-Transfer-Encoding ignored.
	 * RFC 7030 4.4.1: serverkeygen ignores the CSR's key and signature. */
	if ((rc = be_csr_parse(req->body, req->body_len, keygen ? BE_CSR_NO_VERIFY : 0, &csr,
			       &e)) != BE_OK) {
		rc = est_fail(c, &e, who.name, true);
		goto out;
	}
	if (c->op == EST_OP_SIMPLEREENROLL) {
		/* RFC 7030 4.2.2: Subject and SubjectAltName identical to the certificate's */
		if (!be_name_equal(&csr->subject, &cert_subject)) {
			s1 = be_name_to_string(&csr->subject);
			s2 = be_name_to_string(&cert_subject);
			rc = est_fail_msg(c, BE_E_FORBIDDEN, who.name, true, "RFC 7030 4.2.2: the "
					  "CSR's Subject \"%s\" differs from the certificate's \"%s\"",
					  s1 != NULL ? s1 : "?", s2 != NULL ? s2 : "?");
			goto out;
		}
		if (!be_sans_equal(&csr->sans, &cert_sans)) {
			rc = est_fail_msg(c, BE_E_FORBIDDEN, who.name, true, "RFC 7030 4.2.2: the "
					  "CSR's SubjectAltName differs from the certificate's");
			goto out;
		}
	}
	if (c->profile->pop_linking && (rc = pop_check(c, csr, &e)) != BE_OK) {
		rc = est_fail(c, &e, who.name, true);
		goto out;
	}
	if (keygen && (rc = decrypt_key_find(c, csr, &dk, &e)) != BE_OK) {
		rc = est_fail(c, &e, who.name, true);
		goto out;
	}
	if ((data = request_data(c)) == NULL) {
		rc = BE_E_NOMEM;
		goto out;
	}

	breq.adapter = "est";
	breq.operation = c->op_name;
	breq.request_id = req->id;
	breq.peer = req->peer;
	breq.profile = c->profile;
	breq.principal = who;
	breq.data = data;
	if (keygen) {
		/* The CSR names the subject and, by its key, the key type wanted when the
		 * profile allows that type; else the profile's default. */
		breq.subject = &csr->subject;
		breq.sans = &csr->sans;
		if (be_profile_key_allowed(c->profile, &csr->key))
			breq.keygen = csr->key;
		/* Its key is never certified, but tells a retry of this request apart. */
		breq.match_pubkey = csr->pubkey;
		/* RFC 7030 4.4.2: encrypted to a decrypt key, or PKCS#8 in the clear. */
		breq.key_fmt = dk != NULL ? BE_KEYFMT_CMS : BE_KEYFMT_DER;
		breq.key_syntax = BE_KEY_PKCS8;
	} else {
		breq.csr = csr;
	}
	if ((rc = be_issue(req->cfg->be, &breq, &res, &e)) != BE_OK) {
		rc = est_fail(c, &e, who.name, false);
		goto out;
	}
	if (res.pending) {
		/* RFC 7030 4.2.3: 202 with Retry-After; the client repeats the same request. */
		snprintf(ra, sizeof(ra), "%u", c->st->retry_after);
		if ((rc = gw_response_text(c->resp, 202, "request %lld waits for approval; send "
					   "the same request again after it is approved",
					   (long long)res.request_id)) == 0)
			rc = gw_response_header(c->resp, "Retry-After", ra);
		goto out;
	}
	if (keygen) {
		if (res.key == NULL) {
			rc = est_fail_msg(c, BE_E_STATE, who.name, false, "request %lld was issued "
					  "already and its server-generated key delivered; send a "
					  "new request", (long long)res.request_id);
			goto out;
		}
		if ((rc = reply_keygen(c, dk, &res, &e)) != BE_OK)
			rc = est_fail(c, &e, who.name, false);
		goto out;
	}
	/* RFC 7030 4.2.3: certs-only with the issued certificate */
	if ((rc = be_encode_pkcs7_certs(&res.cert, 1, &p7, &e)) != BE_OK) {
		rc = est_fail(c, &e, who.name, false);
		goto out;
	}
	rc = est_reply_base64(c, CT_CERTS_ONLY, p7.data, p7.size, false);
out:
	be_datum_free(&p7);
	be_result_clear(&res);
	be_csr_free(csr);
	be_name_clear(&cert_subject);
	be_sans_clear(&cert_sans);
	free(data);
	free(s1);
	free(s2);
	return rc;
}
