/*
 * The TSB operations: each handler reads its JSON body (strictly: unknown keys and wrong
 * types are refused with the key path; null counts as absent), translates TSB's names
 * (algorithms, key usages, subject attributes) into the backend's, calls the key store or
 * the certificate flows, and writes the reply in TSB's shape.  Refusals found here are
 * audited here; the flows of be_policy audit their own.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "be_csr.h"
#include "be_json.h"
#include "be_key.h"
#include "tsb.h"
#include "tsb_body.h"

#define TSB_KEY_VERSION		"v1"
#define TSB_MAX_USAGES		16
#define TSB_CSR_MAX		(64 * 1024)
#define TSB_TASK_PAGE_MAX	100

/* ---------------------------------------------------------------- small helpers */

static int
fail_e(struct tsb_call *c, const struct be_err *e, bool audited)
{
	return tsb_fail(c, e->code != 0 ? e->code : BE_E_INTERNAL,
			e->msg[0] != '\0' ? e->msg : "internal error", audited);
}

static int
keys_ok(struct tsb_call *c, const json_t *o, const char *path, const char *const *keys)
{
	struct be_err e = { 0, "" };

	if (be_json_keys(o, path, keys, BE_E_MALFORMED, &e) != BE_OK) {
		fail_e(c, &e, false);
		return BE_E_MALFORMED;
	}
	return BE_OK;
}

static void
pw_free(char *pw)
{
	if (pw != NULL) {
		be_memzero(pw, strlen(pw));
		free(pw);
	}
}

static json_t *
strv_json(char **v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* A request id is a UUID in text form (RFC 9562 section 4). */
static bool
uuid_like(const char *s)
{
	size_t i;

	if (strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		char ch = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (ch != '-')
				return false;
		} else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
			return false;
		}
	}
	return true;
}

/* ---------------------------------------------------------------- TSB names */

static const struct {
	const char *name;
	unsigned bit;
} ku_names[] = {
	{ "DIGITAL_SIGNATURE", GNUTLS_KEY_DIGITAL_SIGNATURE },
	{ "NON_REPUDIATION", GNUTLS_KEY_NON_REPUDIATION },
	{ "CONTENT_COMMITMENT", GNUTLS_KEY_NON_REPUDIATION },
	{ "KEY_ENCIPHERMENT", GNUTLS_KEY_KEY_ENCIPHERMENT },
	{ "DATA_ENCIPHERMENT", GNUTLS_KEY_DATA_ENCIPHERMENT },
	{ "KEY_AGREEMENT", GNUTLS_KEY_KEY_AGREEMENT },
	{ "KEY_CERT_SIGN", GNUTLS_KEY_KEY_CERT_SIGN },
	{ "CRL_SIGN", GNUTLS_KEY_CRL_SIGN },
	{ "ENCIPHER_ONLY", GNUTLS_KEY_ENCIPHER_ONLY },
	{ "DECIPHER_ONLY", GNUTLS_KEY_DECIPHER_ONLY },
};

static const struct {
	const char *name;
	const char *oid;
} eku_names[] = {
	{ "ANY_EXTENDED_KEY_USAGE", "2.5.29.37.0" },
	{ "SERVER_AUTH", "1.3.6.1.5.5.7.3.1" },
	{ "CLIENT_AUTH", "1.3.6.1.5.5.7.3.2" },
	{ "CODE_SIGNING", "1.3.6.1.5.5.7.3.3" },
	{ "EMAIL_PROTECTION", "1.3.6.1.5.5.7.3.4" },
	{ "IPSEC_END_SYSTEM", "1.3.6.1.5.5.7.3.5" },
	{ "IPSEC_TUNNEL", "1.3.6.1.5.5.7.3.6" },
	{ "IPSEC_USER", "1.3.6.1.5.5.7.3.7" },
	{ "TIME_STAMPING", "1.3.6.1.5.5.7.3.8" },
	{ "OCSP_SIGNING", "1.3.6.1.5.5.7.3.9" },
};

/* Calls fn for each usage name of array key: TSB clients send ["A", "B"], but also
 * ["A,B"] and [""] (tsb-client-go joins its list into one string), so each element is split
 * at commas and empty names are skipped. */
static int
usages(const json_t *o, const char *path, const char *key,
       int (*fn)(const char *name, size_t len, void *arg), void *arg, struct be_err *e)
{
	const json_t *v = tsb_json_get(o, key), *it;
	size_t i;
	int rc;

	if (v == NULL)
		return BE_OK;
	if (!json_is_array(v) || json_array_size(v) > TSB_MAX_USAGES)
		return be_err_set(e, BE_E_MALFORMED, "%s.%s: must be an array of at most %d names",
				  path, key, TSB_MAX_USAGES);
	json_array_foreach(v, i, it) {
		const char *s, *p;

		if (!json_is_string(it))
			return be_err_set(e, BE_E_MALFORMED, "%s.%s[%zu]: must be a string", path,
					  key, i);
		s = json_string_value(it);
		while (*s != '\0') {
			size_t len;

			while (*s == ' ' || *s == ',')
				s++;
			p = s;
			while (*p != '\0' && *p != ',' && *p != ' ')
				p++;
			len = (size_t)(p - s);
			if (len > 0 && (rc = fn(s, len, arg)) != BE_OK)
				return be_err_set(e, BE_E_MALFORMED, "%s.%s[%zu]: unknown %s \"%.*s\"",
						  path, key, i, key, (int)(len > 40 ? 40 : len), s);
			s = p;
		}
	}
	return BE_OK;
}

static int
ku_one(const char *name, size_t len, void *arg)
{
	unsigned *bits = arg;
	size_t i;

	for (i = 0; i < sizeof(ku_names) / sizeof(ku_names[0]); i++) {
		if (strlen(ku_names[i].name) == len && strncmp(ku_names[i].name, name, len) == 0) {
			*bits |= ku_names[i].bit;
			return BE_OK;
		}
	}
	return BE_E_MALFORMED;
}

struct eku_list {
	char *oid[TSB_MAX_USAGES];
	size_t n;
};

static int
eku_one(const char *name, size_t len, void *arg)
{
	struct eku_list *l = arg;
	size_t i, k;

	for (i = 0; i < sizeof(eku_names) / sizeof(eku_names[0]); i++) {
		if (strlen(eku_names[i].name) != len || strncmp(eku_names[i].name, name, len) != 0)
			continue;
		for (k = 0; k < l->n; k++)
			if (strcmp(l->oid[k], eku_names[i].oid) == 0)
				return BE_OK;
		if (l->n == TSB_MAX_USAGES)
			return BE_E_MALFORMED;
		l->oid[l->n++] = (char *)(uintptr_t)eku_names[i].oid;
		return BE_OK;
	}
	return BE_E_MALFORMED;
}

/* signatureAlgorithm -> key algorithm and hash; NULL leaves both to the key. */
static int
sig_alg(const json_t *o, const char *path, enum be_key_alg *alg,
	gnutls_digest_algorithm_t *hash, struct be_err *e)
{
	static const struct {
		const char *name;
		enum be_key_alg alg;
		gnutls_digest_algorithm_t hash;
	} t[] = {
		{ "SHA256_WITH_RSA", BE_KEY_RSA, GNUTLS_DIG_SHA256 },
		{ "SHA384_WITH_RSA", BE_KEY_RSA, GNUTLS_DIG_SHA384 },
		{ "SHA512_WITH_RSA", BE_KEY_RSA, GNUTLS_DIG_SHA512 },
		{ "SHA256_WITH_ECDSA", BE_KEY_EC, GNUTLS_DIG_SHA256 },
		{ "SHA384_WITH_ECDSA", BE_KEY_EC, GNUTLS_DIG_SHA384 },
		{ "SHA512_WITH_ECDSA", BE_KEY_EC, GNUTLS_DIG_SHA512 },
		{ "EDDSA", BE_KEY_ED25519, GNUTLS_DIG_UNKNOWN },
		{ "ED25519", BE_KEY_ED25519, GNUTLS_DIG_UNKNOWN },
	};
	const char *s = NULL;
	size_t i;
	int rc;

	*alg = BE_KEY_NONE;
	*hash = GNUTLS_DIG_UNKNOWN;
	if ((rc = tsb_json_str(o, path, "signatureAlgorithm", false, &s, e)) != BE_OK ||
	    s == NULL)
		return rc;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(s, t[i].name) == 0) {
			*alg = t[i].alg;
			*hash = t[i].hash;
			return BE_OK;
		}
	}
	if (strstr(s, "_PSS") != NULL)
		return be_err_set(e, BE_E_MALFORMED, "%s.signatureAlgorithm: RSA-PSS certificates "
				  "are not supported; use SHA256_WITH_RSA", path);
	return be_err_set(e, BE_E_MALFORMED, "%s.signatureAlgorithm: \"%.40s\" is not one of "
			  "SHA{256,384,512}_WITH_RSA, SHA{256,384,512}_WITH_ECDSA, EDDSA", path, s);
}

/* ---------------------------------------------------------------- service */

int
tsb_version(struct tsb_call *c)
{
	return tsb_reply(c, 200, json_pack("{s:s, s:s, s:s}", "version", PACKAGE_VERSION,
					   "product", "certgate", "api",
					   "Securosys TSB-compatible /v1"));
}

/* ---------------------------------------------------------------- keys */

static const char *
alg_oid(enum be_key_alg a)
{
	return a == BE_KEY_RSA ? "1.2.840.113549.1.1.1" : a == BE_KEY_EC ? "1.2.840.10045.2.1" :
	       "1.3.101.112";
}

static const struct {
	const char *oid;
	unsigned bits;
} curves[] = {
	{ "1.2.840.10045.3.1.7", 256 },	/* secp256r1 (RFC 5480 2.1.1.1) */
	{ "1.3.132.0.34", 384 },	/* secp384r1 */
	{ "1.3.132.0.35", 521 },	/* secp521r1 */
};

static const char *
curve_oid(const struct be_keyspec *k)
{
	size_t i;

	if (k->alg == BE_KEY_ED25519)
		return "1.3.101.112";
	for (i = 0; k->alg == BE_KEY_EC && i < sizeof(curves) / sizeof(curves[0]); i++)
		if (curves[i].bits == k->bits)
			return curves[i].oid;
	return NULL;
}

/* algorithm, keySize and curveOid of a key creation. */
static int
key_spec(const json_t *b, struct be_keyspec *spec, struct be_err *e)
{
	const char *alg = NULL, *curve = NULL;
	unsigned long long size = 0;
	size_t i;
	int rc;

	if ((rc = tsb_json_str(b, "", "algorithm", true, &alg, e)) != BE_OK ||
	    (rc = tsb_json_uint(b, "", "keySize", false, 1, 16384, &size, e)) != BE_OK ||
	    (rc = tsb_json_str(b, "", "curveOid", false, &curve, e)) != BE_OK)
		return rc;
	if (strcmp(alg, "RSA") == 0) {
		if (curve != NULL)
			return be_err_set(e, BE_E_MALFORMED, "curveOid: not for RSA keys");
		if (size == 0)
			return be_err_set(e, BE_E_MALFORMED, "keySize: required for RSA keys");
		if (size < 2048 || size > 8192 || size % 8 != 0)
			return be_err_set(e, BE_E_POLICY, "keySize: RSA keys are 2048 to 8192 bits, "
					  "a multiple of 8");
		spec->alg = BE_KEY_RSA;
		spec->bits = (unsigned)size;
		return BE_OK;
	}
	if (strcmp(alg, "EC") == 0) {
		if (curve == NULL)
			return be_err_set(e, BE_E_MALFORMED, "curveOid: required for EC keys "
					  "(1.2.840.10045.3.1.7, 1.3.132.0.34, 1.3.132.0.35)");
		for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
			if (strcmp(curve, curves[i].oid) != 0)
				continue;
			if (size != 0 && size != curves[i].bits)
				return be_err_set(e, BE_E_MALFORMED, "keySize: %llu does not fit curve "
						  "%s", size, curve);
			spec->alg = BE_KEY_EC;
			spec->bits = curves[i].bits;
			return BE_OK;
		}
		return be_err_set(e, BE_E_POLICY, "curveOid: %.40s is not supported (P-256 "
				  "1.2.840.10045.3.1.7, P-384 1.3.132.0.34, P-521 1.3.132.0.35)",
				  curve);
	}
	if (strcmp(alg, "ED") == 0) {
		if (curve != NULL && strcmp(curve, "1.3.101.112") != 0)
			return be_err_set(e, BE_E_POLICY, "curveOid: only Ed25519 (1.3.101.112) is "
					  "supported");
		if (size != 0 && size != 255 && size != 256)
			return be_err_set(e, BE_E_MALFORMED, "keySize: Ed25519 keys are 255 bits");
		spec->alg = BE_KEY_ED25519;
		spec->bits = 256;
		return BE_OK;
	}
	return be_err_set(e, BE_E_MALFORMED, "algorithm: \"%.16s\" is not one of RSA, EC, ED",
			  alg);
}

static int
key_attrs(const json_t *b, unsigned *attrs, struct be_err *e)
{
	const struct be_ks_attr_info *t;
	const json_t *o = NULL, *v;
	const char *k;
	size_t n, i;
	bool val;
	int rc;

	t = be_ks_attrs(&n);
	*attrs = 0;
	for (i = 0; i < n; i++)
		if (t[i].dflt)
			*attrs |= t[i].bit;
	if ((rc = tsb_json_obj(b, "", "attributes", false, &o, e)) != BE_OK || o == NULL)
		return rc;
	json_object_foreach((json_t *)o, k, v) {
		for (i = 0; i < n && strcmp(t[i].name, k) != 0; i++)
			;
		if (i == n)
			return be_err_set(e, BE_E_MALFORMED, "attributes.%.32s: unknown key", k);
		if (json_is_null(v))
			continue;
		if (!json_is_boolean(v))
			return be_err_set(e, BE_E_MALFORMED, "attributes.%s: must be true or false",
					  k);
		val = json_is_true(v);
		if (val)
			*attrs |= t[i].bit;
		else
			*attrs &= ~t[i].bit;
	}
	return BE_OK;
}

int
tsb_key_create(struct tsb_call *c)
{
	static const char *const keys[] = { "label", "password", "algorithm", "keySize",
					    "curveOid", "attributes", "policy", NULL };
	json_t *b = NULL, *pj = NULL;
	const json_t *po = NULL;
	struct be_policy *policy = NULL;
	struct be_ks_new_key nk;
	struct be_err e = { 0, "" };
	char *pw = NULL, *ptext = NULL, why[BE_KS_LABEL_MAX + 64], kn[24];
	int rc;

	memset(&nk, 0, sizeof(nk));
	c->obj = TSB_OBJ_KEY;
	c->op.operation = c->resp->operation = "key-create";
	if (tsb_body(c, &b) != BE_OK || keys_ok(c, b, "", keys) != BE_OK)
		goto out;
	if (tsb_json_str(b, "", "label", true, &nk.label, &e) == BE_OK)
		tsb_label(c, nk.label);
	if (e.code != 0 || be_ks_label_check(nk.label, &e) != BE_OK ||
	    tsb_password(b, "", "password", &pw, &e) != BE_OK ||
	    key_spec(b, &nk.spec, &e) != BE_OK || key_attrs(b, &nk.attrs, &e) != BE_OK ||
	    tsb_json_obj(b, "", "policy", false, &po, &e) != BE_OK ||
	    (po != NULL && be_policy_parse(po, "policy", &policy, &e) != BE_OK)) {
		fail_e(c, &e, false);
		goto out;
	}
	if (policy != NULL) {
		if ((pj = be_policy_json(policy)) == NULL ||
		    (ptext = json_dumps(pj, JSON_COMPACT)) == NULL) {
			tsb_fail(c, BE_E_NOMEM, "out of memory", true);
			goto out;
		}
		nk.policy = ptext;
	}
	nk.password = pw;
	if ((rc = be_keystore_key_create(c->env.ks, &nk, NULL, &e)) != BE_OK) {
		c->obj = TSB_OBJ_NONE;
		fail_e(c, &e, false);
		goto out;
	}
	snprintf(why, sizeof(why), "key %s (%s) created%s", nk.label,
		 be_keyspec_name(&nk.spec, kn, sizeof(kn)),
		 be_policy_needs_approval(policy) ? " with an approval policy" : "");
	tsb_audit(c, nk.label, "created", why);
	tsb_reply(c, 201, json_pack("{s:s}", "label", nk.label));
out:
	pw_free(pw);
	free(ptext);
	json_decref(pj);
	be_policy_free(policy);
	json_decref(b);
	return 0;
}

int
tsb_key_list(struct tsb_call *c)
{
	struct be_err e = { 0, "" };
	char **labels = NULL;
	size_t n = 0;

	c->op.operation = c->resp->operation = "key-list";
	if (be_keystore_key_list(c->env.ks, &labels, &n, &e) != BE_OK)
		return fail_e(c, &e, true);
	tsb_reply(c, 200, strv_json(labels, n));
	be_strv_free(labels, n);
	return 0;
}

static json_t *
attributes_json(const struct be_ks_key *k, struct be_err *e)
{
	const struct be_ks_attr_info *t;
	struct be_policy *p = NULL;
	json_t *attrs = json_object(), *pj = NULL, *doc = NULL;
	char *pub = NULL;
	size_t n, i;

	t = be_ks_attrs(&n);
	for (i = 0; attrs != NULL && i < n; i++)
		json_object_set_new(attrs, t[i].name, json_boolean((k->attrs & t[i].bit) != 0));
	if (k->policy != NULL) {
		if (be_policy_decode(k->policy, &p, e) != BE_OK)
			goto out;
		pj = be_policy_json(p);
	}
	if (be_base64_encode(k->spki.data, k->spki.size, 0, &pub) != BE_OK) {
		be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	doc = json_pack("{s:{s:s, s:s, s:s, s:i, s:s?, s:O, s:o?, s:s, s:s, s:b, s:n},"
			" s:s, s:s, s:s}",
			"json", "label", k->label, "algorithm",
			k->spec.alg == BE_KEY_RSA ? "RSA" : k->spec.alg == BE_KEY_EC ? "EC" : "ED",
			"algorithmOid", alg_oid(k->spec.alg), "keySize", (int)k->spec.bits,
			"curveOid", curve_oid(&k->spec), "attributes", attrs, "policy", pj,
			"publicKey", pub, "version", TSB_KEY_VERSION, "active", 1,
			"derivedAttributes",
			"xml", "", "xmlSignature", "", "attestationKeyName", "");
	pj = NULL;
	if (doc == NULL)
		be_err_set(e, BE_E_NOMEM, "out of memory");
out:
	json_decref(pj);
	json_decref(attrs);
	be_policy_free(p);
	free(pub);
	return doc;
}

int
tsb_key_attributes(struct tsb_call *c, const char *label)
{
	static const char *const keys[] = { "label", "password", NULL };
	struct be_ks_key *k = NULL;
	struct be_err e = { 0, "" };
	json_t *b = NULL, *doc;
	char *pw = NULL;

	c->obj = TSB_OBJ_KEY;
	if (label == NULL) {
		if (tsb_body(c, &b) != BE_OK || keys_ok(c, b, "", keys) != BE_OK)
			goto out;
		if (tsb_json_str(b, "", "label", true, &label, &e) != BE_OK ||
		    tsb_password(b, "", "password", &pw, &e) != BE_OK) {
			fail_e(c, &e, false);
			goto out;
		}
	}
	tsb_label(c, label);
	if (be_ks_label_check(label, &e) != BE_OK ||
	    be_keystore_key_get(c->env.ks, label, &k, &e) != BE_OK ||
	    (pw != NULL && be_keystore_key_auth(c->env.ks, k, pw, &e) != BE_OK)) {
		fail_e(c, &e, false);
		goto out;
	}
	if ((doc = attributes_json(k, &e)) == NULL) {
		fail_e(c, &e, true);
		goto out;
	}
	tsb_reply(c, 200, doc);
out:
	pw_free(pw);
	be_ks_key_free(k);
	json_decref(b);
	return 0;
}

int
tsb_key_delete(struct tsb_call *c, const char *label)
{
	static const char *const keys[] = { "label", "password", NULL };
	struct be_ks_key *k = NULL;
	struct be_err e = { 0, "" };
	json_t *b = NULL;
	char *pw = NULL, why[BE_KS_LABEL_MAX + 80];
	size_t cancelled = 0;

	c->obj = TSB_OBJ_KEY;
	if (label == NULL) {
		if (tsb_body(c, &b) != BE_OK || keys_ok(c, b, "", keys) != BE_OK)
			goto out;
		if (tsb_json_str(b, "", "label", true, &label, &e) != BE_OK ||
		    tsb_password(b, "", "password", &pw, &e) != BE_OK) {
			fail_e(c, &e, false);
			goto out;
		}
	}
	tsb_label(c, label);
	if (be_ks_label_check(label, &e) != BE_OK ||
	    be_keystore_key_get(c->env.ks, label, &k, &e) != BE_OK ||
	    (pw != NULL && be_keystore_key_auth(c->env.ks, k, pw, &e) != BE_OK) ||
	    be_keystore_key_delete(c->env.ks, label, (int64_t)time(NULL), &cancelled, &e) != BE_OK) {
		fail_e(c, &e, false);
		goto out;
	}
	snprintf(why, sizeof(why), "key %s destroyed; %zu open request%s cancelled", label,
		 cancelled, cancelled == 1 ? "" : "s");
	tsb_audit(c, label, "deleted", why);
	tsb_reply(c, 200, json_pack("{s:s, s:i}", "label", label, "cancelledRequests",
				    (int)cancelled));
out:
	pw_free(pw);
	be_ks_key_free(k);
	json_decref(b);
	return 0;
}

int
tsb_key_export(struct tsb_call *c)
{
	static const char *const keys[] = { "label", "password", NULL };
	struct be_ks_key *k = NULL;
	struct be_err e = { 0, "" };
	gnutls_datum_t der = { NULL, 0 };
	json_t *b = NULL;
	const char *label = NULL;
	char *pw = NULL, *priv = NULL, *pub = NULL, *text = NULL;
	size_t cap = 0;
	int w;

	c->obj = TSB_OBJ_KEY;
	if (tsb_body(c, &b) != BE_OK || keys_ok(c, b, "", keys) != BE_OK)
		goto out;
	if (tsb_json_str(b, "", "label", true, &label, &e) == BE_OK)
		tsb_label(c, label);
	if (e.code != 0 || tsb_password(b, "", "password", &pw, &e) != BE_OK ||
	    be_ks_label_check(label, &e) != BE_OK ||
	    be_keystore_key_get(c->env.ks, label, &k, &e) != BE_OK ||
	    be_keystore_key_auth(c->env.ks, k, pw, &e) != BE_OK ||
	    be_keystore_key_export(c->env.ks, k, &der, &e) != BE_OK) {
		fail_e(c, &e, false);
		goto out;
	}
	if (be_base64_encode(der.data, der.size, 0, &priv) != BE_OK ||
	    be_base64_encode(k->spki.data, k->spki.size, 0, &pub) != BE_OK) {
		tsb_fail(c, BE_E_NOMEM, "out of memory", true);
		goto out;
	}
	/* Written by hand so that no copy of the key outlives the wiped reply.  Labels hold
	 * no '"' or '\\' (be_ks_label_check). */
	cap = strlen(label) + strlen(priv) + strlen(pub) + 64;
	if ((text = malloc(cap)) == NULL) {
		tsb_fail(c, BE_E_NOMEM, "out of memory", true);
		goto out;
	}
	w = snprintf(text, cap, "{\"label\":\"%s\",\"privateKey\":\"%s\",\"publicKey\":\"%s\"}",
		     label, priv, pub);
	if (w < 0 || (size_t)w >= cap) {
		tsb_fail(c, BE_E_INTERNAL, "reply too long", true);
		goto out;
	}
	tsb_audit(c, label, "exported", "the extractable key's value was exported");
	c->resp->secret = true;
	if (gw_response_take(c->resp, 200, "application/json", (unsigned char *)text,
			     (size_t)w) == 0)
		text = NULL;
out:
	if (text != NULL) {
		be_memzero(text, cap);
		free(text);
	}
	if (priv != NULL) {
		be_memzero(priv, strlen(priv));
		free(priv);
	}
	free(pub);
	be_datum_wipe(&der);
	pw_free(pw);
	be_ks_key_free(k);
	json_decref(b);
	return 0;
}

/* ---------------------------------------------------------------- certificates */

/* TSB's standardCertificateAttributes names, in the order a subject is written. */
static const struct {
	const char *name;
	enum be_dn_attr attr;
} dn_names[] = {
	{ "country", BE_DN_C },
	{ "stateOrProvinceName", BE_DN_ST },
	{ "locality", BE_DN_L },
	{ "organizationName", BE_DN_O },
	{ "organizationUnitName", BE_DN_OU },
	{ "organizationIdentifier", BE_DN_ORGID },
	{ "title", BE_DN_TITLE },
	{ "surname", BE_DN_SN },
	{ "givenName", BE_DN_GN },
	{ "initials", BE_DN_INITIALS },
	{ "generationQualifier", BE_DN_GENQ },
	{ "pseudonym", BE_DN_PSEUDONYM },
	{ "commonName", BE_DN_CN },
	{ "email", BE_DN_E },
};

static int
subject_parse(const json_t *b, struct be_name *name, struct be_err *e)
{
	static const char *const path = "standardCertificateAttributes";
	const json_t *o = NULL;
	const char *k, *s;
	json_t *v;
	size_t i;
	int rc;

	if ((rc = tsb_json_obj(b, "", path, true, &o, e)) != BE_OK)
		return rc;
	json_object_foreach((json_t *)o, k, v) {
		for (i = 0; i < sizeof(dn_names) / sizeof(dn_names[0]); i++)
			if (strcmp(dn_names[i].name, k) == 0)
				break;
		if (i == sizeof(dn_names) / sizeof(dn_names[0]))
			return be_err_set(e, BE_E_MALFORMED, "%s.%.40s: unknown key", path, k);
	}
	for (i = 0; i < sizeof(dn_names) / sizeof(dn_names[0]); i++) {
		if ((rc = tsb_json_str(o, path, dn_names[i].name,
					  dn_names[i].attr == BE_DN_CN, &s, e)) != BE_OK)
			return rc;
		if (s == NULL)
			continue;
		if ((rc = be_name_add(name, dn_names[i].attr, s, strlen(s), e)) != BE_OK) {
			struct be_err inner = *e;

			be_err_clear(e);
			return be_err_set(e, inner.code, "%s.%s: %s", path, dn_names[i].name,
					  inner.msg);
		}
	}
	return BE_OK;
}

int
tsb_csr(struct tsb_call *c)
{
	static const char *const keys[] = { "signKeyName", "keyPassword", "signatureAlgorithm",
					    "validity", "standardCertificateAttributes", "keyUsage",
					    "extendedKeyUsage", "metaData", "metaDataSignature",
					    NULL };
	struct be_ks_key *k = NULL;
	struct be_ks_csr_req r;
	struct be_name subject = { NULL, 0 };
	struct eku_list eku;
	struct be_err e = { 0, "" };
	gnutls_datum_t pem = { NULL, 0 };
	unsigned long long days = 0;
	json_t *b = NULL;
	const char *label = NULL;
	char *pw = NULL, why[BE_KS_LABEL_MAX + 64];

	memset(&r, 0, sizeof(r));
	memset(&eku, 0, sizeof(eku));
	c->obj = TSB_OBJ_KEY;
	if (tsb_body(c, &b) != BE_OK || keys_ok(c, b, "", keys) != BE_OK)
		goto out;
	if (tsb_json_str(b, "", "signKeyName", true, &label, &e) == BE_OK)
		tsb_label(c, label);
	if (e.code != 0 || tsb_password(b, "", "keyPassword", &pw, &e) != BE_OK ||
	    sig_alg(b, "", &r.sig_alg, &r.hash, &e) != BE_OK ||
	    tsb_json_uint(b, "", "validity", false, 1, 36500, &days, &e) != BE_OK ||
	    subject_parse(b, &subject, &e) != BE_OK ||
	    usages(b, "", "keyUsage", ku_one, &r.key_usage, &e) != BE_OK ||
	    usages(b, "", "extendedKeyUsage", eku_one, &eku, &e) != BE_OK ||
	    be_ks_label_check(label, &e) != BE_OK) {
		fail_e(c, &e, false);
		goto out;
	}
	r.subject = &subject;
	r.eku = eku.oid;
	r.n_eku = eku.n;
	if (be_keystore_key_get(c->env.ks, label, &k, &e) != BE_OK ||
	    be_keystore_key_auth(c->env.ks, k, pw, &e) != BE_OK ||
	    be_keystore_csr(c->env.ks, k, &r, &pem, &e) != BE_OK) {
		fail_e(c, &e, false);
		goto out;
	}
	snprintf(why, sizeof(why), "certification request made with key %s", label);
	tsb_audit(c, label, "csr", why);
	tsb_reply(c, 200, json_pack("{s:s, s:s, s:s}", "label", label,
				    "certificateSigningRequest", (const char *)pem.data,
				    "keyVersion", TSB_KEY_VERSION));
out:
	be_datum_free(&pem);
	be_name_clear(&subject);
	pw_free(pw);
	be_ks_key_free(k);
	json_decref(b);
	return 0;
}

/* The fields of a certificate signing request (synchronous/sign and sign). */
static int
sign_parse(const json_t *o, const char *path, struct be_tsb_sign *r, char **pw,
	   struct eku_list *eku, struct be_err *e)
{
	static const char *const keys[] = { "signKeyName", "keyPassword", "signatureAlgorithm",
					    "commonName", "certificateAuthority",
					    "certificateSigningRequest", "keyUsage",
					    "extendedKeyUsage", "validity", "metaData",
					    "metaDataSignature", NULL };
	const char *csr = NULL;
	unsigned long long days = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = be_json_keys(o, path, keys, BE_E_MALFORMED, e)) != BE_OK ||
	    (rc = tsb_json_str(o, path, "signKeyName", true, &r->key_label, e)) != BE_OK ||
	    (rc = tsb_password(o, path, "keyPassword", pw, e)) != BE_OK ||
	    (rc = sig_alg(o, path, &r->sig_alg, &r->hash, e)) != BE_OK ||
	    (rc = tsb_json_str(o, path, "commonName", false, &r->common_name, e)) != BE_OK ||
	    (rc = tsb_json_bool(o, path, "certificateAuthority", &r->ca, e)) != BE_OK ||
	    (rc = tsb_json_str(o, path, "certificateSigningRequest", true, &csr, e)) != BE_OK ||
	    (rc = usages(o, path, "keyUsage", ku_one, &r->key_usage, e)) != BE_OK ||
	    (rc = usages(o, path, "extendedKeyUsage", eku_one, eku, e)) != BE_OK ||
	    (rc = tsb_json_uint(o, path, "validity", false, 1, 36500, &days, e)) != BE_OK)
		return rc;
	if (strlen(csr) > TSB_CSR_MAX)
		return be_err_set(e, BE_E_TOOBIG, "%s%scertificateSigningRequest: larger than %d "
				  "bytes", path, path[0] ? "." : "", TSB_CSR_MAX);
	r->key_password = *pw;
	r->csr = (const unsigned char *)csr;
	r->csr_len = strlen(csr);
	r->eku = eku->oid;
	r->n_eku = eku->n;
	r->validity_days = (unsigned)days;
	return BE_OK;
}

int
tsb_sign_sync(struct tsb_call *c)
{
	struct be_tsb_sign r;
	struct eku_list eku;
	struct be_err e = { 0, "" };
	gnutls_datum_t der = { NULL, 0 }, pem = { NULL, 0 };
	json_t *b = NULL;
	char *pw = NULL;

	memset(&eku, 0, sizeof(eku));
	c->obj = TSB_OBJ_KEY;
	if (tsb_body(c, &b) != BE_OK)
		goto out;
	if (sign_parse(b, "", &r, &pw, &eku, &e) != BE_OK) {
		tsb_label(c, json_string_value(json_object_get(b, "signKeyName")));
		fail_e(c, &e, false);
		goto out;
	}
	tsb_label(c, r.key_label);
	if (be_policy_sign_now(&c->env, &c->op, &r, &der, &e) != BE_OK) {
		fail_e(c, &e, true);
		goto out;
	}
	if (be_encode_pem_certs(&der, 1, &pem, &e) != BE_OK) {
		fail_e(c, &e, true);
		goto out;
	}
	tsb_reply(c, 200, json_pack("{s:s, s:s, s:s}", "label", r.key_label, "certificate",
				    (const char *)pem.data, "keyVersion", TSB_KEY_VERSION));
out:
	be_datum_free(&der);
	be_datum_free(&pem);
	pw_free(pw);
	json_decref(b);
	return 0;
}

int
tsb_sign_async(struct tsb_call *c)
{
	static const char *const keys[] = { "signCertificateRequest", "requestSignature", NULL };
	struct be_tsb_sign r;
	struct eku_list eku;
	struct be_err e = { 0, "" };
	const json_t *o = NULL;
	json_t *b = NULL;
	char *pw = NULL, id[BE_KS_ID_LEN];

	memset(&eku, 0, sizeof(eku));
	c->obj = TSB_OBJ_KEY;
	if (tsb_body(c, &b) != BE_OK || keys_ok(c, b, "", keys) != BE_OK)
		goto out;
	/* requestSignature: TSB's optional application signature over the request; certgate
	 * authenticates callers by their API key and does not check it. */
	if (tsb_json_obj(b, "", "signCertificateRequest", true, &o, &e) != BE_OK ||
	    sign_parse(o, "signCertificateRequest", &r, &pw, &eku, &e) != BE_OK) {
		tsb_label(c, json_string_value(json_object_get(o, "signKeyName")));
		fail_e(c, &e, false);
		goto out;
	}
	tsb_label(c, r.key_label);
	if (be_policy_request_new(&c->env, &c->op, &r, id, &e) != BE_OK) {
		fail_e(c, &e, true);
		goto out;
	}
	tsb_reply(c, 201, json_pack("{s:s}", "signRequestId", id));
out:
	pw_free(pw);
	json_decref(b);
	return 0;
}

int
tsb_cert_import(struct tsb_call *c)
{
	static const char *const keys[] = { "label", "certificate", NULL };
	struct be_err e = { 0, "" };
	gnutls_datum_t der = { NULL, 0 };
	json_t *b = NULL;
	const char *label = NULL, *cert = NULL;
	char *b64 = NULL, why[BE_KS_LABEL_MAX + 64];

	c->obj = TSB_OBJ_KEY;
	if (tsb_body(c, &b) != BE_OK || keys_ok(c, b, "", keys) != BE_OK)
		goto out;
	if (tsb_json_str(b, "", "label", true, &label, &e) == BE_OK)
		tsb_label(c, label);
	if (e.code != 0 || tsb_json_str(b, "", "certificate", true, &cert, &e) != BE_OK ||
	    be_ks_label_check(label, &e) != BE_OK ||
	    be_keystore_cert_import(c->env.ks, label, cert, strlen(cert), &der, &e) != BE_OK) {
		fail_e(c, &e, false);
		goto out;
	}
	if (be_base64_encode(der.data, der.size, 0, &b64) != BE_OK) {
		tsb_fail(c, BE_E_NOMEM, "out of memory", true);
		goto out;
	}
	snprintf(why, sizeof(why), "certificate imported for key %s", label);
	tsb_audit(c, label, "imported", why);
	tsb_reply(c, 200, json_pack("{s:s, s:s}", "label", label, "certificate", b64));
out:
	free(b64);
	be_datum_free(&der);
	json_decref(b);
	return 0;
}

int
tsb_cert_get(struct tsb_call *c, const char *label)
{
	struct be_ks_key *k = NULL;
	struct be_err e = { 0, "" };
	gnutls_datum_t pem = { NULL, 0 };

	c->obj = TSB_OBJ_KEY;
	tsb_label(c, label);
	if (be_ks_label_check(label, &e) != BE_OK ||
	    be_keystore_key_get(c->env.ks, label, &k, &e) != BE_OK) {
		fail_e(c, &e, false);
		goto out;
	}
	if (k->cert.size == 0) {
		c->obj = TSB_OBJ_CERT;
		be_err_set(&e, BE_E_NOTFOUND, "key %s has no certificate", label);
		fail_e(c, &e, false);
		goto out;
	}
	if (be_encode_pem_certs(&k->cert, 1, &pem, &e) != BE_OK) {
		fail_e(c, &e, true);
		goto out;
	}
	tsb_reply(c, 200, json_pack("{s:s, s:s}", "label", label, "certificate",
				    (const char *)pem.data));
out:
	be_datum_free(&pem);
	be_ks_key_free(k);
	return 0;
}

int
tsb_cert_delete(struct tsb_call *c, const char *label)
{
	struct be_err e = { 0, "" };
	char why[BE_KS_LABEL_MAX + 64];

	c->obj = TSB_OBJ_CERT;
	tsb_label(c, label);
	if (be_ks_label_check(label, &e) != BE_OK ||
	    be_keystore_cert_delete(c->env.ks, label, &e) != BE_OK) {
		fail_e(c, &e, false);
		return 0;
	}
	snprintf(why, sizeof(why), "certificate of key %s removed", label);
	tsb_audit(c, label, "deleted", why);
	return tsb_reply(c, 200, json_pack("{s:s}", "label", label));
}

/* ---------------------------------------------------------------- requests */

static json_t *
request_json(const struct be_ks_req *r, struct be_err *e)
{
	char **a = NULL, **w = NULL, **rj = NULL, when[32];
	size_t na = 0, nw = 0, nr = 0;
	json_t *j = NULL;

	if (be_policy_request_lists(r, &a, &na, &w, &nw, &rj, &nr, e) != BE_OK)
		return NULL;
	be_time_format(r->executed_at, when, sizeof(when));
	j = json_pack("{s:s, s:s, s:s?, s:o, s:o, s:o, s:s?}", "id", r->id, "status",
		      be_ks_status_name(r->status), "executionTime",
		      r->status == BE_KS_EXECUTED ? when : NULL, "approvedBy", strv_json(a, na),
		      "notYetApprovedBy", strv_json(w, nw), "rejectedBy", strv_json(rj, nr),
		      "result", r->result);
	if (j == NULL)
		be_err_set(e, BE_E_NOMEM, "out of memory");
	be_strv_free(a, na);
	be_strv_free(w, nw);
	be_strv_free(rj, nr);
	return j;
}

int
tsb_request_get(struct tsb_call *c, const char *id)
{
	struct be_ks_req *r = NULL;
	struct be_err e = { 0, "" };
	json_t *j;

	c->obj = TSB_OBJ_REQUEST;
	if (!uuid_like(id)) {
		be_err_set(&e, BE_E_NOTFOUND, "request %.40s does not exist", id);
		return fail_e(c, &e, false);
	}
	if (be_policy_request_get(&c->env, &c->op, id, &r, &e) != BE_OK)
		return fail_e(c, &e, false);
	if ((j = request_json(r, &e)) == NULL)
		fail_e(c, &e, true);
	else
		tsb_reply(c, 200, j);
	be_ks_req_free(r);
	return 0;
}

int
tsb_request_delete(struct tsb_call *c, const char *id)
{
	struct be_err e = { 0, "" };

	c->obj = TSB_OBJ_REQUEST;
	if (!uuid_like(id)) {
		be_err_set(&e, BE_E_NOTFOUND, "request %.40s does not exist", id);
		return fail_e(c, &e, false);
	}
	if (be_policy_request_cancel(&c->env, &c->op, id, &e) != BE_OK)
		return fail_e(c, &e, true);
	return tsb_reply(c, 200, json_pack("{s:s, s:s}", "id", id, "status", "CANCELLED"));
}

/* ---------------------------------------------------------------- approver side */

/* approverPublicKey / approverCertificate of a body. */
static int
approver_of(const json_t *b, gnutls_pubkey_t *pub, char **spki, struct be_err *e)
{
	const char *pk = NULL, *crt = NULL;
	int rc;

	if ((rc = tsb_json_str(b, "", "approverPublicKey", false, &pk, e)) != BE_OK ||
	    (rc = tsb_json_str(b, "", "approverCertificate", false, &crt, e)) != BE_OK)
		return rc;
	return be_approver_parse(pk, crt, pub, spki, e);
}

static int
b64_field(const json_t *b, const char *key, unsigned char **out, size_t *len, struct be_err *e)
{
	const char *s = NULL;
	struct be_err ignore = { 0, "" };
	int rc;

	*out = NULL;
	*len = 0;
	if ((rc = tsb_json_str(b, "", key, true, &s, e)) != BE_OK)
		return rc;
	if (strlen(s) > 64 * 1024 || be_base64_decode(s, strlen(s), out, len, &ignore) != BE_OK) {
		free(*out);
		*out = NULL;
		return be_err_set(e, BE_E_MALFORMED, "%s: not base64 (RFC 4648 4)", key);
	}
	return BE_OK;
}

/* First error wins: keeps e as it is when it already holds one. */
static void
first_error(struct be_err *e, const struct be_err *local)
{
	if (e->code == 0 && local->code != 0)
		*e = *local;
}

int
tsb_body_check(const json_t *b, struct be_err *e)
{
	struct be_err l = { 0, "" };
	struct be_keyspec spec;
	struct be_name subject = { NULL, 0 };
	struct be_tsb_sign r;
	struct eku_list eku;
	struct be_policy *policy = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_digest_algorithm_t dig;
	enum be_key_alg alg;
	const json_t *o = NULL;
	const char *s = NULL;
	unsigned char *bytes = NULL;
	char *pw = NULL, *spki = NULL;
	unsigned long long days;
	unsigned bits = 0;
	size_t len;

	memset(&spec, 0, sizeof(spec));
	memset(&eku, 0, sizeof(eku));
	/* POST /v1/key, /v1/key/export/plain, /v1/certificate/import/plain */
	if (tsb_json_str(b, "", "label", false, &s, &l) == BE_OK && s != NULL)
		be_ks_label_check(s, &l);
	first_error(e, &l);
	be_err_clear(&l);
	tsb_password(b, "", "password", &pw, &l);
	pw_free(pw);
	pw = NULL;
	first_error(e, &l);
	be_err_clear(&l);
	if (json_object_get(b, "algorithm") != NULL)
		key_spec(b, &spec, &l);
	first_error(e, &l);
	be_err_clear(&l);
	key_attrs(b, &bits, &l);
	first_error(e, &l);
	be_err_clear(&l);
	if (tsb_json_obj(b, "", "policy", false, &o, &l) == BE_OK && o != NULL)
		be_policy_parse(o, "policy", &policy, &l);
	be_policy_free(policy);
	first_error(e, &l);
	be_err_clear(&l);
	/* POST /v1/certificate/synchronous/request */
	sig_alg(b, "", &alg, &dig, &l);
	first_error(e, &l);
	be_err_clear(&l);
	tsb_json_uint(b, "", "validity", false, 1, 36500, &days, &l);
	first_error(e, &l);
	be_err_clear(&l);
	if (json_object_get(b, "standardCertificateAttributes") != NULL)
		subject_parse(b, &subject, &l);
	be_name_clear(&subject);
	first_error(e, &l);
	be_err_clear(&l);
	usages(b, "", "keyUsage", ku_one, &bits, &l);
	first_error(e, &l);
	be_err_clear(&l);
	usages(b, "", "extendedKeyUsage", eku_one, &eku, &l);
	first_error(e, &l);
	be_err_clear(&l);
	/* POST /v1/certificate/synchronous/sign and /v1/certificate/sign */
	memset(&eku, 0, sizeof(eku));
	if (json_object_get(b, "certificateSigningRequest") != NULL)
		sign_parse(b, "", &r, &pw, &eku, &l);
	pw_free(pw);
	pw = NULL;
	first_error(e, &l);
	be_err_clear(&l);
	if (tsb_json_obj(b, "", "signCertificateRequest", false, &o, &l) == BE_OK &&
	    o != NULL) {
		memset(&eku, 0, sizeof(eku));
		sign_parse(o, "signCertificateRequest", &r, &pw, &eku, &l);
		pw_free(pw);
		pw = NULL;
	}
	first_error(e, &l);
	be_err_clear(&l);
	/* POST /v1/approval, /v1/rejection, /v1/filteredSignApprovalTask */
	if (json_object_get(b, "signature") != NULL &&
	    b64_field(b, "signature", &bytes, &len, &l) == BE_OK)
		free(bytes);
	first_error(e, &l);
	be_err_clear(&l);
	if (tsb_json_str(b, "", "approvalDigestAlgorithm", false, &s, &l) == BE_OK)
		be_approver_digest(s, &dig, &l);
	first_error(e, &l);
	be_err_clear(&l);
	if ((json_object_get(b, "approverPublicKey") != NULL ||
	     json_object_get(b, "approverCertificate") != NULL) &&
	    approver_of(b, &pub, &spki, &l) == BE_OK && pub != NULL)
		gnutls_pubkey_deinit(pub);
	free(spki);
	first_error(e, &l);
	return e->code;
}

static json_t *
task_json(const struct be_ks_req *r, const char *spki, const char *level, struct be_err *e)
{
	gnutls_datum_t ta = { NULL, 0 }, tr = { NULL, 0 };
	char *a64 = NULL, *r64 = NULL, when[32];
	json_t *j = NULL;

	if (be_policy_token(r, true, &ta, e) != BE_OK || be_policy_token(r, false, &tr, e) != BE_OK)
		goto out;
	if (be_base64_encode(ta.data, ta.size, 0, &a64) != BE_OK ||
	    be_base64_encode(tr.data, tr.size, 0, &r64) != BE_OK) {
		be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	be_time_format(r->created_at, when, sizeof(when));
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:s, s:s}", "detailLevel", level,
		      "id", r->id, "requestId", r->id, "approvalToBeSigned", a64,
		      "rejectionToBeSigned", r64, "approverPublicKey", spki, "keyName",
		      r->key_label, "requestedBy", r->principal, "creationDate", when,
		      "description", r->body);
	if (j == NULL)
		be_err_set(e, BE_E_NOMEM, "out of memory");
out:
	be_datum_free(&ta);
	be_datum_free(&tr);
	free(a64);
	free(r64);
	return j;
}

int
tsb_tasks(struct tsb_call *c)
{
	static const char *const keys[] = { "timestamp", "timestampSignature", "approverPublicKey",
					    "approverCertificate", "timestampDigestAlgorithm", "id",
					    "requestId", "detailLevel", "paging", NULL };
	static const char *const pkeys[] = { "pageNumber", "pageSize", "sortOrder", NULL };
	struct be_ks_req *tasks = NULL;
	struct be_err e = { 0, "" };
	gnutls_pubkey_t pub = NULL;
	gnutls_digest_algorithm_t dig = GNUTLS_DIG_SHA256;
	const json_t *paging = NULL;
	json_t *b = NULL, *arr = NULL, *t;
	const char *ts = NULL, *dname = NULL, *id = NULL, *rid = NULL, *level = NULL;
	const char *order = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0, n = 0, i, k;
	unsigned long long page = 0, size = TSB_TASK_PAGE_MAX;
	char *spki = NULL, msg[128];
	int64_t when = 0, now = (int64_t)time(NULL), skew;

	c->obj = TSB_OBJ_REQUEST;
	if (tsb_body(c, &b) != BE_OK || keys_ok(c, b, "", keys) != BE_OK)
		goto out;
	if (tsb_json_str(b, "", "timestamp", true, &ts, &e) != BE_OK ||
	    b64_field(b, "timestampSignature", &sig, &siglen, &e) != BE_OK ||
	    tsb_json_str(b, "", "timestampDigestAlgorithm", false, &dname, &e) != BE_OK ||
	    be_approver_digest(dname, &dig, &e) != BE_OK ||
	    tsb_json_str(b, "", "id", false, &id, &e) != BE_OK ||
	    tsb_json_str(b, "", "requestId", false, &rid, &e) != BE_OK ||
	    tsb_json_str(b, "", "detailLevel", false, &level, &e) != BE_OK ||
	    tsb_json_obj(b, "", "paging", false, &paging, &e) != BE_OK ||
	    (paging != NULL &&
	     (be_json_keys(paging, "paging", pkeys, BE_E_MALFORMED, &e) != BE_OK ||
	      tsb_json_uint(paging, "paging", "pageNumber", false, 0, 100000, &page,
			       &e) != BE_OK ||
	      tsb_json_uint(paging, "paging", "pageSize", false, 1, TSB_TASK_PAGE_MAX, &size,
			       &e) != BE_OK ||
	      tsb_json_str(paging, "paging", "sortOrder", false, &order, &e) != BE_OK)) ||
	    approver_of(b, &pub, &spki, &e) != BE_OK) {
		fail_e(c, &e, false);
		goto out;
	}
	if (be_time_parse(ts, &when, &e) != BE_OK) {
		snprintf(msg, sizeof(msg), "timestamp: %s", e.msg);
		be_err_clear(&e);
		be_err_set(&e, BE_E_MALFORMED, "%s", msg);
		fail_e(c, &e, false);
		goto out;
	}
	skew = when > now ? when - now : now - when;
	if (skew > (int64_t)c->st->timestamp_window) {
		be_err_set(&e, BE_E_FORBIDDEN, "timestamp is %lld seconds away from the server's "
			   "clock (at most %u allowed)", (long long)skew, c->st->timestamp_window);
		fail_e(c, &e, false);
		goto out;
	}
	/* Proof of possession of the approver key: its signature over the timestamp text. */
	if (be_approver_verify(pub, dig, ts, strlen(ts), sig, siglen, &e) != BE_OK) {
		be_err_clear(&e);
		be_err_set(&e, BE_E_FORBIDDEN, "timestampSignature does not verify with the "
			   "approver's key");
		fail_e(c, &e, false);
		goto out;
	}
	if (order != NULL && strcmp(order, "CREATION_DATE_ASC") != 0 &&
	    strcmp(order, "CREATION_DATE_DESC") != 0 && strcmp(order, "LAST_FETCHED_DATE_ASC") != 0 &&
	    strcmp(order, "LAST_FETCHED_DATE_DESC") != 0) {
		be_err_set(&e, BE_E_MALFORMED, "paging.sortOrder: must be CREATION_DATE_ASC, "
			   "CREATION_DATE_DESC, LAST_FETCHED_DATE_ASC or LAST_FETCHED_DATE_DESC");
		fail_e(c, &e, false);
		goto out;
	}
	if (be_policy_tasks(&c->env, spki, id != NULL ? id : rid, &tasks, &n, &e) != BE_OK) {
		fail_e(c, &e, true);
		goto out;
	}
	if ((arr = json_array()) == NULL) {
		tsb_fail(c, BE_E_NOMEM, "out of memory", true);
		goto out;
	}
	for (k = 0; k < size && page * size + k < n; k++) {
		i = (size_t)(page * size + k);
		if (order != NULL && strstr(order, "_DESC") != NULL)
			i = n - 1 - i;
		if ((t = task_json(&tasks[i], spki, level != NULL ? level : "level1", &e)) == NULL) {
			fail_e(c, &e, true);
			goto out;
		}
		json_array_append_new(arr, t);
	}
	tsb_reply(c, 200, json_pack("{s:O, s:i}", "tasks", arr, "totalElements", (int)n));
out:
	json_decref(arr);
	be_ks_reqs_free(tasks, n);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	free(spki);
	free(sig);
	json_decref(b);
	return 0;
}

int
tsb_decide(struct tsb_call *c, bool approve)
{
	static const char *const akeys[] = { "id", "approvalToBeSigned", "signature",
					     "approvalDigestAlgorithm", "approverPublicKey",
					     "approverCertificate", NULL };
	static const char *const rkeys[] = { "id", "rejectionToBeSigned", "signature",
					     "approvalDigestAlgorithm", "approverPublicKey",
					     "approverCertificate", NULL };
	struct be_tsb_decision d;
	struct be_ks_req *after = NULL;
	struct be_err e = { 0, "" };
	json_t *b = NULL;
	const char *dname = NULL;
	unsigned char *token = NULL, *sig = NULL;
	size_t tlen = 0, slen = 0;
	char *spki = NULL;

	memset(&d, 0, sizeof(d));
	c->obj = TSB_OBJ_REQUEST;
	if (tsb_body(c, &b) != BE_OK || keys_ok(c, b, "", approve ? akeys : rkeys) != BE_OK)
		goto out;
	if (tsb_json_str(b, "", "id", true, &d.id, &e) != BE_OK ||
	    b64_field(b, approve ? "approvalToBeSigned" : "rejectionToBeSigned", &token, &tlen,
		      &e) != BE_OK ||
	    b64_field(b, "signature", &sig, &slen, &e) != BE_OK ||
	    tsb_json_str(b, "", "approvalDigestAlgorithm", false, &dname, &e) != BE_OK ||
	    be_approver_digest(dname, &d.dig, &e) != BE_OK ||
	    approver_of(b, &d.approver, &spki, &e) != BE_OK) {
		fail_e(c, &e, false);
		goto out;
	}
	if (!uuid_like(d.id)) {
		be_err_set(&e, BE_E_NOTFOUND, "request %.40s does not exist", d.id);
		fail_e(c, &e, false);
		goto out;
	}
	d.approve = approve;
	d.spki = spki;
	d.token = token;
	d.token_len = tlen;
	d.sig = sig;
	d.sig_len = slen;
	if (be_policy_decide(&c->env, &c->op, &d, &after, &e) != BE_OK) {
		fail_e(c, &e, true);
		goto out;
	}
	tsb_reply(c, 200, json_pack("{s:s, s:s}", "id", after->id, "status",
				    be_ks_status_name(after->status)));
out:
	be_ks_req_free(after);
	if (d.approver != NULL)
		gnutls_pubkey_deinit(d.approver);
	free(spki);
	free(token);
	free(sig);
	json_decref(b);
	return 0;
}
