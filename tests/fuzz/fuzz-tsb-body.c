/*
 * TSB request bodies (tsb_body_parse, then every field parser of the JSON operations:
 * tsb_body_check): keys, passwords, approval policies, subjects, sign requests, approvals.
 */
#include "config.h"

#include "fuzz.h"
#include "tsb_body.h"

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
	struct be_err e = { 0, "" };
	json_t *b = NULL;

	if (tsb_body_parse(data, size, &b, &e) == BE_OK) {
		be_err_clear(&e);
		tsb_body_check(b, &e);
		json_decref(b);
	}
	return 0;
}
