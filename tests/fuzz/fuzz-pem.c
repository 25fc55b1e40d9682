/*
 * PEM / base64 / DER text (be_base64_decode, be_der_from_text, be_pubkey_parse): what
 * forwarded certificates, TSB imports and se.SAM public keys are read through.
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
	static const char *const labels[] = { "CERTIFICATE", "CERTIFICATE REQUEST",
					      "PUBLIC KEY", NULL };
	struct be_err e = { 0, "" };
	struct be_keyspec spec;
	gnutls_pubkey_t key = NULL;
	unsigned char *out = NULL;
	size_t len = 0;

	if (be_base64_decode((const char *)data, size, &out, &len, &e) == BE_OK)
		free(out);
	out = NULL;
	be_err_clear(&e);
	if (be_der_from_text(data, size, labels, &out, &len, &e) == BE_OK)
		free(out);
	be_err_clear(&e);
	if (be_pubkey_parse(data, size, &key, &spec, &e) == BE_OK)
		gnutls_pubkey_deinit(key);
	return 0;
}
