/*
 * Backend pieces only EST (RFC 7030) needs: the CSR attributes a profile asks for (4.5.2),
 * DER-encoded with libtasn1 from backend/est.asn, and the signer of server-generated keys
 * returned in CMS (4.4.2).
 */
#ifndef CERTGATE_BE_CSRATTRS_H
#define CERTGATE_BE_CSRATTRS_H

#include "be.h"

struct be_profile;

/* The RFC 7030 4.5.2 CsrAttrs of profile p, as DER, built from the profile alone:
 *   - the challengePassword OID when the profile demands PoP linking (RFC 7030 3.5);
 *   - the OID of every subject attribute the profile requires;
 *   - the key types it allows: an id-ecPublicKey attribute whose values are the allowed
 *     curves (as in the RFC 7030 4.5.2 example), rsaEncryption and id-Ed25519 OIDs;
 *   - the signature algorithm to sign the CSR with, per allowed key family, using the
 *     hash of the profile's CA (SHA-256 for an Ed25519 CA).
 * *out is gnutls_malloc()ed (caller be_datum_free()); out->size is 0 and out->data NULL
 * when the profile asks for nothing (the reply is then 204, RFC 7030 4.5.2).  Returns 0 or
 * BE_E_NOMEM / BE_E_INTERNAL. */
int be_csrattrs_encode(const struct be_profile *p, gnutls_datum_t *out, struct be_err *e);

/* The key pair that signs the SignedData around a server-generated key (RFC 7030 4.4.2:
 * "signed by the party that generated the private key"): the EST server's own identity. */
struct be_est_signer {
	gnutls_datum_t cert;		/* DER of the signer certificate */
	gnutls_privkey_t key;
};

/* Loads the first certificate of the PEM file cert_file and the PEM private key key_file.
 * The key must belong to the certificate, and the certificate's keyUsage (when present)
 * must allow digitalSignature (RFC 5280 4.2.1.3).  what names the configuration key for
 * errors ("est.keygen_signer").  *out: caller be_est_signer_free().  BE_E_CONFIG / BE_E_IO
 * with a sentence. */
int be_est_signer_load(const char *cert_file, const char *key_file, const char *what,
		       struct be_est_signer **out, struct be_err *e);
void be_est_signer_free(struct be_est_signer *s);

#endif
