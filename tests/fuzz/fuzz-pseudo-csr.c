/*
 * The se.SAM pseudo-CSR (issuepseudocsr's request_data, sesam_pseudo_csr_parse): JSON with
 * subject fields, DNS names and an optional PEM public key.
 */
#include "config.h"

#include "fuzz.h"
#include "fuzz-profile.h"
#include "sesam_pseudo.h"

static struct be_profile profile;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	gnutls_global_init();
	fuzz_profile(&profile);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *rd = fuzz_text(data, size);
	struct be_name subject = { NULL, 0 };
	struct be_sans sans = { NULL, 0 };
	struct be_err e = { 0, "" };
	gnutls_pubkey_t key = NULL;

	if (rd == NULL)
		return 0;
	if (sesam_pseudo_csr_parse(&profile, rd, &subject, &sans, &key, &e) == BE_OK) {
		if (key != NULL)
			gnutls_pubkey_deinit(key);
		be_name_clear(&subject);
		be_sans_clear(&sans);
	} else if (subject.n != 0 || sans.n != 0 || key != NULL || e.code == 0) {
		abort();	/* a refusal leaves nothing behind and says why */
	}
	free(rd);
	return 0;
}
