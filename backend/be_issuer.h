/*
 * The issuer of a certificate and what it writes into it: be_issue signs every certificate
 * through here, whichever kind of issuer signs it (DESIGN.md "Every issuer goes through
 * be_issue").
 *
 * Issuers are struct be_ca: a configured CA (be_ca_load: a key file or a PKCS#11 URL), or a
 * key of the TSB key store acting as a CA (be_keystore_ca: the stored key with its imported
 * CA certificate).  A profile names which: "ca" for a configured CA, or "issuer":
 * "keystore" for the stored key each request names (be_request.issuer).
 *
 * Extensions (RFC 5280 4.2.1.3 keyUsage, 4.2.1.12 extKeyUsage, 4.2.1.9 basicConstraints)
 * come from the profile, or, for a profile with "extensions": "request", from the request
 * (the TSB API lets a key operator name them), bounded by the profile:
 *   - keyUsage: only bits in the profile's key_usage; keyCertSign and cRLSign only with the
 *     CA flag; keyEncipherment / dataEncipherment only for RSA subject keys (RFC 8410 5,
 *     RFC 5480 3), keyAgreement / encipherOnly / decipherOnly only for EC keys;
 *   - extKeyUsage: only purposes in the profile's extended_key_usage;
 *   - the CA flag only when the profile has ca_certificate; the certificate then gets
 *     keyCertSign (and cRLSign when the profile allows it) and pathLenConstraint one less
 *     than the issuer's (refused when the issuer's is 0), at most the profile's path_len;
 *   - validity at most max_validity_days, max_ca_validity_days for CA certificates.
 * A request outside these bounds is refused with BE_E_MALFORMED and a sentence naming the
 * field ("keyUsage", "extendedKeyUsage", "certificateAuthority", "validity"); nothing of it
 * is copied.
 */
#ifndef CERTGATE_BE_ISSUER_H
#define CERTGATE_BE_ISSUER_H

#include "be.h"
#include "be_ca.h"
#include "be_profile.h"

/* Extensions a request asks for itself (profiles with "extensions": "request"). */
struct be_ext_request {
	bool ca;			/* basicConstraints cA */
	unsigned key_usage;		/* GNUTLS_KEY_* bits */
	char *const *eku;		/* dotted OIDs, borrowed */
	size_t n_eku;
};

/* The CA that signs under profile p: its configured CA, or for a profile whose issuer is the
 * key store, brought (the request's).  *out borrowed.  BE_E_POLICY when a key-store profile
 * is given no issuer, BE_E_INTERNAL when another profile is given one. */
int be_issuer_of(const struct be_profile *p, const struct be_ca *brought,
		 const struct be_ca **out, struct be_err *e);

/* Decides tbs->key_usage, eku, n_eku, is_ca and path_len for a subject key of type alg, from
 * the profile, or from ext (may be NULL: nothing asked) within the profile's bounds (see
 * above), and *max_days, the most days the certificate may be valid.  tbs->eku borrows from
 * p or ext.  BE_E_MALFORMED naming the field, BE_E_POLICY for an issuer that may not issue
 * CA certificates. */
int be_issuer_extensions(const struct be_profile *p, const struct be_ca *ca,
			 const struct be_ext_request *ext, enum be_key_alg alg,
			 struct be_tbs *tbs, unsigned *max_days, struct be_err *e);

#endif
