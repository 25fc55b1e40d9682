/*
 * Approval policies, approver signatures, and the TSB certificate flows: signing a CSR with
 * a stored CA key at once or after a quorum of approvals (see be_policy.h for the rules).
 *
 * Every certificate is issued by be_issue (a fresh serial for each attempt).  Exactly one
 * certificate per request: only the transaction that completes a quorum moves it to
 * APPROVED; execution runs under a process-wide mutex, only from APPROVED, and issues
 * against the request's record in the certificate store, which one certificate completes
 * (store_claim), so a repeat after a crash or from another process takes that one.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "be_csr.h"
#include "be_goodkey.h"
#include "be_json.h"
#include "be_key.h"
#include "be_policy.h"
#include "be_profile.h"

#define M BE_E_MALFORMED
#define POLICY_MAX_TOKENS	8
#define POLICY_MAX_GROUPS	8
#define POLICY_MAX_APPROVERS	32
#define POLICY_MAX_SECONDS	31536000u
#define POLICY_NAME_MAX		64
#define APPROVER_DER_MAX	(16 * 1024)
#define TOKEN_HEADER		"certgate TSB approval v1\n"

static pthread_mutex_t exec_mu = PTHREAD_MUTEX_INITIALIZER;

/* Policies arrive in TSB's JSON, where Java and Go clients send null or "" for "not set". */
#define JM (BE_JSON_NULL_ABSENT | BE_JSON_EMPTY_ABSENT)

static const char *
sep(const char *path)
{
	return path[0] != '\0' ? "." : "";
}

/* ---------------------------------------------------------------- time */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's days_from_civil). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool
digits(const char *s, size_t n, unsigned *out)
{
	size_t i;

	*out = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*out = *out * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

int
be_time_parse(const char *s, int64_t *out, struct be_err *e)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned y, mo, d, h, mi, sec, oh = 0, om = 0;
	const char *p;
	int64_t off = 0;

	if (s == NULL || strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' ||
	    !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) || s[13] != ':' ||
	    !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
		goto bad;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    sec > 60)
		goto bad;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			goto bad;
		while (*p >= '0' && *p <= '9' && p - s < 40)
			p++;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		off = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && digits(p + 1, 2, &oh) &&
		   p[3] == ':' && digits(p + 4, 2, &om) && oh < 24 && om < 60) {
		off = ((int64_t)oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
	} else {
		goto bad;
	}
	*out = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + mi * 60 +
	       (sec > 59 ? 59 : sec) - off;
	return BE_OK;
bad:
	return be_err_set(e, M, "not an ISO-8601 UTC time (\"2024-01-23T11:43:43Z\")");
}

void
be_time_format(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (gmtime_r(&tt, &tm) != NULL)
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---------------------------------------------------------------- approver keys */

static int
b64_der(const char *b64, const char *what, unsigned char **der, size_t *len, struct be_err *e)
{
	struct be_err ignore = { 0, "" };

	*der = NULL;
	*len = 0;
	if (strlen(b64) > APPROVER_DER_MAX * 2)
		return be_err_set(e, BE_E_TOOBIG, "%s: too long", what);
	if (be_base64_decode(b64, strlen(b64), der, len, &ignore) != BE_OK || *len == 0) {
		free(*der);
		*der = NULL;
		return be_err_set(e, M, "%s: not base64 of DER (RFC 4648 4)", what);
	}
	return BE_OK;
}

static int
pub_spki_b64(gnutls_pubkey_t pub, char **out, struct be_err *e)
{
	gnutls_datum_t der = { NULL, 0 };
	int rc = BE_OK;

	*out = NULL;
	if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der) < 0)
		rc = be_err_set(e, BE_E_CRYPTO, "cannot encode a public key");
	else if (be_base64_encode(der.data, der.size, 0, out) != BE_OK)
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
	be_datum_free(&der);
	return rc;
}

int
be_approver_parse(const char *public_key, const char *certificate, gnutls_pubkey_t *pub,
		  char **spki, struct be_err *e)
{
	unsigned char *der = NULL;
	size_t len = 0;
	gnutls_pubkey_t k = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d, re = { NULL, 0 };
	struct be_keyspec spec;
	int rc = BE_OK;

	if (pub != NULL)
		*pub = NULL;
	if (spki != NULL)
		*spki = NULL;
	if ((public_key == NULL) == (certificate == NULL)) {
		rc = be_err_set(e, M, "give exactly one of approverPublicKey and "
				"approverCertificate");
		goto out;
	}
	if (public_key != NULL) {
		if ((rc = b64_der(public_key, "approver public key", &der, &len, e)) != BE_OK ||
		    (rc = be_pubkey_parse(der, len, &k, &spec, e)) != BE_OK)
			goto out;
	} else {
		if ((rc = b64_der(certificate, "approver certificate", &der, &len, e)) != BE_OK)
			goto out;
		d.data = der;
		d.size = (unsigned)len;
		if (gnutls_x509_crt_init(&crt) < 0 || gnutls_pubkey_init(&k) < 0) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) < 0 ||
		    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &re) < 0 ||
		    !be_ct_equal(re.data, re.size, der, len) ||
		    gnutls_pubkey_import_x509(k, crt, 0) < 0) {
			rc = be_err_set(e, M, "approver certificate: not a DER X.509 certificate "
					"(RFC 5280 4.1)");
			goto out;
		}
		if ((rc = be_keyspec_of_pubkey(k, &spec, e)) != BE_OK)
			goto out;
	}
	if (spki != NULL && (rc = pub_spki_b64(k, spki, e)) != BE_OK)
		goto out;
	if (pub != NULL) {
		*pub = k;
		k = NULL;
	}
out:
	be_datum_free(&re);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	if (k != NULL)
		gnutls_pubkey_deinit(k);
	free(der);
	return rc;
}

int
be_approver_digest(const char *name, gnutls_digest_algorithm_t *out, struct be_err *e)
{
	static const struct {
		const char *name;
		gnutls_digest_algorithm_t dig;
	} t[] = {
		{ "SHA-224", GNUTLS_DIG_SHA224 }, { "SHA224", GNUTLS_DIG_SHA224 },
		{ "SHA-256", GNUTLS_DIG_SHA256 }, { "SHA256", GNUTLS_DIG_SHA256 },
		{ "SHA-384", GNUTLS_DIG_SHA384 }, { "SHA384", GNUTLS_DIG_SHA384 },
		{ "SHA-512", GNUTLS_DIG_SHA512 }, { "SHA512", GNUTLS_DIG_SHA512 },
		{ "SHA3-224", GNUTLS_DIG_SHA3_224 }, { "SHA3-256", GNUTLS_DIG_SHA3_256 },
		{ "SHA3-384", GNUTLS_DIG_SHA3_384 }, { "SHA3-512", GNUTLS_DIG_SHA3_512 },
		{ "EdDSA", GNUTLS_DIG_UNKNOWN }, { "Ed25519", GNUTLS_DIG_UNKNOWN },
		{ "NONE", GNUTLS_DIG_UNKNOWN },
	};
	size_t i;

	if (name == NULL) {
		*out = GNUTLS_DIG_SHA256;
		return BE_OK;
	}
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcasecmp(name, t[i].name) == 0) {
			*out = t[i].dig;
			return BE_OK;
		}
	}
	return be_err_set(e, M, "digest algorithm \"%.32s\" is not one of SHA-224, SHA-256, "
			  "SHA-384, SHA-512, SHA3-224 .. SHA3-512, EdDSA", name);
}

static int
sign_algo(int pk, gnutls_digest_algorithm_t dig, gnutls_sign_algorithm_t *out,
	  struct be_err *e)
{
	if (pk == GNUTLS_PK_EDDSA_ED25519) {
		*out = GNUTLS_SIGN_EDDSA_ED25519;
		return BE_OK;
	}
	if (pk != GNUTLS_PK_RSA && pk != GNUTLS_PK_ECDSA)
		return be_err_set(e, BE_E_POLICY, "approver keys are RSA, EC or Ed25519");
	if (dig == GNUTLS_DIG_UNKNOWN)
		dig = GNUTLS_DIG_SHA256;
	*out = gnutls_pk_to_sign((gnutls_pk_algorithm_t)pk, dig);
	if (*out == GNUTLS_SIGN_UNKNOWN)
		return be_err_set(e, BE_E_POLICY, "no signature algorithm for this key and digest");
	return BE_OK;
}

int
be_approver_verify(gnutls_pubkey_t pub, gnutls_digest_algorithm_t dig, const void *data,
		   size_t len, const unsigned char *sig, size_t siglen, struct be_err *e)
{
	gnutls_sign_algorithm_t alg = GNUTLS_SIGN_UNKNOWN;
	gnutls_datum_t d = { (unsigned char *)(uintptr_t)data, (unsigned)len };
	gnutls_datum_t s = { (unsigned char *)(uintptr_t)sig, (unsigned)siglen };
	int rc;

	if ((rc = sign_algo(gnutls_pubkey_get_pk_algorithm(pub, NULL), dig, &alg, e)) != BE_OK)
		return rc;
	if (siglen == 0 || siglen > 2048 || gnutls_pubkey_verify_data2(pub, alg, 0, &d, &s) < 0)
		return be_err_set(e, BE_E_FORBIDDEN, "the signature does not verify with the "
				  "approver's key");
	return BE_OK;
}

int
be_approver_sign(gnutls_privkey_t key, gnutls_digest_algorithm_t dig, const void *data,
		 size_t len, gnutls_datum_t *sig, struct be_err *e)
{
	gnutls_sign_algorithm_t alg = GNUTLS_SIGN_UNKNOWN;
	gnutls_datum_t d = { (unsigned char *)(uintptr_t)data, (unsigned)len };
	int rc;

	sig->data = NULL;
	sig->size = 0;
	if ((rc = sign_algo(gnutls_privkey_get_pk_algorithm(key, NULL), dig, &alg, e)) != BE_OK)
		return rc;
	if (gnutls_privkey_sign_data2(key, alg, 0, &d, sig) < 0)
		return be_err_set(e, BE_E_CRYPTO, "the approver key could not sign");
	return BE_OK;
}

int
be_approver_load(const char *path, gnutls_privkey_t *key, char **spki, struct be_err *e)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	gnutls_datum_t d;
	gnutls_privkey_t k = NULL;
	gnutls_pubkey_t pub = NULL;
	struct be_keyspec spec;
	int rc;

	*key = NULL;
	*spki = NULL;
	if ((rc = be_file_read(path, 1 << 20, &buf, &len, e)) != BE_OK)
		goto out;
	d.data = buf;
	d.size = (unsigned)len;
	if (gnutls_privkey_init(&k) < 0 || gnutls_pubkey_init(&pub) < 0) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (gnutls_privkey_import_x509_raw(k, &d, GNUTLS_X509_FMT_PEM, NULL, 0) < 0) {
		rc = be_err_set(e, M, "%s: not an unencrypted PEM private key", path);
		goto out;
	}
	if (gnutls_pubkey_import_privkey(pub, k, 0, 0) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "%s: cannot read its public key", path);
		goto out;
	}
	if ((rc = be_keyspec_of_pubkey(pub, &spec, e)) != BE_OK ||
	    (rc = pub_spki_b64(pub, spki, e)) != BE_OK)
		goto out;
	*key = k;
	k = NULL;
out:
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	if (k != NULL)
		gnutls_privkey_deinit(k);
	if (buf != NULL) {
		be_memzero(buf, len);
		free(buf);
	}
	return rc;
}

/* ---------------------------------------------------------------- policies */

static void
group_clear(struct be_policy_group *g)
{
	size_t i;

	free(g->name);
	for (i = 0; i < g->n; i++) {
		free(g->v[i].name);
		free(g->v[i].value);
		free(g->v[i].spki);
	}
	free(g->v);
}

static void
tokens_free(struct be_policy_token *t, size_t n)
{
	size_t i, j;

	if (t == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(t[i].name);
		for (j = 0; j < t[i].n_groups; j++)
			group_clear(&t[i].groups[j]);
		free(t[i].groups);
	}
	free(t);
}

void
be_policy_free(struct be_policy *p)
{
	if (p == NULL)
		return;
	tokens_free(p->tokens, p->n_tokens);
	json_decref(p->rules);
	free(p);
}

static int
name_dup(const json_t *o, const char *path, const char *key, char **out, struct be_err *e)
{
	const char *s = NULL;
	int rc;

	*out = NULL;
	if ((rc = be_json_str_m(o, path, key, false, JM, &s, M, e)) != BE_OK)
		return rc;
	if (s == NULL)
		return BE_OK;
	if (strlen(s) > POLICY_NAME_MAX)
		return be_err_set(e, M, "%s.%s: longer than %d characters", path, key,
				  POLICY_NAME_MAX);
	if ((*out = strdup(s)) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	return BE_OK;
}

static int
parse_approver(const json_t *j, const char *path, struct be_approver *a, struct be_err *e)
{
	static const char *const keys[] = { "type", "name", "value", NULL };
	const char *type = NULL, *value = NULL;
	struct be_err inner = { 0, "" };
	unsigned char *der = NULL;
	size_t len = 0;
	int rc;

	if ((rc = be_json_keys(j, path, keys, M, e)) != BE_OK ||
	    (rc = be_json_str_m(j, path, "type", true, JM, &type, M, e)) != BE_OK ||
	    (rc = name_dup(j, path, "name", &a->name, e)) != BE_OK)
		goto out;
	if (strcmp(type, "public_key") == 0) {
		a->type = BE_APPROVER_PUBLIC_KEY;
	} else if (strcmp(type, "certificate") == 0) {
		a->type = BE_APPROVER_CERTIFICATE;
	} else if (strcmp(type, "onboarded_approver_certificate") == 0) {
		rc = be_err_set(e, M, "%s.type: onboarded approvers are not supported; give the "
				"approver's public_key or certificate", path);
		goto out;
	} else {
		rc = be_err_set(e, M, "%s.type: must be public_key or certificate", path);
		goto out;
	}
	if ((rc = be_json_str_m(j, path, "value", true, JM, &value, M, e)) != BE_OK)
		goto out;
	if ((rc = be_approver_parse(a->type == BE_APPROVER_PUBLIC_KEY ? value : NULL,
				    a->type == BE_APPROVER_CERTIFICATE ? value : NULL, NULL,
				    &a->spki, &inner)) != BE_OK) {
		rc = be_err_set(e, rc, "%s.value: %s", path, inner.msg);
		goto out;
	}
	if (a->type == BE_APPROVER_PUBLIC_KEY) {
		a->value = strdup(a->spki);
	} else {
		if ((rc = b64_der(value, "value", &der, &len, e)) != BE_OK)
			goto out;
		if (be_base64_encode(der, len, 0, &a->value) != BE_OK)
			a->value = NULL;
	}
	if (a->value == NULL)
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
out:
	free(der);
	return rc;
}

static int
parse_group(const json_t *j, const char *path, struct be_policy_group *g, struct be_err *e)
{
	static const char *const keys[] = { "name", "quorum", "approvals", NULL };
	const json_t *arr, *it;
	char sub[160];
	unsigned long long q = 0;
	size_t i, k;
	int rc;

	if ((rc = be_json_keys(j, path, keys, M, e)) != BE_OK ||
	    (rc = name_dup(j, path, "name", &g->name, e)) != BE_OK ||
	    (rc = be_json_uint_m(j, path, "quorum", true, JM, 1, POLICY_MAX_APPROVERS, &q, M, e)) !=
	    BE_OK)
		return rc;
	arr = be_json_get(j, "approvals", JM);
	if (arr == NULL || !json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > POLICY_MAX_APPROVERS)
		return be_err_set(e, M, "%s.approvals: must be an array of 1 to %d approvers", path,
				  POLICY_MAX_APPROVERS);
	if (q > json_array_size(arr))
		return be_err_set(e, M, "%s.quorum: %llu, but the group has %zu approvers", path, q,
				  json_array_size(arr));
	g->quorum = (unsigned)q;
	if ((g->v = calloc(json_array_size(arr), sizeof(*g->v))) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	json_array_foreach(arr, i, it) {
		snprintf(sub, sizeof(sub), "%s.approvals[%zu]", path, i);
		g->n = i + 1;
		if ((rc = parse_approver(it, sub, &g->v[i], e)) != BE_OK)
			return rc;
		for (k = 0; k < i; k++)
			if (strcmp(g->v[k].spki, g->v[i].spki) == 0)
				return be_err_set(e, M, "%s: the same approver key as approvals[%zu]",
						  sub, k);
	}
	return BE_OK;
}

static int
parse_token(const json_t *j, const char *path, struct be_policy_token *t, struct be_err *e)
{
	static const char *const keys[] = { "name", "timelock", "timeout", "groups", NULL };
	const json_t *arr, *it;
	unsigned long long v;
	char sub[128];
	size_t i;
	int rc;

	if ((rc = be_json_keys(j, path, keys, M, e)) != BE_OK ||
	    (rc = name_dup(j, path, "name", &t->name, e)) != BE_OK)
		return rc;
	v = 0;
	if ((rc = be_json_uint_m(j, path, "timelock", false, JM, 0, POLICY_MAX_SECONDS, &v, M, e)) !=
	    BE_OK)
		return rc;
	t->timelock = (unsigned)v;
	v = 0;
	if ((rc = be_json_uint_m(j, path, "timeout", false, JM, 0, POLICY_MAX_SECONDS, &v, M, e)) !=
	    BE_OK)
		return rc;
	t->timeout = (unsigned)v;
	arr = be_json_get(j, "groups", JM);
	if (arr == NULL)
		return BE_OK;
	if (!json_is_array(arr) || json_array_size(arr) > POLICY_MAX_GROUPS)
		return be_err_set(e, M, "%s.groups: must be an array of at most %d groups", path,
				  POLICY_MAX_GROUPS);
	if (json_array_size(arr) == 0)
		return BE_OK;
	if ((t->groups = calloc(json_array_size(arr), sizeof(*t->groups))) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	json_array_foreach(arr, i, it) {
		snprintf(sub, sizeof(sub), "%s.groups[%zu]", path, i);
		t->n_groups = i + 1;
		if (!json_is_object(it))
			return be_err_set(e, M, "%s: must be an object", sub);
		if ((rc = parse_group(it, sub, &t->groups[i], e)) != BE_OK)
			return rc;
	}
	return BE_OK;
}

static int
parse_rule(const json_t *j, const char *path, struct be_policy_token **out, size_t *n,
	   struct be_err *e)
{
	static const char *const keys[] = { "tokens", NULL };
	struct be_policy_token *t = NULL;
	const json_t *arr, *it;
	char sub[96];
	size_t i, cnt = 0;
	int rc = BE_OK;

	*out = NULL;
	*n = 0;
	if ((rc = be_json_keys(j, path, keys, M, e)) != BE_OK)
		goto out;
	arr = be_json_get(j, "tokens", JM);
	if (arr == NULL)
		goto out;
	if (!json_is_array(arr) || json_array_size(arr) > POLICY_MAX_TOKENS) {
		rc = be_err_set(e, M, "%s.tokens: must be an array of at most %d tokens", path,
				POLICY_MAX_TOKENS);
		goto out;
	}
	if (json_array_size(arr) == 0)
		goto out;
	if ((t = calloc(json_array_size(arr), sizeof(*t))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(arr, i, it) {
		snprintf(sub, sizeof(sub), "%s.tokens[%zu]", path, i);
		cnt = i + 1;
		if (!json_is_object(it)) {
			rc = be_err_set(e, M, "%s: must be an object", sub);
			goto out;
		}
		if ((rc = parse_token(it, sub, &t[i], e)) != BE_OK)
			goto out;
	}
	*out = t;
	*n = cnt;
	t = NULL;
out:
	tokens_free(t, cnt);
	return rc;
}

static json_t *
approver_json(const struct be_approver *a)
{
	return json_pack("{s:s, s:s?, s:s}", "type",
			 a->type == BE_APPROVER_PUBLIC_KEY ? "public_key" : "certificate",
			 "name", a->name, "value", a->value);
}

static json_t *
rule_json(const struct be_policy_token *t, size_t n)
{
	json_t *tokens = json_array(), *groups, *apps;
	size_t i, j, k;

	for (i = 0; tokens != NULL && i < n; i++) {
		groups = json_array();
		for (j = 0; groups != NULL && j < t[i].n_groups; j++) {
			const struct be_policy_group *g = &t[i].groups[j];

			apps = json_array();
			for (k = 0; apps != NULL && k < g->n; k++)
				json_array_append_new(apps, approver_json(&g->v[k]));
			json_array_append_new(groups, json_pack("{s:s?, s:i, s:o*}", "name", g->name,
								"quorum", (int)g->quorum,
								"approvals", apps));
		}
		json_array_append_new(tokens, json_pack("{s:s?, s:i, s:i, s:o*}", "name", t[i].name,
							 "timelock", (int)t[i].timelock,
							 "timeout", (int)t[i].timeout,
							 "groups", groups));
	}
	return json_pack("{s:o*}", "tokens", tokens);
}

int
be_policy_parse(const json_t *j, const char *path, struct be_policy **out, struct be_err *e)
{
	static const char *const keys[] = { "ruleUse", "ruleBlock", "ruleUnblock", "ruleModify",
					     "keyStatus", NULL };
	static const char *const other[] = { "ruleBlock", "ruleUnblock", "ruleModify" };
	struct be_policy *p = NULL;
	struct be_policy_token *t = NULL;
	const json_t *o = NULL;
	char sub[96];
	size_t i, n = 0;
	int rc;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL || (p->rules = json_object()) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = be_json_keys(j, path, keys, M, e)) != BE_OK)
		goto out;
	snprintf(sub, sizeof(sub), "%s%sruleUse", path, sep(path));
	if ((rc = be_json_obj_m(j, path, "ruleUse", false, JM, &o, M, e)) != BE_OK ||
	    (o != NULL && (rc = parse_rule(o, sub, &p->tokens, &p->n_tokens, e)) != BE_OK))
		goto out;
	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		snprintf(sub, sizeof(sub), "%s%s%s", path, sep(path), other[i]);
		if ((rc = be_json_obj_m(j, path, other[i], false, JM, &o, M, e)) != BE_OK)
			goto out;
		if (o == NULL)
			continue;
		if ((rc = parse_rule(o, sub, &t, &n, e)) != BE_OK)
			goto out;
		json_object_set_new(p->rules, other[i], rule_json(t, n));
		tokens_free(t, n);
		t = NULL;
		n = 0;
	}
	snprintf(sub, sizeof(sub), "%s%skeyStatus", path, sep(path));
	if ((rc = be_json_obj_m(j, path, "keyStatus", false, JM, &o, M, e)) != BE_OK)
		goto out;
	if (o != NULL) {
		static const char *const ks[] = { "blocked", NULL };

		if ((rc = be_json_keys(o, sub, ks, M, e)) != BE_OK ||
		    (rc = be_json_bool_m(o, sub, "blocked", false, JM, &p->blocked, M, e)) != BE_OK)
			goto out;
	}
	*out = p;
	p = NULL;
out:
	tokens_free(t, n);
	be_policy_free(p);
	return rc;
}

json_t *
be_policy_json(const struct be_policy *p)
{
	json_t *j = json_object(), *v;
	const char *k;

	if (j == NULL)
		return NULL;
	json_object_set_new(j, "ruleUse", rule_json(p->tokens, p->n_tokens));
	json_object_foreach(p->rules, k, v)
		json_object_set(j, k, v);
	json_object_set_new(j, "keyStatus", json_pack("{s:b}", "blocked", p->blocked));
	return j;
}

int
be_policy_decode(const char *text, struct be_policy **out, struct be_err *e)
{
	json_t *j = NULL;
	int rc;

	*out = NULL;
	if ((rc = be_json_parse(text, strlen(text), "stored policy", BE_E_STORE, &j, e)) != BE_OK)
		return rc;
	rc = be_policy_parse(j, "policy", out, e);
	json_decref(j);
	return rc;
}

bool
be_policy_needs_approval(const struct be_policy *p)
{
	size_t i;

	if (p == NULL || p->n_tokens == 0)
		return false;
	for (i = 0; i < p->n_tokens; i++)
		if (p->tokens[i].n_groups == 0)
			return false;
	return true;
}

static bool
group_has(const struct be_policy_group *g, const char *spki)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		if (strcmp(g->v[i].spki, spki) == 0)
			return true;
	return false;
}

bool
be_policy_has_approver(const struct be_policy *p, const char *spki)
{
	size_t i, j;

	for (i = 0; p != NULL && i < p->n_tokens; i++)
		for (j = 0; j < p->tokens[i].n_groups; j++)
			if (group_has(&p->tokens[i].groups[j], spki))
				return true;
	return false;
}

/* The approver's entry in p (its canonical key), or NULL. */
static const struct be_approver *
policy_approver(const struct be_policy *p, const char *spki)
{
	size_t i, j, k;

	for (i = 0; p != NULL && i < p->n_tokens; i++)
		for (j = 0; j < p->tokens[i].n_groups; j++)
			for (k = 0; k < p->tokens[i].groups[j].n; k++)
				if (strcmp(p->tokens[i].groups[j].v[k].spki, spki) == 0)
					return &p->tokens[i].groups[j].v[k];
	return NULL;
}

enum be_ks_status
be_policy_eval(const struct be_policy *p, const struct be_ks_decision *d, size_t n,
	       int64_t created, int64_t now, int64_t *ready_at, const char **why)
{
	bool satisfied = false, reachable = false, all_rejected = true;
	int64_t ready = 0;
	size_t i, j, k;

	*why = NULL;
	if (!be_policy_needs_approval(p)) {
		*ready_at = created;
		return BE_KS_APPROVED;
	}
	for (i = 0; i < p->n_tokens; i++) {
		const struct be_policy_token *t = &p->tokens[i];
		int64_t deadline = t->timeout > 0 ? created + t->timeout : INT64_MAX;
		bool ok = true, possible = true;

		for (j = 0; j < t->n_groups; j++) {
			const struct be_policy_group *g = &t->groups[j];
			unsigned yes = 0, no = 0;

			for (k = 0; k < n; k++) {
				if (!group_has(g, d[k].approver))
					continue;
				if (!d[k].approve)
					no++;
				else if (d[k].at <= deadline)
					yes++;
			}
			if (yes < g->quorum)
				ok = false;
			if (g->n - no < g->quorum)
				possible = false;
		}
		if (ok) {
			int64_t r = created + t->timelock;

			if (!satisfied || r < ready)
				ready = r;
			satisfied = true;
			continue;
		}
		if (possible)
			all_rejected = false;
		if (possible && now <= deadline)
			reachable = true;
	}
	if (satisfied) {
		*ready_at = ready;
		return BE_KS_APPROVED;
	}
	if (reachable)
		return BE_KS_PENDING;
	if (all_rejected) {
		*why = "rejections leave no token of the policy able to reach its quorum";
		return BE_KS_REJECTED;
	}
	*why = "the approvals did not reach a quorum before the policy's timeout";
	return BE_KS_EXPIRED;
}

/* ---------------------------------------------------------------- requests */

int
be_policy_token(const struct be_ks_req *r, bool approve, gnutls_datum_t *out, struct be_err *e)
{
	size_t n = strlen(TOKEN_HEADER) + 32 + strlen(r->id) + strlen(r->body) + 16;
	int w;

	out->data = NULL;
	out->size = 0;
	if ((out->data = gnutls_malloc(n)) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	w = snprintf((char *)out->data, n, "%sdecision: %s\nrequest: %s\n%s", TOKEN_HEADER,
		     approve ? "APPROVE" : "REJECT", r->id, r->body);
	if (w < 0 || (size_t)w >= n) {
		be_datum_free(out);
		return be_err_set(e, BE_E_INTERNAL, "approval token too long");
	}
	out->size = (unsigned)w;
	return BE_OK;
}

static int
strv_push(char ***v, size_t *n, const char *s, struct be_err *e)
{
	char **nv;
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return BE_OK;
	if ((nv = realloc(*v, (*n + 1) * sizeof(*nv))) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	*v = nv;
	if ((nv[*n] = strdup(s)) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	(*n)++;
	return BE_OK;
}

static bool
decided(const struct be_ks_req *r, const char *spki)
{
	size_t i;

	for (i = 0; i < r->n_dec; i++)
		if (strcmp(r->dec[i].approver, spki) == 0)
			return true;
	return false;
}

int
be_policy_request_lists(const struct be_ks_req *r, char ***approved, size_t *n_approved,
			char ***waiting, size_t *n_waiting, char ***rejected, size_t *n_rejected,
			struct be_err *e)
{
	struct be_policy *p = NULL;
	size_t i, j, k;
	int rc = BE_OK;

	*approved = *waiting = *rejected = NULL;
	*n_approved = *n_waiting = *n_rejected = 0;
	for (i = 0; i < r->n_dec && rc == BE_OK; i++)
		rc = r->dec[i].approve ? strv_push(approved, n_approved, r->dec[i].approver, e) :
		     strv_push(rejected, n_rejected, r->dec[i].approver, e);
	if (rc != BE_OK || r->status != BE_KS_PENDING || r->policy == NULL)
		goto out;
	if ((rc = be_policy_decode(r->policy, &p, e)) != BE_OK)
		goto out;
	for (i = 0; i < p->n_tokens && rc == BE_OK; i++)
		for (j = 0; j < p->tokens[i].n_groups && rc == BE_OK; j++)
			for (k = 0; k < p->tokens[i].groups[j].n && rc == BE_OK; k++) {
				const char *s = p->tokens[i].groups[j].v[k].spki;

				if (!decided(r, s))
					rc = strv_push(waiting, n_waiting, s, e);
			}
out:
	be_policy_free(p);
	if (rc != BE_OK) {
		be_strv_free(*approved, *n_approved);
		be_strv_free(*waiting, *n_waiting);
		be_strv_free(*rejected, *n_rejected);
		*approved = *waiting = *rejected = NULL;
		*n_approved = *n_waiting = *n_rejected = 0;
	}
	return rc;
}

/* What one certificate will be, decided from a request (prepare) or a stored one (data). */
struct issue {
	struct be_ks_key *key;
	struct be_csr *csr;
	struct be_name subject;
	bool ca;
	unsigned key_usage;
	char **eku;
	size_t n_eku;
	unsigned days;
	gnutls_digest_algorithm_t hash;
	int sig_alg;
};

static void
issue_clear(struct issue *is)
{
	be_ks_key_free(is->key);
	be_csr_free(is->csr);
	be_name_clear(&is->subject);
	be_strv_free(is->eku, is->n_eku);
	memset(is, 0, sizeof(*is));
}

static void
op_audit(const struct be_tsb_env *env, const struct be_op_ctx *op, const char *label,
	 const char *outcome, const char *reason, const char *serial)
{
	struct be_audit_rec a;
	char profile[BE_KS_LABEL_MAX + 8];

	memset(&a, 0, sizeof(a));
	snprintf(profile, sizeof(profile), "tsb:%s", label != NULL ? label : "");
	a.request_id = op->request_id;
	a.adapter = op->adapter;
	a.operation = op->operation;
	a.principal = op->principal.name;
	a.profile = label != NULL ? profile : NULL;
	a.peer = op->peer;
	a.outcome = outcome;
	a.reason = reason;
	a.serial = serial;
	if (env->ctx->store != NULL)
		(void)be_store_audit(env->ctx->store, &a, NULL);
}

/* Has stored key is->key sign the certificate is describes, through be_issue under the
 * key-store profile (or, check_only, checks it would: the request then waits for the key's
 * approvals).  principal asked for it; store_request (0: none) is the store's record it
 * completes (store_claim).  *audited tells whether be_issue audited the outcome.
 * *der (not for check_only) gnutls_malloc()ed. */
static int
issue_run(const struct be_tsb_env *env, const struct be_op_ctx *op, const struct issue *is,
	  const char *principal, int64_t store_request, bool check_only, gnutls_datum_t *der,
	  bool *audited, struct be_err *e)
{
	struct be_request req;
	struct be_result res;
	struct be_ext_request ext;
	struct be_ca *ca = NULL;
	int rc;

	memset(&req, 0, sizeof(req));
	memset(&res, 0, sizeof(res));
	*audited = false;
	if (env->profile == NULL) {
		rc = be_err_set(e, BE_E_UNAVAILABLE, "no profile for certificates signed with "
				"stored keys is configured");
		goto out;
	}
	if ((rc = be_keystore_ca(env->ks, is->key, is->hash, time(NULL), &ca, e)) != BE_OK)
		goto out;
	ext.ca = is->ca;
	ext.key_usage = is->key_usage;
	ext.eku = is->eku;
	ext.n_eku = is->n_eku;
	req.adapter = op->adapter;
	req.operation = op->operation;
	req.request_id = op->request_id;
	req.peer = op->peer;
	req.profile = env->profile;
	/* The key operator who asked, also when an approver's decision executes it. */
	req.principal.name = principal;
	req.principal.roles = BE_ROLE_KEY_OP;
	req.csr = is->csr;
	req.subject = &is->subject;
	req.validity_days = is->days;
	req.issuer = ca;
	req.ext = &ext;
	req.check_only = check_only;
	req.approved_request = store_request;
	*audited = true;
	if ((rc = be_issue(env->ctx, &req, &res, e)) != BE_OK || check_only)
		goto out;
	*der = res.cert;
	res.cert.data = NULL;
	res.cert.size = 0;
out:
	be_result_clear(&res);
	be_ca_free(ca);
	return rc;
}

/* Loads key, password, CSR and content of r into is; every refusal named. */
static int
prepare(const struct be_tsb_env *env, const struct be_tsb_sign *r, struct issue *is,
	struct be_policy **policy, struct be_err *e)
{
	struct be_policy *p = NULL;
	size_t i;
	int rc;

	memset(is, 0, sizeof(*is));
	*policy = NULL;
	if ((rc = be_ks_label_check(r->key_label, e)) != BE_OK ||
	    (rc = be_keystore_key_get(env->ks, r->key_label, &is->key, e)) != BE_OK ||
	    (rc = be_keystore_key_auth(env->ks, is->key, r->key_password, e)) != BE_OK)
		goto out;
	if (!(is->key->attrs & BE_KS_SIGN)) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "key %s may not sign (attribute sign is false)",
				r->key_label);
		goto out;
	}
	if (is->key->policy != NULL && (rc = be_policy_decode(is->key->policy, &p, e)) != BE_OK)
		goto out;
	if (p != NULL && p->blocked) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "key %s is blocked", r->key_label);
		goto out;
	}
	if (r->sig_alg != BE_KEY_NONE && r->sig_alg != is->key->spec.alg) {
		rc = be_err_set(e, BE_E_POLICY, "signatureAlgorithm does not fit key %s",
				r->key_label);
		goto out;
	}
	if ((rc = be_csr_parse(r->csr, r->csr_len, 0, &is->csr, e)) != BE_OK ||
	    (rc = be_goodkey_check(env->ctx->goodkey, is->csr->pubkey, "CSR key", e)) != BE_OK)
		goto out;
	if (r->common_name != NULL) {
		if ((rc = be_name_add(&is->subject, BE_DN_CN, r->common_name,
				      strlen(r->common_name), e)) != BE_OK)
			goto out;
	} else if ((rc = be_name_copy(&is->subject, &is->csr->subject)) != BE_OK) {
		rc = be_err_set(e, rc, "out of memory");
		goto out;
	}
	is->ca = r->ca;
	is->key_usage = r->key_usage;
	is->days = r->validity_days;
	is->hash = r->hash;
	is->sig_alg = r->sig_alg;
	if (r->n_eku > 0) {
		if ((is->eku = calloc(r->n_eku, sizeof(*is->eku))) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		for (i = 0; i < r->n_eku; i++) {
			if ((is->eku[i] = strdup(r->eku[i])) == NULL) {
				rc = be_err_set(e, BE_E_NOMEM, "out of memory");
				goto out;
			}
			is->n_eku = i + 1;
		}
	}
	*policy = p;
	p = NULL;
out:
	be_policy_free(p);
	return rc;
}

static const char *
label_or(const struct be_tsb_sign *r)
{
	return r->key_label != NULL ? r->key_label : "";
}

int
be_policy_sign_now(const struct be_tsb_env *env, const struct be_op_ctx *op,
		   const struct be_tsb_sign *r, gnutls_datum_t *der, struct be_err *e)
{
	struct issue is;
	struct be_policy *p = NULL;
	struct be_err local = { 0, "" };
	bool audited = false;
	int rc;

	if (e == NULL)
		e = &local;
	der->data = NULL;
	der->size = 0;
	if ((rc = prepare(env, r, &is, &p, e)) != BE_OK)
		goto out;
	if (be_policy_needs_approval(p)) {
		rc = be_err_set(e, BE_E_STATE, "key %s has an approval policy: ask with "
				"/v1/certificate/sign and wait for the approvals", r->key_label);
		goto out;
	}
	rc = issue_run(env, op, &is, op->principal.name, 0, false, der, &audited, e);
out:
	if (rc != BE_OK && !audited)
		op_audit(env, op, label_or(r), "refused", e->msg, NULL);
	be_policy_free(p);
	issue_clear(&is);
	return rc;
}

/* The normalised request kept with it (JSON) and what approvers read (the token body). */
static int
request_texts(const struct be_tsb_sign *r, const struct issue *is, const char *principal,
	      int64_t created, char **data, char **body, struct be_err *e)
{
	json_t *j = NULL, *eku = NULL;
	char *csr64 = NULL, *subj = NULL, *b = NULL;
	unsigned char md[32], spki_md[32];
	char csr_hex[65], spki_hex[65], ku[200], ekus[400] = "", when[32];
	gnutls_datum_t spki = { NULL, 0 };
	size_t i, o = 0, cap;
	int rc = BE_OK, w;

	*data = *body = NULL;
	if (be_base64_encode(is->csr->der.data, is->csr->der.size, 0, &csr64) != BE_OK ||
	    (subj = be_name_to_string(&is->subject)) == NULL || (eku = json_array()) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < is->n_eku; i++) {
		json_array_append_new(eku, json_string(is->eku[i]));
		w = snprintf(ekus + o, sizeof(ekus) - o, "%s%s", o ? ", " : "", is->eku[i]);
		if (w > 0 && (size_t)w < sizeof(ekus) - o)
			o += (size_t)w;
	}
	j = json_pack("{s:s, s:s?, s:b, s:i, s:O, s:i, s:i, s:i}", "csr", csr64, "commonName",
		      r->common_name, "ca", is->ca, "keyUsage", (int)is->key_usage, "eku", eku,
		      "validity", (int)is->days, "hash", (int)is->hash, "sigAlg", is->sig_alg);
	if (j == NULL || (*data = json_dumps(j, JSON_COMPACT)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, is->csr->der.data, is->csr->der.size, md) < 0 ||
	    gnutls_pubkey_export2(is->csr->pubkey, GNUTLS_X509_FMT_DER, &spki) < 0 ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.data, spki.size, spki_md) < 0) {
		rc = be_err_set(e, BE_E_CRYPTO, "cannot digest the CSR");
		goto out;
	}
	be_serial_hex(md, sizeof(md), csr_hex, sizeof(csr_hex));
	be_serial_hex(spki_md, sizeof(spki_md), spki_hex, sizeof(spki_hex));
	be_ku_names(is->key_usage, ku, sizeof(ku));
	be_time_format(created, when, sizeof(when));
	cap = strlen(subj) + strlen(is->key->label) + strlen(ku) + strlen(ekus) +
	      (principal != NULL ? strlen(principal) : 0) + 512;
	if ((b = malloc(cap)) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	w = snprintf(b, cap, "key: %s\noperation: certificate-sign\nsubject: %s\n"
		     "certificate-authority: %s\nkey-usage: %s\nextended-key-usage: %s\n"
		     "validity-days: %u\ncsr-sha256: %s\npublic-key-sha256: %s\n"
		     "requested-by: %s\ncreated: %s\n", is->key->label, subj,
		     is->ca ? "true" : "false", ku, ekus, is->days, csr_hex, spki_hex,
		     principal != NULL ? principal : "", when);
	if (w < 0 || (size_t)w >= cap) {
		rc = be_err_set(e, BE_E_INTERNAL, "request text too long");
		goto out;
	}
	*body = b;
	b = NULL;
out:
	be_datum_free(&spki);
	free(b);
	free(csr64);
	free(subj);
	json_decref(eku);
	json_decref(j);
	if (rc != BE_OK) {
		free(*data);
		*data = NULL;
	}
	return rc;
}

/* Rebuilds what a stored request will issue. */
static int
request_issue(const struct be_tsb_env *env, const struct be_ks_req *req, struct issue *is,
	      struct be_err *e)
{
	json_t *j = NULL, *v;
	unsigned char *csr = NULL;
	size_t csr_len = 0, i;
	const char *cn;
	int rc;

	memset(is, 0, sizeof(*is));
	if ((rc = be_json_parse(req->data, strlen(req->data), "stored request", BE_E_STORE, &j,
				e)) != BE_OK)
		goto out;
	if ((rc = be_keystore_key_get(env->ks, req->key_label, &is->key, e)) != BE_OK)
		goto out;
	if (strcmp(is->key->uid, req->key_uid) != 0) {
		rc = be_err_set(e, BE_E_NOTFOUND, "key %s was replaced since the request",
				req->key_label);
		goto out;
	}
	v = json_object_get(j, "csr");
	if (!json_is_string(v) ||
	    (rc = be_base64_decode(json_string_value(v), json_string_length(v), &csr, &csr_len,
				   e)) != BE_OK ||
	    (rc = be_csr_parse(csr, csr_len, 0, &is->csr, e)) != BE_OK) {
		rc = be_err_set(e, BE_E_STORE, "request %s: its stored CSR is damaged", req->id);
		goto out;
	}
	cn = json_string_value(json_object_get(j, "commonName"));
	if (cn != NULL) {
		if ((rc = be_name_add(&is->subject, BE_DN_CN, cn, strlen(cn), e)) != BE_OK)
			goto out;
	} else if ((rc = be_name_copy(&is->subject, &is->csr->subject)) != BE_OK) {
		rc = be_err_set(e, rc, "out of memory");
		goto out;
	}
	is->ca = json_is_true(json_object_get(j, "ca"));
	is->key_usage = (unsigned)json_integer_value(json_object_get(j, "keyUsage"));
	is->days = (unsigned)json_integer_value(json_object_get(j, "validity"));
	is->hash = (gnutls_digest_algorithm_t)json_integer_value(json_object_get(j, "hash"));
	is->sig_alg = (int)json_integer_value(json_object_get(j, "sigAlg"));
	v = json_object_get(j, "eku");
	if (json_array_size(v) > 0) {
		if ((is->eku = calloc(json_array_size(v), sizeof(*is->eku))) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		for (i = 0; i < json_array_size(v); i++) {
			const char *s = json_string_value(json_array_get(v, i));

			if (s == NULL || (is->eku[i] = strdup(s)) == NULL) {
				rc = be_err_set(e, BE_E_STORE, "request %s: damaged", req->id);
				goto out;
			}
			is->n_eku = i + 1;
		}
	}
out:
	free(csr);
	json_decref(j);
	return rc;
}

struct eval_arg {
	bool cancel;
};

static int
eval_cb(const struct be_ks_req *r, int64_t now, int64_t *ready_at, const char **why, void *arg)
{
	const struct eval_arg *a = arg;
	struct be_policy *p = NULL;
	enum be_ks_status s;
	int rc;

	if (a != NULL && a->cancel) {
		if (r->status == BE_KS_PENDING ||
		    (r->status == BE_KS_APPROVED && r->ready_at > now)) {
			*why = "cancelled by the requester";
			return BE_KS_CANCELLED;
		}
		return r->status;
	}
	if (r->status != BE_KS_PENDING)
		return r->status;
	if (r->policy != NULL && (rc = be_policy_decode(r->policy, &p, NULL)) != BE_OK)
		return rc;
	s = be_policy_eval(p, r->dec, r->n_dec, r->created_at, now, ready_at, why);
	be_policy_free(p);
	return (int)s;
}

/* The certificate store's record of executing request r: an APPROVED request of the
 * key-store profile whose idempotency key is r's id.  The certificate is issued against it
 * (be_issue approved_request), and the store lets one certificate complete it; so an
 * execution repeated after a crash, or by another process at the same time, finds the
 * certificate already issued for r (*cert, caller be_cert_rec_free()) and signs no second.
 * Otherwise *store_id is the record to issue against. */
static int
store_claim(const struct be_tsb_env *env, const struct be_ks_req *r, int64_t *store_id,
	    struct be_cert_rec **cert, struct be_err *e)
{
	struct be_req_rec rec, *found = NULL;
	char idem[BE_KS_ID_LEN + 8];
	int rc = BE_OK, tries;

	*store_id = 0;
	*cert = NULL;
	if (env->profile == NULL || env->ctx->store == NULL)
		return BE_OK;	/* issue_run refuses */
	snprintf(idem, sizeof(idem), "tsb:%s", r->id);
	for (tries = 0; tries < 2; tries++) {
		if ((rc = be_store_req_find(env->ctx->store, env->profile->name, idem, &found,
					    e)) != BE_E_NOTFOUND)
			break;
		be_err_clear(e);
		memset(&rec, 0, sizeof(rec));
		rec.profile = env->profile->name;
		rec.principal = r->principal;
		rec.adapter = (char *)(uintptr_t)"tsb";
		rec.idem_key = idem;
		rec.status = BE_REQ_APPROVED;
		rc = be_store_req_insert(env->ctx->store, &rec, NULL, e);
		if (rc != BE_E_CONFLICT) {
			*store_id = rec.id;
			goto out;
		}
		be_err_clear(e);	/* recorded at the same time elsewhere: find it */
	}
	if (rc != BE_OK)
		goto out;
	if (found->status == BE_REQ_ISSUED)
		rc = be_store_cert_get_id(env->ctx->store, found->cert_id, cert, e);
	else if (found->status == BE_REQ_APPROVED)
		*store_id = found->id;
	else
		rc = be_err_set(e, BE_E_STATE, "request %s: its record in the certificate store is "
				"%s", r->id, be_req_status_name(found->status));
out:
	be_req_rec_free(found);
	return rc;
}

/* Issues an APPROVED request whose timelock has passed; once per request (under exec_mu,
 * only from APPROVED, and against its record in the certificate store: store_claim). */
static int
execute(const struct be_tsb_env *env, const struct be_op_ctx *op, const char *id,
	struct be_err *e)
{
	struct be_ks_req *r = NULL;
	struct issue is;
	gnutls_datum_t der = { NULL, 0 }, pem = { NULL, 0 };
	int64_t now = (int64_t)time(NULL);
	struct be_err ie = { 0, "" };
	struct be_cert_rec *done = NULL;
	int64_t sid = 0;
	bool audited = false;
	int rc;

	memset(&is, 0, sizeof(is));
	pthread_mutex_lock(&exec_mu);
	if ((rc = be_keystore_req_get(env->ks, id, &r, e)) != BE_OK)
		goto out;
	if (r->status != BE_KS_APPROVED || r->ready_at > now)
		goto out;
	if ((rc = request_issue(env, r, &is, &ie)) != BE_OK ||
	    (rc = store_claim(env, r, &sid, &done, &ie)) != BE_OK)
		goto fail;
	if (done == NULL) {
		rc = issue_run(env, op, &is, r->principal, sid, false, &der, &audited, &ie);
		/* Completed by another process meanwhile: its certificate is the one. */
		if (rc == BE_E_STATE) {
			be_err_clear(&ie);
			if ((rc = store_claim(env, r, &sid, &done, &ie)) == BE_OK && done == NULL)
				rc = be_err_set(&ie, BE_E_STATE, "request %s: its record in the "
						"certificate store is not issued", id);
		}
		if (rc != BE_OK)
			goto fail;
	}
	if (done != NULL) {
		der = done->der;
		done->der.data = NULL;
		done->der.size = 0;
	}
	if ((rc = be_encode_pem_certs(&der, 1, &pem, &ie)) != BE_OK)
		goto fail;
	rc = be_keystore_req_finish(env->ks, id, BE_KS_APPROVED, BE_KS_EXECUTED,
				    (const char *)pem.data, NULL, now, e);
	if (rc == BE_E_STATE)
		rc = BE_OK;	/* someone else finished it */
	goto out;
fail:
	/* Transient failures leave it APPROVED for the next look; others fail it for good. */
	if (rc == BE_E_UNAVAILABLE || rc == BE_E_NOMEM || rc == BE_E_STORE ||
	    rc == BE_E_CONFLICT) {
		rc = be_err_set(e, rc, "%s", ie.msg);
		goto out;
	}
	op_audit(env, op, r->key_label, "failed", ie.msg, NULL);
	/* Its record in the certificate store fails with it: no front end may issue it. */
	if (sid != 0)
		(void)be_store_req_transition(env->ctx->store, sid, BE_REQ_APPROVED, BE_REQ_FAILED,
					      ie.msg, NULL, NULL);
	rc = be_keystore_req_finish(env->ks, id, BE_KS_APPROVED, BE_KS_FAILED, NULL, ie.msg, now,
				    e);
	if (rc == BE_E_STATE)
		rc = BE_OK;
out:
	pthread_mutex_unlock(&exec_mu);
	be_cert_rec_free(done);
	be_datum_free(&pem);
	be_datum_free(&der);
	issue_clear(&is);
	be_ks_req_free(r);
	return rc;
}

int
be_policy_request_new(const struct be_tsb_env *env, const struct be_op_ctx *op,
		      const struct be_tsb_sign *r, char id[BE_KS_ID_LEN], struct be_err *e)
{
	struct issue is;
	struct be_policy *p = NULL;
	struct be_ks_req req;
	struct be_ks_req *after = NULL;
	struct be_err local = { 0, "" };
	char reason[BE_KS_LABEL_MAX + 96];
	bool recorded = false, audited = false;
	int rc;

	if (e == NULL)
		e = &local;
	id[0] = '\0';
	memset(&req, 0, sizeof(req));
	/* Everything that can refuse the certificate is checked now, not after the approvals. */
	if ((rc = prepare(env, r, &is, &p, e)) != BE_OK ||
	    (rc = issue_run(env, op, &is, op->principal.name, 0, true, NULL, &audited, e)) !=
	    BE_OK)
		goto out;
	audited = false;
	req.key_label = is.key->label;
	snprintf(req.key_uid, sizeof(req.key_uid), "%s", is.key->uid);
	req.principal = (char *)(uintptr_t)op->principal.name;
	req.status = BE_KS_PENDING;
	req.created_at = (int64_t)time(NULL);
	req.policy = is.key->policy;
	if ((rc = request_texts(r, &is, op->principal.name, req.created_at, &req.data, &req.body,
				e)) != BE_OK ||
	    (rc = be_keystore_req_insert(env->ks, &req, e)) != BE_OK)
		goto out;
	snprintf(id, BE_KS_ID_LEN, "%s", req.id);
	snprintf(reason, sizeof(reason), "request %s for key %s recorded%s", req.id, r->key_label,
		 be_policy_needs_approval(p) ? "; waiting for approvals" : "");
	op_audit(env, op, r->key_label, "pending", reason, NULL);
	recorded = true;
	/* Without an approval policy it is approved by its making. */
	if ((rc = be_keystore_req_update(env->ks, req.id, NULL, eval_cb, NULL, req.created_at,
					 &after, NULL, e)) != BE_OK)
		goto out;
	if (after->status == BE_KS_APPROVED)
		rc = execute(env, op, req.id, e);
out:
	if (rc != BE_OK && !recorded && !audited)
		op_audit(env, op, label_or(r), "refused", e->msg, NULL);
	be_ks_req_free(after);
	free(req.data);
	free(req.body);
	be_policy_free(p);
	issue_clear(&is);
	return rc;
}

/* Brings request id up to date: expiry, then execution when due.  *out: the result. */
static int
refresh(const struct be_tsb_env *env, const struct be_op_ctx *op, const char *id,
	struct be_ks_req **out, struct be_err *e)
{
	struct be_ks_req *r = NULL;
	int64_t now = (int64_t)time(NULL);
	int rc;

	*out = NULL;
	if ((rc = be_keystore_req_get(env->ks, id, &r, e)) != BE_OK)
		goto out;
	if (r->status == BE_KS_PENDING) {
		be_ks_req_free(r);
		r = NULL;
		if ((rc = be_keystore_req_update(env->ks, id, NULL, eval_cb, NULL, now, &r, NULL,
						 e)) != BE_OK)
			goto out;
	}
	if (r->status == BE_KS_APPROVED && r->ready_at <= now) {
		be_ks_req_free(r);
		r = NULL;
		if ((rc = execute(env, op, id, e)) != BE_OK ||
		    (rc = be_keystore_req_get(env->ks, id, &r, e)) != BE_OK)
			goto out;
	}
	*out = r;
	r = NULL;
out:
	be_ks_req_free(r);
	return rc;
}

int
be_policy_request_get(const struct be_tsb_env *env, const struct be_op_ctx *op, const char *id,
		      struct be_ks_req **out, struct be_err *e)
{
	return refresh(env, op, id, out, e);
}

int
be_policy_request_cancel(const struct be_tsb_env *env, const struct be_op_ctx *op,
			 const char *id, struct be_err *e)
{
	struct be_ks_req *r = NULL;
	struct eval_arg a = { true };
	struct be_err local = { 0, "" };
	bool changed = false;
	char reason[BE_KS_ID_LEN + 64];
	int rc;

	if (e == NULL)
		e = &local;
	if ((rc = be_keystore_req_update(env->ks, id, NULL, eval_cb, &a, (int64_t)time(NULL), &r,
					 &changed, e)) != BE_OK)
		goto out;
	if (r->status != BE_KS_CANCELLED || !changed) {
		rc = be_err_set(e, BE_E_STATE, "request %s is %s and cannot be cancelled", id,
				be_ks_status_name(r->status));
		goto out;
	}
	snprintf(reason, sizeof(reason), "request %s cancelled", id);
	op_audit(env, op, r->key_label, "cancelled", reason, NULL);
out:
	if (rc != BE_OK)
		op_audit(env, op, r != NULL ? r->key_label : NULL, "refused", e->msg, NULL);
	be_ks_req_free(r);
	return rc;
}

int
be_policy_tasks(const struct be_tsb_env *env, const char *spki, const char *id,
		struct be_ks_req **out, size_t *n, struct be_err *e)
{
	struct be_ks_req *all = NULL, *res = NULL, *fresh = NULL;
	struct be_policy *p = NULL;
	size_t cnt = 0, i, k = 0;
	int64_t now = (int64_t)time(NULL);
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = be_keystore_req_list(env->ks, BE_KS_PENDING, 0, &all, &cnt, e)) != BE_OK)
		goto out;
	if (cnt > 0 && (res = calloc(cnt, sizeof(*res))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < cnt; i++) {
		int64_t ready = 0;
		const char *why = NULL;

		if (id != NULL && strcmp(all[i].id, id) != 0)
			continue;
		if (all[i].policy == NULL || decided(&all[i], spki))
			continue;
		be_policy_free(p);
		p = NULL;
		if ((rc = be_policy_decode(all[i].policy, &p, e)) != BE_OK)
			goto out;
		if (!be_policy_has_approver(p, spki))
			continue;
		if (be_policy_eval(p, all[i].dec, all[i].n_dec, all[i].created_at, now, &ready,
				   &why) == BE_KS_PENDING) {
			res[k++] = all[i];
			memset(&all[i], 0, sizeof(all[i]));
			continue;
		}
		/* Expired by now: record it; it is no task any more. */
		if ((rc = be_keystore_req_update(env->ks, all[i].id, NULL, eval_cb, NULL, now,
						 &fresh, NULL, e)) != BE_OK)
			goto out;
		be_ks_req_free(fresh);
		fresh = NULL;
	}
	*out = res;
	*n = k;
	res = NULL;
out:
	be_policy_free(p);
	be_ks_reqs_free(res, k);
	be_ks_reqs_free(all, cnt);
	return rc;
}

/* A short, stable name for an approver in the audit log. */
static void
approver_tag(const char *spki, char *buf, size_t len)
{
	unsigned char md[32];
	char hex[65];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, spki, strlen(spki), md) < 0) {
		snprintf(buf, len, "approver");
		return;
	}
	be_serial_hex(md, sizeof(md), hex, sizeof(hex));
	snprintf(buf, len, "approver %.16s", hex);
}

int
be_policy_decide(const struct be_tsb_env *env, const struct be_op_ctx *op,
		 const struct be_tsb_decision *d, struct be_ks_req **out, struct be_err *e)
{
	struct be_ks_req *r = NULL, *after = NULL;
	struct be_policy *p = NULL;
	const struct be_approver *entry;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t token = { NULL, 0 };
	struct be_ks_decision dec;
	struct be_err local = { 0, "" };
	char tag[48], reason[BE_ERR_MSG_MAX + 128];
	bool changed = false;
	int rc;

	if (e == NULL)
		e = &local;
	if (out != NULL)
		*out = NULL;
	approver_tag(d->spki, tag, sizeof(tag));
	if ((rc = be_keystore_req_get(env->ks, d->id, &r, e)) != BE_OK)
		goto out;
	if (r->policy == NULL || (rc = be_policy_decode(r->policy, &p, e)) != BE_OK ||
	    !be_policy_needs_approval(p)) {
		rc = be_err_set(e, BE_E_STATE, "request %s needs no approval", d->id);
		goto out;
	}
	if ((entry = policy_approver(p, d->spki)) == NULL) {
		rc = be_err_set(e, BE_E_FORBIDDEN, "this approver key is not in the policy of key "
				"%s", r->key_label);
		goto out;
	}
	if ((rc = be_policy_token(r, d->approve, &token, e)) != BE_OK)
		goto out;
	if (!be_ct_equal(token.data, token.size, d->token, d->token_len)) {
		rc = be_err_set(e, BE_E_MALFORMED, "%s is not the one of task %s",
				d->approve ? "approvalToBeSigned" : "rejectionToBeSigned", d->id);
		goto out;
	}
	/* The policy's key verifies, not the one the caller sent. */
	if ((rc = be_approver_parse(entry->type == BE_APPROVER_PUBLIC_KEY ? entry->value : NULL,
				    entry->type == BE_APPROVER_CERTIFICATE ? entry->value : NULL,
				    &pub, NULL, e)) != BE_OK)
		goto out;
	if ((rc = be_approver_verify(pub, d->dig, token.data, token.size, d->sig, d->sig_len,
				     e)) != BE_OK) {
		be_err_clear(e);
		rc = be_err_set(e, BE_E_FORBIDDEN, "the %s signature does not verify with the "
				"approver's key in the policy of key %s",
				d->approve ? "approval" : "rejection", r->key_label);
		goto out;
	}
	dec.approver = (char *)(uintptr_t)d->spki;
	dec.approve = d->approve;
	dec.at = (int64_t)time(NULL);
	if ((rc = be_keystore_req_update(env->ks, d->id, &dec, eval_cb, NULL, dec.at, &after,
					 &changed, e)) != BE_OK)
		goto out;
	snprintf(reason, sizeof(reason), "request %s %s by %s; it is now %s", d->id,
		 d->approve ? "approved" : "rejected", tag, be_ks_status_name(after->status));
	op_audit(env, op, r->key_label, d->approve ? "approved" : "rejected", reason, NULL);
	if (after->status == BE_KS_APPROVED && after->ready_at <= dec.at) {
		be_ks_req_free(after);
		after = NULL;
		if ((rc = refresh(env, op, d->id, &after, e)) != BE_OK)
			goto out;
	}
	if (out != NULL) {
		*out = after;
		after = NULL;
	}
out:
	if (rc != BE_OK) {
		snprintf(reason, sizeof(reason), "%s: %s", tag, e->msg);
		op_audit(env, op, r != NULL ? r->key_label : NULL, "refused", reason, NULL);
	}
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	be_datum_free(&token);
	be_policy_free(p);
	be_ks_req_free(after);
	be_ks_req_free(r);
	return rc;
}
