/*
 * Fuzz driver for the OCSP request parser (be_ocsp_req_parse, RFC 6960 4.1.1): any input must
 * either parse into a struct whose every field is within its documented bounds, or be refused
 * with BE_E_MALFORMED and a sentence; never crash, leak or read out of bounds.
 * Seed corpus: tests/fuzz/corpus/ocsp-req/ (openssl ocsp -reqout, with and without nonce,
 * SHA-1 and SHA-256 CertIDs, several CertIDs, a signed request, hand-made edge cases).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "be_ocsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct be_ocsp_req req;
	struct be_err e = { 0, "" };
	size_t i;
	int rc;

	rc = be_ocsp_req_parse(data, size, BE_OCSP_MAX_CERTIDS, &req, &e);
	if (rc != BE_OK) {
		if (rc != BE_E_MALFORMED && rc != BE_E_TOOBIG && rc != BE_E_NOMEM)
			abort();
		if (e.msg[0] == '\0' || req.n != 0)
			abort();
		return 0;
	}
	if (req.n == 0 || req.n > BE_OCSP_MAX_CERTIDS)
		abort();
	if (req.has_nonce ? req.nonce_len == 0 || req.nonce_len > BE_OCSP_NONCE_MAX :
			    req.nonce_len != 0)
		abort();
	for (i = 0; i < req.n; i++) {
		const struct be_ocsp_certid *id = &req.ids[i];

		if (id->hash_len != (size_t)gnutls_hash_get_len(id->hash) ||
		    id->serial_len == 0 || id->serial_len > BE_OCSP_SERIAL_MAX)
			abort();
	}
	return 0;
}
