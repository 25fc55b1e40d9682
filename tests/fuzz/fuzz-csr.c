/*
 * PKCS#10 requests from untrusted bytes (be_csr_parse): PEM, bare base64 or DER, what EST
 * simpleenroll, se.SAM loadcsr, the IoT API and TSB sign requests all hand it.
 */
#include "config.h"

#include "be_csr.h"
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	gnutls_global_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct be_csr *csr = NULL;
	struct be_err e = { 0, "" };

	if (be_csr_parse(data, size, 0, &csr, &e) == BE_OK)
		be_csr_free(csr);
	/* serverkeygen (RFC 7030 4.4) reads the request without verifying its signature */
	csr = NULL;
	be_err_clear(&e);
	if (be_csr_parse(data, size, BE_CSR_NO_VERIFY, &csr, &e) == BE_OK)
		be_csr_free(csr);
	return 0;
}
