/*
 * Profiles from the configuration.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be_ca.h"
#include "be_goodkey.h"
#include "be_json.h"
#include "be_namepolicy.h"
#include "be_profile.h"

#define C BE_E_CONFIG

static const struct {
	const char *name;
	unsigned bit;
} roles[] = {
	{ "client", BE_ROLE_CLIENT },
	{ "ro_admin", BE_ROLE_RO_ADMIN },
	{ "ca_admin", BE_ROLE_CA_ADMIN },
	{ "key_management", BE_ROLE_KEY_MGMT },
	{ "key_operation", BE_ROLE_KEY_OP },
	{ "approver", BE_ROLE_APPROVER },
	{ "service", BE_ROLE_SERVICE },
};

unsigned
be_role_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcmp(roles[i].name, name) == 0)
			return roles[i].bit;
	return 0;
}

/* RFC 5280 4.2.1.3 */
static const struct {
	const char *name;
	unsigned bit;
} kus[] = {
	{ "digitalSignature", GNUTLS_KEY_DIGITAL_SIGNATURE },
	{ "nonRepudiation", GNUTLS_KEY_NON_REPUDIATION },
	{ "contentCommitment", GNUTLS_KEY_NON_REPUDIATION },
	{ "keyEncipherment", GNUTLS_KEY_KEY_ENCIPHERMENT },
	{ "dataEncipherment", GNUTLS_KEY_DATA_ENCIPHERMENT },
	{ "keyAgreement", GNUTLS_KEY_KEY_AGREEMENT },
	{ "keyCertSign", GNUTLS_KEY_KEY_CERT_SIGN },
	{ "cRLSign", GNUTLS_KEY_CRL_SIGN },
	{ "encipherOnly", GNUTLS_KEY_ENCIPHER_ONLY },
	{ "decipherOnly", GNUTLS_KEY_DECIPHER_ONLY },
};

/* RFC 5280 4.2.1.12 */
static const struct {
	const char *name;
	const char *oid;
} ekus[] = {
	{ "serverAuth", "1.3.6.1.5.5.7.3.1" },
	{ "clientAuth", "1.3.6.1.5.5.7.3.2" },
	{ "codeSigning", "1.3.6.1.5.5.7.3.3" },
	{ "emailProtection", "1.3.6.1.5.5.7.3.4" },
	{ "timeStamping", "1.3.6.1.5.5.7.3.8" },
	{ "OCSPSigning", "1.3.6.1.5.5.7.3.9" },
	{ "anyExtendedKeyUsage", "2.5.29.37.0" },	/* RFC 5280 4.2.1.12 */
};

int
be_ku_parse(const char *name, unsigned *bit)
{
	size_t i;

	for (i = 0; i < sizeof(kus) / sizeof(kus[0]); i++) {
		if (strcmp(kus[i].name, name) == 0) {
			*bit = kus[i].bit;
			return BE_OK;
		}
	}
	return BE_E_NOTFOUND;
}

void
be_ku_names(unsigned bits, char *buf, size_t len)
{
	size_t i, o = 0;
	unsigned done = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < sizeof(kus) / sizeof(kus[0]); i++) {
		int w;

		if (!(bits & kus[i].bit) || (done & kus[i].bit))
			continue;
		done |= kus[i].bit;	/* nonRepudiation and contentCommitment are one bit */
		w = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", kus[i].name);
		if (w < 0 || (size_t)w >= len - o)
			break;
		o += (size_t)w;
	}
}

static bool
is_dotted_oid(const char *s)
{
	bool digit = false;
	int dots = 0;

	for (; *s != '\0'; s++) {
		if (*s >= '0' && *s <= '9') {
			digit = true;
		} else if (*s == '.' && digit) {
			digit = false;
			dots++;
		} else {
			return false;
		}
	}
	return digit && dots >= 1;
}

int
be_eku_parse(const char *name, const char **oid)
{
	size_t i;

	for (i = 0; i < sizeof(ekus) / sizeof(ekus[0]); i++) {
		if (strcmp(ekus[i].name, name) == 0 || strcmp(ekus[i].oid, name) == 0) {
			*oid = ekus[i].oid;
			return BE_OK;
		}
	}
	if (is_dotted_oid(name)) {
		*oid = name;
		return BE_OK;
	}
	return BE_E_NOTFOUND;
}

const char *
be_eku_name(const char *oid)
{
	size_t i;

	for (i = 0; i < sizeof(ekus) / sizeof(ekus[0]); i++)
		if (strcmp(ekus[i].oid, oid) == 0)
			return ekus[i].name;
	return oid;
}

static void
profile_clear(struct be_profile *p)
{
	size_t i;

	free(p->name);
	free(p->description);
	be_strv_free(p->eku, p->n_eku);
	for (i = 0; i < BE_DN__COUNT; i++)
		free(p->subject_fixed[i]);
	be_strv_free(p->dns_patterns, p->n_dns_patterns);
	be_strv_free(p->allow, p->n_allow);
	free(p->drop_dir);
	free(p->crl_url);
	free(p->ocsp_url);
	free(p->ca_issuers_url);
	memset(p, 0, sizeof(*p));
}

void
be_profiles_free(struct be_profile *p, size_t n)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < n; i++)
		profile_clear(&p[i]);
	free(p);
}

static int
parse_key_types(struct be_profile *p, const json_t *o, const char *path, struct be_err *e)
{
	char **v = NULL;
	size_t n = 0, i;
	const char *s = NULL;
	char what[160];
	int rc;

	if ((rc = be_json_strv(o, path, "key_types", true, &v, &n, C, e)) != BE_OK)
		goto out;
	if (n == 0 || n > BE_PROFILE_MAX_KEYTYPES) {
		rc = be_err_set(e, C, "%s.key_types: between 1 and %d entries", path,
				BE_PROFILE_MAX_KEYTYPES);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (be_keyspec_parse(v[i], &p->key_types[i]) != BE_OK) {
			rc = be_err_set(e, C, "%s.key_types[%zu]: unknown key type \"%s\"", path, i,
					v[i]);
			goto out;
		}
		snprintf(what, sizeof(what), "%.96s.key_types[%zu]", path, i);
		if ((rc = be_goodkey_spec_check(&p->key_types[i], what, e)) != BE_OK)
			goto out;
	}
	p->n_key_types = n;
	p->server_key = p->key_types[0];
	if ((rc = be_json_str(o, path, "server_key_type", false, &s, C, e)) != BE_OK)
		goto out;
	if (s != NULL) {
		if (be_keyspec_parse(s, &p->server_key) != BE_OK ||
		    !be_profile_key_allowed(p, &p->server_key)) {
			rc = be_err_set(e, C, "%s.server_key_type: \"%s\" is not one of key_types",
					path, s);
			goto out;
		}
	}
out:
	be_strv_free(v, n);
	return rc;
}

static int
parse_usage(struct be_profile *p, const json_t *o, const char *path, struct be_err *e)
{
	char **v = NULL;
	size_t n = 0, i;
	int rc;

	if ((rc = be_json_strv(o, path, "key_usage", false, &v, &n, C, e)) != BE_OK)
		goto out;
	for (i = 0; i < n; i++) {
		unsigned bit;

		if (be_ku_parse(v[i], &bit) != BE_OK) {
			rc = be_err_set(e, C, "%s.key_usage[%zu]: unknown key usage \"%s\" (RFC 5280 "
					"4.2.1.3 names, e.g. digitalSignature)", path, i, v[i]);
			goto out;
		}
		p->key_usage |= bit;
	}
	be_strv_free(v, n);
	v = NULL;
	n = 0;
	if ((rc = be_json_strv(o, path, "extended_key_usage", false, &v, &n, C, e)) != BE_OK)
		goto out;
	if (n > 0 && (p->eku = calloc(n, sizeof(*p->eku))) == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		const char *oid;

		if (be_eku_parse(v[i], &oid) != BE_OK) {
			rc = be_err_set(e, C, "%s.extended_key_usage[%zu]: unknown purpose \"%s\"",
					path, i, v[i]);
			goto out;
		}
		if ((p->eku[i] = strdup(oid)) == NULL) {
			rc = be_err_set(e, BE_E_NOMEM, "out of memory");
			goto out;
		}
		p->n_eku++;
	}
out:
	be_strv_free(v, n);
	return rc;
}

static int
parse_subject(struct be_profile *p, const json_t *o, const char *path, struct be_err *e)
{
	const json_t *subj = NULL;
	const char *key;
	json_t *v;
	int rc;

	if ((rc = be_json_obj(o, path, "subject", true, &subj, C, e)) != BE_OK)
		return rc;
	json_object_foreach((json_t *)subj, key, v) {
		enum be_dn_attr a;

		if (be_dn_lookup(key, &a) != BE_OK)
			return be_err_set(e, C, "%s.subject.%.32s: unknown subject attribute", path,
					  key);
		if (json_is_string(v)) {
			const char *s = json_string_value(v);

			if (strcmp(s, "required") == 0)
				p->subject[a] = BE_FIELD_REQUIRED;
			else if (strcmp(s, "optional") == 0)
				p->subject[a] = BE_FIELD_OPTIONAL;
			else if (strcmp(s, "ignore") == 0)
				p->subject[a] = BE_FIELD_IGNORE;
			else if (strcmp(s, "forbidden") == 0)
				p->subject[a] = BE_FIELD_FORBIDDEN;
			else
				return be_err_set(e, C, "%s.subject.%s: must be \"required\", "
						  "\"optional\", \"ignore\", \"forbidden\" or "
						  "{\"fixed\": value}", path, key);
		} else if (json_is_object(v)) {
			static const char *const fk[] = { "fixed", NULL };
			struct be_name tmp = { NULL, 0 };
			struct be_err why = { 0, "" };
			const char *s;
			char sub[160];

			snprintf(sub, sizeof(sub), "%s.subject.%s", path, key);
			if ((rc = be_json_keys(v, sub, fk, C, e)) != BE_OK ||
			    (rc = be_json_str(v, sub, "fixed", true, &s, C, e)) != BE_OK)
				return rc;
			rc = be_name_add(&tmp, a, s, strlen(s), &why);
			be_name_clear(&tmp);
			if (rc != BE_OK)
				return be_err_set(e, C, "%s.fixed: %s", sub, why.msg);
			p->subject[a] = BE_FIELD_FIXED;
			if ((p->subject_fixed[a] = strdup(s)) == NULL)
				return be_err_set(e, BE_E_NOMEM, "out of memory");
		} else {
			return be_err_set(e, C, "%s.subject.%s: must be a string or an object", path,
					  key);
		}
	}
	return BE_OK;
}

static int
parse_san(struct be_profile *p, const json_t *o, const char *path, struct be_err *e)
{
	static const char *const keys[] = { "types", "max", "dns_patterns", "cn_as_dns",
					    "wildcards", NULL };
	const json_t *san = NULL;
	char sub[160];
	char **v = NULL;
	size_t n = 0, i;
	unsigned long long max = 8;
	int rc;

	p->san_max = 0;
	if ((rc = be_json_obj(o, path, "san", false, &san, C, e)) != BE_OK || san == NULL)
		goto out;
	snprintf(sub, sizeof(sub), "%s.san", path);
	if ((rc = be_json_keys(san, sub, keys, C, e)) != BE_OK ||
	    (rc = be_json_strv(san, sub, "types", true, &v, &n, C, e)) != BE_OK ||
	    (rc = be_json_uint(san, sub, "max", false, 0, 64, &max, C, e)) != BE_OK ||
	    (rc = be_json_bool(san, sub, "cn_as_dns", false, &p->cn_as_dns, C, e)) != BE_OK ||
	    (rc = be_json_bool(san, sub, "wildcards", false, &p->san_wildcards, C, e)) != BE_OK ||
	    (rc = be_json_strv(san, sub, "dns_patterns", false, &p->dns_patterns,
			       &p->n_dns_patterns, C, e)) != BE_OK)
		goto out;
	for (i = 0; i < p->n_dns_patterns; i++) {
		char why[256];

		if (!be_namepolicy_pattern_valid(p->dns_patterns[i], why, sizeof(why))) {
			rc = be_err_set(e, C, "%s.dns_patterns[%zu]: \"%.64s\": %s", sub, i,
					p->dns_patterns[i], why);
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		enum be_san_type t;
		bool found = false;

		for (t = 0; t < BE_SAN__COUNT; t++) {
			if (strcmp(v[i], be_san_type_name(t)) == 0) {
				p->san_types |= 1u << t;
				found = true;
			}
		}
		if (!found) {
			rc = be_err_set(e, C, "%s.types[%zu]: must be dns, email, ip or uri", sub, i);
			goto out;
		}
	}
	p->san_max = (unsigned)max;
out:
	be_strv_free(v, n);
	return rc;
}

static int
parse_outputs(struct be_profile *p, const json_t *o, const char *path, struct be_err *e)
{
	static const char *const pk[] = { "password", "min_length", "iterations", NULL };
	static const struct {
		const char *name;
		unsigned bit;
	} outs[] = {
		{ "pem", BE_OUT_PEM }, { "der", BE_OUT_DER }, { "pkcs7", BE_OUT_PKCS7 },
		{ "pkcs12", BE_OUT_PKCS12 }, { "cms", BE_OUT_CMS },
	};
	const json_t *p12 = NULL;
	char **v = NULL;
	char sub[160];
	size_t n = 0, i, j;
	const char *s = NULL;
	unsigned long long ull;
	int rc;

	if ((rc = be_json_strv(o, path, "outputs", false, &v, &n, C, e)) != BE_OK)
		goto out;
	if (v == NULL)
		p->outputs = BE_OUT_PEM | BE_OUT_DER | BE_OUT_PKCS7 | BE_OUT_PKCS12 | BE_OUT_CMS;
	for (i = 0; i < n; i++) {
		bool found = false;

		for (j = 0; j < sizeof(outs) / sizeof(outs[0]); j++) {
			if (strcmp(v[i], outs[j].name) == 0) {
				p->outputs |= outs[j].bit;
				found = true;
			}
		}
		if (!found) {
			rc = be_err_set(e, C, "%s.outputs[%zu]: must be pem, der, pkcs7, pkcs12 or "
					"cms", path, i);
			goto out;
		}
	}
	p->p12_min_len = 0;
	p->p12_iterations = 0;
	if ((rc = be_json_obj(o, path, "pkcs12", false, &p12, C, e)) != BE_OK || p12 == NULL)
		goto out;
	snprintf(sub, sizeof(sub), "%s.pkcs12", path);
	if ((rc = be_json_keys(p12, sub, pk, C, e)) != BE_OK ||
	    (rc = be_json_str(p12, sub, "password", false, &s, C, e)) != BE_OK)
		goto out;
	if (s != NULL && strcmp(s, "required") == 0) {
		p->p12_password = BE_P12PW_REQUIRED;
	} else if (s != NULL && strcmp(s, "optional") != 0) {
		rc = be_err_set(e, C, "%s.password: must be \"required\" or \"optional\"", sub);
		goto out;
	}
	ull = 0;
	if ((rc = be_json_uint(p12, sub, "min_length", false, 0, 128, &ull, C, e)) != BE_OK)
		goto out;
	p->p12_min_len = (unsigned)ull;
	ull = 0;
	/* NIST SP 800-132 5.2: at least 1000; be_encode_pkcs12's ceiling above. */
	if ((rc = be_json_uint(p12, sub, "iterations", false, 1000, 10000000, &ull, C, e)) != BE_OK)
		goto out;
	p->p12_iterations = (unsigned)ull;
out:
	be_strv_free(v, n);
	return rc;
}

/* A revocation URL written into certificates: http (RFC 5280 4.2.1.13 and 4.2.2.1: CRLs
 * and caIssuers over HTTP, since a relying party checking a certificate cannot rely on
 * TLS to this server; RFC 6960 for OCSP), printable ASCII without spaces, at most 1024. */
static int
check_url(const char *s, const char *path, const char *key, char **out, struct be_err *e)
{
	size_t i, n;

	if (s == NULL)
		return BE_OK;
	n = strlen(s);
	if (strncmp(s, "http://", 7) != 0 || n <= 7 || n > 1024)
		return be_err_set(e, C, "%s.%s: must be an http:// URL of at most 1024 characters",
				  path, key);
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return be_err_set(e, C, "%s.%s: character %zu is not printable ASCII "
					  "(percent-encode it)", path, key, i + 1);
	if ((*out = strdup(s)) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	return BE_OK;
}

static int
parse_one(struct be_profile *p, const char *name, const json_t *o, struct be_ca **cas,
	  size_t n_cas, struct be_err *e)
{
	static const char *const keys[] = {
		"description", "ca", "validity_days", "max_validity_days", "key_types",
		"server_key_type", "server_keygen", "client_keys", "key_usage",
		"extended_key_usage", "ca_certificate", "path_len", "subject", "san", "outputs",
		"pkcs12", "approvals", "allow", "keep_key", "distribution", "drop_dir",
		"pop_linking", "issuer", "extensions", "max_ca_validity_days", "crl_url", "ocsp_url",
		"ca_issuers_url", NULL
	};
	char path[128];
	const char *s = NULL;
	unsigned long long ull;
	size_t i;
	int rc;

	snprintf(path, sizeof(path), "profiles.%.64s", name);
	if ((p->name = strdup(name)) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	if ((rc = be_json_keys(o, path, keys, C, e)) != BE_OK)
		return rc;
	if ((rc = be_json_str(o, path, "description", false, &s, C, e)) != BE_OK)
		return rc;
	if (s != NULL && (p->description = strdup(s)) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	if ((rc = be_json_str(o, path, "issuer", false, &s, C, e)) != BE_OK)
		return rc;
	if (s != NULL && strcmp(s, "keystore") == 0)
		p->keystore_issuer = true;
	else if (s != NULL && strcmp(s, "ca") != 0)
		return be_err_set(e, C, "%s.issuer: must be \"ca\" or \"keystore\"", path);
	if ((rc = be_json_str(o, path, "ca", !p->keystore_issuer, &s, C, e)) != BE_OK)
		return rc;
	if (p->keystore_issuer && s != NULL)
		return be_err_set(e, C, "%s.ca: a profile with issuer \"keystore\" signs with the "
				  "key-store key each request names, not with a CA of cas", path);
	for (i = 0; s != NULL && i < n_cas; i++)
		if (strcmp(cas[i]->name, s) == 0)
			p->ca = cas[i];
	if (!p->keystore_issuer && p->ca == NULL)
		return be_err_set(e, C, "%s.ca: no CA named \"%.64s\" in cas", path, s);
	if ((rc = be_json_str(o, path, "extensions", false, &s, C, e)) != BE_OK)
		return rc;
	if (s != NULL && strcmp(s, "request") == 0)
		p->ext_from_request = true;
	else if (s != NULL && strcmp(s, "profile") != 0)
		return be_err_set(e, C, "%s.extensions: must be \"profile\" or \"request\"", path);

	ull = 365;
	if ((rc = be_json_uint(o, path, "validity_days", false, 1, 36500, &ull, C, e)) != BE_OK)
		return rc;
	p->validity_days = (unsigned)ull;
	if ((rc = be_json_uint(o, path, "max_validity_days", false, 1, 36500, &ull, C, e)) != BE_OK)
		return rc;
	p->max_validity_days = (unsigned)ull;
	if (p->max_validity_days < p->validity_days)
		return be_err_set(e, C, "%s.max_validity_days: less than validity_days", path);
	ull = p->max_validity_days;
	if ((rc = be_json_uint(o, path, "max_ca_validity_days", false, 1, 36500, &ull, C, e)) !=
	    BE_OK)
		return rc;
	if (!p->ext_from_request && json_object_get(o, "max_ca_validity_days") != NULL)
		return be_err_set(e, C, "%s.max_ca_validity_days: only for \"extensions\": "
				  "\"request\" (use max_validity_days)", path);
	p->max_ca_validity_days = (unsigned)ull;

	if ((rc = parse_key_types(p, o, path, e)) != BE_OK)
		return rc;
	p->server_keygen = false;
	p->client_keys = true;
	if ((rc = be_json_bool(o, path, "server_keygen", false, &p->server_keygen, C, e)) != BE_OK ||
	    (rc = be_json_bool(o, path, "client_keys", false, &p->client_keys, C, e)) != BE_OK)
		return rc;
	if (!p->server_keygen && !p->client_keys)
		return be_err_set(e, C, "%s: neither server_keygen nor client_keys allowed", path);

	if ((rc = parse_usage(p, o, path, e)) != BE_OK)
		return rc;
	p->is_ca = false;
	p->path_len = -1;
	if ((rc = be_json_bool(o, path, "ca_certificate", false, &p->is_ca, C, e)) != BE_OK)
		return rc;
	if (json_object_get(o, "path_len") != NULL) {
		if ((rc = be_json_uint(o, path, "path_len", false, 0, 16, &ull, C, e)) != BE_OK)
			return rc;
		p->path_len = (int)ull;
	}
	if (p->is_ca && !(p->key_usage & GNUTLS_KEY_KEY_CERT_SIGN))
		return be_err_set(e, C, "%s.key_usage: a CA profile needs keyCertSign", path);
	if (!p->is_ca && (p->key_usage & (GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)))
		return be_err_set(e, C, "%s.key_usage: keyCertSign/cRLSign need ca_certificate",
				  path);

	if ((rc = parse_subject(p, o, path, e)) != BE_OK ||
	    (rc = parse_san(p, o, path, e)) != BE_OK ||
	    (rc = parse_outputs(p, o, path, e)) != BE_OK)
		return rc;

	ull = 0;
	if ((rc = be_json_uint(o, path, "approvals", false, 0, 16, &ull, C, e)) != BE_OK)
		return rc;
	p->approvals = (unsigned)ull;
	if (p->keystore_issuer && p->approvals > 0)
		return be_err_set(e, C, "%s.approvals: a profile with issuer \"keystore\" takes "
				  "its approvals from each key's policy", path);
	if ((rc = be_json_strv(o, path, "allow", true, &p->allow, &p->n_allow, C, e)) != BE_OK)
		return rc;
	for (i = 0; i < p->n_allow; i++) {
		if (strncmp(p->allow[i], "role:", 5) == 0 && be_role_parse(p->allow[i] + 5) == 0)
			return be_err_set(e, C, "%s.allow[%zu]: unknown role \"%.32s\"", path, i,
					  p->allow[i] + 5);
	}
	if ((rc = be_json_bool(o, path, "keep_key", false, &p->keep_key, C, e)) != BE_OK ||
	    (rc = be_json_bool(o, path, "pop_linking", false, &p->pop_linking, C, e)) != BE_OK ||
	    (rc = be_json_str(o, path, "distribution", false, &s, C, e)) != BE_OK)
		return rc;
	if (s == NULL || strcmp(s, "reply") == 0) {
		p->distribution = BE_DIST_REPLY;
	} else if (strcmp(s, "download") == 0) {
		p->distribution = BE_DIST_DOWNLOAD;
		p->keep_key = true;
	} else if (strcmp(s, "drop") == 0) {
		p->distribution = BE_DIST_DROP;
	} else {
		return be_err_set(e, C, "%s.distribution: must be reply, download or drop", path);
	}
	if ((rc = be_json_str(o, path, "drop_dir", p->distribution == BE_DIST_DROP, &s, C, e)) !=
	    BE_OK)
		return rc;
	if (s != NULL && (p->drop_dir = strdup(s)) == NULL)
		return be_err_set(e, BE_E_NOMEM, "out of memory");
	if ((rc = be_json_str(o, path, "crl_url", false, &s, C, e)) != BE_OK ||
	    (rc = check_url(s, path, "crl_url", &p->crl_url, e)) != BE_OK ||
	    (rc = be_json_str(o, path, "ocsp_url", false, &s, C, e)) != BE_OK ||
	    (rc = check_url(s, path, "ocsp_url", &p->ocsp_url, e)) != BE_OK ||
	    (rc = be_json_str(o, path, "ca_issuers_url", false, &s, C, e)) != BE_OK ||
	    (rc = check_url(s, path, "ca_issuers_url", &p->ca_issuers_url, e)) != BE_OK)
		return rc;
	return BE_OK;
}

int
be_profiles_parse(const json_t *profiles, struct be_ca **cas, size_t n_cas,
		  struct be_profile **out, size_t *n, struct be_err *e)
{
	struct be_profile *arr = NULL;
	const char *name;
	json_t *v;
	size_t cnt = 0;
	int rc = BE_OK;

	*out = NULL;
	*n = 0;
	if (!json_is_object(profiles)) {
		rc = be_err_set(e, C, "profiles: must be an object of named profiles");
		goto out;
	}
	arr = calloc(json_object_size(profiles) + 1, sizeof(*arr));
	if (arr == NULL) {
		rc = be_err_set(e, BE_E_NOMEM, "out of memory");
		goto out;
	}
	json_object_foreach((json_t *)profiles, name, v) {
		if (!json_is_object(v)) {
			rc = be_err_set(e, C, "profiles.%.64s: must be an object", name);
			goto out;
		}
		cnt++;
		if ((rc = parse_one(&arr[cnt - 1], name, v, cas, n_cas, e)) != BE_OK)
			goto out;
	}
	*out = arr;
	*n = cnt;
	arr = NULL;
	cnt = 0;
out:
	be_profiles_free(arr, cnt);
	return rc;
}

bool
be_profile_allows(const struct be_profile *p, const struct be_principal *who)
{
	size_t i;

	/* se.SAM: the CA administrator may do everything. */
	if (who->roles & BE_ROLE_CA_ADMIN)
		return true;
	for (i = 0; i < p->n_allow; i++) {
		const char *a = p->allow[i];

		if (strcmp(a, "*") == 0)
			return true;
		if (strncmp(a, "role:", 5) == 0) {
			if (who->roles & be_role_parse(a + 5))
				return true;
		} else if (who->name != NULL && strcmp(a, who->name) == 0) {
			return true;
		}
	}
	return false;
}

bool
be_profile_key_allowed(const struct be_profile *p, const struct be_keyspec *k)
{
	size_t i;

	for (i = 0; i < p->n_key_types; i++)
		if (be_keyspec_equal(&p->key_types[i], k))
			return true;
	return false;
}

void
be_profile_key_list(const struct be_profile *p, char *buf, size_t len)
{
	size_t i, o = 0;
	char name[24];

	if (len == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < p->n_key_types && o + 1 < len; i++) {
		int w = snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
				 be_keyspec_name(&p->key_types[i], name, sizeof(name)));

		if (w < 0)
			break;
		o += (size_t)w;
	}
}
