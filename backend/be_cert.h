/*
 * Reading certificates certgate issued (for re-enrollment, renewal and copies): parsed once
 * into the same validated structs a request produces.
 */
#ifndef CERTGATE_BE_CERT_H
#define CERTGATE_BE_CERT_H

#include "be.h"

/* Imports a DER certificate strictly: GnuTLS must re-encode it to the same bytes (no BER,
 * no trailing bytes).  *crt: caller gnutls_x509_crt_deinit().  BE_E_MALFORMED. */
int be_cert_import(const gnutls_datum_t *der, gnutls_x509_crt_t *crt, struct be_err *e);

/* Parses a DER certificate (strict: re-encoding must match) and fills subject and sans
 * (which must be empty) with its subject and subjectAltName, validated as requests are.
 * *key (optional) receives its public key spec.  BE_E_MALFORMED / BE_E_POLICY. */
int be_cert_names(const gnutls_datum_t *der, struct be_name *subject, struct be_sans *sans,
		  struct be_keyspec *key, struct be_err *e);

/* Lower-case hex serial of a DER certificate (no leading zero octets) into buf (>= 41). */
int be_cert_serial_hex(const gnutls_datum_t *der, char *buf, size_t len, struct be_err *e);

#endif
