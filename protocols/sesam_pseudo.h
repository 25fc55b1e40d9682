/*
 * The se.SAM pseudo-CSR (issuepseudocsr's request_data, sesam_ops.c): a JSON object naming
 * the subject, the DNS names and optionally the client's public key.  Exposed for the unit
 * test and the fuzz driver; the adapter calls the same code.
 */
#ifndef CERTGATE_SESAM_PSEUDO_H
#define CERTGATE_SESAM_PSEUDO_H

#include "be_profile.h"

/* Parses request_data (NUL-terminated JSON text) as issuepseudocsr does for template p: the
 * keys name CN GN SN O OU C ST L E DNS public_key only, each a string (DNS also an array),
 * the subject and DNS names validated by be_name_add / be_sans_add as p decides, public_key
 * a PEM SubjectPublicKeyInfo (be_pubkey_parse).  On success *subject and *sans (zeroed by
 * the caller) are filled, the caller be_name_clear()s / be_sans_clear()s them, and *pubkey
 * is a key the caller gnutls_pubkey_deinit()s, or NULL when none was given.  Errors name
 * "request_data.<key>": BE_E_MALFORMED, BE_E_POLICY, BE_E_NOMEM. */
int sesam_pseudo_csr_parse(const struct be_profile *p, const char *request_data,
			   struct be_name *subject, struct be_sans *sans, gnutls_pubkey_t *pubkey,
			   struct be_err *e);

#endif
