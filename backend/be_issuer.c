/*
 * The issuer of a certificate and the extensions it writes (be_issuer.h has the rules).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "be_issuer.h"

#define CA_BITS		(GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)
#define RSA_ONLY	(GNUTLS_KEY_KEY_ENCIPHERMENT | GNUTLS_KEY_DATA_ENCIPHERMENT)
#define EC_ONLY		(GNUTLS_KEY_KEY_AGREEMENT | GNUTLS_KEY_ENCIPHER_ONLY | \
			 GNUTLS_KEY_DECIPHER_ONLY)

int
be_issuer_of(const struct be_profile *p, const struct be_ca *brought, const struct be_ca **out,
	     struct be_err *e)
{
	*out = NULL;
	if (p->keystore_issuer) {
		if (brought == NULL)
			return be_err_set(e, BE_E_POLICY, "profile %s signs with a key of the key "
					  "store, and this request names none", p->name);
		*out = brought;
		return BE_OK;
	}
	if (brought != NULL)
		return be_err_set(e, BE_E_INTERNAL, "profile %s signs with CA %s, not with the "
				  "request's", p->name, p->ca->name);
	*out = p->ca;
	return BE_OK;
}

/* The profile decides: its key usage less what the subject key's type cannot do. */
static void
from_profile(const struct be_profile *p, enum be_key_alg alg, struct be_tbs *tbs)
{
	tbs->key_usage = p->key_usage;
	/* RFC 5480 3 / RFC 8410 5: only RSA keys encipher; only EC keys agree. */
	if (alg != BE_KEY_RSA)
		tbs->key_usage &= ~(unsigned)RSA_ONLY;
	if (alg != BE_KEY_EC)
		tbs->key_usage &= ~(unsigned)EC_ONLY;
	tbs->eku = p->eku;
	tbs->n_eku = p->n_eku;
	tbs->is_ca = p->is_ca;
	tbs->path_len = p->path_len;
}

static bool
eku_allowed(const struct be_profile *p, const char *oid)
{
	size_t i;

	for (i = 0; i < p->n_eku; i++)
		if (strcmp(p->eku[i], oid) == 0)
			return true;
	return false;
}

/* RFC 5280 4.2.1.9: a CA certificate's pathLenConstraint is one less than its issuer's
 * (none when the issuer has none), at most the profile's. */
static int
ca_path_len(const struct be_profile *p, const struct be_ca *ca, int *out, struct be_err *e)
{
	unsigned crit = 0, is_ca = 0;
	int issuer_len = -1;

	*out = -1;
	if (gnutls_x509_crt_get_basic_constraints(ca->crt, &crit, &is_ca, &issuer_len) < 0)
		issuer_len = -1;
	if (issuer_len == 0)
		return be_err_set(e, BE_E_POLICY, "certificateAuthority: the certificate of issuer "
				  "%s has pathLenConstraint 0 and may not issue CA certificates "
				  "(RFC 5280 4.2.1.9)", ca->name);
	if (issuer_len > 0)
		*out = issuer_len - 1;
	if (p->path_len >= 0 && (*out < 0 || *out > p->path_len))
		*out = p->path_len;
	return BE_OK;
}

/* The request decides within the profile's bounds. */
static int
from_request(const struct be_profile *p, const struct be_ca *ca,
	     const struct be_ext_request *ext, enum be_key_alg alg, struct be_tbs *tbs,
	     struct be_err *e)
{
	unsigned ku = ext != NULL ? ext->key_usage : 0;
	char names[200], allowed[200];
	size_t i;
	int rc;

	tbs->is_ca = ext != NULL && ext->ca;
	tbs->path_len = -1;
	if (tbs->is_ca) {
		if (!p->is_ca)
			return be_err_set(e, BE_E_MALFORMED, "certificateAuthority: profile %s does "
					  "not issue CA certificates", p->name);
		if ((rc = ca_path_len(p, ca, &tbs->path_len, e)) != BE_OK)
			return rc;
		ku |= GNUTLS_KEY_KEY_CERT_SIGN | (p->key_usage & GNUTLS_KEY_CRL_SIGN);
	} else if (ku & CA_BITS) {
		be_ku_names(ku & CA_BITS, names, sizeof(names));
		return be_err_set(e, BE_E_MALFORMED, "keyUsage: %s only in a CA certificate "
				  "(certificateAuthority true; RFC 5280 4.2.1.3)", names);
	}
	if (ku & ~p->key_usage) {
		be_ku_names(ku & ~p->key_usage, names, sizeof(names));
		be_ku_names(p->key_usage, allowed, sizeof(allowed));
		return be_err_set(e, BE_E_MALFORMED, "keyUsage: %s is outside what profile %s "
				  "allows (%s)", names, p->name, allowed[0] ? allowed : "none");
	}
	if (alg != BE_KEY_RSA && (ku & RSA_ONLY)) {
		be_ku_names(ku & RSA_ONLY, names, sizeof(names));
		return be_err_set(e, BE_E_MALFORMED, "keyUsage: %s needs an RSA subject key "
				  "(RFC 5480 3, RFC 8410 5)", names);
	}
	if (alg != BE_KEY_EC && (ku & EC_ONLY)) {
		be_ku_names(ku & EC_ONLY, names, sizeof(names));
		return be_err_set(e, BE_E_MALFORMED, "keyUsage: %s needs an EC subject key "
				  "(RFC 5480 3)", names);
	}
	for (i = 0; ext != NULL && i < ext->n_eku; i++) {
		if (!eku_allowed(p, ext->eku[i]))
			return be_err_set(e, BE_E_MALFORMED, "extendedKeyUsage: %s is outside what "
					  "profile %s allows", be_eku_name(ext->eku[i]), p->name);
	}
	tbs->key_usage = ku;
	tbs->eku = ext != NULL ? ext->eku : NULL;
	tbs->n_eku = ext != NULL ? ext->n_eku : 0;
	return BE_OK;
}

int
be_issuer_extensions(const struct be_profile *p, const struct be_ca *ca,
		     const struct be_ext_request *ext, enum be_key_alg alg, struct be_tbs *tbs,
		     unsigned *max_days, struct be_err *e)
{
	int rc;

	*max_days = p->max_validity_days ? p->max_validity_days : p->validity_days;
	if (!p->ext_from_request) {
		if (ext != NULL)
			return be_err_set(e, BE_E_POLICY, "profile %s decides the certificate's "
					  "extensions; a request may not name them", p->name);
		from_profile(p, alg, tbs);
		return BE_OK;
	}
	if ((rc = from_request(p, ca, ext, alg, tbs, e)) != BE_OK)
		return rc;
	if (tbs->is_ca)
		*max_days = p->max_ca_validity_days;
	return BE_OK;
}
